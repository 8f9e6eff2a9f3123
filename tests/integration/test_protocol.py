"""RFC 5321 replies over a real connection, PIPELINING (RFC 2920), SIZE
(RFC 1870) and every configured limit answering with its reply code
(DESIGN.md: "Every limit ... answers with the RFC reply code, never a
crash or a hang")."""

import socket
import time

import pytest

from smtpwire import (RawSMTP, check_delivery, dot_stuff, queue_id,
                      sample_message, send_data)

SENDER = "bob@example.org"
RCPT = "alice@example.test"


def _tls_session(server, listener="mx"):
    c = RawSMTP(server.addr(listener))
    c.ehlo()
    c.starttls()
    c.ehlo()
    return c


# -- command replies ------------------------------------------------------

@pytest.mark.parametrize("line,code,enhanced", [
    ("FOO", 500, None),
    ("MAILFROM:<a@example.org>", 500, None),
    ("VRFY alice@example.test", 252, None),
    ("NOOP", 250, "2.0.0"),
    ("noop", 250, "2.0.0"),
    ("RSET", 250, "2.0.0"),
    ("RCPT TO:<alice@example.test>", 503, "5.5.1"),
    ("DATA", 503, "5.5.1"),
    ("MAIL FROM:bob@example.org", 501, None),
    ("MAIL FROM:<bob@example.org", 501, None),
    ("MAIL FROM:<bob@@example.org>", 501, None),
    ("MAIL FROM:<bob@example.org> FOO=BAR", 555, "5.5.4"),
    ("MAIL FROM:<bob@example.org> SIZE=abc", 501, None),
])
def test_command_replies(server, line, code, enhanced):
    c = _tls_session(server)
    r = c.cmd(line)
    assert r.code == code, (line, r)
    if enhanced:
        assert r.enhanced == enhanced, (line, r)
    else:
        assert r.enhanced is not None and r.enhanced[0] == str(code)[0], r
    # The session survives every error.
    assert c.cmd("NOOP").code == 250
    c.close()


def test_help_and_quit(server):
    c = RawSMTP(server.addr("plain"))
    r = c.cmd("HELP")
    assert r.code in (214, 211), r
    r = c.cmd("QUIT")
    assert r.code == 221 and r.enhanced == "2.0.0", r
    assert c.closed_by_peer(5.0)
    c.close()


def test_mail_before_ehlo_is_503(server):
    with RawSMTP(server.addr("plain")) as c:
        r = c.cmd(f"MAIL FROM:<{SENDER}>")
        assert r.code == 503 and r.enhanced == "5.5.1", r


def test_nested_mail_is_503(server):
    c = _tls_session(server)
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 503
    assert c.cmd("RSET").code == 250
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    c.close()


def test_helo_and_ehlo_forms(server):
    for greeting in ("HELO client.example", "EHLO [127.0.0.1]",
                     "EHLO [IPv6:::1]", "EHLO [IPv6:2001:db8::1]",
                     "ehlo Client.Example"):
        with RawSMTP(server.addr("plain")) as c:
            r = c.cmd(greeting)
            assert r.code == 250, (greeting, r)
    with RawSMTP(server.addr("plain")) as c:
        assert c.cmd("EHLO").code == 501


def test_command_line_too_long(server):
    """RFC 5321 4.5.3.1.4: 512 octets with CRLF; longer gets 500 5.5.2."""
    c = _tls_session(server)
    r = c.cmd("NOOP " + "x" * 600)
    assert r.code == 500 and r.enhanced == "5.5.2", r
    # Nothing of the long line is executed later as a command.
    assert c.pending(0.3) == b""
    r = c.cmd(f"MAIL FROM:<{SENDER}> " + "X" * 1000)
    assert r.code == 500 and r.enhanced == "5.5.2", r
    assert c.cmd("NOOP").code == 250
    # Exactly 512 octets including CRLF is fine.
    line = "NOOP " + "y" * (512 - 2 - 5)
    assert len(line) + 2 == 512
    assert c.cmd(line).code == 250
    c.close()


def test_huge_line_without_newline_does_not_hang(server):
    c = _tls_session(server)
    c.send(b"A" * 100000)
    c.send(b"\r\n")
    r = c.reply()
    assert r.code == 500 and r.enhanced == "5.5.2", r
    assert c.cmd("NOOP").code == 250
    c.close()


# -- PIPELINING -------------------------------------------------------------

def test_pipelined_group_reply_order(server):
    c = _tls_session(server)
    c.send(f"MAIL FROM:<{SENDER}>\r\n"
           f"RCPT TO:<{RCPT}>\r\n"
           "RCPT TO:<user@foreign.example>\r\n"
           "RCPT TO:<carol@example.test>\r\n"
           "DATA\r\n".encode())
    codes = [c.reply().code for _ in range(5)]
    assert codes == [250, 250, 554, 250, 354], codes
    c.send(dot_stuff(sample_message("pipelined")) + b".\r\nQUIT\r\n")
    queue_id(c.reply())
    assert c.reply().code == 221
    c.close()
    server.wait_for_messages("alice")
    server.wait_for_messages("carol")


