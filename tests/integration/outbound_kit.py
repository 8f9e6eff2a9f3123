"""Shared pieces of the outbound-delivery tests (issue 4): loopback
addresses for next hops, a sending tlsmta configured for relay, message
submission, bounded log waits and DSN parsing.

Next hops listen on port 25 (MX routing has no other port) of addresses
127.A.B.n picked at random per test (Linux routes all of 127.0.0.0/8 to
lo, and binding such an address needs no setup), so tests never collide
with each other or with leftovers in TIME_WAIT. Everything stays on
loopback; DNS comes only from dnskit's NSD through [outbound]
dns_resolver, never from the system resolver.

    net = LoopbackNet()
    net.addr(5)                          # "127.A.B.5"
    sender = make_sender(make_server, dns, test_pki, level="verify")
    qid = submit(sender, RCPT, message)  # from 127.0.0.1 (mynetworks)
    wait_log(sender, rf"{qid} to=<{RCPT}> .* status=sent")
"""

import email
import email.policy
import os
import random
import re
import socket
import time

import pytest

from postfix_peer import PostfixReceiver
from smtpsink import SmtpSink
from smtpwire import RawSMTP, dot_stuff, queue_id

SENDER = "alice@example.test"      # local to the sending tlsmta
LOCAL_DOMAIN = "example.test"
BACKOFF = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s"}
LOG_TIMEOUT = 40.0


class LoopbackNet:
    """A random 127.A.B.0/24 whose port 25 is free on every address we
    hand out (checked by a bind per address)."""

    def __init__(self):
        for _ in range(100):
            self.prefix = (f"127.{random.randint(100, 250)}."
                           f"{random.randint(0, 255)}.")
            if _bindable(self.prefix + "1", 25):
                return
        raise RuntimeError("no free 127.x.y.0/24 with port 25")

    def addr(self, n):
        a = self.prefix + str(n)
        assert _bindable(a, 25), f"{a}:25 in use"
        return a


def _bindable(addr, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
            return True
        except OSError:
            return False


def write_file(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return str(path)


def make_sender(make_server, dns=None, test_pki=None, level=None,
                outbound=None, queue=None, mynetworks="127.0.0.1/32",
                start=True, **kw):
    """A tlsmta that relays for 127.0.0.1 (mynetworks) with local domain
    example.test only, fast retries, the test CA as tls_ca_file, DNS
    from dns (a dnskit.DnsServer) and tls_security_level level."""
    out = {"connect_timeout": "5s", "timeout": "30s"}
    if dns is not None:
        out["dns_resolver"] = dns.dns_resolver
    if test_pki is not None:
        out["tls_ca_file"] = test_pki.ca.pem
    if level is not None:
        out["tls_security_level"] = level
    out.update(outbound or {})
    q = dict(BACKOFF)
    q.update(queue or {})
    settings = {"mynetworks": mynetworks} if mynetworks else {}
    settings.update(kw.pop("settings", {}))
    return make_server(settings=settings, domains=[LOCAL_DOMAIN],
                       sections={"queue": q, "outbound": out},
                       start=start, **kw)


def submit(server, rcpts, message, sender=SENDER, source=None):
    """Hand message to server's mx listener from 127.0.0.1 (or source)
    over STARTTLS; returns the queue id."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    c = RawSMTP(server.addr("mx")) if source is None else \
        _sourced(server, source)
    try:
        c.ehlo()
        c.starttls()
        c.ehlo()
        r = c.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, r
        for rcpt in rcpts:
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code == 250, (rcpt, r)
        r = c.cmd("DATA")
        assert r.code == 354, r
        c.send(dot_stuff(message) + b".\r\n")
        qid = queue_id(c.reply())
        c.cmd("QUIT")
        return qid
    finally:
        c.close()


def _sourced(server, source):
    from authkit import SourcedSMTP
    return SourcedSMTP(server.addr("mx"), source)


def wait_log(server, pattern, timeout=LOG_TIMEOUT, count=1, extra=""):
    """Wait (bounded) until pattern (regex) matches count times in the
    server's log (every start); returns the matches."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        found = rx.findall(server.log(everything=True))
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{len(found)} of {count} log line(s) /{pattern}/ after "
                f"{timeout}s\n--- tlsmta log ---\n"
                f"{server.log(everything=True)[-8000:]}{extra}")
        time.sleep(0.1)


def delivery_lines(server, qid):
    """The per-attempt delivery log lines of queue id qid."""
    return [l for l in server.log(everything=True).splitlines()
            if f" {qid} to=<" in l and " relay=" in l]


def message(tag, rcpt, sender=SENDER, body=b""):
    """A small test message (CRLF lines) naming tag in its Subject."""
    return (f"From: Alice <{sender}>\r\n"
            f"To: <{rcpt}>\r\n"
            f"Subject: {tag}\r\n"
            f"Message-ID: <{tag}@example.test>\r\n"
            "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
            "\r\n"
            f"body of {tag}\r\n").encode() + body


def parse_bounce(data):
    """A Maildir file holding a DSN -> (email.message.EmailMessage,
    {field: value} of the recipient block of message/delivery-status,
    the per-message block). Asserts RFC 3464 / RFC 6522 structure."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report", msg
    assert msg.get_param("report-type") == "delivery-status", msg
    parts = list(msg.iter_parts())
    assert len(parts) >= 2, parts
    assert parts[0].get_content_type() == "text/plain", parts[0]
    status = parts[1]
    assert status.get_content_type() == "message/delivery-status", status
    blocks = [dict((k.lower(), str(v)) for k, v in b.items())
              for b in status.get_payload()]
    assert len(blocks) >= 2, blocks
    return msg, blocks[1], blocks[0]


# -- pytest fixtures (import them into a test module) ----------------------

@pytest.fixture
def net():
    """A LoopbackNet of this test."""
    return LoopbackNet()


@pytest.fixture
def make_sink():
    """Factory: make_sink(addr, port=25, **SmtpSink options) -> started
    SmtpSink; every sink is stopped (and its transcript printed) at the
    end of the test."""
    made = []

    def make(addr, port=25, **kw):
        s = SmtpSink(addr, port, **kw).start()
        made.append(s)
        return s

    yield make
    for s in made:
        print(f"--- smtpsink {s.host}:{s.port} ---\n{s.transcript()}")
        s.stop()


@pytest.fixture
def make_receiver(test_pki):
    """Factory: make_receiver(addr, hostname, domains, cert=None,
    **options) -> started PostfixReceiver on addr:25 (cert defaults to
    one from the test CA for hostname)."""
    made = []

    def make(addr, hostname, domains, cert=None, port=25, **kw):
        if cert is None:
            cert = test_pki.server(hostname, hostname)
        rx = PostfixReceiver(addr, port, hostname, domains, cert, **kw)
        made.append(rx)
        return rx.start()

    yield make
    for rx in made:
        print(f"--- Postfix {rx.hostname} maillog ---\n{rx.log()[-4000:]}")
        rx.stop()
