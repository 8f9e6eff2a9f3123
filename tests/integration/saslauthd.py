"""A real saslauthd (Debian sasl2-bin) for the tests, with a password
backend the test controls.

saslauthd runs in the foreground (-d) in its own process group with its
own socket directory (-m DIR, socket DIR/mux), one worker (-n 1), and the
rimap mechanism: it checks each login with an IMAP LOGIN against
FakeIMAP, a tiny IMAP server in this process on 127.0.0.1 that knows a
dict of users and records every login it was asked about. -r passes the
full "user@realm" login on. Nothing on the system (PAM, /etc/shadow,
/etc/sasldb2, /run/saslauthd) is used or changed.

tlsmta reaches it through a SASL config file (sasl_conf_text()):
"pwcheck_method: saslauthd" and "saslauthd_path: DIR/mux".
"""

import os
import re
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from proctools import stop_group

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
SASLAUTHD = shutil.which("saslauthd") or "/usr/sbin/saslauthd"
TESTSASLAUTHD = shutil.which("testsaslauthd") or "/usr/sbin/testsaslauthd"

_QUOTED = r'"((?:[^"\\]|\\.)*)"'


def _unquote(s):
    return re.sub(r"\\(.)", r"\1", s)


class FakeIMAP(socketserver.ThreadingTCPServer):
    """An IMAP4 server that answers only LOGIN and LOGOUT (what saslauthd
    rimap sends). users: {login: password}; logins: every (login,
    password, ok) asked, in order."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, users):
        self.users = dict(users)
        self.logins = []
        self.lock = threading.Lock()
        super().__init__((HOST, 0), _IMAPHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class _IMAPHandler(socketserver.StreamRequestHandler):
    timeout = 15

    def handle(self):
        srv = self.server
        try:
            self.wfile.write(b"* OK fake IMAP4rev1 ready\r\n")
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                tag, _, rest = line.partition(" ")
                verb, _, args = rest.partition(" ")
                if verb.upper() == "LOGIN":
                    self._login(srv, tag, args)
                elif verb.upper() == "LOGOUT":
                    self.wfile.write(f"* BYE\r\n{tag} OK\r\n".encode())
                    return
                else:
                    self.wfile.write(f"{tag} BAD unsupported\r\n".encode())
        except (OSError, socket.timeout):
            pass

    def _login(self, srv, tag, args):
        m = re.fullmatch(_QUOTED + " " + _QUOTED, args)
        if not m:
            self.wfile.write(f"{tag} BAD syntax\r\n".encode())
            return
        user, password = _unquote(m.group(1)), _unquote(m.group(2))
        ok = srv.users.get(user) == password
        with srv.lock:
            srv.logins.append((user, password, ok))
        self.wfile.write(f"{tag} {'OK' if ok else 'NO'} LOGIN\r\n".encode())


class Saslauthd:
    """saslauthd -a rimap against a FakeIMAP holding users."""

    def __init__(self, users):
        self.imap = FakeIMAP(users)
        # A short path: the socket name must fit sun_path (108 bytes).
        self.dir = tempfile.mkdtemp(prefix="saslauthd-")
        self.mux = os.path.join(self.dir, "mux")
        self.log_path = os.path.join(self.dir, "saslauthd.log")
        self.proc = None

    @property
    def logins(self):
        return list(self.imap.logins)

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [SASLAUTHD, "-a", "rimap", "-O", f"{HOST}/{self.imap.port}",
                 "-m", self.dir, "-n", "1", "-d", "-r"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"saslauthd did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def _listening(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.mux)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def check(self, user, password):
        """testsaslauthd against this daemon: True if it says OK."""
        p = subprocess.run(
            [TESTSASLAUTHD, "-f", self.mux, "-s", "smtp", "-u", user,
             "-p", password], capture_output=True, timeout=30)
        return p.returncode == 0 and p.stdout.startswith(b"0: OK")

    def sasl_conf_text(self, mechanisms="PLAIN LOGIN"):
        """A Cyrus SASL application config that checks passwords through
        this saslauthd."""
        return (f"pwcheck_method: saslauthd\n"
                f"saslauthd_path: {self.mux}\n"
                f"mech_list: {mechanisms}\n")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM the process group (saslauthd and its worker), SIGKILL
        if it lingers; stop the IMAP server; remove the socket dir."""
        stop_group(self.proc)
        self.imap.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
