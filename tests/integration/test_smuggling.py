"""SMTP smuggling (DESIGN.md invariant; the 2023 SEC Consult finding):
only <CRLF>.<CRLF> ends DATA. A message carrying a fake end of data
(<LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>, <CRLF>.<LF>, ...) followed by what
looks like a second transaction must stay ONE message (bare newlines
normalised, the default) or be refused whole (smtpd_bare_newline =
reject, 550 5.5.2); never a second, smuggled message.

Each test sends the whole payload in one write, reads exactly one reply
for it, then QUIT must get the next reply (221): a server that split the
message would answer MAIL/RCPT/DATA/"." in between."""

import pytest

from smtpwire import RawSMTP, queue_id

SENDER = "bob@example.org"
VICTIM = "victim@example.test"

FAKE_ENDS = {
    "LF.LF": b"\n.\n",
    "CR.CR": b"\r.\r",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "LF.CR": b"\n.\r",
    "CRLF.CRCRLF": b"\r\n.\r\r\n",
}

SMUGGLED = (b"MAIL FROM:<ceo@example.test>\r\n"
            b"RCPT TO:<" + VICTIM.encode() + b">\r\n"
            b"DATA\r\n"
            b"From: ceo@example.test\r\n"
            b"Subject: smuggled\r\n"
            b"\r\n"
            b"smuggled body\r\n")


def _payload(fake_end):
    return (b"From: bob@example.org\r\nSubject: carrier\r\n\r\n"
            b"carrier text" + fake_end + SMUGGLED + b".\r\n")


def _send(server, payload):
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd("RCPT TO:<alice@example.test>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(payload)
    end = c.reply()
    quit_reply = c.cmd("QUIT")
    assert quit_reply.code == 221, (
        f"extra replies after the end of DATA: {quit_reply} (smuggled "
        "commands were executed)")
    c.close()
    return end


@pytest.mark.parametrize("fake_end", FAKE_ENDS.values(), ids=FAKE_ENDS)
def test_smuggling_normalize(server, fake_end):
    end = _send(server, _payload(fake_end))
    queue_id(end)
    data, = server.wait_for_messages("alice")
    assert b"carrier text" in data
    assert b"MAIL FROM:<ceo@example.test>" in data
    assert b"smuggled body" in data
    assert b"\r" not in data, "bare CR left in the Maildir copy"
    server.assert_no_more("alice", 1, grace=1.0)
    assert server.delivered("victim") == []


@pytest.mark.parametrize("fake_end", FAKE_ENDS.values(), ids=FAKE_ENDS)
def test_smuggling_reject(make_server, fake_end):
    server = make_server(settings={"smtpd_bare_newline": "reject"})
    end = _send(server, _payload(fake_end))
    assert end.code == 550 and end.enhanced == "5.5.2", end
    server.assert_no_more("alice", 0, grace=1.0)
    assert server.delivered("victim") == []


def test_bare_lf_normalized_exactly(server):
    """Default smtpd_bare_newline = normalize: a bare LF or bare CR is
    stored as a line end, so the Maildir copy has one line per break."""
    payload = b"Subject: bare\r\n\r\none\ntwo\r\nthree\rfour\r\n.\r\n"
    end = _send(server, payload)
    queue_id(end)
    data, = server.wait_for_messages("alice")
    assert data.endswith(b"\nSubject: bare\n\none\ntwo\nthree\nfour\n"), \
        data


def test_dot_stuffing_undone_exactly(server):
    payload = (b"Subject: dots\r\n\r\n"
               b"..\r\n...\r\n..x\r\n.x\r\nx.\r\n. \r\n.\t\r\n"
               b"..\r\n.\r\n")
    queue_id(_send(server, payload))
    data, = server.wait_for_messages("alice")
    # ".x" without its stuffing dot: RFC 5321 4.5.2 says drop the first dot
    # of any line that starts with one.
    assert data.endswith(b"\nSubject: dots\n\n.\n..\n.x\nx\nx.\n \n\t\n.\n"),\
        data
