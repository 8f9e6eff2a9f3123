"""A private Postfix instance (Debian's postfix package) used as the
sending MTA of the integration tests.

How it is set up, and why:

* Everything lives in one directory made with mkdtemp under /tmp and
  chmod 0755: Postfix daemons run as the unprivileged mail_owner
  (postfix) and must reach their queue, which pytest's own 0700 tmp
  directories would forbid.
      etc/    config_directory: main.cf and master.cf written here
      queue/  queue_directory (root-owned; Postfix creates its subdirs)
      data/   data_directory (owned by postfix)
      maillog Postfix's own log (maillog_file, through postlogd)
  The system instance (/etc/postfix, /var/spool/postfix) is never used.

* master.cf holds only what local submission and relaying need:
  pickup/cleanup/qmgr/rewrite/bounce/defer/trace/smtp/..., no smtpd and
  no inet service at all, every daemon unchrooted (the Debian default
  chroots them, which would need copies of /etc files under the queue
  directory).

* Mail is injected as a local user would: `sendmail -C ETC -f SENDER -i
  -- RCPT` (postdrop into maildrop/, then pickup). As root, postdrop
  accepts the private config directory without the system main.cf
  listing it in alternate_config_directories (there is no system
  main.cf: install-deps.sh installs postfix with "No configuration").

* No DNS, ever: relayhost = [127.0.0.1]:PORT (brackets: no MX lookup; an
  IP literal: no address lookup), smtp_dns_support_level = disabled and
  smtp_host_lookup = native, myhostname/mydomain set explicitly (no
  lookup of our own name), inet_protocols = ipv4.

* TLS: smtp_tls_security_level = encrypt, so Postfix refuses to send in
  clear: the message reaches tlsmta only over STARTTLS. The certificate
  is not verified (encrypt does not verify; the test cert is
  self-signed).

* Postfix's own errors go to maillog (there is no /dev/log here), which
  log() returns for failure messages.

start() runs `postfix -c ETC check` (which creates the queue
subdirectories with the right owners) and `postfix -c ETC start`, then
waits until `postfix -c ETC status` says the master runs. stop() runs
`postfix -c ETC stop` (falling back to `abort`, then SIGKILL of the
master's process group) and removes the directory.
"""

import os
import shutil
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
SENDMAIL = "/usr/sbin/sendmail"
HOST = "127.0.0.1"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
# Private Postfix for tlsmta's integration tests (postfix_peer.py).
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
myhostname = sender.example
mydomain = example
myorigin = sender.example
mydestination =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [{relay_host}]:{relay_port}
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtp_tls_note_starttls_offer = yes
smtp_helo_name = sender.example
biff = no
delay_warning_time = 0h
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
smtputf8_enable = no
"""


class PostfixPeer:
    def __init__(self, relay_port, relay_host=HOST):
        self.relay = (relay_host, relay_port)
        self.base = tempfile.mkdtemp(prefix="tlsmta-postfix-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.etc = os.path.join(self.base, "etc")
        self.started = False

    def _write_config(self):
        os.makedirs(self.etc, exist_ok=True)
        for d in ("queue", "data"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        shutil.chown(os.path.join(self.base, "data"), "postfix", "postfix")
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(base=self.base, relay_host=self.relay[0],
                                   relay_port=self.relay[1]))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF)

    def _postfix(self, *args, timeout=60, check=True):
        p = subprocess.run([POSTFIX, "-c", self.etc, *args],
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(
                f"postfix {' '.join(args)} failed ({p.returncode}):\n"
                f"{p.stdout.decode()}{p.stderr.decode()}\n{self.log()}")
        return p

    def start(self, timeout=30.0):
        self._write_config()
        self._postfix("check")
        self._postfix("start")
        self.started = True
        deadline = time.monotonic() + timeout
        while self._postfix("status", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postfix not running:\n{self.log()}")
            time.sleep(0.1)
        return self

    def inject(self, sender, rcpts, message):
        """Submit message (bytes, CRLF or LF lines) with Postfix's
        sendmail; -i: a line with a single dot does not end it."""
        p = subprocess.run([SENDMAIL, "-C", self.etc, "-f", sender, "-i",
                            "--", *rcpts], input=message,
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"sendmail exit {p.returncode}: "
                               f"{p.stderr.decode()}\n{self.log()}")

    def flush(self):
        """Ask Postfix to retry deferred mail now."""
        subprocess.run([POSTQUEUE, "-c", self.etc, "-f"],
                       capture_output=True, timeout=30)

    def queue_listing(self):
        p = subprocess.run([POSTQUEUE, "-c", self.etc, "-p"],
                           capture_output=True, timeout=30)
        return p.stdout.decode("utf-8", "replace")

    def log(self):
        try:
            with open(os.path.join(self.base, "maillog"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no Postfix maillog)"

    def _master_pid(self):
        try:
            with open(os.path.join(self.base, "queue", "pid",
                                   "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.started:
            pid = self._master_pid()
            p = self._postfix("stop", check=False)
            if p.returncode != 0:
                self._postfix("abort", check=False)
            deadline = time.monotonic() + 15
            while pid and os.path.exists(f"/proc/{pid}") and \
                    time.monotonic() < deadline:
                time.sleep(0.1)
            if pid and os.path.exists(f"/proc/{pid}"):
                os.killpg(os.getpgid(pid), 9)
            self.started = False
        shutil.rmtree(self.base, ignore_errors=True)
