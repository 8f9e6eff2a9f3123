"""Postfix from Debian as the sending MTA (issue 2): a private Postfix
instance (postfix_peer.py documents its setup) relays a message to
tlsmta with smtp_tls_security_level = encrypt, so only over STARTTLS,
and the message lands in tlsmta's Maildir with a Received field saying
ESMTPS. Postfix's own log must show the TLS session and tlsmta's 250."""

import re

import pytest

from postfix_peer import PostfixPeer
from smtpwire import Delivered

SENDER = "bob@sender.example"
RCPT = "alice@example.test"

@pytest.fixture
def postfix_to(request):
    peers = []

    def start(server, listener):
        peer = PostfixPeer(server.addr(listener)[1])
        peers.append(peer)
        return peer.start()

    yield start
    for p in peers:
        print(f"--- Postfix maillog ---\n{p.log()[-4000:]}")
        p.stop()


@pytest.mark.parametrize("listener", ["mx", "submission"])
def test_postfix_relays_over_starttls(server, postfix_to, listener):
    peer = postfix_to(server, listener)
    message = (b"From: Bob <bob@sender.example>\r\n"
               b"To: Alice <alice@example.test>\r\n"
               b"Subject: from postfix via " + listener.encode() + b"\r\n"
               b"\r\n"
               b"Relayed by Postfix.\r\n"
               b".leading dot\r\n"
               b".\r\n"
               b"after a lone dot\r\n")
    peer.inject(SENDER, [RCPT], message)
    try:
        data, = server.wait_for_messages("alice", timeout=45)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- Postfix ---\n{peer.log()}\n"
                             f"{peer.queue_listing()}") from None
    d = Delivered(data)
    assert d.return_path == f"<{SENDER}>"
    assert re.search(r"\bwith ESMTPS\b", d.received), d.received
    assert re.search(r"TLSv1\.[23]", d.received), d.received
    assert "sender.example" in d.received, d.received
    body = d.body
    assert b"Subject: from postfix via " + listener.encode() + b"\n" in body
    assert body.endswith(b"\n\nRelayed by Postfix.\n.leading dot\n.\n"
                         b"after a lone dot\n"), body
    log = peer.log()
    assert re.search(r"TLS connection established to 127\.0\.0\.1"
                     r"\[127\.0\.0\.1\]:\d+: TLSv1\.[23]", log), log
    assert re.search(r"status=sent \(250 2\.0\.0 Ok: queued as \S+\)",
                     log), log
