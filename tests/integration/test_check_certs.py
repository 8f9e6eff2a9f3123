"""`tlsmta check` (issue 5) on certificates: a modern STARTTLS server
(smtpsink: TLS 1.2 + 1.3, forward-secret AEAD suites only) that grades A+
with a good certificate, then the same server with an expired one, one for
another name, one that expires in 10 days, RSA 2048 against EC P-256, a
1024-bit RSA key (s_server), --show-certs and verification without the
test CA. JSON facts first, the text report for the same facts."""

import pytest

from check_kit import (S_SERVER_CIPHER, assert_text, ec_cert, expired_cert,
                       days_left, levels, problems, rsa_cert, run_check,
                       short_cert, suites)
from check_kit import make_openssl_server  # noqa: F401 (pytest fixture)
from outbound_kit import make_sink, net  # noqa: F401 (pytest fixtures)


NAME = "mx.check.test"
MODERN = "ECDHE+AESGCM:ECDHE+CHACHA20"
ECDSA_TLS12 = {"ECDHE-ECDSA-AES256-GCM-SHA384",
               "ECDHE-ECDSA-AES128-GCM-SHA256",
               "ECDHE-ECDSA-CHACHA20-POLY1305"}


@pytest.fixture
def check_sink(tlsmta_bin, make_sink, net, test_pki):
    """check_sink(cert, *check args, json=True, **SmtpSink options) -> the
    CheckRun of a modern STARTTLS sink on 127.A.B.n:25 with cert,
    checked with the test CA and --servername NAME."""
    made = []

    def check(cert, *args, json=True, **kw):
        sink = make_sink(net.addr(20 + len(made)),
                         starttls=(cert.pem, cert.key), tls_ciphers=MODERN,
                         **kw)
        made.append(sink)
        return run_check(tlsmta_bin, *(("--json",) if json else ()),
                         "--ca-file", test_pki.ca.pem, "--servername", NAME,
                         *args, f"{sink.host}:25")
    return check


def test_good_certificate_grades_a_plus(check_sink, test_pki):
    cert = ec_cert(test_pki, NAME)
    run = check_sink(cert)
    j = run.json
    assert j["versions"]["TLSv1.1"] == "refused", run
    assert j["versions"]["TLSv1.2"] == j["versions"]["TLSv1.3"] == \
        "accepted", run
    assert set(suites(j, "TLSv1.2")) == ECDSA_TLS12, run
    leaf, = j["certificates"]
    assert (leaf["key_type"], leaf["key_bits"], leaf["curve"]) == \
        ("EC", 256, "prime256v1")
    assert leaf["sha256"] == cert.sha256
    assert leaf["days_left"] in days_left(run, leaf) <= {29, 30}, run
    assert (j["session"]["authentication"], j["session"]["key_bits"]) == \
        ("ECDSA", 256)
    assert j["session"]["resumption"] is True, run
    assert j["chain"]["verified"] and j["chain"]["name_matched"], run
    assert (j["problems"], j["grade"], run.status) == ([], "A+", 0), run


def test_rsa_2048_certificate(check_sink, test_pki):
    run = check_sink(rsa_cert(test_pki, NAME))
    j = run.json
    leaf, = j["certificates"]
    assert (leaf["key_type"], leaf["key_bits"], leaf["curve"]) == \
        ("RSA", 2048, None)
    assert (j["session"]["authentication"], j["session"]["key_bits"]) == \
        ("RSA", 2048)
    assert {s["authentication"] for s in j["ciphers"]["TLSv1.2"]} == {"RSA"}
    assert j["grade"] == "A+", run
    text = check_sink(rsa_cert(test_pki, NAME), json=False)
    assert_text(text, r"^\s+key\s+RSA 2048 bits$",
                r"^\s+authentication\s+RSA, 2048-bit key$",
                r"^\s+grade\s+A\+$")


