"""The servers `tlsmta check` is tested against (check_kit.py), checked on
their own with openssl s_client and Python's ssl, so that a failure of
test_check*.py is the checker's and not the fixture's: Postfix really
accepts TLS 1.0 to 1.3, s_server really only TLS 1.2 with one suite, the
certificates are what their names say, the injection sink is really
vulnerable and the default sink is not."""

import re
import ssl
import subprocess

from check_kit import (S_SERVER_CIPHER, S_SERVER_TLS12, expired_cert,
                       ocsp_response, rsa_cert, short_cert)
from check_kit import make_openssl_server  # noqa: F401 (pytest fixture)
from outbound_kit import make_receiver, make_sink, net  # noqa: F401
from smtpwire import RawSMTP, client_context

LEGACY = "DEFAULT@SECLEVEL=0"


def s_client(addr, port, *args, starttls=True, ca=None, name=None):
    """(exit status, negotiated protocol or None, cipher or None, output)
    of one `openssl s_client` handshake, then QUIT."""
    cmd = ["openssl", "s_client", "-connect", f"{addr}:{port}", *args]
    if starttls:
        cmd += ["-starttls", "smtp"]
    if ca:
        cmd += ["-CAfile", ca, "-verify_return_error"]
    if name:
        cmd += ["-servername", name, "-verify_hostname", name]
    p = subprocess.run(cmd, input=b"QUIT\r\n", capture_output=True,
                       timeout=30)
    out = p.stdout.decode("utf-8", "replace")
    # "Protocol :" is in the session printout (none for TLS 1.3, whose
    # "New, TLSv1.3" names the version; for older ones it names the
    # suite's).
    proto = re.search(r"^\s+Protocol\s*: (\S+)", out, re.M)
    cipher = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    ok = cipher is not None and cipher.group(2) != "(NONE)"
    return (p.returncode,
            (proto.group(1) if proto else cipher.group(1)) if ok else None,
            cipher.group(2) if ok else None,
            out + p.stderr.decode("utf-8", "replace"))


def test_postfix_legacy_accepts_tls10_to_13(make_receiver, net, test_pki):
    name = "mx.legacy.check.test"
    rx = make_receiver(net.addr(3), name, ["legacy.check.test"],
                       cert=rsa_cert(test_pki, name), legacy_tls=True)
    ca = test_pki.ca.pem
    for opt, want in (("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")):
        rc, proto, cipher, out = s_client(rx.addr, 25, opt, "-cipher",
                                          LEGACY, ca=ca, name=name)
        assert (rc, proto) == (0, want), out
        assert cipher == "ECDHE-RSA-AES256-SHA", out
    rc, proto, cipher, out = s_client(rx.addr, 25, "-tls1_2", ca=ca,
                                      name=name)
    assert (rc, proto, cipher) == (0, "TLSv1.2",
                                   "ECDHE-RSA-AES256-GCM-SHA384"), out
    rc, proto, cipher, out = s_client(rx.addr, 25, "-tls1_3", ca=ca,
                                      name=name)
    assert (rc, cipher) == (0, "TLS_AES_256_GCM_SHA384"), out
    assert "Server public key is 2048 bit" in out, out


def test_postfix_protocols_refuse_tls10(make_receiver, net, test_pki):
    name = "mx.modern.check.test"
    rx = make_receiver(net.addr(4), name, ["modern.check.test"],
                       cert=rsa_cert(test_pki, name), protocols=">=TLSv1.2")
    for opt in ("-tls1", "-tls1_1"):
        rc, proto, _, out = s_client(rx.addr, 25, opt, "-cipher", LEGACY)
        assert proto is None, out
    assert s_client(rx.addr, 25, "-tls1_2")[1] == "TLSv1.2"


def test_s_server_tls12_one_cipher_many_connections(make_openssl_server,
                                                    test_pki):
    name = "tls12.check.test"
    srv = make_openssl_server(rsa_cert(test_pki, name))
    for _ in range(3):       # keeps answering, one connection after another
        rc, proto, cipher, out = s_client(srv.addr, srv.port, starttls=False,
                                          ca=test_pki.ca.pem, name=name)
        assert (rc, proto, cipher) == (0, "TLSv1.2", S_SERVER_CIPHER), out
    for args in (("-tls1_3",), ("-tls1_1", "-cipher", LEGACY),
                 ("-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"),
                 ("-tls1_2", "-cipher", "AES128-GCM-SHA256")):
        rc, proto, _, out = s_client(srv.addr, srv.port, *args,
                                     starttls=False)
        assert proto is None, (args, out)
    rc, proto, cipher, out = s_client(srv.addr, srv.port, starttls=False)
    assert cipher == S_SERVER_CIPHER and srv.alive(), out


