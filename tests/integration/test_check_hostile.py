"""`tlsmta check` (issue 5) against scripted servers that misbehave: a
server that stalls after a few connections (a broken handshake is an
error, never "refused", and the report says results may be incomplete),
malformed replies (reported as such, not as "no greeting"), and our own
bad files (a usage error, never a grade of the server). JSON facts first,
the text report for the same facts."""

import time

from check_kit import (SCRIPTED_EHLO, assert_text, closed_port, ec_cert,
                       problems, rsa_cert, run_check, smtp_dialogue)
from check_kit import make_scripted_server  # noqa: F401 (pytest fixture)

NAME = "mx.hostile.check.test"


def check(tlsmta_bin, test_pki, srv, *args):
    return run_check(tlsmta_bin, "--ca-file", test_pki.ca.pem,
                     "--servername", NAME, "--timeout", "2", *args,
                     f"{srv.addr}:{srv.port}")


def stall_after(limit):
    """The first limit connections get a real STARTTLS session; the rest
    a 220 to STARTTLS and then silence (the handshake times out)."""
    def serve(conn, n, srv):
        stall = None
        if n > limit:
            def stall(c):
                c.sendall(b"220 go ahead\r\n")
                time.sleep(6)
        smtp_dialogue(conn, b"220 mx.hostile.check.test\r\n", SCRIPTED_EHLO,
                      srv.ctx, stall)
    return serve


def test_stall_is_an_error_not_a_refusal(tlsmta_bin, make_scripted_server,
                                         test_pki):
    cert = ec_cert(test_pki, NAME)
    # 1: the main session (TLS 1.3); 2, 3: TLS 1.0 and 1.1 (refused by
    # the server's alert); then every handshake stalls.
    srv = make_scripted_server(stall_after(3), cert)
    run = check(tlsmta_bin, test_pki, srv, "--json")
    j = run.json
    assert j["session"]["protocol"] == "TLSv1.3", run
    assert j["versions"]["TLSv1.0"] == "refused", run
    assert j["versions"]["TLSv1.2"] == "error", run
    assert "timed out" in j["version_details"]["TLSv1.2"], run
    # The session itself is evidence that TLS 1.3 is accepted.
    assert j["versions"]["TLSv1.3"] == "accepted", run
    names = [s["name"] for s in j["ciphers"]["TLSv1.3"]]
    assert j["session"]["suite"]["name"] in names, run
    assert j["probe_errors"] >= 1 and "timed out" in j["probe_error"], run
    assert j["session"]["resumption"] is None, run
    assert any("results may be incomplete" in t
               for t in problems(j, "warning", "versions")), run
    assert any("probe connection" in t and "incomplete" in t
               for t in problems(j, "warning", "ciphers")), run
    assert not any("TLSv1.3 is not accepted" in t for t in problems(j)), run
    assert j["verdicts"]["versions"]["text"] != "no version accepted", run
    # The chain verifies and names the server: only the incomplete test
    # and the inconclusive injection test are left, as warnings.
    assert j["grade"] == "A+" and run.status == 1, run
    # A fresh server: this one now stalls on every connection.
    text = check(tlsmta_bin, test_pki, make_scripted_server(stall_after(3),
                                                            cert))
    assert_text(text, r"^\s+TLSv1\.2\s+error: the handshake timed out$",
                r"^\s+TLSv1\.3\s+accepted",
                r"probe connections? failed: results may be incomplete",
                r"^\s+resumption\s+unknown: ")


def replying(greeting, ehlo=SCRIPTED_EHLO):
    def serve(conn, n, srv):
        smtp_dialogue(conn, greeting, ehlo, srv.ctx)
    return serve


MALFORMED_GREETINGS = [
    (b"220 bare line feed\n", "not ended by CRLF"),
    (b"220-first\r\n250-wrong code\r\n220 last\r\n", "different codes"),
    (b"220 " + b"A" * 100000 + b"\r\n", "too long"),
    (b"2x0 hi\r\n", "malformed reply line"),
]