def test_expired_certificate(check_sink, test_pki):
    cert = expired_cert(test_pki, NAME)
    run = check_sink(cert)
    j = run.json
    leaf = j["certificates"][0]
    assert leaf["days_left"] in days_left(run, leaf) <= {-6, -5}, run
    assert j["certificates"][0]["sha256"] == cert.sha256
    assert j["chain"]["verified"] is False
    assert "certificate has expired" in j["chain"]["verify_error"], run
    assert any("expired" in t for t in problems(j, "failure",
                                                "certificate")), run
    assert (j["grade"], j["exit_status"], run.status) == ("F", 2, 2), run
    text = check_sink(cert, json=False)
    assert text.status == 2, text
    assert_text(text, r"\((5|6) days ago: EXPIRED\)",
                r"^\s+reason\s+.*certificate has expired",
                r"^\s+grade\s+F$", r"^\s+exit status\s+2$")


def test_wrong_name(check_sink, test_pki):
    cert = ec_cert(test_pki, "other.check.test")
    run = check_sink(cert)
    j = run.json
    assert j["certificates"][0]["san"] == ["DNS:other.check.test"]
    assert j["chain"]["verified"] is True, run
    assert (j["chain"]["name_checked"], j["chain"]["name_matched"]) == \
        (NAME, False), run
    assert ("failure", "certificate") in levels(j)
    assert (j["grade"], run.status) == ("F", 2), run
    text = check_sink(cert, json=False)
    assert_text(text, rf"^\s+name\s+{NAME}: does NOT match$",
                r"^\s+alt names\s+DNS:other\.check\.test$",
                r"^\s+grade\s+F$")


def test_expiry_warning_at_21_days_or_fewer(check_sink, test_pki):
    cert = short_cert(test_pki, NAME, days=10)
    run = check_sink(cert)
    j = run.json
    leaf = j["certificates"][0]
    assert leaf["days_left"] in days_left(run, leaf) <= {9, 10}, run
    assert j["chain"]["verified"] is True
    assert levels(j) == {("warning", "certificate")}, run
    assert (j["grade"], j["exit_status"], run.status) == ("B", 1, 1), run
    text = check_sink(cert, json=False)
    assert text.status == 1, text
    assert_text(text, r"\((9|10) days left\)", r"^\s+grade\s+B$",
                r"^\s+WARN\s+certificate: ")
    # 30 days: no warning.
    assert check_sink(ec_cert(test_pki, NAME)).json["problems"] == []


def test_without_the_test_ca(tlsmta_bin, make_sink, net, test_pki):
    """The system store does not know the test CA: OpenSSL's reason."""
    cert = ec_cert(test_pki, NAME)
    sink = make_sink(net.addr(30), starttls=(cert.pem, cert.key))
    run = run_check(tlsmta_bin, "--json", "--servername", NAME,
                    f"{sink.host}:25")
    chain = run.json["chain"]
    assert chain["trust_anchors"] == "system"
    assert chain["verified"] is False
    assert "unable to get local issuer certificate" in \
        chain["verify_error"], run
    assert (run.json["grade"], run.status) == ("F", 2), run


def test_show_certs(check_sink, test_pki):
    cert = ec_cert(test_pki, NAME)
    with open(cert.pem) as f:
        pem = f.read()
    run = check_sink(cert, "--show-certs")
    assert run.json["certificates"][0]["pem"] == pem, run
    text = check_sink(cert, "--show-certs", json=False)
    body = pem.strip().splitlines()
    assert all(line.strip() in text.out for line in body), text


def test_small_rsa_key(tlsmta_bin, make_openssl_server, test_pki):
    """RSA 1024 (s_server loads it at security level 0 only)."""
    srv = make_openssl_server(rsa_cert(test_pki, NAME, bits=1024),
                              ("-tls1_2", "-cipher",
                               S_SERVER_CIPHER + ":@SECLEVEL=0"))
    run = run_check(tlsmta_bin, "--json", "--timeout", "2", "--ca-file",
                    test_pki.ca.pem, "--servername", NAME,
                    f"{srv.addr}:{srv.port}")
    j = run.json
    assert j["session"]["suite"]["name"] == S_SERVER_CIPHER, run
    assert (j["certificates"][0]["key_bits"], j["session"]["key_bits"]) == \
        (1024, 1024), run
    assert problems(j, "warning", "certificate"), run
