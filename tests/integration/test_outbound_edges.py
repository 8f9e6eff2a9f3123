"""Outbound delivery at its edges (issue 4, found by trying to break it):

- a mail loop (a transport entry that points back at the sending tlsmta
  itself) ends at hopcount_limit: our own SMTP side refuses the message
  with 554 5.4.6 (RFC 5321 6.3) and the sender gets one bounce, instead of
  the message circling until it hits the size limit;
- user@[address] (an address literal, RFC 5321 4.1.3) goes to that
  address without DNS;
- an MX record whose target is an IP address is skipped (RFC 5321 5.1),
  the next MX is used;
- a 530 "authentication required" from a next hop we sent no AUTH to is a
  configuration problem: deferred, never bounced, and the log names the
  missing sasl_password_maps key.
"""

import re

import pytest

from dnskit import make_dns_server  # noqa: F401  (pytest fixture)
from outbound_kit import (SENDER, make_sender, make_sink,  # noqa: F401
                          message, net, parse_bounce, submit, wait_log,
                          write_file)


@pytest.fixture
def dns(make_dns_server, net):  # noqa: F811
    return make_dns_server({
        # The first MX "names" an address: skipped; mx2 is the real one.
        "numeric.test": ["@ MX 10 127.9.9.9.", "@ MX 20 mx2",
                         f"mx2 A {net.prefix}10"],
    })


def _status(server, qid, rcpt, status):
    return wait_log(server, rf"{qid} to=<{re.escape(rcpt)}> [^\n]*"
                    rf"status={status}[^\n]*")[0]


def test_mail_loop_stops_at_hopcount_limit(make_server, dns, net, tmp_path):
    """loop.test is routed back to the sender's own listener: each hop
    adds a Received: field; at hopcount_limit the SMTP side answers 554
    5.4.6 and the message comes back to alice as one RFC 3464 report."""
    me = f"{net.addr(50)}:2525"
    transport = write_file(tmp_path / "transport",
                           f"loop.test smtp:[{net.addr(50)}]:2525\n")
    sender = make_sender(make_server, dns, level="may",
                         mynetworks="127.0.0.0/8",
                         settings={"hopcount_limit": "12"},
                         outbound={"transport": transport},
                         listener_addrs={"mx": me})
    rcpt = "bob@loop.test"
    qid = submit(sender, rcpt, message("loop", rcpt))
    wait_log(sender, r"reject client=\S+ command=DATA reply=\"554 5\.4\.6\"",
             timeout=60)
    data, = sender.wait_for_messages("alice", timeout=60)
    _, block, _ = parse_bounce(data)
    assert block["status"] == "5.4.6", block
    assert "too many hops" in block.get("diagnostic-code", ""), block
    # 12 Received: fields refused: the original plus at most 11 hops.
    hops = len(re.findall(r" queued from=<alice@example\.test>",
                          sender.log(everything=True)))
    assert 2 <= hops <= 12, hops
    assert qid


def test_address_literal_recipient(make_server, dns, net, make_sink):
    addr = net.addr(10)
    sink = make_sink(addr)
    sender = make_sender(make_server, dns, level="may")
    rcpt = f"bob@[{addr}]"
    qid = submit(sender, rcpt, message("literal", rcpt))
    line = _status(sender, qid, rcpt, "sent")
    assert f"relay={addr}[{addr}]:25" in line, line
    msg, = sink.wait_for_messages(1, timeout=30)
    assert msg.rcpts == [rcpt]


def test_mx_naming_an_address_is_skipped(make_server, dns, net, make_sink):
    addr = net.addr(10)
    sink = make_sink(addr)
    sender = make_sender(make_server, dns, level="may")
    rcpt = "bob@numeric.test"
    qid = submit(sender, rcpt, message("numeric-mx", rcpt))
    line = _status(sender, qid, rcpt, "sent")
    assert f"relay=mx2.numeric.test[{addr}]:25" in line, line
    wait_log(sender, rf"{qid} MX of numeric\.test is an address, skipped: "
             r"127\.9\.9\.9")
    sink.wait_for_messages(1, timeout=30)


def test_530_without_auth_is_deferred_not_bounced(make_server, dns, net,
                                                  make_sink):
    make_sink(net.addr(10), replies={
        "MAIL": "530 5.7.0 Authentication required"})
    sender = make_sender(make_server, dns, level="may")
    rcpt = "bob@numeric.test"
    qid = submit(sender, rcpt, message("needs-auth", rcpt))
    line = _status(sender, qid, rcpt, "deferred")
    assert "dsn=4.7.0" in line, line
    wait_log(sender, r"requires AUTH, but sasl_password_maps has no entry "
             r"for numeric\.test")
    assert "status=bounced" not in sender.log(everything=True)
