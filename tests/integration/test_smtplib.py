"""Python smtplib as the client: STARTTLS (RFC 3207) and implicit TLS
(RFC 8314), byte-exact delivery into the Maildir, and the Received field
(RFC 5321 4.4, RFC 3848 "ESMTPS") naming the TLS version and cipher."""

import smtplib
import ssl

from smtpwire import (CLIENT_NAME, check_delivery, client_context,
                      sample_message)

SENDER = "bob@example.org"
RCPT = "alice@example.test"


def _send(client, message, rcpts=(RCPT,)):
    refused = client.sendmail(SENDER, list(rcpts), message)
    assert refused == {}
    code, text = client.noop()
    assert code == 250


def _send_and_check(server, client, tag):
    """Send a sample message to alice over client's TLS session; check it
    arrives byte-exact with that session's version and cipher in the
    Received field. Returns the TLS version."""
    message = sample_message(tag)
    version, cipher = client.sock.version(), client.sock.cipher()[0]
    _send(client, message)
    client.quit()
    data, = server.wait_for_messages("alice")
    check_delivery(data, SENDER, RCPT, message, version, cipher)
    return version


def test_starttls_delivers_byte_exact(server):
    with smtplib.SMTP(*server.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        c.starttls(context=client_context())
        c.ehlo()
        assert not c.has_extn("starttls")
        assert _send_and_check(server, c, "smtplib-starttls") == "TLSv1.3"


def test_implicit_tls_delivers_byte_exact(server):
    with smtplib.SMTP_SSL(*server.addr("submissions"),
                          local_hostname=CLIENT_NAME, timeout=15,
                          context=client_context()) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        assert _send_and_check(server, c, "smtplib-ssl") == "TLSv1.3"


def test_tls12_received_names_version_and_cipher(server):
    ctx = client_context(maximum=ssl.TLSVersion.TLSv1_2)
    with smtplib.SMTP(*server.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.starttls(context=ctx)
        assert _send_and_check(server, c, "smtplib-tls12") == "TLSv1.2"


def test_plaintext_received_says_esmtp(server):
    message = sample_message("smtplib-plain")
    with smtplib.SMTP(*server.addr("plain"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.ehlo()
        assert not c.has_extn("starttls")
        _send(c, message)
    data, = server.wait_for_messages("alice")
    check_delivery(data, SENDER, RCPT, message, None)


def test_several_recipients_and_messages_per_session(server):
    messages = [sample_message(f"multi-{i}") for i in range(3)]
    with smtplib.SMTP_SSL(*server.addr("submissions"),
                          local_hostname=CLIENT_NAME, timeout=15,
                          context=client_context()) as c:
        for m in messages:
            _send(c, m, rcpts=(RCPT, "carol@example.test",
                               "dave@example.net"))
    for user, domain, rcpt in (("alice", "example.test", RCPT),
                               ("carol", "example.test",
                                "carol@example.test"),
                               ("dave", "example.net", "dave@example.net")):
        got = server.wait_for_messages(user, 3, domain=domain)
        matched = [_matching(d, messages) for d in got]
        for d, m in zip(got, matched):
            check_delivery(d, SENDER, rcpt, m, "TLSv1.3")
        assert sorted(matched) == sorted(messages)
        server.assert_no_more(user, 3, domain=domain, grace=0)


def _matching(data, messages):
    """The sent message whose Subject line appears in delivered data."""
    for m in messages:
        if m.split(b"\r\n")[2] + b"\n" in data:
            return m
    raise AssertionError(f"delivered message matches none sent: {data!r}")


def test_null_sender_accepted(server):
    message = sample_message("null-sender")
    with smtplib.SMTP(*server.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.starttls(context=client_context())
        refused = c.sendmail("<>", [RCPT], message)
        assert refused == {}
    data, = server.wait_for_messages("alice")
    assert data.startswith(b"Return-Path: <>\n")
