"""STARTTLS semantics (RFC 3207): command injection, state reset after
the handshake, no second STARTTLS, and the starttls-required listener
(530 5.7.0 before TLS)."""

import pytest

from smtpwire import (RawSMTP, check_delivery, dot_stuff, queue_id,
                      sample_message, transaction)

SENDER = "bob@example.org"
RCPT = "alice@example.test"


def test_bytes_after_starttls_are_discarded(server):
    """RFC 3207 4.2 / CVE-2011-0411 class: "STARTTLS\\r\\nNOOP\\r\\n" in one
    write gets exactly one reply (220) before the handshake, and the
    NOOP is never executed afterwards."""
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.send(b"STARTTLS\r\nNOOP\r\n")
    r = c.reply()
    assert (r.code, r.text) == (220, "2.0.0 Ready to start TLS")
    # Nothing else in plaintext: no reply for the NOOP before the handshake.
    assert c.pending(0.5) == b""
    c.handshake()
    # Nothing unsolicited after the handshake either...
    assert c.pending(0.5) == b""
    # ...and the first reply after TLS is the EHLO reply, not a NOOP's.
    r = c.ehlo()
    assert r.lines[0].split()[0] == "mail.example.test", r
    assert c.pending(0.5) == b"", "NOOP executed after the handshake"
    assert "STARTTLS" not in r.keywords
    c.close()


@pytest.mark.parametrize("injected", [
    b"EHLO evil.example\r\n",
    b"EHLO evil.example\r\nMAIL FROM:<evil@example.org>\r\n",
    b"RSET\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@example.test>"
    b"\r\n",
    b"QUIT\r\n",
], ids=["EHLO", "EHLO+MAIL", "RSET+MAIL+RCPT", "QUIT"])
def test_injected_commands_never_run(server, injected):
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.send(b"STARTTLS\r\n" + injected)
    assert c.reply().code == 220
    assert c.pending(0.3) == b""
    c.handshake()
    assert c.pending(0.3) == b""
    # No EHLO counts after the handshake yet, injected or earlier: 503.
    r = c.cmd(f"MAIL FROM:<{SENDER}>")
    assert r.code == 503, r
    c.ehlo()
    # An injected MAIL would make this one 503 (nested MAIL).
    r = c.cmd(f"MAIL FROM:<{SENDER}>")
    assert r.code == 250, r
    assert c.cmd("QUIT").code == 221
    c.close()


def test_state_reset_after_starttls(server):
    """EHLO, MAIL, RCPT before STARTTLS are forgotten: after the
    handshake MAIL needs EHLO again (503), RCPT needs MAIL (503)."""
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd(f"RCPT TO:<{RCPT}>").code == 250
    c.starttls()
    r = c.cmd(f"MAIL FROM:<{SENDER}>")
    assert r.code == 503 and r.enhanced == "5.5.1", r
    c.ehlo()
    r = c.cmd(f"RCPT TO:<{RCPT}>")
    assert r.code == 503, r
    r = c.cmd("DATA")
    assert r.code == 503, r
    c.close()


def test_second_starttls_refused(server):
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.starttls()
    c.ehlo()
    r = c.cmd("STARTTLS")
    assert r.code == 503, r
    # The session still works over the first TLS layer.
    assert c.cmd("NOOP").code == 250
    c.close()


def test_starttls_not_on_implicit_or_plain(server):
    with RawSMTP(server.addr("submissions"), implicit_tls=True) as c:
        assert "STARTTLS" not in c.ehlo().keywords
        assert c.cmd("STARTTLS").code in (502, 503)
    with RawSMTP(server.addr("plain")) as c:
        assert "STARTTLS" not in c.ehlo().keywords
        assert c.cmd("STARTTLS").code in (502, 503)


def test_ehlo_keywords_before_and_after_tls(server):
    c = RawSMTP(server.addr("mx"))
    before = c.ehlo().keywords
    for kw in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
               "STARTTLS", "SMTPUTF8"):
        assert kw in before, before
    c.starttls()
    after = c.ehlo().keywords
    assert after == before - {"STARTTLS"}, (before, after)
    c.close()


def test_starttls_required_refuses_mail_before_tls(server):
    c = RawSMTP(server.addr("submission"))
    assert "STARTTLS" in c.ehlo().keywords
    for line in (f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RCPT}>", "DATA"):
        r = c.cmd(line)
        assert (r.code, r.text) == (
            530, "5.7.0 Must issue a STARTTLS command first"), (line, r)
    assert c.cmd("NOOP").code == 250
    c.starttls()
    c.ehlo()
    message = sample_message("starttls-required")
    qid = queue_id(transaction(c, SENDER, [RCPT], message))
    assert c.cmd("QUIT").code == 221
    c.close()
    data, = server.wait_for_messages("alice")
    d = check_delivery(data, SENDER, RCPT, message, "TLSv1.3")
    assert qid in d.received


def test_starttls_required_pipelined_before_tls(server):
    """A pipelined transaction before TLS gets 530 for each command and
    delivers nothing."""
    c = RawSMTP(server.addr("submission"))
    c.ehlo()
    c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n"
           .encode() + dot_stuff(b"Subject: x\r\n\r\nx\r\n") + b".\r\n")
    codes = [c.reply().code for _ in range(3)]
    assert codes == [530, 530, 530], codes
    # The message lines ("Subject: x", "", "x", ".") are then read as
    # commands (RFC 5321 gives no other choice): each gets an error.
    rest = [c.reply().code for _ in range(4)]
    assert all(code >= 500 for code in rest), rest
    c.close()
    server.assert_no_more("alice", 0, grace=1.0)

