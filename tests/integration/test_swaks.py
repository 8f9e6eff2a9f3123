"""swaks (the administrator's SMTP test tool) as the client, with
STARTTLS (--tls) and implicit TLS (--tls-on-connect).

swaks rewrites the DATA it is given (adds the final dot, quotes leading
dots, turns LF into CRLF), so the file handed to it is the message
without its last CRLF; what arrives must still be the message exactly."""

import re
import subprocess

from smtpwire import CLIENT_NAME, check_delivery, sample_message

SENDER = "bob@example.org"
RCPT = "alice@example.test"


def _swaks(server, listener, tls_flag, tmp_path, tag):
    message = sample_message(tag)
    data = tmp_path / f"{tag}.eml"
    data.write_bytes(message[:-2])
    host, port = server.addr(listener)
    p = subprocess.run(
        ["swaks", "--server", f"{host}:{port}", tls_flag,
         "--helo", CLIENT_NAME, "--from", SENDER, "--to", RCPT,
         "--data", f"@{data}", "--timeout", "20"],
        capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, f"swaks exit {p.returncode}\n{out}\n{p.stderr}"
    m = re.search(r"=== TLS started with cipher (TLSv1\.[23]):(\S+):", out)
    assert m, out
    assert re.search(r"<~ +250 2\.0\.0 Ok: queued as \S+", out), out
    data, = server.wait_for_messages("alice")
    check_delivery(data, SENDER, RCPT, message, m.group(1), m.group(2))
    return out


def test_swaks_starttls(server, tmp_path):
    out = _swaks(server, "mx", "--tls", tmp_path, "swaks-starttls")
    # swaks saw STARTTLS offered before TLS and sent EHLO again after it.
    assert re.search(r"<-  250[ -]STARTTLS", out), out
    assert re.search(r"~> EHLO " + re.escape(CLIENT_NAME), out), out


def test_swaks_tls_on_connect(server, tmp_path):
    out = _swaks(server, "submissions", "--tls-on-connect", tmp_path,
                 "swaks-tlsc")
    assert "STARTTLS" not in out, out