@pytest.mark.parametrize("implicit", [False, True])
def test_many_pipelined_replies_all_arrive_before_close(server, implicit):
    """RFC 2920 3.1 / RFC 5321 4.1.1.10: 3,000 pipelined NOOPs and a QUIT
    in one write over TLS (far more than one TLS record each way) get
    every reply, the 221 last, before the server closes."""
    if implicit:
        c = RawSMTP(server.addr("submissions"), implicit_tls=True)
        assert c.greeting.code == 220
        c.ehlo()
    else:
        c = _tls_session(server)
    n = 3000
    c.send(b"".join(b"NOOP %030d\r\n" % i for i in range(n)) + b"QUIT\r\n")
    codes = [c.reply().code for _ in range(n + 1)]
    assert codes == [250] * n + [221]
    assert c.closed_by_peer()
    c.close()


def test_whole_transaction_in_one_write(server):
    """EHLO through QUIT, message included, in a single write: replies in
    order, one message delivered, byte-exact."""
    message = sample_message("one-write")
    c = RawSMTP(server.addr("plain"))
    c.send(b"EHLO client.example\r\n"
           + f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{RCPT}>\r\nDATA\r\n".encode()
           + dot_stuff(message) + b".\r\n"
           + b"RSET\r\nNOOP\r\nQUIT\r\n")
    r = c.replies(8)
    assert [x.code for x in r] == [250, 250, 250, 354, 250, 250, 250,
                                   221], r
    queue_id(r[4])
    assert c.closed_by_peer(5.0)
    c.close()
    data, = server.wait_for_messages("alice")
    check_delivery(data, SENDER, RCPT, message, None)


def test_input_split_into_single_bytes(server):
    """Commands dribbled one byte per write are still understood."""
    c = RawSMTP(server.addr("plain"))
    for b in b"EHLO client.example\r\nNOOP\r\n":
        c.send(bytes([b]))
        time.sleep(0.001)
    assert c.reply().code == 250
    assert c.reply().code == 250
    c.close()


# -- SIZE -------------------------------------------------------------------

