"""Routing overrides and who may relay (issue 4):

- relayhost: tlsmta relays through a second tlsmta instance, with AUTH
  (sasl_password_maps), on implicit TLS (port 465, RFC 8314) and on
  STARTTLS (a submission listener); a wrong password defers, never
  bounces;
- the transport table overrides MX records (smtp:[host]:port, and
  smtps: for implicit TLS), and tls_policy applies to its next hop;
- mynetworks lets 127.0.0.1 relay without AUTH while 127.0.0.2 gets
  554 5.7.1; a user who logged in on the submission port relays to a
  remote Postfix over verified TLS (the "done means" of the issue).
"""

import re

import pytest

import authkit
from dnskit import make_dns_server  # noqa: F401  (pytest fixture)
from outbound_kit import (SENDER, make_receiver, make_sender,  # noqa: F401
                          make_sink, message, net, submit, wait_log,
                          write_file)
from postfix_peer import postfix_split
from smtpwire import Delivered, dot_stuff, queue_id

RCPT = "bob@dest.test"
SMART_USER = "relay@smarthost.test"
SMART_PASSWORD = "s3cret: with colon"


@pytest.fixture
def dns(make_dns_server, net):  # noqa: F811
    """dest.test's MX is .10 (a sink that must see nothing when a route
    overrides it)."""
    return make_dns_server({
        "dest.test": ["@ MX 10 mx1", f"mx1 A {net.prefix}10"],
    })


def _status(server, qid, rcpt, status):
    return wait_log(server, rf"{qid} to=<{re.escape(rcpt)}> [^\n]*"
                    rf"status={status}[^\n]*")[0]


def _passwords(tmp_path, key, user=SMART_USER, password=SMART_PASSWORD):
    return write_file(tmp_path / "sasl_passwd",
                      f"# next hop  user:password\n{key} {user}:{password}\n",
                      mode=0o600)


def _smarthost(make_auth_server, net, **kw):
    """The second tlsmta: local domain dest.test, AUTH required on the
    submission ports, its implicit-TLS listener on net .40, port 465."""
    return make_auth_server(users={SMART_USER: SMART_PASSWORD},
                            domains=["dest.test"],
                            listener_addrs={
                                "submissions": f"{net.addr(40)}:465"},
                            **kw)


# -- relayhost through a second tlsmta -------------------------------------------

@pytest.mark.parametrize("listener", ["submissions", "submission"])
def test_relayhost_second_tlsmta_with_auth(make_server, make_auth_server,
                                           make_sink, dns, net, tmp_path,
                                           listener):
    """submissions: relayhost = [127.A.B.40]:465, implicit TLS;
    submission: relayhost = [127.0.0.1]:PORT, STARTTLS required there.
    Either way AUTH PLAIN/LOGIN inside TLS, and the message lands in the
    smarthost's Maildir; dest.test's MX (a sink) sees nothing."""
    mx = make_sink(net.addr(10))
    smart = _smarthost(make_auth_server, net)
    host, port = smart.addr(listener)
    key = f"[{host}]:{port}"
    sender = make_sender(make_server, dns, outbound={
        "relayhost": key, "sasl_password_maps": _passwords(tmp_path, key)})
    original = message(f"smarthost-{listener}", RCPT)
    qid = submit(sender, RCPT, original)
    data, = smart.wait_for_messages("bob", domain="dest.test", timeout=40)
    line = _status(sender, qid, RCPT, "sent")
    assert f"relay={host}[{host}]:{port}" in line or \
        f"[{host}]:{port}" in line, line
    assert re.search(r'tls="\w+ TLSv1\.[23]', line), line
    d = Delivered(data)
    assert re.search(r"\bwith ESMTPSA\b", d.received), d.received
    assert d.return_path == f"<{SENDER}>"
    assert d.body.endswith(original.replace(b"\r\n", b"\n"))
    assert mx.sessions() == []


def test_relayhost_wrong_password_deferred(make_server, make_auth_server,
                                           dns, net, tmp_path):
    smart = _smarthost(make_auth_server, net)
    host, port = smart.addr("submissions")
    key = f"[{host}]:{port}"
    sender = make_sender(make_server, dns, outbound={
        "relayhost": key,
        "sasl_password_maps": _passwords(tmp_path, key,
                                         password="wrong")})
    qid = submit(sender, RCPT, message("smarthost-badpw", RCPT))
    line = _status(sender, qid, RCPT, "deferred")
    assert "535" in line or "auth" in line.lower(), line
    sender.assert_no_more("alice", 0, grace=1.5)     # never bounced
    smart.assert_no_more("bob", 0, domain="dest.test", grace=0)


def test_relayhost_password_needs_tls(make_server, make_sink, dns, net,
                                      tmp_path):
    """A next hop with a password gets at least encrypt: a smarthost
    without STARTTLS never sees the password (nor the mail)."""
    sink = make_sink(net.addr(41), port=587, auth={SMART_USER:
                                                   SMART_PASSWORD},
                     auth_before_tls=True)
    key = f"[{net.prefix}41]:587"
    sender = make_sender(make_server, dns, outbound={
        "relayhost": key, "sasl_password_maps": _passwords(tmp_path, key)})
    qid = submit(sender, RCPT, message("smarthost-plain", RCPT))
    line = _status(sender, qid, RCPT, "deferred")
    assert "4.7." in line, line
    for s in sink.sessions():
        assert not any(c.upper().startswith(("AUTH", "MAIL"))
                       for c in s.commands), s


