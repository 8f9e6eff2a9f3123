"""`tlsmta check` (issue 5) against real servers on loopback: a Postfix
that accepts TLS 1.0 to 1.3 with an RSA certificate of the test CA, an
`openssl s_server` that only speaks TLS 1.2 with one suite, tlsmta itself
(ECDSA + RSA), a port where nothing listens, and --domain through a real
DNS server. Each expectation is asserted on the JSON document (schema
docs/check-json.md) and the text report is checked for the same facts.
Grading rules: docs/check.md. Servers and helpers: check_kit.py."""

import pytest

from check_kit import (S_SERVER_CIPHER, assert_text, closed_port,
                       days_left, levels, problems, rsa_cert, run_check,
                       suites)
from check_kit import make_openssl_server  # noqa: F401 (pytest fixture)
from dnskit import make_dns_server  # noqa: F401 (pytest fixture)
from outbound_kit import LoopbackNet, make_sink, net  # noqa: F401
from postfix_peer import PostfixReceiver


PF_NAME = "mx.legacy.check.test"
S_NAME = "tls12.check.test"
TLS13_SUITES = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
                "TLS_AES_128_GCM_SHA256"}
ALL_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def versions(*accepted):
    """The expected "versions" map: SSLv3 not tested (Debian's OpenSSL
    has no SSLv3), TLS versions accepted ("1.2"...), the rest refused."""
    out = {v: "refused" for v in ALL_VERSIONS}
    out["SSLv3"] = "not_tested"
    out.update({"TLSv" + v: "accepted" for v in accepted})
    return out


def assert_no_compression(w):
    """No TLS compression: false, or null (not tested) when this OpenSSL
    cannot offer it at all (Debian's is built without zlib)."""
    if w["compression"] is None:
        assert w["compression_detail"].startswith("not tested"), w
    else:
        assert w["compression"] is False, w


# -- a real Postfix, TLS 1.0 to 1.3, RSA 2048 ------------------------------

@pytest.fixture(scope="module")
def postfix(test_pki):
    rx = PostfixReceiver(LoopbackNet().addr(3), 25, PF_NAME,
                         ["legacy.check.test"], rsa_cert(test_pki, PF_NAME),
                         legacy_tls=True).start()
    yield rx
    print(f"--- Postfix maillog ---\n{rx.log()[-4000:]}")
    rx.stop()


@pytest.fixture(scope="module")
def postfix_args(postfix, test_pki):
    return ("--ca-file", test_pki.ca.pem, "--servername", PF_NAME,
            f"{postfix.addr}:25")


@pytest.fixture(scope="module")
def postfix_json(tlsmta_bin, postfix_args):
    return run_check(tlsmta_bin, "--json", *postfix_args)


def test_postfix_versions(postfix_json):
    j = postfix_json.json
    assert j["schema"] == "tlsmta-check/1"
    assert j["target"]["mode"] == "starttls", postfix_json
    assert j["versions"] == versions("1.0", "1.1", "1.2", "1.3"), \
        postfix_json
    assert "unsupported" in j["version_details"]["SSLv3"], postfix_json


def test_postfix_session(postfix_json):
    s = postfix_json.json["session"]
    assert s["protocol"] == "TLSv1.3", postfix_json
    assert s["suite"]["name"] == "TLS_AES_256_GCM_SHA384"
    assert s["suite"]["iana"] == "TLS_AES_256_GCM_SHA384"
    assert s["suite"]["id"] == "0x1302"
    assert (s["key_exchange"], s["group"].lower()) == ("ECDHE", "x25519")
    assert (s["authentication"], s["key_bits"]) == ("RSA", 2048)
    assert (s["encryption"], s["encryption_bits"]) == ("AES-256-GCM", 256)
    assert (s["mac"], s["hash"]) == ("AEAD", "SHA384")
    assert s["forward_secrecy"] is True and s["aead"] is True
    assert s["ocsp_stapled"] is False


