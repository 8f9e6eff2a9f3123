"""Mutual TLS (issue 3): client certificates requested or required per
listener, verified against [tls] ca_file; relay granted by a listed
SHA-256 fingerprint or by issuer + subject (relay_client_certs), refused
for unlisted or unverified certificates; `require` refuses the handshake
without a valid certificate; the certificate in the log and the Received
field; AUTH EXTERNAL (RFC 4422 Appendix A).

Clients: Python smtplib / ssl with load_cert_chain(), and `openssl
s_client -cert -key`. Certificates: tests/integration/pki.py.

Listeners: mx = STARTTLS, certificates requested, auth optional;
submissions = implicit TLS, certificates required; submission = STARTTLS
required, certificates required; plain = none."""

import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from authkit import auth_mechanisms, auth_sections, b64
from smtpwire import (CLIENT_NAME, Delivered, RawSMTP, client_context,
                      queue_id, sample_message, transaction)
from test_s_client import SClient

SENDER = "device@example.org"
FOREIGN_RCPT = "carol@example.org"       # not in local_domains
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOCAL_RCPT = "alice@example.test"
GRANTED = ["relay_fp", "relay_dn"]
REFUSED = ["unlisted", "forged", "selfsigned", None]
UNVERIFIED = ["forged", "selfsigned"]
CERT_OPTIONS = {
    "mx": {"client_certificates": "request", "auth": "optional"},
    "submissions": {"client_certificates": "require"},
    "submission": {"client_certificates": "require"},
}


def _start(make_server, pki, tmp_path, relay_text=None, ca_file=None):
    """A server with CERT_OPTIONS, the test CA (or ca_file) and a
    relay_client_certs file (pki.relay_lines() unless relay_text); SASL
    (for AUTH EXTERNAL) reads only the server's own, empty, config dir."""
    relay = tmp_path / "relay_client_certs"
    relay.write_text(relay_text if relay_text is not None
                     else pki.relay_lines())
    srv = make_server(settings={"relay_client_certs": str(relay)},
                      tls_options={"ca_file": ca_file or pki.ca.pem},
                      listener_options=CERT_OPTIONS, start=False)
    srv.sections.update(auth_sections(srv.workdir))
    return srv.start()


@pytest.fixture
def mtls(make_server, test_pki, tmp_path):
    return _start(make_server, test_pki, tmp_path)


def _ctx(pki, name, maximum=None):
    """A client context presenting certificate name (None: none)."""
    ctx = client_context(maximum=maximum)
    if name is not None:
        cert = getattr(pki, name)
        ctx.load_cert_chain(cert.pem, cert.key)
    return ctx


def _session(server, listener, ctx):
    """RawSMTP with TLS up and EHLO done after it."""
    if server.listener_modes[listener] == "implicit":
        c = RawSMTP(server.addr(listener), implicit_tls=True, ctx=ctx)
    else:
        c = RawSMTP(server.addr(listener))
        c.ehlo()
        c.starttls(ctx)
    c.ehlo()
    return c


def _relay_reply(server, listener, ctx):
    c = _session(server, listener, ctx)
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    r = c.cmd(f"RCPT TO:<{FOREIGN_RCPT}>")
    c.close()
    return r


# -- relay by certificate: smtplib ---------------------------------------

