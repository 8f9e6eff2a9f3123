"""Never an open relay (DESIGN.md invariant): recipients outside
local_domains from an unauthenticated client get 554 5.7.1 at RCPT, and
the old routing forms (%-hack, bang paths, source routes, quoted local
parts) either deliver locally or are refused; never accepted for a
foreign host. tlsmta has no outbound delivery yet, so "relayed" shows up
as a message accepted with 250 that does not land in a local Maildir.
Also: local_recipients (550 5.1.1) and Maildir paths that must stay
under the Maildir root whatever the local part."""

import os
import time

import pytest

from smtpwire import RawSMTP, send_data

SENDER = "bob@example.org"


def _session(server):
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    return c


@pytest.mark.parametrize("rcpt", [
    "user@foreign.example",
    "user@FOREIGN.example",
    "user@example.test.foreign.example",
    "user@sub.example.test",
    "user@[192.0.2.1]",
    "user@[127.0.0.1]",
    "user@[IPv6:2001:db8::1]",
])
def test_relay_refused(server, rcpt):
    c = _session(server)
    r = c.cmd(f"RCPT TO:<{rcpt}>")
    assert (r.code, r.text) == (554, "5.7.1 Relay access denied"), r
    # The transaction has no recipient: DATA is refused.
    assert c.cmd("DATA").code in (503, 554)
    c.close()


def test_relay_refused_on_every_listener(server):
    for listener, tls in (("plain", False), ("submissions", True)):
        with RawSMTP(server.addr(listener), implicit_tls=tls) as c:
            c.ehlo()
            assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
            r = c.cmd("RCPT TO:<user@foreign.example>")
            assert r.code == 554 and r.enhanced == "5.7.1", r


@pytest.mark.parametrize("rcpt", [
    "user%foreign.example@example.test",
    "foreign.example!user@example.test",
    '"user@foreign.example"@example.test',
    '"user%foreign.example"@example.test',
    "@foreign.example:user@example.test",
    "@a.example,@foreign.example:user@example.test",
    "user@EXAMPLE.TEST",
])
def test_routing_forms_never_relay(server, rcpt):
    """Either refused at RCPT (5xx) or delivered into a local Maildir."""
    c = _session(server)
    r = c.cmd(f"RCPT TO:<{rcpt}>")
    if r.code >= 500:
        assert r.code in (501, 550, 553, 554), r
        c.close()
        return
    assert r.code == 250, r
    send_data(c, b"Subject: routing\r\n\r\nrouting test\r\n")
    c.close()
    _wait_local(server, 1, rcpt)


def test_source_route_delivered_locally(server):
    """RFC 5321 4.1.1.3 / C: the source route is ignored; delivery goes to
    the mailbox at the end."""
    c = _session(server)
    r = c.cmd("RCPT TO:<@foreign.example:alice@example.test>")
    assert r.code == 250, r
    send_data(c, b"Subject: source route\r\n\r\nrouted\r\n")
    c.close()
    data, = server.wait_for_messages("alice")
    assert data.endswith(b"Subject: source route\n\nrouted\n")


def _wait_local(server, count, what, timeout=15.0, required=True):
    """Wait until count messages are in local Maildirs (any user)."""
    deadline = time.monotonic() + timeout
    while len(server.all_delivered()) < count:
        if not required and time.monotonic() > deadline:
            return
        assert time.monotonic() < deadline, (
            f"{what!r} accepted with 250 but not delivered locally "
            f"(relayed?)\n{server.log()}")
        time.sleep(0.05)
    assert len(server.all_delivered()) == count


@pytest.mark.parametrize("local", [
    '"../../../escape"',
    '"../escape"',
    '"a/../../escape"',
    '".."',
    '"."',
    '"/tmp/escape"',
    '"x/new"',
])
def test_maildir_path_stays_under_root(server, local):
    """Local parts with "/" or ".." must not write outside the Maildir
    root: refused at RCPT, or delivered below the root."""
    before = _tree(server.workdir)
    c = _session(server)
    r = c.cmd(f"RCPT TO:<{local}@example.test>")
    if r.code == 250:
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: path\r\n\r\npath test\r\n.\r\n")
        if c.reply().code == 250:
            # Delivered below the root, or deferred/bounced: either way
            # give the queue manager time to act before looking.
            _wait_local(server, 1, local, timeout=5.0, required=False)
    else:
        assert r.code >= 500, r
    c.close()
    after = _tree(server.workdir)
    mail_root = os.path.realpath(server.mail_root) + os.sep
    spool = os.path.realpath(server.spool) + os.sep
    outside = [p for p in after - before
               if not (p + os.sep).startswith((mail_root, spool))
               and not p.endswith(".log")]
    assert outside == [], f"files created outside the Maildir root: {outside}"
    assert not os.path.exists("/tmp/escape")


def _tree(top):
    out = set()
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            out.add(os.path.realpath(os.path.join(dirpath, name)))
    return out


def test_local_recipients_unknown_user_550(make_server, tmp_path):
    listing = tmp_path / "recipients"
    listing.write_text("alice@example.test\nBob@Example.Test\n")
    server = make_server(settings={"local_recipients": str(listing)})
    c = _session(server)
    r = c.cmd("RCPT TO:<carol@example.test>")
    assert r.code == 550 and r.enhanced == "5.1.1", r
    assert c.cmd("RCPT TO:<ALICE@example.TEST>").code == 250
    assert c.cmd("RCPT TO:<bob@example.test>").code == 250
    r = c.cmd("RCPT TO:<carol@foreign.example>")
    assert r.code == 554 and r.enhanced == "5.7.1", r
    send_data(c, b"Subject: known users\r\n\r\nhi\r\n")
    c.close()
    _wait_local(server, 2, "alice and bob")
    server.assert_no_more("carol", 0, grace=0.5)
    assert not any("carol" in p.lower() for p in server.all_delivered())