def test_size_limit(make_server):
    server = make_server(settings={"message_size_limit": 4000})
    c = _tls_session(server)
    r = c.ehlo()
    size = [l for l in r.lines if l.upper().startswith("SIZE")]
    assert size == ["SIZE 4000"], r
    r = c.cmd(f"MAIL FROM:<{SENDER}> SIZE=5000")
    assert r.code == 552 and r.enhanced == "5.3.4", r
    # Declared small, sent big: 552 5.3.4 at the end of DATA, and the
    # session goes on.
    assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE=100").code == 250
    assert c.cmd(f"RCPT TO:<{RCPT}>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 200 + b".\r\n")
    r = c.reply()
    assert r.code == 552 and r.enhanced == "5.3.4", r
    assert c.cmd("NOOP").code == 250
    # Under the limit: accepted.
    assert c.cmd(f"MAIL FROM:<{SENDER}> SIZE=1000").code == 250
    assert c.cmd(f"RCPT TO:<{RCPT}>").code == 250
    send_data(c, b"Subject: small\r\n\r\nsmall\r\n")
    c.close()
    data, = server.wait_for_messages("alice")
    assert data.endswith(b"Subject: small\n\nsmall\n")
    server.assert_no_more("alice", 1, grace=1.0)


# -- configured limits --------------------------------------------------------

def test_recipient_limit(make_server):
    server = make_server(settings={"smtpd_recipient_limit": 3})
    c = _tls_session(server)
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    for i in range(3):
        assert c.cmd(f"RCPT TO:<u{i}@example.test>").code == 250
    r = c.cmd("RCPT TO:<u3@example.test>")
    # RFC 5321 4.5.3.1.10, RFC 3463 4.5.3 "too many recipients".
    assert r.code == 452 and r.enhanced == "4.5.3", r
    c.close()


def test_hard_error_limit(make_server):
    server = make_server(settings={"smtpd_hard_error_limit": 3})
    c = RawSMTP(server.addr("plain"))
    codes = []
    for _ in range(3):
        codes.append(c.cmd("BOGUS").code)
    # The limit is reached: 421 and the connection is closed (at the
    # third error or the next command).
    if codes[-1] != 421:
        try:
            codes.append(c.cmd("BOGUS").code)
        except EOFError:
            pass
    assert 421 in codes, codes
    assert c.closed_by_peer(5.0)
    c.close()


def test_idle_timeout(make_server):
    server = make_server(settings={"smtpd_timeout": 2})
    c = RawSMTP(server.addr("plain"))
    t0 = time.monotonic()
    r = c.reply()
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert 1.5 <= time.monotonic() - t0 <= 10, "timeout not as configured"
    assert c.closed_by_peer(5.0)
    c.close()


def test_tls_handshake_timeout(make_server):
    server = make_server(settings={"smtpd_tls_timeout": 2})
    s = socket.create_connection(server.addr("submissions"), timeout=15)
    t0 = time.monotonic()
    try:
        assert s.recv(100) == b""      # closed without a byte of TLS
    except ConnectionResetError:
        pass
    assert time.monotonic() - t0 <= 10
    s.close()


def test_tls_handshake_deadline_is_total(make_server):
    """smtpd_tls_timeout bounds the whole handshake: a ClientHello
    dribbled one byte every 0.5 s (each byte inside the idle timeout) is
    cut off after about smtpd_tls_timeout seconds."""
    server = make_server(settings={"smtpd_tls_timeout": 2})
    s = socket.create_connection(server.addr("submissions"), timeout=15)
    hello = bytes.fromhex("16030100c8010000c40303") + bytes(32)
    t0 = time.monotonic()
    closed = False
    for b in hello:                       # bounded: at most 43 bytes, ~21 s
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(0.5)
        if time.monotonic() - t0 > 8:
            break
    if not closed:
        s.settimeout(3)
        try:
            closed = s.recv(100) == b""
        except (ConnectionResetError, socket.timeout):
            closed = True
    assert closed
    assert time.monotonic() - t0 <= 8
    s.close()
    deadline = time.monotonic() + 5
    while "handshake not finished in 2 s" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def test_connection_limit(make_server):
    server = make_server(settings={"smtpd_client_connection_limit": 5})
    held = [RawSMTP(server.addr("plain")) for _ in range(5)]
    for c in held:
        assert c.greeting.code == 220
    extra = RawSMTP(server.addr("plain"), read_greeting=False)
    r = extra.reply()
    assert r.code == 421 and r.enhanced is not None and \
        r.enhanced.startswith("4."), r
    assert extra.closed_by_peer(5.0)
    extra.close()
    held.pop().close()
    # A slot is free again (the server notices the close first).
    deadline = time.monotonic() + 10
    while True:
        c = RawSMTP(server.addr("plain"), read_greeting=False)
        r = c.reply()
        c.close()
        if r.code == 220 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.code == 220, r
    for c in held:
        c.close()


# -- addresses and extensions ----------------------------------------------

@pytest.mark.parametrize("rcpt", [
    '"john doe"@example.test',
    '"john\\"doe"@example.test',
    "John.Doe+tag@Example.Test",
    "j\u00f6rg@example.test",
])
def test_address_forms_delivered(server, rcpt):
    """Quoted local parts (RFC 5321 4.1.2) and, with SMTPUTF8 (RFC 6531),
    UTF-8 local parts are accepted and delivered locally."""
    c = _tls_session(server)
    r = c.cmd(f"MAIL FROM:<{SENDER}> BODY=8BITMIME SMTPUTF8")
    assert r.code == 250, r
    r = c.cmd(f"RCPT TO:<{rcpt}>")
    assert r.code == 250, r
    send_data(c, "Subject: address form\r\n\r\ncaf\u00e9\r\n".encode())
    c.close()
    deadline = time.monotonic() + 15
    while not server.all_delivered():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    data = open(server.all_delivered()[0], "rb").read()
    assert data.endswith("\ncaf\u00e9\n".encode()), data


def test_lowercase_transaction(server):
    c = RawSMTP(server.addr("plain"))
    assert c.cmd("ehlo client.example").code == 250
    assert c.cmd(f"mail from:<{SENDER}>").code == 250
    assert c.cmd(f"rcpt to:<{RCPT}>").code == 250
    assert c.cmd("data").code == 354
    c.send(b"Subject: lower\r\n\r\nlower\r\n.\r\n")
    queue_id(c.reply())
    assert c.cmd("quit").code == 221
    c.close()
    data, = server.wait_for_messages("alice")
    assert data.endswith(b"\nSubject: lower\n\nlower\n")


def test_timeout_in_the_middle_of_data(make_server):
    """A client that stops sending inside DATA gets 421 4.4.2 after
    smtpd_timeout, and the partial message is never delivered."""
    server = make_server(settings={"smtpd_timeout": 2})
    c = _tls_session(server)
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd(f"RCPT TO:<{RCPT}>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(b"Subject: cut short\r\n\r\nhalf a message\r\n")
    r = c.reply()
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert c.closed_by_peer(5.0)
    c.close()
    server.assert_no_more("alice", 0, grace=1.0)
