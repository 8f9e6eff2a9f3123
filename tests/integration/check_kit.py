"""Servers and helpers for the tests of `tlsmta check` (issue 5): the
command is run against real TLS servers started on loopback, and its
JSON and text reports are compared with what each server is known to do.

The servers (each as a pytest factory fixture; import the ones a module
needs, like dnskit's make_dns_server):

- make_openssl_server(cert, args=S_SERVER_TLS12): `openssl s_server` in
  implicit-TLS mode (it has no SMTP STARTTLS server side, and says
  nothing after the handshake: no SMTP greeting) on 127.A.B.n:465,
  restricted by default to TLS 1.2 and the single suite
  ECDHE-RSA-AES128-GCM-SHA256. It serves one connection at a time and
  then accepts the next (no -naccept), so the checker's many probes (one
  per version, one per cipher) all get answers; stdin is a pipe held
  open so that it never reads EOF.
- make_sink (outbound_kit): smtpsink.SmtpSink, e.g. plaintext only (no
  starttls=), or starttls_vulnerable=True for STARTTLS command injection.
- make_receiver (outbound_kit): a real Postfix; legacy_tls=True accepts
  TLS 1.0 to 1.3.
- make_server (conftest): tlsmta itself.

Certificates come from pki.TestPKI.server(): see expired_cert() etc.

    run = run_check(tlsmta_bin, "--json", "--ca-file", ca, f"{addr}:25")
    run.status        # exit status (0 ok, 1 warnings, 2 failures,
                      # 3 unreachable, 64 usage)
    run.json          # the parsed JSON document (--json) or None
    run.out, run.err  # stdout, stderr text
"""

import datetime
import json
import os
import re
import socket
import subprocess
import time

import pytest

from outbound_kit import LoopbackNet
from proctools import stop_group

CHECK_TIMEOUT = 90        # seconds for one `tlsmta check` run
START_TIMEOUT = 15.0      # seconds for s_server to accept
SANITIZER_MARKERS = ("Sanitizer", "runtime error:")

# s_server restricted to TLS 1.2 and one suite, and that suite's parts.
S_SERVER_CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"
S_SERVER_TLS12 = ("-tls1_2", "-cipher", S_SERVER_CIPHER)


class CheckRun:
    """One finished `tlsmta check` process."""

    def __init__(self, args, proc):
        self.args = args
        self.status = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")
        self.json = None
        if "--json" in args and self.out.strip():
            try:
                self.json = json.loads(self.out)
            except ValueError as e:
                raise AssertionError(f"check --json printed no JSON ({e}):"
                                     f"\n{self}") from None

    def __str__(self):
        return (f"tlsmta check {' '.join(self.args)} -> {self.status}\n"
                f"--- stdout ---\n{self.out[-12000:]}\n"
                f"--- stderr ---\n{self.err[-6000:]}")


