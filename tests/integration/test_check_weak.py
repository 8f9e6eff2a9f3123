"""`tlsmta check` (issue 5) on what is wrong before or around TLS: a
plaintext-only server (no STARTTLS: failure, exit 2), a server vulnerable
to STARTTLS command injection (CVE-2011-0411) next to one that is not,
AUTH offered before TLS, and OCSP stapling (s_server -status_file, good
and revoked). JSON facts first, the text report for the same facts."""

import pytest

from check_kit import (S_SERVER_TLS12, assert_text, ec_cert, levels,
                       ocsp_response, problems, rsa_cert, run_check)
from check_kit import make_openssl_server  # noqa: F401 (pytest fixture)
from outbound_kit import make_sink, net  # noqa: F401 (pytest fixtures)


NAME = "mx.weak.check.test"
MODERN = "ECDHE+AESGCM:ECDHE+CHACHA20"


def check(tlsmta_bin, test_pki, sink, *args):
    return run_check(tlsmta_bin, "--ca-file", test_pki.ca.pem,
                     "--servername", NAME, *args, f"{sink.host}:25")


def test_plaintext_only_server(tlsmta_bin, make_sink, net, test_pki):
    sink = make_sink(net.addr(1))
    run = check(tlsmta_bin, test_pki, sink, "--json")
    j = run.json
    assert j["banner"]["code"] == 220
    assert "sink.example.test" in j["banner"]["text"]
    assert j["banner"]["seconds"] is not None
    assert j["ehlo"]["done"] is True and j["ehlo"]["starttls"] is False
    assert "PIPELINING" in j["ehlo"]["extensions"]
    assert j["session"] is None and j["ehlo_tls"] is None, run
    assert "502" in j["tls_error"] or "STARTTLS" in j["tls_error"], run
    assert set(j["versions"].values()) == {"not_tested"}, run
    assert j["certificates"] == [] and j["ciphers"] == {}
    assert ("failure", "ehlo") in levels(j), run
    assert (j["grade"], j["exit_status"], run.status) == ("F", 2, 2), run
    # The sink saw EHLO and the refused STARTTLS, never a handshake.
    assert all(not s.tls for s in sink.sessions())
    text = check(tlsmta_bin, test_pki, sink)
    assert text.status == 2, text
    assert_text(text, r"^\s+STARTTLS offered\s+no$", r"^\s+grade\s+F$",
                r"^\s+exit status\s+2$")


def test_starttls_injection_vulnerable(tlsmta_bin, make_sink, net,
                                       test_pki):
    cert = ec_cert(test_pki, NAME)
    bad = make_sink(net.addr(2), starttls=(cert.pem, cert.key),
                    tls_ciphers=MODERN, starttls_vulnerable=True)
    run = check(tlsmta_bin, test_pki, bad, "--json")
    j = run.json
    assert j["weaknesses"]["starttls_injection"] == "vulnerable", run
    assert j["weaknesses"]["starttls_injection_detail"], run
    assert problems(j, "failure", "weaknesses"), run
    assert (j["grade"], run.status) == ("F", 2), run
    # The probe really pipelined NOOP after STARTTLS in one write.
    assert any(s.pipelined.startswith(b"NOOP") for s in bad.sessions()), \
        bad.transcript()
    text = check(tlsmta_bin, test_pki, bad)
    assert_text(text, r"^\s+STARTTLS injection\s+VULNERABLE",
                r"^\s+grade\s+F$")


def test_starttls_injection_discarded(tlsmta_bin, make_sink, net, test_pki):
    cert = ec_cert(test_pki, NAME)
    good = make_sink(net.addr(3), starttls=(cert.pem, cert.key),
                     tls_ciphers=MODERN)
    run = check(tlsmta_bin, test_pki, good, "--json")
    assert run.json["weaknesses"]["starttls_injection"] == \
        "not_vulnerable", run
    assert any(s.discarded.startswith(b"NOOP") for s in good.sessions()), \
        good.transcript()
    assert (run.json["grade"], run.status) == ("A+", 0), run


def test_auth_before_tls(tlsmta_bin, make_sink, net, test_pki):
    cert = ec_cert(test_pki, NAME)
    sink = make_sink(net.addr(4), starttls=(cert.pem, cert.key),
                     tls_ciphers=MODERN, auth={"u": "p"},
                     auth_before_tls=True)
    run = check(tlsmta_bin, test_pki, sink, "--json")
    j = run.json
    assert j["ehlo"]["auth"] is True, run
    assert j["ehlo"]["auth_mechanisms"] == ["PLAIN", "LOGIN"]
    assert j["ehlo_tls"]["auth_mechanisms"] == ["PLAIN", "LOGIN"]
    assert levels(j) == {("warning", "ehlo")}, run
    assert (j["grade"], j["exit_status"], run.status) == ("B", 1, 1), run
    text = check(tlsmta_bin, test_pki, sink)
    assert_text(text, r"^\s+AUTH before TLS\s+PLAIN LOGIN$",
                r"^\s+grade\s+B$", r"^\s+exit status\s+1$")


def test_greeting_554(tlsmta_bin, make_sink, net, test_pki):
    """A server that refuses the session at once (RFC 5321 3.1)."""
    cert = ec_cert(test_pki, NAME)
    sink = make_sink(net.addr(5), starttls=(cert.pem, cert.key),
                     replies={"CONNECT": "554 5.3.2 not now"})
    run = check(tlsmta_bin, test_pki, sink, "--json")
    j = run.json
    assert (j["banner"]["connected"], j["banner"]["code"]) == (True, 554)
    assert "not now" in j["banner"]["text"], run
    assert j["session"] is None and ("failure", "banner") in levels(j)
    assert (j["grade"], run.status) == ("F", 2), run


def test_ehlo_refused_after_tls(tlsmta_bin, make_sink, net, test_pki):
    cert = ec_cert(test_pki, NAME)
    sink = make_sink(net.addr(6), starttls=(cert.pem, cert.key),
                     tls_ciphers=MODERN,
                     replies={"EHLO": lambda s, a: "554 5.7.0 no thanks"
                              if s.tls else None})
    run = check(tlsmta_bin, test_pki, sink, "--json")
    j = run.json
    assert j["ehlo"]["done"] is True and j["ehlo"]["starttls"] is True
    assert (j["ehlo_tls"]["done"], j["ehlo_tls"]["code"]) == (False, 554)
    assert levels(j) == {("failure", "ehlo_tls")}, run
    assert (j["grade"], run.status) == ("F", 2), run


@pytest.mark.parametrize("revoked", [False, True])
def test_ocsp_stapling(tlsmta_bin, make_openssl_server, test_pki, tmp_path,
                       revoked):
    cert = rsa_cert(test_pki, NAME)
    resp = ocsp_response(test_pki, cert, tmp_path / "ocsp.der", revoked)
    srv = make_openssl_server(cert, S_SERVER_TLS12 + ("-status_file", resp))
    run = run_check(tlsmta_bin, "--json", "--timeout", "2", "--ca-file",
                    test_pki.ca.pem, "--servername", NAME,
                    f"{srv.addr}:{srv.port}")
    s = run.json["session"]
    word = "revoked" if revoked else "good"
    assert (s["ocsp_stapled"], s["ocsp_status"]) == (True, word), run