def test_malformed_greetings(tlsmta_bin, make_scripted_server, test_pki):
    for greeting, why in MALFORMED_GREETINGS:
        srv = make_scripted_server(replying(greeting))
        run = check(tlsmta_bin, test_pki, srv, "--json")
        j = run.json
        assert j["banner"]["code"] is None, run
        assert why in j["banner"]["error"], run
        assert why not in (j["tls_error"] or ""), run
        assert not any(why in (d or "")
                       for d in j["version_details"].values()), run
        assert any(why in t for t in problems(j, "failure", "banner")), run
        assert "STARTTLS" not in j["verdicts"]["session"]["text"], run
        assert run.status == 2, run
        text = check(tlsmta_bin, test_pki, srv)
        assert_text(text, r"^1\. .* FAIL: no valid greeting: .*" + why,
                    r"^\s+greeting\s+none valid: .*" + why)


def test_malformed_ehlo(tlsmta_bin, make_scripted_server, test_pki):
    many = b"250-mx\r\n" + b"250-X\r\n" * 2000 + b"250 STARTTLS\r\n"
    srv = make_scripted_server(replying(b"220 hi\r\n", many))
    run = check(tlsmta_bin, test_pki, srv, "--json")
    j = run.json
    assert j["banner"]["code"] == 220 and j["banner"]["error"] is None, run
    assert j["ehlo"]["code"] is None, run
    assert "too many lines" in j["ehlo"]["error"], run
    assert any("too many lines" in t
               for t in problems(j, "failure", "ehlo")), run
    # EHLO failed: that is why TLS was not tested, not a missing STARTTLS.
    assert j["verdicts"]["session"]["text"] == "EHLO before TLS failed", run
    text = check(tlsmta_bin, test_pki, srv)
    assert_text(text, r"^\s+EHLO answered\s+no valid reply: .*too many")


def test_silent_server_hints_implicit(tlsmta_bin, make_scripted_server,
                                     test_pki):
    srv = make_scripted_server(lambda conn, n, srv: time.sleep(5))
    run = check(tlsmta_bin, test_pki, srv)
    assert_text(run, r"^1\. .*FAIL: no valid greeting: no reply within 2 s "
                     r"\(if this port uses implicit TLS, try --implicit\)")


def test_local_files_are_usage_errors(tlsmta_bin, test_pki, tmp_path):
    """Our own bad files exit 64 before any connection (nothing listens
    on the port: probing would exit 3), naming the file and the reason."""
    ec, rsa = ec_cert(test_pki, NAME), rsa_cert(test_pki, NAME)
    target = f"127.0.0.1:{closed_port()}"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [
        (["--ca-file", str(garbage)], [str(garbage), "no certificate"]),
        (["--ca-file", str(tmp_path / "missing.pem")],
         ["missing.pem", "No such file"]),
        (["--client-cert", rsa.pem, "--client-key", ec.key],
         [ec.key, rsa.pem, "the private key", "does not match the "
                                              "certificate"]),
        (["--client-cert", ec.key, "--client-key", ec.key],
         [ec.key, "client certificate"]),
    ]
    for args, words in cases:
        run = run_check(tlsmta_bin, *args, target)
        assert run.status == 64 and run.out == "", run
        assert all(w in run.err for w in words), run
    # argv quoted in a usage error is escaped, never sent to the terminal.
    run = run_check(tlsmta_bin, "bad\x1b[31mhost")
    assert run.status == 64 and "\x1b" not in run.err, run
    assert "bad\\x1b[31mhost" in run.err, run


def test_server_bytes_kept_and_escaped(tlsmta_bin, make_scripted_server,
                                       test_pki):
    """Banner and EHLO bytes reach JSON as sent (UTF-8 as characters,
    control bytes as \\u00XX, invalid bytes as U+FFFD) and the text report
    as \\xNN, never raw."""
    greeting = "220 mx.exämple ✉ \U0001F600 \x1b[31m".encode() + \
        b"\xff end\r\n"
    ehlo = "250-mx\r\n250-X-ÜNI é\r\n250 STARTTLS\r\n".encode()
    srv = make_scripted_server(replying(greeting, ehlo))
    run = check(tlsmta_bin, test_pki, srv, "--json")
    assert run.out.isascii(), run
    j = run.json
    assert j["banner"]["text"] == \
        "mx.exämple ✉ \U0001F600 \x1b[31m\ufffd end", run
    assert "X-ÜNI é" in j["ehlo"]["extensions"], run
    text = check(tlsmta_bin, test_pki, srv)
    assert text.out.isascii() and "\x1b" not in text.out, text
    assert_text(text, r"greeting\s+220 mx\.ex\\xc3\\xa4mple .*"
                      r"\\x1b\[31m\\xff end$")
