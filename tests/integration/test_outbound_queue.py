"""The queue side of outbound delivery (issue 4): retries after 4xx,
bounces (RFC 3464, read with Python's email package from the sender's
local Maildir) after 5xx, null MX (RFC 7505), NXDOMAIN and SIZE; and
kill -9 of the queue manager in the middle of a batch losing nothing.

The next hop is the scripted server smtpsink.py on port 25 of a random
127.A.B.n, found through MX records served by NSD (dnskit.py);
[queue] minimal_backoff_time = 1s so that retries come at once.
"""

import os
import re
import signal
import time

import pytest

from dnskit import make_dns_server  # noqa: F401  (pytest fixture)
from outbound_kit import (SENDER, make_sender, make_sink,  # noqa: F401
                          message, net, parse_bounce, submit, wait_log)
from smtpsink import CLOSE

RCPT = "bob@dest.test"
MX = "mx1.dest.test"


@pytest.fixture
def dns(make_dns_server, net):  # noqa: F811
    return make_dns_server({
        "dest.test": ["@ MX 10 mx1", f"mx1 A {net.prefix}10"],
        "nullmx.test": ["@ MX 0 ."],
    })


@pytest.fixture
def sender(make_server, dns):
    return make_sender(make_server, dns, level="may")


def _status(server, qid, rcpt, status, count=1):
    return wait_log(server, rf"{qid} to=<{re.escape(rcpt)}> [^\n]*"
                    rf"status={status}[^\n]*", count=count)


def _bounce(server, qid):
    """The one DSN in alice@example.test's Maildir, parsed."""
    wait_log(server, rf"{qid} sender non-delivery notification: \S+")
    data, = server.wait_for_messages("alice", timeout=30)
    assert data.startswith(b"Return-Path: <>"), data[:200]
    return data, parse_bounce(data)


# -- temporary failures are retried -----------------------------------------

def test_rcpt_451_then_250_delivered_on_retry(sender, make_sink, net):
    sink = make_sink(net.addr(10), replies={
        "RCPT": ["451 4.3.0 try again later", "250 2.1.5 Ok"]})
    qid = submit(sender, RCPT, message("retry-rcpt", RCPT))
    msg, = sink.wait_for_messages(1, timeout=40)
    assert msg.rcpts == [RCPT]
    deferred, = _status(sender, qid, RCPT, "deferred")
    assert "dsn=4.3.0" in deferred and "451 4.3.0 try again later" in \
        deferred, deferred
    sent, = _status(sender, qid, RCPT, "sent")
    assert f"relay={MX}[{net.prefix}10]:25" in sent, sent
    assert len(sink.wait_for_sessions(2)) >= 2
    sender.assert_no_more("alice", 0, grace=1.0)     # no bounce


def test_4xx_on_first_connection_250_on_second(sender, make_sink, net):
    """Every reply of the first connection that matters is a 4xx: the
    greeting is fine, but the end of data gets 452; the second connection
    is accepted."""
    sink = make_sink(net.addr(10), replies={
        "DOT": lambda s, m: "452 4.3.1 insufficient storage"
        if s.index == 0 else None})
    qid = submit(sender, RCPT, message("retry-dot", RCPT))
    msgs = sink.wait_for_messages(1, timeout=40)
    assert len(msgs) == 1 and len(sink.all_messages()) == 2
    assert msgs[0].data == sink.all_messages()[0].data
    _status(sender, qid, RCPT, "deferred")
    _status(sender, qid, RCPT, "sent")


def test_connection_dropped_after_data_retried(sender, make_sink, net):
    """The server closes without answering the final dot: not known to be
    delivered, so it is sent again (at least once, never lost)."""
    sink = make_sink(net.addr(10), replies={"DOT": [CLOSE, None]})
    qid = submit(sender, RCPT, message("retry-close", RCPT))
    msg, = sink.wait_for_messages(1, timeout=40)
    assert b"body of retry-close" in msg.data
    _status(sender, qid, RCPT, "sent")