def _openssl_x509(cert, *opts):
    return subprocess.run(["openssl", "x509", "-in", cert.pem, "-noout",
                           *opts], capture_output=True, text=True,
                          timeout=30, check=True).stdout


def _verify(test_pki, cert):
    p = subprocess.run(["openssl", "verify", "-CAfile", test_pki.ca.pem,
                        cert.pem], capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout + p.stderr


def test_certificates(test_pki):
    rc, out = _verify(test_pki, expired_cert(test_pki))
    assert rc != 0 and "certificate has expired" in out, out
    short = short_cert(test_pki)
    assert _verify(test_pki, short)[0] == 0
    end = subprocess.run(["openssl", "x509", "-in", short.pem, "-noout",
                          "-checkend", str(11 * 86400)], timeout=30)
    assert end.returncode == 1           # gone within 11 days
    assert "Public-Key: (2048 bit)" in _openssl_x509(
        rsa_cert(test_pki, "r.check.test"), "-text")
    assert "Public-Key: (3072 bit)" in _openssl_x509(
        rsa_cert(test_pki, "r.check.test", 3072), "-text")
    ec = test_pki.server("ec.check.test", "ec.check.test")
    assert "NIST CURVE: P-256" in _openssl_x509(ec, "-text")


def test_plaintext_sink_has_no_starttls(make_sink, net):
    sink = make_sink(net.addr(5))
    with RawSMTP(sink.addr) as c:
        assert "STARTTLS" not in c.ehlo().keywords
        assert c.cmd("STARTTLS").code == 502


def _inject(sink):
    """Send STARTTLS and NOOP in one write, handshake, and return what
    comes first inside TLS within a second."""
    with RawSMTP(sink.addr) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        assert c.reply().code == 220
        c.handshake(client_context())
        return c.pending(1.0)


def test_starttls_injection_sink(make_sink, net, test_pki):
    cert = test_pki.server("inject", "inject.check.test")
    bad = make_sink(net.addr(6), starttls=(cert.pem, cert.key),
                    starttls_vulnerable=True)
    assert _inject(bad).startswith(b"250 2.0.0 Ok\r\n")
    s, = bad.wait_for_sessions(1)
    assert s.pipelined == b"NOOP\r\n" and s.discarded == b""
    assert s.commands == ["EHLO client.example", "STARTTLS", "NOOP"]
    good = make_sink(net.addr(7), starttls=(cert.pem, cert.key))
    assert _inject(good) == b""
    s, = good.wait_for_sessions(1)
    assert s.discarded == b"NOOP\r\n"
    assert s.commands == ["EHLO client.example", "STARTTLS"]


def test_sink_tls_versions(make_sink, net, test_pki):
    """Python's ssl server side of smtpsink: TLS 1.2 and 1.3, not 1.1."""
    cert = test_pki.server("inject", "inject.check.test")
    sink = make_sink(net.addr(8), starttls=(cert.pem, cert.key))
    host, port = sink.addr
    assert s_client(host, port, "-tls1_2")[1] == "TLSv1.2"
    assert s_client(host, port, "-tls1_3")[1] == "TLSv1.3"
    assert s_client(host, port, "-tls1_1", "-cipher", LEGACY)[1] is None


def test_s_server_staples_ocsp(make_openssl_server, test_pki, tmp_path):
    cert = rsa_cert(test_pki, "ocsp.check.test")
    for revoked, word in ((False, "good"), (True, "revoked")):
        resp = ocsp_response(test_pki, cert, tmp_path / f"{word}.der",
                             revoked=revoked)
        srv = make_openssl_server(cert, S_SERVER_TLS12 +
                                  ("-status_file", resp))
        rc, _, _, out = s_client(srv.addr, srv.port, "-status",
                                 starttls=False)
        assert f"Cert Status: {word}" in out, out
