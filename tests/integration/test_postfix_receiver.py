"""The receiving Postfix fixture (postfix_peer.PostfixReceiver) on its
own: smtplib delivers over verified STARTTLS (test CA, SNI), the copy is
read back byte-exact, and a sending PostfixPeer can run beside it and
relay into it (two private instances at once, kept apart)."""

import smtplib
import ssl

import pytest

from outbound_kit import LoopbackNet
from postfix_peer import PostfixPeer, PostfixReceiver, postfix_split

DOMAIN = "rx.test"
MX = "mx1.rx.test"


@pytest.fixture
def receiver(test_pki):
    cert = test_pki.server("mx1.rx", MX)
    rx = PostfixReceiver(LoopbackNet().addr(9), 25, MX, [DOMAIN], cert)
    yield rx.start()
    print(f"--- receiving Postfix maillog ---\n{rx.log()[-4000:]}")
    rx.stop()


def test_smtplib_verified_starttls_byte_exact(receiver, test_pki):
    content = (b"From: a@x.example\r\nTo: bob@rx.test\r\nSubject: rx\r\n"
               b"\r\n.\r\n..\r\n.x\r\ntrailing  \r\n\tlast\r\n")
    ctx = ssl.create_default_context(cafile=test_pki.ca.pem)
    with smtplib.SMTP(receiver.addr, 25, timeout=15) as c:
        c._host = MX                       # SNI and name check
        c.starttls(context=ctx)
        c.sendmail("a@x.example", ["bob@rx.test", "carol@rx.test"],
                   content)
    bob, = receiver.wait_for_messages("bob@rx.test")
    receiver.wait_for_messages("carol@rx.test")
    fields, rest = postfix_split(bob)
    assert rest == content.replace(b"\r\n", b"\n")
    assert fields["return-path"] == "<a@x.example>"
    assert "with ESMTPS" in fields["received"], fields
    assert "TLS connection established" in receiver.log()


def test_beside_a_sending_postfix(receiver):
    peer = PostfixPeer(25, relay_host=receiver.addr).start()
    try:
        peer.inject("bob@sender.example", ["dave@rx.test"],
                    b"Subject: via postfix\r\n\r\nhello\r\n")
        data, = receiver.wait_for_messages("dave@rx.test", timeout=45)
    finally:
        print(f"--- sending Postfix maillog ---\n{peer.log()[-3000:]}")
        peer.stop()
    assert postfix_split(data)[1].endswith(b"\n\nhello\n")