# -- transport table ----------------------------------------------------------

def test_transport_overrides_mx(make_server, make_sink, dns, net, tmp_path):
    mx = make_sink(net.addr(10))
    routed = make_sink(net.addr(50), port=2526)
    table = write_file(tmp_path / "transport",
                       f"dest.test smtp:[{net.prefix}50]:2526\n")
    sender = make_sender(make_server, dns, outbound={"transport": table})
    qid = submit(sender, RCPT, message("transport", RCPT))
    msg, = routed.wait_for_messages(1)
    assert msg.rcpts == [RCPT]
    line = _status(sender, qid, RCPT, "sent")
    assert f"[{net.prefix}50]:2526" in line, line
    assert mx.sessions() == []


def test_transport_smtps_implicit_tls(make_server, make_sink, dns, net,
                                      tmp_path, certs):
    routed = make_sink(net.addr(51), port=4650,
                       implicit_tls=(certs["ecdsa_cert"],
                                     certs["ecdsa_key"]))
    table = write_file(tmp_path / "transport",
                       f"dest.test smtps:[{net.prefix}51]:4650\n")
    sender = make_sender(make_server, dns, outbound={"transport": table})
    qid = submit(sender, RCPT, message("transport-smtps", RCPT))
    msg, = routed.wait_for_messages(1)
    assert msg.tls
    sess = routed.wait_for_sessions(1)[0]
    assert "STARTTLS" not in [c.upper() for c in sess.commands]
    _status(sender, qid, RCPT, "sent")


def test_tls_policy_applies_to_transport_nexthop(make_server, make_sink, dns,
                                                 net, tmp_path):
    """tls_policy "[host]:port encrypt" for the transport's next hop: a
    plaintext server there gets nothing."""
    routed = make_sink(net.addr(52), port=2526)
    addr = f"[{net.prefix}52]:2526"
    table = write_file(tmp_path / "transport", f"dest.test smtp:{addr}\n")
    policy = write_file(tmp_path / "tls_policy", f"{addr} encrypt\n")
    sender = make_sender(make_server, dns, outbound={
        "transport": table, "tls_policy": policy})
    qid = submit(sender, RCPT, message("transport-encrypt", RCPT))
    line = _status(sender, qid, RCPT, "deferred")
    assert "4.7.4" in line, line
    assert routed.all_messages() == []


# -- who may relay --------------------------------------------------------------

def test_mynetworks_relays_others_refused(make_server, make_sink, dns, net):
    sink = make_sink(net.addr(10))
    sender = make_sender(make_server, dns, mynetworks="127.0.0.1/32")
    qid = submit(sender, RCPT, message("mynetworks", RCPT))
    sink.wait_for_messages(1)
    _status(sender, qid, RCPT, "sent")
    c = authkit.SourcedSMTP(sender.addr("mx"), "127.0.0.2")
    try:
        c.ehlo()
        c.starttls()
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{RCPT}>")
        assert r.code == 554 and r.enhanced == "5.7.1", r
        assert c.cmd("RCPT TO:<carol@example.test>").code == 250
    finally:
        c.close()
    assert len(sink.all_messages()) == 1
    assert "connect client=127.0.0.2 listener=mx" in sender.log()
    assert "client=127.0.0.2 listener=mx mynetworks=yes" not in sender.log()


def test_empty_mynetworks_refuses_even_localhost(make_server, dns):
    sender = make_sender(make_server, dns, mynetworks=None)
    c = authkit.SourcedSMTP(sender.addr("mx"))
    try:
        c.ehlo()
        assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
        r = c.cmd(f"RCPT TO:<{RCPT}>")
        assert r.code == 554 and r.enhanced == "5.7.1", r
    finally:
        c.close()


def test_authenticated_submission_reaches_postfix_verified(
        make_server, make_auth_server, make_receiver, dns, net, test_pki):
    """The issue's "done means": a user logs in on the submission port
    (not in mynetworks), sends to a remote domain, and it reaches the
    remote Postfix over verified TLS."""
    rx = make_receiver(net.addr(10), "mx1.dest.test", ["dest.test"])
    user, password = "carol@example.test", "pw for carol"

    def make(**kw):
        return authkit.make_auth_server(make_server, users={user: password},
                                        **kw)
    sender = make_sender(make, dns, test_pki, level="verify",
                         mynetworks=None)
    conn, _ = authkit.tls_session(sender, "submission")
    try:
        assert authkit.login(conn, user, password).code == 235
        assert conn.cmd(f"MAIL FROM:<{user}>").code == 250
        assert conn.cmd(f"RCPT TO:<{RCPT}>").code == 250
        assert conn.cmd("DATA").code == 354
        original = message("submission-verified", RCPT, sender=user)
        conn.send(dot_stuff(original) + b".\r\n")
        qid = queue_id(conn.reply())
    finally:
        conn.close()
    data, = rx.wait_for_messages(RCPT)
    line = _status(sender, qid, RCPT, "sent")
    assert 'tls="Verified' in line, line
    fields, rest = postfix_split(data)
    assert fields["return-path"] == f"<{user}>"
    assert rest.endswith(original.replace(b"\r\n", b"\n"))