def test_greeting_421_deferred_then_sent(sender, make_sink, net):
    sink = make_sink(net.addr(10), replies={
        "CONNECT": ["421 4.3.2 Service not available", None]})
    qid = submit(sender, RCPT, message("retry-421", RCPT))
    sink.wait_for_messages(1, timeout=40)
    line, = _status(sender, qid, RCPT, "deferred")
    assert "421" in line, line
    _status(sender, qid, RCPT, "sent")


# -- permanent failures bounce ---------------------------------------------------

def test_rcpt_550_bounces_to_local_sender(sender, make_sink, net):
    make_sink(net.addr(10), replies={
        "RCPT": "550 5.1.1 <bob@dest.test>: Recipient address rejected"})
    original = message("bounce-550", RCPT)
    qid = submit(sender, RCPT, original)
    line, = _status(sender, qid, RCPT, "bounced")
    assert "dsn=5.1.1" in line, line
    data, (msg, rcpt_block, msg_block) = _bounce(sender, qid)
    assert rcpt_block["final-recipient"].lower() == f"rfc822; {RCPT}"
    assert rcpt_block["action"] == "failed"
    assert rcpt_block["status"] == "5.1.1"
    assert rcpt_block["diagnostic-code"].startswith("smtp; 550 5.1.1"), \
        rcpt_block
    assert MX in rcpt_block.get("remote-mta", ""), rcpt_block
    assert "reporting-mta" in msg_block, msg_block
    assert msg["To"] is not None and SENDER in str(msg["To"])
    # The original's header comes back (text/rfc822-headers or
    # message/rfc822): its Subject and Message-ID are in the notice.
    assert b"Subject: bounce-550" in data
    assert b"<bounce-550@example.test>" in data
    sender.assert_no_more("alice", 1, grace=1.0)


def test_mixed_recipients_one_bounced_one_sent(sender, make_sink, net):
    sink = make_sink(net.addr(10), replies={
        "RCPT": lambda s, rcpt: "550 5.1.1 no such user"
        if rcpt.startswith("nobody@") else None})
    good, bad = RCPT, "nobody@dest.test"
    qid = submit(sender, [good, bad], message("mixed", good))
    msg, = sink.wait_for_messages(1)
    assert msg.rcpts == [good]
    _, (_, rcpt_block, _) = _bounce(sender, qid)
    assert rcpt_block["final-recipient"].lower() == f"rfc822; {bad}"
    _status(sender, qid, good, "sent")


def test_data_554_bounces_every_recipient(sender, make_sink, net):
    make_sink(net.addr(10), replies={"DOT": "554 5.7.1 content rejected"})
    rcpts = [RCPT, "carol@dest.test"]
    qid = submit(sender, rcpts, message("bounce-dot", RCPT))
    data, (msg, block, _) = _bounce(sender, qid)
    assert block["status"] == "5.7.1", block
    assert b"carol@dest.test" in data and b"bob@dest.test" in data
    for r in rcpts:
        _status(sender, qid, r, "bounced")


def test_null_mx_bounces(sender):
    rcpt = "bob@nullmx.test"
    qid = submit(sender, rcpt, message("null-mx", rcpt))
    line, = _status(sender, qid, rcpt, "bounced")
    assert "dsn=5.1.10" in line, line
    _, (_, block, _) = _bounce(sender, qid)
    assert block["status"] == "5.1.10", block


def test_nxdomain_bounces(sender):
    """nosuch.dest.test does not exist in the dest.test zone (NXDOMAIN,
    authoritative): permanent."""
    rcpt = "bob@nosuch.dest.test"
    qid = submit(sender, rcpt, message("nxdomain", rcpt))
    line, = _status(sender, qid, rcpt, "bounced")
    assert re.search(r"dsn=5\.\d\.\d", line), line
    _, (_, block, _) = _bounce(sender, qid)
    assert block["status"].startswith("5."), block
    assert block["final-recipient"].lower() == f"rfc822; {rcpt}"


def test_dns_servfail_deferred_not_bounced(sender):
    """A name outside every zone: NSD refuses, the resolver says
    SERVFAIL: temporary."""
    rcpt = "bob@servfail.example.org"
    qid = submit(sender, rcpt, message("servfail", rcpt))
    line = _status(sender, qid, rcpt, "deferred")[0]
    assert re.search(r"dsn=4\.\d\.\d", line), line
    sender.assert_no_more("alice", 0, grace=1.0)