@pytest.mark.parametrize("name", GRANTED)
@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_smtplib_relay_granted(mtls, test_pki, name, tls12):
    ctx = _ctx(test_pki, name,
               ssl.TLSVersion.TLSv1_2 if tls12 else None)
    with smtplib.SMTP(*mtls.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.starttls(context=ctx)
        message = sample_message(f"mtls-{name}", sender=SENDER,
                                 rcpt=FOREIGN_RCPT)
        assert c.sendmail(SENDER, [FOREIGN_RCPT], message) == {}
    reason = {"relay_fp": "fingerprint", "relay_dn": "issuer-subject"}[name]
    assert f"relay=granted reason={reason}" in mtls.log(), mtls.log()


@pytest.mark.parametrize("name", REFUSED)
def test_smtplib_relay_refused(mtls, test_pki, name):
    """Under `request` the session goes on with any certificate or none,
    but only a listed, verified one grants relay."""
    with smtplib.SMTP(*mtls.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.starttls(context=_ctx(test_pki, name))
        c.ehlo()
        c.mail(SENDER)
        code, text = c.rcpt(FOREIGN_RCPT)
        assert (code, text) == (554, b"5.7.1 Relay access denied")
        assert c.rcpt(LOCAL_RCPT)[0] == 250


def test_implicit_tls_relay_granted(mtls, test_pki):
    assert _relay_reply(mtls, "submissions",
                        _ctx(test_pki, "relay_fp")).code == 250


def test_fingerprint_with_colons_upper_case(make_server, test_pki, tmp_path):
    """The file may give the fingerprint as openssl prints it."""
    srv = _start(make_server, test_pki, tmp_path,
                 f"sha256:{test_pki.relay_fp.sha256_colons}\n")
    assert _relay_reply(srv, "mx", _ctx(test_pki, "relay_fp")).code == 250
    r = _relay_reply(srv, "mx", _ctx(test_pki, "relay_dn"))
    assert (r.code, r.enhanced) == (554, "5.7.1"), r


def test_listed_fingerprint_of_unverified_cert_refused(make_server,
                                                       test_pki, tmp_path):
    """A fingerprint line does not let an unverified certificate relay:
    relay needs a certificate that verified against ca_file."""
    srv = _start(make_server, test_pki, tmp_path,
                 f"sha256:{test_pki.selfsigned.sha256}\n"
                 f"sha256:{test_pki.forged.sha256}\n")
    for name in UNVERIFIED:
        r = _relay_reply(srv, "mx", _ctx(test_pki, name))
        assert (r.code, r.enhanced) == (554, "5.7.1"), (name, r)


def test_issuer_alone_grants_its_verified_certificates(make_server,
                                                      test_pki, tmp_path):
    """"issuer=DN" without subject (Sendmail's CERTISSUER:DN RELAY):
    every certificate that CA signed, none that merely copies its name."""
    srv = _start(make_server, test_pki, tmp_path,
                 f"issuer={test_pki.ca.subject}\n")
    for name in ["relay_fp", "relay_dn", "unlisted"]:
        assert _relay_reply(srv, "mx", _ctx(test_pki, name)).code == 250
    for name in UNVERIFIED:
        r = _relay_reply(srv, "mx", _ctx(test_pki, name))
        assert (r.code, r.enhanced) == (554, "5.7.1"), (name, r)


def test_server_only_certificate_not_a_client_certificate(make_server,
                                                         test_pki, tmp_path):
    """A certificate the CA issued for servers only (extendedKeyUsage
    serverAuth, RFC 5280 4.2.1.12) does not verify as a client's, even
    with its fingerprint listed."""
    srv = _start(make_server, test_pki, tmp_path,
                 f"sha256:{test_pki.server_only.sha256}\n")
    r = _relay_reply(srv, "mx", _ctx(test_pki, "server_only"))
    assert (r.code, r.enhanced) == (554, "5.7.1"), r
    assert "client_cert=unverified" in srv.log(), srv.log()
    _assert_refused(lambda: _session(srv, "submissions",
                                     _ctx(test_pki, "server_only")))


def test_self_signed_pinned_as_own_anchor(make_server, test_pki, tmp_path):
    """The documented way to pin a self-signed certificate: add it to
    ca_file and list its fingerprint."""
    bundle = tmp_path / "ca-bundle.pem"
    bundle.write_text(open(test_pki.ca.pem).read() +
                      open(test_pki.selfsigned.pem).read())
    srv = _start(make_server, test_pki, tmp_path,
                 f"sha256:{test_pki.selfsigned.sha256}\n", str(bundle))
    assert _relay_reply(srv, "mx", _ctx(test_pki, "selfsigned")).code == 250
    r = _relay_reply(srv, "mx", _ctx(test_pki, "relay_fp"))
    assert (r.code, r.enhanced) == (554, "5.7.1"), r


def _readme_commands():
    """The sh block of README.md that prints relay_client_certs lines."""
    text = open(os.path.join(REPO, "README.md")).read()
    start = text.index("Each line of `relay_client_certs`")
    m = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert m, "README: no sh block after the relay_client_certs text"
    return m.group(1)


def test_readme_commands_make_granting_lines(make_server, test_pki,
                                             tmp_path):
    """The README's openssl commands, run as written on client.pem, print
    a fingerprint line and an issuer/subject line that grant relay."""
    commands = _readme_commands()
    printed = {}
    for name in GRANTED:
        d = tmp_path / name
        d.mkdir()
        shutil.copy(getattr(test_pki, name).pem, d / "client.pem")
        p = subprocess.run(["sh", "-ec", commands], cwd=d,
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p
        printed[name] = p.stdout.decode().splitlines()
    fp_line = [l for l in printed["relay_fp"] if l.startswith("sha256:")]
    dn_line = [l for l in printed["relay_dn"] if l.startswith("issuer=")]
    assert len(fp_line) == 1 and len(dn_line) == 1, printed
    srv = _start(make_server, test_pki, tmp_path,
                 f"{fp_line[0]}\n{dn_line[0]}\n")
    for name in GRANTED:
        assert _relay_reply(srv, "mx", _ctx(test_pki, name)).code == 250
    r = _relay_reply(srv, "mx", _ctx(test_pki, "unlisted"))
    assert (r.code, r.enhanced) == (554, "5.7.1"), r


# -- relay by certificate: openssl s_client -------------------------------

def _s_client(server, pki, name, extra=()):
    host, port = server.addr("mx")
    args = ["-connect", f"{host}:{port}", "-starttls", "smtp",
            "-name", CLIENT_NAME, "-crlf", "-quiet", *extra]
    if name is not None:
        cert = getattr(pki, name)
        args += ["-cert", cert.pem, "-key", cert.key]
    return SClient(args)


@pytest.mark.parametrize("name,code", [
    ("relay_fp", 250), ("relay_dn", 250), ("unlisted", 554),
    ("forged", 554), ("selfsigned", 554), (None, 554)])
def test_s_client_relay(mtls, test_pki, name, code):
    c = _s_client(mtls, test_pki, name)
    try:
        c.sync()
        c.cmd(f"EHLO {CLIENT_NAME}", 250)
        c.cmd(f"MAIL FROM:<{SENDER}>", 250)
        lines = c.cmd(f"RCPT TO:<{FOREIGN_RCPT}>", code)
        if code == 554:
            assert lines[-1] == "554 5.7.1 Relay access denied", lines
        else:
            c.cmd("DATA", 354)
            c.send("Subject: mtls via s_client\n\nhello\n")
            queued = c.cmd(".", 250)
            assert queued[-1].startswith("250 2.0.0 Ok: queued as "), queued
        c.cmd("QUIT", 221)
    finally:
        c.finish()


def test_s_client_tls12_relay(mtls, test_pki):
    c = _s_client(mtls, test_pki, "relay_dn", ["-tls1_2"])
    try:
        c.sync()
        c.cmd(f"EHLO {CLIENT_NAME}", 250)
        c.cmd(f"MAIL FROM:<{SENDER}>", 250)
        c.cmd(f"RCPT TO:<{FOREIGN_RCPT}>", 250)
        c.cmd("QUIT", 221)
    finally:
        c.finish()


# -- client_certificates = require ---------------------------------------

def _assert_refused(fn):
    """fn() must fail with a TLS alert or a closed connection, not a
    timeout and not an SMTP reply."""
    try:
        c = fn()
    except (ssl.SSLError, EOFError, ConnectionError) as e:
        return e
    except OSError as e:
        assert not isinstance(e, socket.timeout), f"timed out: {e!r}"
        return e
    c.close()
    raise AssertionError(f"session established: {c!r}")


@pytest.mark.parametrize("name", [None, "forged", "selfsigned"])
@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
@pytest.mark.parametrize("listener", ["submissions", "submission"])
def test_require_refuses_handshake(mtls, test_pki, listener, name, tls12):
    """Without a certificate, or with one that does not verify, there is
    no TLS session. (With TLS 1.3 the client's handshake ends before the
    server has checked the certificate; the refusal then arrives as an
    alert at the first read.)"""
    ctx = _ctx(test_pki, name, ssl.TLSVersion.TLSv1_2 if tls12 else None)
    _assert_refused(lambda: _session(mtls, listener, ctx))
    assert mtls.alive()


@pytest.mark.parametrize("listener", ["submissions", "submission"])
def test_require_accepts_verified_unlisted(mtls, test_pki, listener):
    """`require` asks for a certificate that verifies; relay still needs
    it to be listed."""
    r = _relay_reply(mtls, listener, _ctx(test_pki, "unlisted"))
    assert (r.code, r.enhanced) == (554, "5.7.1"), r
    assert _relay_reply(mtls, listener, _ctx(test_pki, "relay_dn")).code \
        == 250


@pytest.mark.parametrize("extra", [[], ["-tls1_2"]], ids=["tls13", "tls12"])
def test_s_client_require_without_certificate(mtls, extra):
    """-ign_eof: s_client keeps reading after its input ends, until the
    server closes, so it sees the alert also with TLS 1.3 (where its
    handshake ends before the server has looked at the certificate)."""
    host, port = mtls.addr("submissions")
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"{host}:{port}", "-brief",
         "-ign_eof", *extra], input=b"EHLO x\r\nQUIT\r\n",
        capture_output=True, timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    assert "220 " not in out, out + err
    assert "alert" in err.lower(), out + err
    assert "tls handshake failed" in mtls.log(), mtls.log()


def _implicit(server, listener, ctx, session=None):
    """TLS on an implicit listener (resuming session if given), greeting
    read; returns the SSL socket."""
    sock = socket.create_connection(server.addr(listener), timeout=15)
    tls = ctx.wrap_socket(sock, session=session)
    assert tls.recv(1000).startswith(b"220 "), "no greeting"
    return tls


def _relay_on(tls):
    """EHLO, MAIL, RCPT to a foreign domain, QUIT; returns the RCPT reply
    code and the TLS session (for resumption)."""
    tls.sendall(f"EHLO {CLIENT_NAME}\r\nMAIL FROM:<{SENDER}>\r\n"
                f"RCPT TO:<{FOREIGN_RCPT}>\r\nQUIT\r\n".encode())
    got = b""
    while b"\r\n221 " not in got:
        chunk = tls.recv(4096)
        if not chunk:
            break
        got += chunk
    session = tls.session
    tls.close()
    return int(got.split(b"\r\n")[-3][:3]), session


@pytest.mark.parametrize("tls12", [False, True], ids=["tls13", "tls12"])
def test_resumed_sessions_keep_their_certificate(make_server, test_pki,
                                                 tmp_path, tls12):
    """TLS session resumption: a resumed session has the certificate of
    the full handshake (granted stays granted, unlisted stays refused),
    and a session made without a certificate on a listener that does not
    ask for one does not resume into `require`."""
    srv = make_server(
        settings={"relay_client_certs": str(tmp_path / "relay")},
        tls_options={"ca_file": test_pki.ca.pem},
        listeners={"req": "implicit", "open": "implicit"},
        listener_options={"req": {"client_certificates": "require"}},
        start=False)
    (tmp_path / "relay").write_text(test_pki.relay_lines())
    srv.start()
    maximum = ssl.TLSVersion.TLSv1_2 if tls12 else None
    for name, code in (("relay_fp", 250), ("unlisted", 554)):
        ctx = _ctx(test_pki, name, maximum)
        got, session = _relay_on(_implicit(srv, "req", ctx))
        assert got == code, name
        again = _implicit(srv, "req", ctx, session)
        assert again.session_reused, name
        assert _relay_on(again)[0] == code, name

    ctx = client_context(maximum=maximum)
    _, session = _relay_on(_implicit(srv, "open", ctx))
    resumed = _implicit(srv, "open", ctx, session)
    assert resumed.session_reused
    resumed.close()
    _assert_refused(lambda: _implicit(srv, "req", ctx, session))


# -- what is recorded ----------------------------------------------------

def _deliver_with(server, pki, name, tag):
    c = _session(server, "mx", _ctx(pki, name))
    message = sample_message(tag, sender=SENDER, rcpt=LOCAL_RCPT)
    queue_id(transaction(c, SENDER, [LOCAL_RCPT], message))
    c.close()
    return Delivered(server.wait_for_messages("alice")[-1]).received


def test_log_names_subject_issuer_fingerprint(mtls, test_pki):
    cert = test_pki.relay_dn
    _relay_reply(mtls, "mx", _ctx(test_pki, "relay_dn"))
    line = [l for l in mtls.log().splitlines() if cert.sha256 in l]
    assert line, mtls.log()
    assert "client_cert=verified" in line[0], line
    assert f'subject="{cert.subject}"' in line[0], line
    assert f'issuer="{cert.issuer}"' in line[0], line


def test_log_marks_unverified(mtls, test_pki):
    cert = test_pki.forged
    _relay_reply(mtls, "mx", _ctx(test_pki, "forged"))
    line = [l for l in mtls.log().splitlines() if cert.sha256 in l]
    assert line and "client_cert=unverified" in line[0], mtls.log()


def test_received_names_verified_subject(mtls, test_pki):
    received = _deliver_with(mtls, test_pki, "relay_dn", "mtls-received")
    assert ('Client CN "relay-dn.example.org", Issuer "tlsmta Test CA" '
            '(verified OK)') in received, received


def test_received_marks_unverified_subject(mtls, test_pki):
    received = _deliver_with(mtls, test_pki, "forged", "mtls-forged")
    assert "(not verified)" in received, received
    assert "verified OK" not in received, received


def test_received_cannot_be_spoofed_by_names(mtls, test_pki):
    """Quotes and parentheses in an unverified certificate's names stay
    inside the comment (RFC 5322 3.2.2 quoted-pairs): no "(verified OK)"
    appears, and the comment nesting balances."""
    received = _deliver_with(mtls, test_pki, "spoof", "mtls-spoof")
    assert "(verified OK)" not in received, received
    assert received.count("(not verified)") == 1, received
    depth = 0
    for ch in received.replace("\\(", "").replace("\\)", ""):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        assert depth >= 0, received
    assert depth == 0, received


# -- AUTH EXTERNAL (RFC 4422 Appendix A) ---------------------------------

def test_auth_external_granted_certificate(mtls, test_pki):
    c = _session(mtls, "mx", _ctx(test_pki, "relay_dn"))
    ehlo = c.ehlo()
    assert "EXTERNAL" in (auth_mechanisms(ehlo) or []), ehlo
    r = c.cmd("AUTH EXTERNAL =")
    assert (r.code, r.enhanced) == (235, "2.7.0"), r
    c.close()


@pytest.mark.parametrize("name", ["unlisted", "forged", None])
def test_auth_external_refused(mtls, test_pki, name):
    """EXTERNAL is offered only to a certificate that grants relay."""
    c = _session(mtls, "mx", _ctx(test_pki, name))
    assert "EXTERNAL" not in (auth_mechanisms(c.ehlo()) or [])
    r = c.cmd("AUTH EXTERNAL =")
    assert (r.code, r.enhanced) == (504, "5.5.4"), r
    c.close()


def test_auth_external_authzid(mtls, test_pki):
    """An authorization identity other than the certificate's (its CN,
    auth_certs.h) is refused; the certificate's own is accepted."""
    c = _session(mtls, "mx", _ctx(test_pki, "relay_dn"))
    r = c.cmd(f"AUTH EXTERNAL {b64('postmaster@example.test')}")
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    r = c.cmd(f"AUTH EXTERNAL {b64('relay-dn.example.org')}")
    assert (r.code, r.enhanced) == (235, "2.7.0"), r
    c.close()
