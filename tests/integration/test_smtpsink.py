"""The smtpsink fixture itself (smtpsink.py), driven by smtplib and a raw
client: scripted replies, strict DATA framing, STARTTLS with SNI, AUTH,
the STARTTLS injection mode and stop()."""

import smtplib
import ssl

import pytest

from smtpsink import CLOSE, SmtpSink, unstuff
from smtpwire import RawSMTP


@pytest.fixture
def sinks():
    made = []

    def make(**kw):
        s = SmtpSink("127.0.0.1", 0, **kw).start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="module")
def sink_cert(test_pki):
    c = test_pki.server("sink", "sink.example.test")
    return c.pem, c.key


def _verifying_ctx(test_pki):
    ctx = ssl.create_default_context(cafile=test_pki.ca.pem)
    return ctx


def test_unstuff():
    assert unstuff(b".\r\n") == b""
    assert unstuff(b"a\r\n\r\n.\r\n") == b"a\r\n\r\n"
    assert unstuff(b"a\r\n..\r\n...x\r\n.\r\n") == b"a\r\n.\r\n..x\r\n"


def test_smtplib_delivery_records_exact_bytes(sinks):
    sink = sinks(size=1000000)
    content = b"Subject: t\r\n\r\n.dot\r\n..two\r\n.\r\nend\r\n"
    with smtplib.SMTP(*sink.addr, timeout=10) as c:
        c.ehlo("client.example")
        assert c.has_extn("pipelining") and c.has_extn("size")
        assert not c.has_extn("starttls")
        c.sendmail("a@x.example", ["b@y.example", "c@y.example"], content)
    msg, = sink.wait_for_messages(1)
    assert msg.data == content
    assert msg.wire == (b"Subject: t\r\n\r\n..dot\r\n...two\r\n..\r\n"
                        b"end\r\n.\r\n")
    assert msg.rcpts == ["b@y.example", "c@y.example"]
    assert msg.mail_from == "a@x.example" and not msg.tls
    sess, = sink.wait_for_sessions(1)
    assert sess.helo == "client.example"
    assert [c.split()[0].upper() for c in sess.commands] == [
        "EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]


def test_bare_lf_does_not_end_data(sinks):
    sink = sinks()
    c = RawSMTP(sink.addr)
    c.ehlo()
    assert c.cmd("MAIL FROM:<a@x.example>").code == 250
    assert c.cmd("RCPT TO:<b@y.example>").code == 250
    assert c.cmd("DATA").code == 354
    c.send(b"x\n.\nstill data\r\n.\nmore\r\n.\r\n")
    r = c.reply()
    assert r.code == 250, r
    c.close()
    msg, = sink.wait_for_messages(1)
    # ".\nmore" starts a CRLF line with a dot: that dot is stuffing
    assert msg.data == b"x\n.\nstill data\r\n\nmore\r\n"
    assert msg.bare_lf


def test_empty_data(sinks):
    sink = sinks()
    c = RawSMTP(sink.addr)
    c.ehlo()
    c.cmd("MAIL FROM:<>")
    c.cmd("RCPT TO:<b@y.example>")
    assert c.cmd("DATA").code == 354
    c.send(b".\r\n")
    assert c.reply().code == 250
    msg, = sink.wait_for_messages(1)
    assert msg.data == b"" and msg.mail_from == ""


def test_scripted_sequence_and_per_connection(sinks):
    sink = sinks(replies={
        "RCPT": ["451 4.3.0 later", "250 2.1.5 ok"],
        "CONNECT": lambda s, a: "421 4.3.2 busy" if s.index == 0 else None,
    })
    with pytest.raises(smtplib.SMTPConnectError):
        smtplib.SMTP(*sink.addr, timeout=10)
    with smtplib.SMTP(*sink.addr, timeout=10) as c:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("a@x.example", ["b@y.example"], b"x\r\n")
        c.rset()
        c.sendmail("a@x.example", ["b@y.example"], b"second\r\n")
    msg, = sink.wait_for_messages(1)
    assert msg.data == b"second\r\n"
    assert sink.count("RCPT") == 2


def test_dot_reply_5xx_and_close(sinks):
    sink = sinks(replies={"DOT": ["554 5.6.0 no", CLOSE]})
    with smtplib.SMTP(*sink.addr, timeout=10) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@x.example", ["b@y.example"], b"x\r\n")
        assert e.value.smtp_code == 554
        with pytest.raises(smtplib.SMTPServerDisconnected):
            c.sendmail("a@x.example", ["b@y.example"], b"y\r\n")
    assert sink.messages() == []
    assert len(sink.all_messages()) == 2


def test_starttls_sni_and_auth(sinks, sink_cert, test_pki):
    sink = sinks(starttls=sink_cert, auth={"u": "p w"})
    with smtplib.SMTP(*sink.addr, timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls") and not c.has_extn("auth")
        c._host = "sink.example.test"     # SNI and name check
        c.starttls(context=_verifying_ctx(test_pki))
        c.ehlo()
        assert not c.has_extn("starttls") and c.has_extn("auth")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("u", "wrong")
        c.login("u", "p w")
        c.sendmail("a@x.example", ["b@y.example"], b"tls\r\n")
    msg, = sink.wait_for_messages(1)
    assert msg.tls and msg.sni == "sink.example.test"
    sess, = sink.wait_for_sessions(1)
    assert sess.tls_version in ("TLSv1.2", "TLSv1.3")
    assert sess.auth_user == "u" and sess.discarded == b""


def test_auth_login(sinks, sink_cert):
    sink = sinks(starttls=sink_cert, auth={"u": "p"})
    with smtplib.SMTP(*sink.addr, timeout=10) as c:
        c.starttls(context=ssl._create_unverified_context())
        c.ehlo()
        c.user, c.password = "u", "p"
        code, _ = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
        assert code == 235
    assert sink.wait_for_sessions(1)[0].auth_user == "u"


def test_implicit_tls(sinks, sink_cert):
    sink = sinks(implicit_tls=sink_cert)
    with smtplib.SMTP_SSL(*sink.addr, timeout=10,
                          context=ssl._create_unverified_context()) as c:
        c.sendmail("a@x.example", ["b@y.example"], b"x\r\n")
    assert sink.wait_for_messages(1)[0].tls


def test_starttls_injection_mode_and_pipelined_plaintext(sinks, sink_cert):
    """The injected bytes follow the 220 in plaintext; bytes the client
    pipelines after STARTTLS are recorded as discarded, not executed."""
    junk = b"250-injected\r\n250 PIPELINING\r\n"
    sink = sinks(starttls=sink_cert, starttls_inject=junk)
    c = RawSMTP(sink.addr)
    c.ehlo()
    c.send(b"STARTTLS\r\nNOOP\r\n")
    r = c.reply()
    assert r.code == 220
    assert c.pending(0.5) == junk
    c.handshake()
    assert c.ehlo().code == 250
    c.cmd("QUIT")
    c.close()
    sess, = sink.wait_for_sessions(1)
    assert sess.discarded == b"NOOP\r\n"
    assert "NOOP" not in sess.commands


def test_stop_with_open_connection(sinks):
    sink = sinks()
    c = RawSMTP(sink.addr)
    c.ehlo()
    sink.stop()
    assert c.closed_by_peer(5)
    c.close()