def test_size_limit_of_next_hop_bounces_without_mail(sender, make_sink, net):
    """SIZE 200 (RFC 1870) and a bigger message: bounced 5.3.4, MAIL
    never sent."""
    sink = make_sink(net.addr(10), size=200)
    original = message("too-big", RCPT, body=b"x" * 500 + b"\r\n")
    qid = submit(sender, RCPT, original)
    line, = _status(sender, qid, RCPT, "bounced")
    assert "5.3.4" in line, line
    _bounce(sender, qid)
    for s in sink.sessions():
        assert not any(c.upper().startswith("MAIL") for c in s.commands), s


def test_bounce_of_null_sender_is_not_sent(sender, make_sink, net):
    """A message from <> that fails permanently is dropped (logged), never
    bounced (RFC 5321 4.5.5: no bounce loops)."""
    make_sink(net.addr(10), replies={"RCPT": "550 5.1.1 no"})
    qid = submit(sender, RCPT, message("from-null", RCPT), sender="")
    _status(sender, qid, RCPT, "bounced")
    wait_log(sender, rf"{qid} bounce not sent: null sender")
    sender.assert_no_more("alice", 0, grace=1.0)


def test_queue_lifetime_expiry_bounces(make_server, dns, make_sink, net):
    """Deferred past maximal_queue_lifetime (2 s here): returned to the
    sender with a 4.4.7-style delivery status."""
    make_sink(net.addr(10), replies={"RCPT": "451 4.3.0 later"})
    sender = make_sender(make_server, dns, level="may",
                         queue={"maximal_queue_lifetime": "2s"})
    qid = submit(sender, RCPT, message("expire", RCPT))
    _, (_, block, _) = _bounce(sender, qid)
    assert block["action"] == "failed", block
    assert block["status"].startswith("4."), block


# -- crash safety -----------------------------------------------------------------

def _qmgr_pids(server):
    out = []
    for pid in server.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1] == b"qmgr":
            out.append(pid)
    return out


N_BATCH = 12


def test_kill9_qmgr_mid_batch_loses_nothing(make_server, dns, make_sink,
                                            net):
    """A batch of messages to a slow next hop, one connection at a time;
    the queue manager is killed with SIGKILL after a few were delivered
    (one more is in the middle of its transaction). The server restarts
    it and every message arrives (at least once: a message whose 250 was
    in flight may come twice, none may be missing)."""
    sender = make_sender(make_server, dns, level="may",
                         outbound={"destination_concurrency_limit": "1"})

    def slow_dot(sess, msg):
        time.sleep(0.3)
        return None
    sink = make_sink(net.addr(10), replies={"DOT": slow_dot})
    tags = [f"batch-{i}" for i in range(N_BATCH)]
    for tag in tags:
        submit(sender, RCPT, message(tag, RCPT))
    sink.wait_for_messages(3, timeout=30)
    pids = _qmgr_pids(sender)
    assert len(pids) == 1, (pids, sender.pids())
    os.kill(pids[0], signal.SIGKILL)
    wait_log(sender, r"queue manager pid=\d+ ended \(signal 9\)")
    deadline = time.monotonic() + 60
    while True:
        got = {t for t in tags
               if any(f"Subject: {t}\r\n".encode() in m.data
                      for m in sink.messages())}
        if got == set(tags):
            break
        assert time.monotonic() < deadline, (
            f"missing after kill -9: {sorted(set(tags) - got)}\n"
            f"{sender.log(everything=True)[-6000:]}")
        time.sleep(0.2)
    assert len(sink.messages()) >= N_BATCH
    assert len(wait_log(sender, r"queue manager started spool=",
                        count=2)) == 2
    new_pids = _qmgr_pids(sender)
    assert new_pids and new_pids != pids
    # The spool empties: nothing is left behind either.
    deadline = time.monotonic() + 30
    while _spooled(sender):
        assert time.monotonic() < deadline, _spooled(sender)
        time.sleep(0.2)


def _spooled(server):
    q = os.path.join(server.spool, "queue")
    try:
        return os.listdir(q)
    except FileNotFoundError:
        return []
