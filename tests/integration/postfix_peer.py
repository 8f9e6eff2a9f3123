"""Private Postfix instances (Debian's postfix package) used as the
sending MTA (PostfixPeer) and as the receiving next hop of tlsmta's
outbound delivery (PostfixReceiver, at the end) of the integration tests.
Both may run at once: each has its own directory, config, queue, master
and log.

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
import pwd
import re
import shutil
import socket
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


class PostfixInstance:
    """What every private instance shares: its directory, the postfix
    command, start/stop, the log. Subclasses give main_cf() and
    master_cf() and may add files in write_extra()."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="tlsmta-postfix-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.etc = os.path.join(self.base, "etc")
        self.started = False

    def main_cf(self):
        raise NotImplementedError

    def master_cf(self):
        return MASTER_CF

    def write_extra(self):
        pass

    def _write_config(self):
        os.makedirs(self.etc, exist_ok=True)
        for d in ("queue", "data"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        shutil.chown(os.path.join(self.base, "data"), "postfix", "postfix")
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(self.main_cf())
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(self.master_cf())
        self.write_extra()

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


class PostfixPeer(PostfixInstance):
    """The sending MTA: relays everything to tlsmta at relay_host:port."""

    def __init__(self, relay_port, relay_host=HOST):
        super().__init__()
        self.relay = (relay_host, relay_port)

    def main_cf(self):
        return MAIN_CF.format(base=self.base, relay_host=self.relay[0],
                              relay_port=self.relay[1])

    def inject(self, sender, rcpts, message):
        """Submit message (bytes, CRLF or LF lines) with Postfix's
        sendmail; -i: a line with a single dot does not end it."""
        p = subprocess.run([SENDMAIL, "-C", self.etc, "-f", sender, "-i",
                            "--", *rcpts], input=message,
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"sendmail exit {p.returncode}: "
                               f"{p.stderr.decode()}\n{self.log()}")



# -- the receiving side ----------------------------------------------------

RECEIVER_MAIN_CF = """\
# Private receiving Postfix for tlsmta's integration tests (postfix_peer.py).
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {base}/maillog
maillog_file_prefixes = {base}
myhostname = {hostname}
mydomain = {hostname}
myorigin = {hostname}
mydestination =
local_transport = error:local delivery disabled
default_transport = error:no outbound delivery in tests
relay_transport = error:no outbound delivery in tests
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = {addr}/32
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
local_header_rewrite_clients =
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {base}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_transport = virtual
smtpd_banner = $myhostname ESMTP Postfix (tlsmta tests)
smtpd_tls_security_level = {tls_level}
smtpd_tls_chain_files = {key} {cert}
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
message_size_limit = {size_limit}
biff = no
delay_warning_time = 0h
smtputf8_enable = no
"""

RECEIVER_MASTER_CF_EXTRA = """\
{addr}:{port} inet n - n - - smtpd
virtual   unix  -       n       n       -       -       virtual
"""


# TLS 1.0 to 1.3 really accepted with Debian's OpenSSL 3 (legacy_tls).
LEGACY_TLS_PARAMS = {
    "smtpd_tls_protocols": ">=TLSv1",
    "smtpd_tls_mandatory_protocols": ">=TLSv1",
    "tls_medium_cipherlist":
        "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=0",
    "tls_high_cipherlist": "aNULL:-aNULL:HIGH:@STRENGTH:@SECLEVEL=0",
}


class PostfixReceiver(PostfixInstance):
    """A receiving Postfix: smtpd on addr:port (port 25 by default, as MX
    delivery needs) with STARTTLS (smtpd_tls_security_level = tls_level,
    "may" by default; "none" turns TLS off) using cert (a pki.Cert:
    .pem/.key), and every recipient of domains (a list) delivered by
    virtual(8) into one Maildir (virtual_mailbox_maps = static:inbox/:
    virtual(8) refuses regexp substitutions, so every recipient shares
    it; each copy names its recipient in Delivered-To), read with
    messages(address) / all_messages(). No DNS at all:
    peer name lookup off, nothing ever sent onward (error transport).

        rx = PostfixReceiver("127.0.0.9", 25, "mx1.example.net",
                             ["example.net"], cert).start()
        data, = rx.wait_for_messages("bob@example.net")

    TLS versions and ciphers (for `tlsmta check`, issue 5):
    Postfix's defaults already complete TLS 1.0 and 1.1 handshakes with a
    client that offers them (an OpenSSL 3 client needs @SECLEVEL=0 for
    that: the handshake signatures use MD5/SHA-1). legacy_tls=True makes
    it explicit instead of relying on defaults: smtpd_tls_protocols and
    smtpd_tls_mandatory_protocols >=TLSv1, and @SECLEVEL=0 appended to
    tls_medium_cipherlist and tls_high_cipherlist. protocols="..." sets
    both protocol parameters (">=TLSv1.2": 1.0 and 1.1 refused), and
    main_cf={name: value} adds or overrides any main.cf parameter
    (written last, so it wins).
    """

    def __init__(self, addr, port, hostname, domains, cert=None,
                 tls_level="may", size_limit=10240000, legacy_tls=False,
                 protocols=None, main_cf=None):
        super().__init__()
        self.extra_params = {}
        if legacy_tls:
            self.extra_params.update(LEGACY_TLS_PARAMS)
        if protocols is not None:
            self.extra_params["smtpd_tls_protocols"] = protocols
            self.extra_params["smtpd_tls_mandatory_protocols"] = protocols
        self.extra_params.update(main_cf or {})
        self.addr, self.port = addr, port
        self.hostname = hostname
        self.domains = list(domains)
        self.cert = cert
        self.tls_level = tls_level if cert is not None else "none"
        self.size_limit = size_limit
        self.mail = os.path.join(self.base, "mail")

    def main_cf(self):
        pw = pwd.getpwnam("postfix")
        return RECEIVER_MAIN_CF.format(
            base=self.base, hostname=self.hostname, addr=self.addr,
            domains=" ".join(self.domains), uid=pw.pw_uid, gid=pw.pw_gid,
            tls_level=self.tls_level, size_limit=self.size_limit,
            key=self.cert.key if self.cert else "",
            cert=self.cert.pem if self.cert else "") + "".join(
                f"{k} = {v}\n" for k, v in self.extra_params.items())

    def master_cf(self):
        return MASTER_CF + RECEIVER_MASTER_CF_EXTRA.format(addr=self.addr,
                                                           port=self.port)

    def write_extra(self):
        os.makedirs(self.mail, exist_ok=True)
        shutil.chown(self.mail, "postfix", "postfix")

    def start(self, timeout=30.0):
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while True:          # smtpd answers only once master listens
            try:
                socket.create_connection((self.addr, self.port), 1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Postfix smtpd not listening on "
                                       f"{self.addr}:{self.port}:\n"
                                       f"{self.log()}")
                time.sleep(0.1)

    def all_messages(self):
        """Exact bytes of every delivered copy (LF line ends, as Postfix
        stores them), oldest first."""
        new = os.path.join(self.mail, "inbox", "new")
        try:
            paths = [os.path.join(new, n) for n in os.listdir(new)]
        except FileNotFoundError:
            return []
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def messages(self, address):
        """The copies whose Delivered-To is address (any case)."""
        return [m for m in self.all_messages()
                if postfix_split(m)[0].get("delivered-to", "").lower()
                == address.lower()]

    def wait_for_messages(self, address, count=1, timeout=30.0):
        """Wait (bounded) for count messages for address; returns them.
        Fails with Postfix's log otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages(address)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(got)} of {count} message(s) for {address} at "
                    f"Postfix {self.addr}:{self.port} after {timeout}s\n"
                    f"--- Postfix maillog ---\n{self.log()[-5000:]}")
            time.sleep(0.1)


POSTFIX_PREPENDED = (b"return-path", b"delivered-to", b"x-original-to",
                     b"received")


def postfix_split(data):
    """Split a message Postfix's virtual(8) stored into (fields, rest):
    fields the {name: value} of the header fields Postfix prepended
    (Return-Path, Delivered-To, X-Original-To and its own Received, with
    folded lines unfolded), rest the bytes exactly as they came over
    SMTP (LF line ends) - starting with the sender's own header."""
    fields = {}
    rest = data
    while True:
        end = rest.index(b"\n")
        while rest[end + 1:end + 2] in (b" ", b"\t"):
            end = rest.index(b"\n", end + 1)
        name, _, value = rest[:end].partition(b":")
        key = name.strip().lower()
        if key not in POSTFIX_PREPENDED or \
                (key == b"received" and "received" in fields):
            return fields, rest
        fields[key.decode()] = re.sub(rb"\n[ \t]+", b" ",
                                      value.strip()).decode("utf-8",
                                                            "replace")
        rest = rest[end + 1:]