def test_postfix_ciphers(postfix_json):
    j = postfix_json.json
    assert set(j["ciphers"]) == {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
    assert set(suites(j, "TLSv1.3")) == TLS13_SUITES, postfix_json
    v10 = suites(j, "TLSv1.0")
    cbc = v10["ECDHE-RSA-AES256-SHA"]
    assert cbc["iana"] == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
    assert (cbc["key_exchange"], cbc["authentication"], cbc["encryption"],
            cbc["encryption_bits"], cbc["mac"]) == \
        ("ECDHE", "RSA", "AES-256-CBC", 256, "HMAC-SHA1")
    assert cbc["forward_secrecy"] and not cbc["aead"] and cbc["weak"]
    static = v10["AES256-SHA"]
    assert (static["key_exchange"], static["forward_secrecy"],
            static["weak"]) == ("RSA", False, True)
    assert not any(s["aead"] for s in v10.values())   # no GCM before 1.2
    gcm = suites(j, "TLSv1.2")["ECDHE-RSA-AES256-GCM-SHA384"]
    assert (gcm["encryption"], gcm["mac"], gcm["aead"], gcm["weak"]) == \
        ("AES-256-GCM", "AEAD", True, False)
    for v in j["ciphers"]:        # an RSA certificate only: never ECDSA
        assert all(s["authentication"] != "ECDSA"
                   for s in j["ciphers"][v]), v


def test_postfix_chain(postfix_json, test_pki):
    j = postfix_json.json
    cert = rsa_cert(test_pki, PF_NAME)
    leaf, = j["certificates"]
    assert leaf["subject"] == cert.subject and leaf["issuer"] == cert.issuer
    assert leaf["san"] == [f"DNS:{PF_NAME}"]
    assert (leaf["key_type"], leaf["key_bits"], leaf["curve"]) == \
        ("RSA", 2048, None)
    assert leaf["signature_algorithm"] == "ecdsa-with-SHA256"
    assert leaf["sha256"] == cert.sha256 and leaf["self_signed"] is False
    assert leaf["days_left"] in days_left(postfix_json, leaf) <= {29, 30}
    assert leaf["pem"] is None
    assert j["chain"] == {"verified": True, "verify_error": None,
                          "trust_anchors": test_pki.ca.pem,
                          "name_checked": PF_NAME, "name_matched": True}


def test_postfix_ehlo_weaknesses_grade(postfix_json):
    j = postfix_json.json
    assert j["banner"]["code"] == 220 and j["banner"]["connected"]
    assert PF_NAME in j["banner"]["text"]
    assert j["ehlo"]["starttls"] is True and j["ehlo"]["auth"] is False
    assert "PIPELINING" in j["ehlo"]["extensions"]
    assert j["ehlo_tls"]["done"] is True and not j["ehlo_tls"]["starttls"]
    w = j["weaknesses"]
    assert (w["starttls_injection"], w["renegotiation"]) == \
        ("not_vulnerable", "refused"), postfix_json
    assert_no_compression(w)
    # TLS 1.0/1.1 and CBC-SHA1 suites: warnings capped at C, no failure.
    assert levels(j) >= {("warning", "versions"), ("warning", "ciphers")}
    assert not problems(j, "failure"), postfix_json
    assert (j["grade"], j["exit_status"], postfix_json.status) == \
        ("C", 1, 1), postfix_json


def test_postfix_text(tlsmta_bin, postfix_args):
    run = run_check(tlsmta_bin, *postfix_args)
    assert run.status == 1, run
    assert_text(run, r"^\s+SSLv3\s+not tested", r"^\s+TLSv1\.0\s+accepted",
                r"^\s+TLSv1\.1\s+accepted", r"^\s+TLSv1\.3\s+accepted",
                r"^\s+protocol\s+TLSv1\.3$",
                r"^\s+cipher suite\s+TLS_AES_256_GCM_SHA384 ",
                r"^\s+key exchange\s+ECDHE, group (X|x)25519$",
                r"^\s+authentication\s+RSA, 2048-bit key$",
                r"^\s+encryption\s+AES-256-GCM, 256-bit key$",
                r"^\s+forward secrecy\s+yes$",
                r"^\s+ECDHE-RSA-AES256-SHA\s.*\[weak",
                r"^\s+key\s+RSA 2048 bits$",
                r"^\s+verification\s+verified against --ca-file ",
                rf"^\s+name\s+{PF_NAME}: matches$",
                r"^\s+STARTTLS injection\s+not vulnerable",
                r"^\s+grade\s+C$", r"^\s+exit status\s+1$")


# -- openssl s_server: TLS 1.2 only, one suite, no SMTP at all -------------

def s_server_check(tlsmta_bin, srv, test_pki, *more):
    """check --json of s_server srv (implicit TLS: port 465). s_server
    sends no SMTP greeting: a short --timeout bounds that wait."""
    return run_check(tlsmta_bin, "--json", "--timeout", "2", "--ca-file",
                     test_pki.ca.pem, "--servername", S_NAME, *more,
                     f"{srv.addr}:{srv.port}")


def test_s_server_tls12_one_suite(tlsmta_bin, make_openssl_server, test_pki):
    srv = make_openssl_server(rsa_cert(test_pki, S_NAME))
    run = s_server_check(tlsmta_bin, srv, test_pki)
    j = run.json
    assert j["target"]["mode"] == "implicit"
    assert j["versions"] == versions("1.2"), run
    suite, = j["ciphers"]["TLSv1.2"]
    assert set(j["ciphers"]) == {"TLSv1.2"}
    assert suite == {
        "name": S_SERVER_CIPHER,
        "iana": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "id": "0xC02F",
        "version": "TLSv1.2", "key_exchange": "ECDHE",
        "authentication": "RSA", "encryption": "AES-128-GCM",
        "encryption_bits": 128, "mac": "AEAD", "hash": "SHA256",
        "forward_secrecy": True, "aead": True, "weak": False,
        "weak_reason": None}, run
    s = j["session"]
    assert s["protocol"] == "TLSv1.2" and s["suite"] == suite
    assert (s["key_exchange"], s["group"].lower(), s["authentication"],
            s["key_bits"], s["encryption"], s["encryption_bits"],
            s["mac"], s["forward_secrecy"]) == \
        ("ECDHE", "x25519", "RSA", 2048, "AES-128-GCM", 128, "AEAD", True)
    assert s["resumption"] is True and s["ocsp_stapled"] is False
    assert j["chain"]["verified"] and j["chain"]["name_matched"]
    # No greeting after the handshake: a failure of section 1.
    assert j["banner"]["connected"] and j["banner"]["code"] is None
    assert j["ehlo"] is None
    assert ("failure", "banner") in levels(j), run
    assert j["weaknesses"]["starttls_injection"] == "not_tested"
    assert j["weaknesses"]["renegotiation"] == "refused"
    assert (j["grade"], j["exit_status"], run.status) == ("F", 2, 2), run

    text = run_check(tlsmta_bin, *run.args[1:])
    assert text.status == 2, text
    assert_text(text, r"^\s+TLSv1\.1\s+refused", r"^\s+TLSv1\.2\s+accepted",
                r"^\s+TLSv1\.3\s+refused", r"^\s+protocol\s+TLSv1\.2$",
                rf"^\s+cipher suite\s+{S_SERVER_CIPHER} \(IANA "
                r"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 0xC02F\)",
                r"^\s+encryption\s+AES-128-GCM, 128-bit key$",
                r"^\s+TLSv1\.2 \(1 suite\)$",
                rf"^\s+{S_SERVER_CIPHER}\s+ECDHE/RSA AES-128-GCM AEAD$",
                r"^\s+greeting\s+none", r"^\s+grade\s+F$")


def test_s_server_client_renegotiation(tlsmta_bin, make_openssl_server,
                                       test_pki):
    srv = make_openssl_server(rsa_cert(test_pki, S_NAME),
                              ("-tls1_2", "-cipher", S_SERVER_CIPHER,
                               "-client_renegotiation"))
    run = s_server_check(tlsmta_bin, srv, test_pki)
    assert run.json["weaknesses"]["renegotiation"] == "accepted", run
    assert problems(run.json, "warning", "weaknesses"), run


def test_s_server_without_resumption(tlsmta_bin, make_openssl_server,
                                     test_pki):
    srv = make_openssl_server(rsa_cert(test_pki, S_NAME),
                              ("-tls1_2", "-cipher", S_SERVER_CIPHER,
                               "-no_cache", "-no_ticket"))
    run = s_server_check(tlsmta_bin, srv, test_pki)
    assert run.json["session"]["resumption"] is False, run


@pytest.mark.parametrize("args, version, suite, parts", [
    # TLS 1.0 only (OpenSSL 3 needs security level 0 for it), CBC-SHA1.
    (("-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"), "TLSv1.0",
     "ECDHE-RSA-AES128-SHA",
     ("ECDHE", "AES-128-CBC", 128, "HMAC-SHA1", True, False, True)),
    # Static RSA key exchange: AEAD but no forward secrecy.
    (("-tls1_2", "-cipher", "AES256-GCM-SHA384"), "TLSv1.2",
     "AES256-GCM-SHA384",
     ("RSA", "AES-256-GCM", 256, "AEAD", False, True, False)),
    # TLS 1.3 only, one suite.
    (("-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"),
     "TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256",
     ("ECDHE", "CHACHA20-POLY1305", 256, "AEAD", True, True, False)),
])
def test_s_server_versions_and_suites(tlsmta_bin, make_openssl_server,
                                      test_pki, args, version, suite, parts):
    srv = make_openssl_server(rsa_cert(test_pki, S_NAME), args)
    run = s_server_check(tlsmta_bin, srv, test_pki)
    j = run.json
    assert j["versions"] == versions(version[4:]), run
    assert list(suites(j, version)) == [suite], run
    s = j["session"]
    assert (s["protocol"], s["suite"]["name"]) == (version, suite), run
    assert (s["key_exchange"], s["encryption"], s["encryption_bits"],
            s["mac"], s["forward_secrecy"], s["aead"],
            s["suite"]["weak"]) == parts, run
    assert (s["authentication"], s["key_bits"]) == ("RSA", 2048)
    found = levels(j)
    if version == "TLSv1.0":
        assert {("warning", "versions"), ("warning", "ciphers")} <= found
    if not s["forward_secrecy"]:
        assert ("warning", "ciphers") in found, run
    if version == "TLSv1.3":
        assert problems(j) == problems(j, section="banner"), run


# -- tlsmta itself: ECDSA P-256 + RSA 2048 self-signed ---------------------

def test_tlsmta_itself(tlsmta_bin, server, certs):
    host, port = server.addr("mx")
    run = run_check(tlsmta_bin, "--json", "--ca-file", certs["ecdsa_cert"],
                    f"{host}:{port}")
    j = run.json
    assert j["versions"] == versions("1.2", "1.3"), run
    assert set(suites(j, "TLSv1.3")) == TLS13_SUITES
    assert set(suites(j, "TLSv1.2")) == {
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"}, run
    assert all(s["forward_secrecy"] and s["aead"] and not s["weak"]
               for v in j["ciphers"] for s in j["ciphers"][v])
    s = j["session"]
    assert (s["protocol"], s["suite"]["name"]) == \
        ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), run
    assert (s["authentication"], s["key_bits"]) == ("ECDSA", 256)
    leaf = j["certificates"][0]
    assert (leaf["key_type"], leaf["key_bits"], leaf["curve"]) == \
        ("EC", 256, "prime256v1")
    assert leaf["self_signed"] is True
    assert leaf["san"] == ["DNS:mail.example.test", "IP:127.0.0.1"]
    assert j["chain"]["verified"] is True, run
    assert (j["chain"]["name_checked"], j["chain"]["name_matched"]) == \
        ("127.0.0.1", True), run
    assert j["ehlo"]["starttls"] and not j["ehlo"]["auth"]
    w = j["weaknesses"]
    assert (w["starttls_injection"], w["renegotiation"]) == \
        ("not_vulnerable", "refused"), run
    assert_no_compression(w)
    assert j["problems"] == [] and j["grade"] == "A+", run
    assert (j["exit_status"], run.status) == (0, 0), run

    text = run_check(tlsmta_bin, *run.args[1:])
    assert text.status == 0, text
    assert_text(text, r"^\s+TLSv1\.0\s+refused", r"^\s+TLSv1\.3\s+accepted",
                r"^\s+authentication\s+ECDSA, 256-bit key$",
                r"^\s+key\s+EC 256 bits \(prime256v1\)$",
                r"^\s+STARTTLS offered\s+yes$",
                r"^\s+renegotiation\s+client-initiated refused",
                r"^\s+grade\s+A\+$", r"^\s+exit status\s+0$")


def test_tlsmta_untrusted_and_wrong_name(tlsmta_bin, server, certs):
    host, port = server.addr("mx")
    # The system store does not know the self-signed certificate, nor does
    # a CA file holding only the RSA one (the ECDSA one is negotiated).
    for ca in ((), ("--ca-file", certs["rsa_cert"])):
        run = run_check(tlsmta_bin, "--json", *ca, f"{host}:{port}")
        chain = run.json["chain"]
        assert chain["verified"] is False, run
        assert "self-signed certificate" in chain["verify_error"], run
        assert ("failure", "certificate") in levels(run.json)
        assert (run.json["grade"], run.status) == ("F", 2), run
    run = run_check(tlsmta_bin, "--json", "--ca-file", certs["ecdsa_cert"],
                    "--servername", "other.example.test", f"{host}:{port}")
    assert run.json["chain"]["verified"] is True, run
    assert (run.json["chain"]["name_checked"],
            run.json["chain"]["name_matched"]) == \
        ("other.example.test", False), run
    assert (run.json["grade"], run.status) == ("F", 2), run
    text = run_check(tlsmta_bin, *run.args[1:])
    assert_text(text, r"^\s+name\s+other\.example\.test: does NOT match$",
                r"^\s+grade\s+F$")


def test_tlsmta_implicit_and_auth(tlsmta_bin, auth_server, certs):
    host, port = auth_server.addr("submissions")
    run = run_check(tlsmta_bin, "--json", "--implicit", "--ca-file",
                    certs["ecdsa_cert"], f"{host}:{port}")
    j = run.json
    assert j["target"]["mode"] == "implicit" and j["ehlo"] is None
    assert j["banner"]["code"] == 220, run
    assert j["ehlo_tls"]["auth"] is True, run
    assert "PLAIN" in j["ehlo_tls"]["auth_mechanisms"], run
    assert j["weaknesses"]["starttls_injection"] == "not_tested"
    assert j["grade"] == "A+" and run.status == 0, run
    # STARTTLS port: no AUTH before TLS, AUTH after it.
    host, port = auth_server.addr("mx")
    run = run_check(tlsmta_bin, "--json", "--ca-file", certs["ecdsa_cert"],
                    f"{host}:{port}")
    assert run.json["ehlo"]["auth"] is False, run
    assert run.json["ehlo_tls"]["auth"] is True, run
    text = run_check(tlsmta_bin, *run.args[1:])
    assert_text(text, r"^\s+AUTH before TLS\s+no$",
                r"^\s+AUTH mechanisms\s+.*PLAIN")


def test_tlsmta_plain_mode(tlsmta_bin, server):
    host, port = server.addr("mx")
    run = run_check(tlsmta_bin, "--json", "--plain", f"{host}:{port}")
    j = run.json
    assert j["target"]["mode"] == "plain"
    assert j["banner"]["code"] == 220 and j["ehlo"]["starttls"] is True
    assert j["session"] is None and j["grade"] is None, run
    assert set(j["versions"].values()) == {"not_tested"}, run
    assert run.status == 0, run


# -- unreachable, usage ----------------------------------------------------

def test_unreachable_exit_3(tlsmta_bin):
    port = closed_port()
    run = run_check(tlsmta_bin, "--json", "--timeout", "3",
                    f"127.0.0.1:{port}")
    j = run.json
    assert (run.status, j["exit_status"], j["grade"]) == (3, 3, None), run
    assert j["banner"]["connected"] is False
    assert "refused" in j["banner"]["error"].lower(), run
    assert j["session"] is None
    text = run_check(tlsmta_bin, "--timeout", "3", f"127.0.0.1:{port}")
    assert text.status == 3, text
    assert_text(text, r"^\s+error\s+.*(refused|Refused)",
                r"^\s+exit status\s+3$")


@pytest.mark.parametrize("args", [
    (), ("--starttls", "--implicit", "127.0.0.1:25"),
    ("--timeout", "0", "127.0.0.1:25"), ("--no-such-option", "127.0.0.1"),
    ("127.0.0.1:99999",), ("--domain", "x.test", "--servername", "a",),
])
def test_usage_errors_exit_64(tlsmta_bin, args):
    run = run_check(tlsmta_bin, *args)
    assert run.status == 64 and run.err, run


# -- --domain: MX lookup through a real DNS server -------------------------

def domain_hosts(j):
    """The per-host reports of a --domain JSON document."""
    return j["hosts"]


def test_domain_checks_each_mx(tlsmta_bin, make_server, make_dns_server,
                               make_sink, net, certs):
    good = net.addr(11)
    srv = make_server(listener_addrs={"mx": f"{good}:25"})
    plain = make_sink(net.addr(12))                  # no STARTTLS at all
    dns = make_dns_server({
        "check.test": ["@ MX 10 mail.example.test.",
                       "@ MX 20 plain.check.test.",
                       f"plain A {plain.host}"],
        "example.test": [f"mail A {good}"],
        "nullmx.test": ["@ MX 0 ."],
    })
    run = run_check(tlsmta_bin, "--json", "--domain", "check.test",
                    "--dns-resolver", dns.dns_resolver, "--ca-file",
                    certs["ecdsa_cert"])
    first, second = domain_hosts(run.json)
    assert first["target"]["host"] == "mail.example.test", run
    assert first["banner"]["address"] == f"{good}:25"
    assert first["chain"]["name_checked"] == "mail.example.test"
    assert first["chain"]["name_matched"] is True
    assert first["grade"] == "A+" and first["exit_status"] == 0, run
    assert second["target"]["host"] == "plain.check.test"
    assert second["ehlo"]["starttls"] is False
    assert (second["grade"], second["exit_status"]) == ("F", 2), run
    assert run.status == 2, run                   # the worst host decides
    assert srv.alive()

    text = run_check(tlsmta_bin, *run.args[1:])
    assert text.status == 2, text
    assert_text(text, r"mail\.example\.test", r"plain\.check\.test",
                r"^\s+grade\s+A\+$", r"^\s+grade\s+F$")

    for domain in ("nullmx.test", "nxdomain.check.test"):
        run = run_check(tlsmta_bin, "--json", "--domain", domain,
                        "--dns-resolver", dns.dns_resolver, "--timeout", "5")
        assert run.status == 3, run


def test_domain_skips_are_said(tlsmta_bin, make_dns_server, make_sink, net):
    """An MX target that is an address (RFC 5321 5.1) is skipped, and one
    that is no valid host name dropped: both said, never silently."""
    plain = make_sink(net.addr(13))
    dns = make_dns_server({
        "skip.test": ["@ MX 5 192.0.2.1.", "@ MX 10 bad\\007name",
                      "@ MX 20 ok", f"ok A {plain.host}"],
        "ipmx.test": ["@ MX 10 192.0.2.1."],
    })
    args = ("--domain", "skip.test", "--dns-resolver", dns.dns_resolver,
            "--timeout", "5")
    run = run_check(tlsmta_bin, "--json", *args)
    note = run.json["note"]
    assert "1 MX record(s) dropped" in note, run
    assert "IP address" in note and "192.0.2.1" in note, run
    assert [h["target"]["host"] for h in run.json["hosts"]] == \
        ["ok.skip.test"], run
    text = run_check(tlsmta_bin, *args)
    assert_text(text, r"^tlsmta check: --domain skip\.test: note: .*dropped"
                      r".*IP address.*192\.0\.2\.1")
    run = run_check(tlsmta_bin, "--json", "--domain", "ipmx.test",
                    "--dns-resolver", dns.dns_resolver, "--timeout", "5")
    assert run.status == 3 and "IP address" in run.json["error"], run


# -- client certificate, EHLO name -----------------------------------------

def test_client_certificate(tlsmta_bin, make_openssl_server, test_pki):
    """s_server that demands a client certificate from the test CA
    (-Verify 1): refused without --client-cert, served with one."""
    srv = make_openssl_server(rsa_cert(test_pki, S_NAME),
                              ("-tls1_2", "-cipher", S_SERVER_CIPHER,
                               "-Verify", "1", "-CAfile", test_pki.ca.pem))
    run = s_server_check(tlsmta_bin, srv, test_pki)
    assert run.json["session"] is None, run
    assert run.json["tls_error"], run
    assert (run.json["grade"], run.status) == ("F", 2), run
    client = test_pki.relay_fp
    run = s_server_check(tlsmta_bin, srv, test_pki, "--client-cert",
                         client.pem, "--client-key", client.key)
    j = run.json
    assert j["target"]["client_cert"] == client.pem
    assert j["session"]["suite"]["name"] == S_SERVER_CIPHER, run
    assert j["versions"] == versions("1.2"), run
    assert list(suites(j, "TLSv1.2")) == [S_SERVER_CIPHER], run


def test_helo_name(tlsmta_bin, make_sink, net):
    sink = make_sink(net.addr(13))
    run = run_check(tlsmta_bin, "--json", "--plain", "--helo",
                    "probe.example.org", f"{sink.host}:25")
    assert run.json["target"]["helo"] == "probe.example.org", run
    s, = sink.wait_for_sessions(1)
    assert s.commands[0] == "EHLO probe.example.org", sink.transcript()
