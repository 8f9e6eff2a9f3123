"""TLS versions and parameters the server accepts (issue 2: minimum TLS
1.2, forward-secret AEAD suites for TLS 1.2, no compression, RSA and
ECDSA certificates at once, handshake failures never fatal).

The client context for the refused versions uses @SECLEVEL=0, because
Debian's OpenSSL would otherwise refuse TLS 1.0/1.1 itself: the refusal
must come from the server (an alert received), not from our client."""

import socket
import ssl
import warnings

import pytest

from smtpwire import RawSMTP, client_context

OLD = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]
NEW = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


def old_context(version):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client_context(minimum=version, maximum=version,
                              ciphers="DEFAULT:@SECLEVEL=0")


def _assert_refused_by_server(exc):
    text = str(exc).upper()
    # An alert from the server (PROTOCOL_VERSION normally), or the server
    # just closing; never a refusal by our own client.
    assert "NO_PROTOCOLS_AVAILABLE" not in text, exc
    assert "UNSUPPORTED_PROTOCOL" not in text, exc


@pytest.mark.parametrize("version", OLD, ids=lambda v: v.name)
def test_old_tls_refused_implicit(server, version):
    sock = socket.create_connection(server.addr("submissions"), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionResetError, EOFError)) as e:
        old_context(version).wrap_socket(sock)
    sock.close()
    _assert_refused_by_server(e.value)
    _still_serving(server)


@pytest.mark.parametrize("version", OLD, ids=lambda v: v.name)
def test_old_tls_refused_starttls(server, version):
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    with pytest.raises((ssl.SSLError, ConnectionResetError, EOFError)) as e:
        c.starttls(old_context(version))
    c.close()
    _assert_refused_by_server(e.value)
    _still_serving(server)


@pytest.mark.parametrize("version", NEW, ids=lambda v: v.name)
@pytest.mark.parametrize("listener", ["mx", "submissions"])
def test_tls12_and_tls13_accepted(server, version, listener):
    ctx = client_context(minimum=version, maximum=version)
    if listener == "submissions":
        c = RawSMTP(server.addr(listener), implicit_tls=True, ctx=ctx)
    else:
        c = RawSMTP(server.addr(listener))
        c.ehlo()
        c.starttls(ctx)
    with c:
        assert c.sock.version() == {"TLSv1_2": "TLSv1.2",
                                    "TLSv1_3": "TLSv1.3"}[version.name]
        assert c.sock.compression() is None
        name, _, bits = c.sock.cipher()
        if version == ssl.TLSVersion.TLSv1_2:
            # Forward secret (ECDHE/DHE) and AEAD (GCM, ChaCha20-Poly1305).
            assert name.startswith(("ECDHE-", "DHE-")), name
            assert "GCM" in name or "CHACHA20" in name, name
        assert bits >= 128
        r = c.ehlo()
        assert "STARTTLS" not in r.keywords
        assert c.cmd("QUIT").code == 221


def _pem_to_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


@pytest.mark.parametrize("kind,cipher", [
    ("ecdsa", "ECDHE-ECDSA-AES128-GCM-SHA256"),
    ("rsa", "ECDHE-RSA-AES128-GCM-SHA256"),
])
def test_rsa_and_ecdsa_certificates_both_served(server, certs, kind, cipher):
    """With both pairs configured, a TLS 1.2 client that can only use one
    key type gets the certificate of that type."""
    ctx = client_context(minimum=ssl.TLSVersion.TLSv1_2,
                         maximum=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    with RawSMTP(server.addr("submissions"), implicit_tls=True,
                 ctx=ctx) as c:
        assert c.sock.cipher()[0] == cipher
        assert c.sock.getpeercert(binary_form=True) == \
            _pem_to_der(certs[kind + "_cert"])


def test_weak_tls12_suites_refused(server):
    """Static RSA key exchange and CBC suites are not offered for 1.2."""
    ctx = client_context(minimum=ssl.TLSVersion.TLSv1_2,
                         maximum=ssl.TLSVersion.TLSv1_2,
                         ciphers="AES128-SHA:AES256-SHA:AES128-GCM-SHA256:"
                                 "ECDHE-RSA-AES128-SHA:@SECLEVEL=0")
    sock = socket.create_connection(server.addr("submissions"), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionResetError, EOFError)):
        ctx.wrap_socket(sock)
    sock.close()
    _still_serving(server)


def test_garbage_instead_of_client_hello(server):
    """A handshake failure is logged and never takes the server down."""
    for junk in (b"EHLO x\r\n", b"\x16\x03\x01\xff\xff" + b"\0" * 64,
                 b"\x80" * 100):
        s = socket.create_connection(server.addr("submissions"), timeout=10)
        s.sendall(junk)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
    _still_serving(server)


def _still_serving(server):
    assert server.alive(), server.log()
    with RawSMTP(server.addr("submissions"), implicit_tls=True) as c:
        assert c.greeting.code == 220
        c.ehlo()


@pytest.mark.parametrize("version", NEW, ids=lambda v: v.name)
def test_session_resumption(server, version):
    """Issue 2: "session resumption on" - a second connection offering
    the first one's session (ID or ticket) resumes it."""
    ctx = client_context(minimum=version, maximum=version)
    with RawSMTP(server.addr("submissions"), implicit_tls=True,
                 ctx=ctx) as first:
        first.ehlo()        # TLS 1.3 tickets arrive after the handshake
        session = first.sock.session
        assert first.cmd("QUIT").code == 221
    assert session is not None
    sock = socket.create_connection(server.addr("submissions"), timeout=10)
    with ctx.wrap_socket(sock, session=session) as again:
        assert again.session_reused, f"{version.name} session not resumed"


def test_resumption_across_starttls(server):
    ctx = client_context()
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.starttls(ctx)
    c.ehlo()
    session = c.sock.session
    c.cmd("QUIT")
    c.close()
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    assert c.cmd("STARTTLS").code == 220
    c.sock = ctx.wrap_socket(c.sock, session=session)
    assert c.sock.session_reused
    assert c.ehlo().code == 250
    c.close()