def run_check(binary, *args, timeout=CHECK_TIMEOUT):
    """Run `binary check args...` (bounded); returns a CheckRun. Fails the
    test if the process hangs or its stderr holds a sanitizer report."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    args = [str(a) for a in args]
    started = time.time()
    try:
        proc = subprocess.run([binary, "check", *args], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=timeout,
                              env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"tlsmta check {' '.join(args)} still running "
                             f"after {timeout}s:\n{e.stdout!r}") from None
    run = CheckRun(args, proc)
    run.started, run.ended = started, time.time()
    for marker in SANITIZER_MARKERS:
        assert marker not in run.err, f"sanitizer report:\n{run}"
    return run


# -- certificates ----------------------------------------------------------

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def expired_cert(test_pki, name="expired.check.test"):
    """Signed by the test CA, valid from 60 to 5 days ago."""
    now = utcnow()
    return test_pki.server("expired-" + name, name,
                           not_before=now - datetime.timedelta(days=60),
                           not_after=now - datetime.timedelta(days=5))


def short_cert(test_pki, name="short.check.test", days=10):
    """Signed by the test CA, valid from now for days (<= 21: the expiry
    warning)."""
    return test_pki.server(f"short{days}-" + name, name, days=days)


def rsa_cert(test_pki, name, bits=2048):
    """Signed by the test CA, RSA key of bits."""
    return test_pki.server(f"rsa{bits}-" + name, name, key=f"rsa:{bits}")


def ec_cert(test_pki, name):
    """Signed by the test CA, EC P-256 key."""
    return test_pki.server("ec-" + name, name)


def ocsp_response(test_pki, cert, out, revoked=False):
    """Write to out (a path) a DER OCSP response for cert (signed by the
    test CA, which also signs the response), status "good" or, revoked,
    "revoked"; for s_server -status_file (OCSP stapling, RFC 6066 8).
    Returns out."""
    out = str(out)
    serial = _x509_out(cert.pem, "-serial").split("=", 1)[1].strip()
    subject = _x509_out(cert.pem, "-subject", "-nameopt", "compat") \
        .split("=", 1)[1].strip()
    end = (utcnow() + datetime.timedelta(days=30)).strftime("%y%m%d%H%M%SZ")
    status, when = ("R", utcnow().strftime("%y%m%d%H%M%SZ")) if revoked \
        else ("V", "")
    index = out + ".index"
    with open(index, "w") as f:
        f.write(f"{status}\t{end}\t{when}\t{serial}\tunknown\t{subject}\n")
    subprocess.run(["openssl", "ocsp", "-index", index, "-rsigner",
                    test_pki.ca.pem, "-rkey", test_pki.ca.key, "-CA",
                    test_pki.ca.pem, "-issuer", test_pki.ca.pem, "-cert",
                    cert.pem, "-respout", out, "-ndays", "7"],
                   check=True, capture_output=True, timeout=30)
    return out


def _x509_out(pem, *opts):
    return subprocess.run(["openssl", "x509", "-in", pem, "-noout", *opts],
                          check=True, capture_output=True, text=True,
                          timeout=30).stdout


# -- openssl s_server ------------------------------------------------------

class OpensslServer:
    """`openssl s_server` on addr:port (implicit TLS) with cert (a
    pki.Cert) and extra s_server args; its output in log_path."""

    def __init__(self, addr, port, cert, args=S_SERVER_TLS12,
                 log_path=None):
        self.addr, self.port = addr, port
        self.cert = cert
        self.args = list(args)
        self.log_path = log_path or f"/tmp/s_server-{addr}-{port}.log"
        self.proc = None

    def start(self):
        """Start and wait (bounded) until the port accepts. Returns self."""
        cmd = ["openssl", "s_server", "-accept", f"{self.addr}:{self.port}",
               "-cert", self.cert.pem, "-key", self.cert.key, *self.args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                         stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"s_server exited with "
                                   f"{self.proc.returncode}:\n{self.log()}")
            try:
                # A bare connect and close: s_server logs a failed
                # handshake and accepts the next connection.
                socket.create_connection((self.addr, self.port), 1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"s_server not listening on "
                                       f"{self.addr}:{self.port}:\n"
                                       f"{self.log()}") from None
                time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        stop_group(self.proc)
        if self.proc.stdin:
            self.proc.stdin.close()


@pytest.fixture
def make_openssl_server(tmp_path):
    """Factory: make_openssl_server(cert, args=S_SERVER_TLS12, addr=None,
    port=465) -> started OpensslServer (addr: a fresh 127.A.B.n); every one
    is stopped at teardown and its log printed."""
    made = []
    net = LoopbackNet()

    def make(cert, args=S_SERVER_TLS12, addr=None, port=465):
        srv = OpensslServer(addr or net.addr(40 + len(made)), port, cert,
                            args, str(tmp_path / f"s_server{len(made)}.log"))
        made.append(srv)
        return srv.start()

    yield make
    for srv in made:
        print(f"--- s_server {srv.addr}:{srv.port} ---\n{srv.log()[-3000:]}")
        srv.stop()


def closed_port(addr="127.0.0.1"):
    """A TCP port of addr where nothing listens (connect: refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


# -- reading reports -------------------------------------------------------

def suites(j, version):
    """{OpenSSL name: suite object} of the suites accepted at version."""
    return {s["name"]: s for s in j["ciphers"].get(version, [])}


def problems(j, level=None, section=None):
    """The problem texts of JSON report j, filtered by level ("failure",
    "warning", "note") and section."""
    return [p["text"] for p in j["problems"]
            if (level is None or p["level"] == level) and
            (section is None or p["section"] == section)]


def levels(j):
    """{(level, section)} of every problem of j."""
    return {(p["level"], p["section"]) for p in j["problems"]}


def days_left(run, cert):
    """The days_left values a certificate object of run's JSON may hold:
    whole days (rounded down) from some second of the run (time(NULL):
    whole seconds) to its not_after; two values when the run crossed a
    day boundary of it."""
    end = datetime.datetime.strptime(cert["not_after"], "%Y-%m-%dT%H:%M:%SZ")
    end = int(end.replace(tzinfo=datetime.timezone.utc).timestamp())
    return {(end - int(t)) // 86400 for t in (run.started, run.ended)}


def assert_text(run, *patterns):
    """Each regex of patterns matches a line of run's text output
    (re.MULTILINE: ^ and $ are line ends)."""
    missing = [p for p in patterns if not re.search(p, run.out, re.M)]
    assert not missing, f"text report lacks {missing}:\n{run}"


# -- scripted hostile servers ----------------------------------------------

class ScriptedServer:
    """A small SMTP server on addr:port whose behaviour is a function
    serve(conn, n, srv) (n: the connection's number from 1), run in a
    thread per connection; for what real servers do wrong (stalls,
    malformed replies). srv.ctx is an ssl.SSLContext for cert."""

    def __init__(self, addr, port, serve, cert=None):
        import ssl
        import threading
        self.addr, self.port, self.serve = addr, port, serve
        self.count = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.ctx = None
        if cert is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert.pem, cert.key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        import threading
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.count += 1
                n = self.count
            threading.Thread(target=self._run, args=(conn, n),
                             daemon=True).start()

    def _run(self, conn, n):
        try:
            conn.settimeout(30)
            self.serve(conn, n, self)
        except Exception:  # noqa: BLE001 (a script may end any way)
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def smtp_readline(conn):
    """One line (with its LF) from conn, or EOFError."""
    line = b""
    while not line.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            raise EOFError
        line += b
    return line


def smtp_dialogue(conn, greeting, ehlo, ctx=None, on_starttls=None):
    """Serve greeting (bytes), answer EHLO with ehlo (bytes), STARTTLS
    with on_starttls(conn) when given (it ends the dialogue), else 220 and
    TLS with ctx (then EHLO again without STARTTLS), QUIT with 221, any
    other command with 250."""
    conn.sendall(greeting)
    while True:
        cmd = smtp_readline(conn).strip().upper()
        if cmd.startswith(b"EHLO"):
            conn.sendall(ehlo)
        elif cmd == b"STARTTLS" and on_starttls is not None:
            return on_starttls(conn)
        elif cmd == b"STARTTLS":
            conn.sendall(b"220 go ahead\r\n")
            conn = ctx.wrap_socket(conn, server_side=True)
            ehlo = b"250-mx.scripted.test\r\n250 PIPELINING\r\n"
        elif cmd == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return None
        else:
            conn.sendall(b"250 ok\r\n")


SCRIPTED_EHLO = b"250-mx.scripted.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"


@pytest.fixture
def make_scripted_server():
    """Factory: make_scripted_server(serve, cert=None, addr=None, port=25)
    -> a running ScriptedServer on a fresh 127.A.B.n; all are stopped at
    teardown."""
    made = []
    net = LoopbackNet()

    def make(serve, cert=None, addr=None, port=25):
        srv = ScriptedServer(addr or net.addr(60 + len(made)), port, serve,
                             cert)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        srv.stop()
