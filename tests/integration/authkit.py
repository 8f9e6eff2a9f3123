"""SMTP AUTH (RFC 4954) helpers for the issue-3 tests: `tlsmta user
add/del`, the [auth] settings of a test server, SASL responses, and a
raw-client login.

Every test server gets its own sasldb file and its own (empty unless a
test writes one) SASL config directory, so nothing under /etc/sasl2 or
/etc/sasldb2 is read or written.
"""

import base64
import hashlib
import hmac
import os
import smtplib
import socket
import subprocess

from smtpwire import CLIENT_NAME, REPLY_TIMEOUT, RawSMTP, client_context

# Listener -> auth mode of an auth test server (tlsmta_server.LISTENERS
# gives the tls modes): port 25 style optional, submission ports required.
AUTH_MODES = {
    "mx": "optional",
    "submissions": "required",
    "submission": "required",
    "plain": "off",
}
SASL_SERVICE = "tlsmta"
USER = "alice@example.test"
PASSWORD = "correct horse 7"
CLI_TIMEOUT = 30


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password, authzid=""):
    """The base64 PLAIN message (RFC 4616): authzid NUL authcid NUL pw."""
    return b64(f"{authzid}\0{user}\0{password}")


def auth_sections(workdir, **auth):
    """{"auth": {...}} for a server in workdir: own sasldb, own SASL
    config directory (created, empty), plus the given [auth] keys."""
    conf_dir = os.path.join(str(workdir), "sasl2")
    os.makedirs(conf_dir, exist_ok=True)
    keys = {"sasl_service": SASL_SERVICE,
            "sasl_config_dir": conf_dir,
            "sasldb_path": os.path.join(str(workdir), "sasldb2")}
    keys.update(auth)
    return {"auth": keys}


def write_sasl_conf(server, text, service=None):
    """Write SERVICE.conf into the server's sasl_config_dir."""
    keys = server.sections["auth"]
    service = service or keys["sasl_service"]
    path = os.path.join(keys["sasl_config_dir"], service + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def user_cmd(server, action, name, password=None):
    """Run `tlsmta user ACTION NAME -c CONFIG` (password on stdin)."""
    server.write_config()
    stdin = None if password is None else (password + "\n").encode()
    return subprocess.run(
        [server.binary, "user", action, name, "-c", server.config_path],
        input=stdin, capture_output=True, timeout=CLI_TIMEOUT)


def add_user(server, name, password):
    p = user_cmd(server, "add", name, password)
    assert p.returncode == 0, (f"tlsmta user add {name}: exit "
                               f"{p.returncode}\n{p.stdout}\n{p.stderr}")


def del_user(server, name):
    p = user_cmd(server, "del", name)
    assert p.returncode == 0, (f"tlsmta user del {name}: exit "
                               f"{p.returncode}\n{p.stdout}\n{p.stderr}")


class SourcedSMTP(RawSMTP):
    """RawSMTP whose socket is bound to a chosen client address first
    (127.0.0.2 reaches 127.0.0.1 over Linux loopback), so a test can be
    two different clients."""

    def __init__(self, addr, source=None, implicit_tls=False, ctx=None,
                 timeout=REPLY_TIMEOUT):
        self.sock = socket.create_connection(
            addr, timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.tls = False
        if implicit_tls:
            self.sock = (ctx or client_context()).wrap_socket(self.sock)
            self.tls = True
        self.greeting = self.reply()


def tls_session(server, listener="submission", source=None, ctx=None):
    """A RawSMTP on listener, TLS up (STARTTLS or implicit) and EHLO sent
    after it; returns (conn, ehlo_reply). source is a client address to
    bind to (e.g. "127.0.0.2")."""
    implicit = server.listener_modes[listener] == "implicit"
    conn = SourcedSMTP(server.addr(listener), source, implicit, ctx)
    if not implicit:
        conn.ehlo()
        conn.starttls(ctx)
    return conn, conn.ehlo()


def smtplib_session(server, listener="submission", ctx=None):
    """An smtplib client on listener with TLS up (implicit or STARTTLS)
    and EHLO sent after it."""
    host, port = server.addr(listener)
    ctx = ctx or client_context()
    if server.listener_modes[listener] == "implicit":
        c = smtplib.SMTP_SSL(host, port, local_hostname=CLIENT_NAME,
                             timeout=15, context=ctx)
    else:
        c = smtplib.SMTP(host, port, local_hostname=CLIENT_NAME, timeout=15)
        c.starttls(context=ctx)
    c.ehlo()
    return c


def auth_mechanisms(ehlo):
    """The mechanisms of the AUTH keyword of an EHLO reply (upper case),
    or None if AUTH is not advertised."""
    for line in ehlo.lines[1:]:
        words = line.upper().split()
        if words and words[0] == "AUTH":
            return words[1:]
    return None


def login(conn, user=USER, password=PASSWORD):
    """AUTH PLAIN with an initial response; returns the reply."""
    return conn.cmd(f"AUTH PLAIN {plain(user, password)}")


def make_auth_server(make_server, users=None, auth=None, modes=None,
                     listener_options=None, sasl_conf=None, start=True,
                     **kw):
    """A test server with AUTH on (AUTH_MODES unless modes is given), its
    own sasldb holding users ({name: password}, added with `tlsmta user
    add` before the start), the given extra [auth] keys, and optionally
    a SASL config file (sasl_conf text, written as SERVICE.conf after
    str.format() with the [auth] keys, e.g. "{sasldb_path}")."""
    options = {name: {"auth": mode}
               for name, mode in (modes or AUTH_MODES).items()}
    for name, extra in (listener_options or {}).items():
        options.setdefault(name, {}).update(extra)
    srv = make_server(start=False, listener_options=options, **kw)
    srv.sections.update(auth_sections(srv.workdir, **(auth or {})))
    if sasl_conf is not None:
        write_sasl_conf(srv, sasl_conf.format(**srv.sections["auth"]))
    for name, password in (users or {}).items():
        add_user(srv, name, password)
    if start:
        srv.start()
    return srv


class ScramSha256:
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), without
    channel binding ("n,,")."""

    def __init__(self, user, password, nonce=None):
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.nonce = nonce or b64(os.urandom(18))
        self.server_signature = None

    def first(self):
        self.first_bare = f"n={self.user},r={self.nonce}"
        return "n,," + self.first_bare

    def final(self, server_first):
        """The client-final message for the server-first message."""
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.nonce), server_first
        salted = hashlib.pbkdf2_hmac("sha256", self.password,
                                     base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c=biws,r={attrs['r']}"
        message = ",".join([self.first_bare, server_first,
                            without_proof]).encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_signature = b64(_hmac(_hmac(salted, b"Server Key"),
                                          message))
        return f"{without_proof},p={b64(proof)}"

    def verify(self, server_final):
        """True if server_final ("v=...") proves the server knew the
        password too."""
        return server_final == f"v={self.server_signature}"


def _hmac(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()
