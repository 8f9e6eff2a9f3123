"""Outbound delivery by MX routing with TLS security levels (issue 4):
tlsmta looks up MX records in a real DNS server on loopback (NSD,
dnskit.py) and delivers to a real Postfix (STARTTLS, certificate from the
test CA) or to a scripted plaintext server (smtpsink.py), all on port 25
of 127.A.B.n addresses.

- verify / secure: delivered when the names match, deferred with the
  reason in the log when they do not (a forged MX passes verify but not
  secure), and never sent in plaintext instead;
- may delivers to a server without STARTTLS, encrypt defers;
- the content (a "." line, "..", bare LF and CR tricks) reaches Postfix
  exactly; the client discards bytes injected after "220" to STARTTLS,
  sends SNI and dot-stuffs;
- the second MX host is used when the first is down.
"""

import re

import pytest

from dnskit import make_dns_server  # noqa: F401  (pytest fixture)
from outbound_kit import (delivery_lines, make_receiver,  # noqa: F401
                          make_sender, make_sink, message, net, submit,
                          wait_log)
from postfix_peer import postfix_split

DOMAIN = "dest.test"
RCPT = "bob@dest.test"
MX1 = "mx1.dest.test"
ONE_RCPT = "bob@one.test"
ONE_MX = "mx.one.test"


def _zones(net, extra=None):
    """dest.test: MX 10 mx1 (net .10), MX 20 mx2 (net .20);
    one.test: MX 10 mx.one.test (net .11) alone, so that the reason of
    its failure is the reason on the deferred line;
    forged.test: MX 10 mx.attacker.test (net .30)."""
    zones = {
        "dest.test": ["@ MX 10 mx1", "@ MX 20 mx2",
                      f"mx1 A {net.prefix}10", f"mx2 A {net.prefix}20"],
        "one.test": ["@ MX 10 mx", f"mx A {net.prefix}11"],
        "forged.test": ["@ MX 10 mx.attacker.test."],
        "attacker.test": [f"mx A {net.prefix}30"],
    }
    zones.update(extra or {})
    return zones


@pytest.fixture
def dns(make_dns_server, net):  # noqa: F811
    return make_dns_server(_zones(net))


def _sent_line(server, qid, rcpt=RCPT):
    return wait_log(server, rf"{qid} to=<{re.escape(rcpt)}> relay=\S+ "
                    rf"[^\n]*status=sent[^\n]*")[0]


def _deferred_line(server, qid, rcpt=RCPT):
    return wait_log(server, rf"{qid} to=<{re.escape(rcpt)}> relay=\S+ "
                    rf"[^\n]*status=deferred[^\n]*")[0]


# -- verify and secure against a real Postfix --------------------------------

@pytest.mark.parametrize("level", ["verify", "secure"])
def test_postfix_verified_tls(make_server, make_receiver, dns, net,
                              test_pki, level):
    rx = make_receiver(net.addr(10), MX1, [DOMAIN])
    sender = make_sender(make_server, dns, test_pki, level=level)
    qid = submit(sender, RCPT, message(f"verified-{level}", RCPT))
    data, = rx.wait_for_messages(RCPT)
    line = _sent_line(sender, qid)
    assert f"relay={MX1}[{net.prefix}10]:25" in line, line
    assert 'tls="Verified TLSv1.' in line, line
    assert "250 2.0.0 Ok: queued as" in line, line
    assert re.search(rf"{qid} Verified TLS connection established to "
                     rf"{re.escape(MX1)}\[", sender.log()), sender.log()
    fields, rest = postfix_split(data)
    assert "with ESMTPS" in fields["received"], fields
    assert fields["return-path"] == "<alice@example.test>"
    assert rest.endswith(b"\n\nbody of verified-" + level.encode() + b"\n")


def _assert_deferred_never_plaintext(sender, rx, qid, reason):
    line = _deferred_line(sender, qid, ONE_RCPT)
    assert f"relay={ONE_MX}[" in line, line
    assert re.search(reason, line), line
    assert re.search(r"dsn=4\.7\.\d", line), line
    log = sender.log(everything=True)
    assert "without TLS" not in log, log
    assert rx.all_messages() == []
    # Postfix saw no transaction: nothing reached MAIL FROM, in clear or
    # otherwise.
    assert " from=<" not in rx.log(), rx.log()
    for m in re.finditer(r"disconnect from \S+ (.*)", rx.log()):
        assert "mail=" not in m.group(1), m.group(0)


def test_verify_name_mismatch_deferred(make_server, make_receiver, dns,
                                       net, test_pki):
    """The MX host is mx.one.test; the certificate names another host."""
    cert = test_pki.server("wrongname", "other.example.test")
    rx = make_receiver(net.addr(11), ONE_MX, ["one.test"], cert=cert)
    sender = make_sender(make_server, dns, test_pki, level="verify")
    qid = submit(sender, ONE_RCPT, message("verify-mismatch", ONE_RCPT))
    _assert_deferred_never_plaintext(sender, rx, qid, r"(?i)name|match")


def test_verify_untrusted_issuer_deferred(make_server, make_receiver, dns,
                                          net, test_pki, tmp_path):
    """Right name, but signed by a CA that tls_ca_file does not hold."""
    import pki
    (tmp_path / "otherpki").mkdir()
    other = pki.TestPKI(tmp_path / "otherpki")
    cert = other.server("mx-other", ONE_MX)
    rx = make_receiver(net.addr(11), ONE_MX, ["one.test"], cert=cert)
    sender = make_sender(make_server, dns, test_pki, level="verify")
    qid = submit(sender, ONE_RCPT, message("verify-untrusted", ONE_RCPT))
    _assert_deferred_never_plaintext(sender, rx, qid,
                                     r"(?i)verif|issuer|trust")


@pytest.mark.parametrize("level", ["verify", "secure"])
def test_forged_mx_passes_verify_not_secure(make_server, make_receiver, dns,
                                            net, test_pki, level):
    """forged.test's MX names mx.attacker.test, whose certificate is valid
    for that name: verify accepts it (it checks the MX host name), secure
    does not (the name must be forged.test or below it)."""
    rcpt = "bob@forged.test"
    rx = make_receiver(net.addr(30), "mx.attacker.test", ["forged.test"])
    sender = make_sender(make_server, dns, test_pki, level=level)
    qid = submit(sender, rcpt, message(f"forged-{level}", rcpt))
    if level == "verify":
        rx.wait_for_messages(rcpt)
        assert 'tls="Verified' in _sent_line(sender, qid, rcpt)
        return
    line = _deferred_line(sender, qid, rcpt)
    assert re.search(r"(?i)name|match", line), line
    assert "forged.test" in line, line
    assert rx.all_messages() == []
    assert " from=<" not in rx.log(), rx.log()


def test_secure_by_tls_policy_table(make_server, make_receiver, dns, net,
                                    test_pki, tmp_path):
    """Level may by default, secure for dest.test through tls_policy:
    delivered (mx1.dest.test is below dest.test), Verified in the log."""
    policy = tmp_path / "tls_policy"
    policy.write_text(f"{DOMAIN} secure\n")
    rx = make_receiver(net.addr(10), MX1, [DOMAIN])
    sender = make_sender(make_server, dns, test_pki, level="may",
                         outbound={"tls_policy": str(policy)})
    qid = submit(sender, RCPT, message("policy-secure", RCPT))
    rx.wait_for_messages(RCPT)
    assert 'tls="Verified' in _sent_line(sender, qid)


def test_policy_table_secure_fails_for_forged(make_server, make_receiver,
                                              dns, net, test_pki, tmp_path):
    policy = tmp_path / "tls_policy"
    policy.write_text("forged.test secure\n")
    rcpt = "bob@forged.test"
    rx = make_receiver(net.addr(30), "mx.attacker.test", ["forged.test"])
    sender = make_sender(make_server, dns, test_pki, level="may",
                         outbound={"tls_policy": str(policy)})
    qid = submit(sender, rcpt, message("policy-forged", rcpt))
    line = _deferred_line(sender, qid, rcpt)
    assert re.search(r"(?i)name|match", line), line
    assert rx.all_messages() == []


# -- byte exactness through a real Postfix ------------------------------------

TRICKY = (b"From: Alice <alice@example.test>\r\n"
          b"To: <bob@dest.test>\r\n"
          b"Subject: dots and bare newlines\r\n"
          b"\r\n"
          b".\r\n"
          b"..\r\n"
          b"...three\r\n"
          b".leading dot\r\n"
          b"bare LF then dot\n.\nafter\r\n"
          b"bare LF dot CRLF\n.\r\n"
          b"CRLF dot bare LF\r\n.\nx\r\n"
          b"bare CR\r.\rend of bare CR\r\n"
          b"\r\n"
          b"  trailing spaces  \r\n"
          b"\tlast line\r\n")


def _as_postfix_stores(content):
    """tlsmta (smtpd_bare_newline = normalize) stores each bare LF or CR
    as CRLF; Postfix's Maildir has LF line ends: so every CRLF, bare LF
    and bare CR of the original becomes one LF."""
    return content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def test_content_byte_exact_at_postfix(make_server, make_receiver, dns, net,
                                       test_pki):
    rx = make_receiver(net.addr(10), MX1, [DOMAIN])
    sender = make_sender(make_server, dns, test_pki, level="verify")
    qid = submit(sender, RCPT, TRICKY)
    data, = rx.wait_for_messages(RCPT)
    _sent_line(sender, qid)
    fields, rest = postfix_split(data)
    # rest = tlsmta's own Received field, then the original exactly.
    assert rest.startswith(b"Received: "), rest[:300]
    end = rest.index(b"\nFrom: Alice")
    assert b"by mail.example.test" in rest[:end], rest[:end]
    assert rest[end + 1:] == _as_postfix_stores(TRICKY), rest


def test_content_dot_stuffed_on_the_wire(make_server, make_sink, dns, net):
    """The next hop sees CRLF lines only, each leading dot doubled, and
    unstuffs to the stored content."""
    sink = make_sink(net.addr(10))
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, TRICKY)
    msg, = sink.wait_for_messages(1)
    _sent_line(sender, qid)
    assert not msg.bare_lf, msg.wire
    assert b"\r" not in msg.wire.replace(b"\r\n", b"")
    body = msg.data[msg.data.index(b"\r\nFrom: Alice") + 2:]
    normalized = TRICKY.replace(b"\r\n", b"\n").replace(b"\r", b"\n") \
        .replace(b"\n", b"\r\n")
    assert body == normalized
    assert b"\r\n..\r\n...\r\n....three\r\n" in msg.wire, msg.wire


# -- may, encrypt, STARTTLS details against the scripted server ---------------

def test_plaintext_server_may_delivers(make_server, make_sink, dns, net):
    sink = make_sink(net.addr(10))
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, message("plain-may", RCPT))
    msg, = sink.wait_for_messages(1)
    assert not msg.tls and msg.rcpts == [RCPT]
    assert msg.mail_from == "alice@example.test"
    line = _sent_line(sender, qid)
    assert 'tls="no TLS: not offered"' in line, line


def test_plaintext_server_encrypt_deferred(make_server, make_sink, dns, net):
    sink = make_sink(net.addr(11))
    sender = make_sender(make_server, dns, level="encrypt")
    qid = submit(sender, ONE_RCPT, message("plain-encrypt", ONE_RCPT))
    line = _deferred_line(sender, qid, ONE_RCPT)
    assert "dsn=4.7.4" in line, line
    assert re.search(r"(?i)TLS is required.*not offered", line), line
    for s in sink.sessions():
        assert not any(c.upper().startswith("MAIL") for c in s.commands), s
    assert sink.all_messages() == []


def test_encrypt_with_starttls_any_certificate(make_server, make_sink, dns,
                                               net, certs):
    """encrypt takes a self-signed certificate (Untrusted is enough)."""
    sink = make_sink(net.addr(10), starttls=(certs["ecdsa_cert"],
                                             certs["ecdsa_key"]))
    sender = make_sender(make_server, dns, level="encrypt")
    qid = submit(sender, RCPT, message("encrypt-selfsigned", RCPT))
    msg, = sink.wait_for_messages(1)
    assert msg.tls
    line = _sent_line(sender, qid)
    assert re.search(r'tls="(Untrusted|Anonymous) TLSv1\.[23]', line), line


def test_sni_is_mx_host_and_ehlo_again_after_tls(make_server, make_sink, dns,
                                                 net, test_pki):
    cert = test_pki.server(MX1, MX1)
    sink = make_sink(net.addr(10), starttls=(cert.pem, cert.key))
    sender = make_sender(make_server, dns, test_pki, level="verify")
    qid = submit(sender, RCPT, message("sni", RCPT))
    msg, = sink.wait_for_messages(1)
    assert msg.tls and msg.sni == MX1
    sess = sink.wait_for_sessions(1)[0]
    verbs = [c.split()[0].upper() for c in sess.commands]
    assert verbs[:3] == ["EHLO", "STARTTLS", "EHLO"], sess.commands
    assert sess.discarded == b""
    assert 'tls="Verified' in _sent_line(sender, qid)


def test_starttls_injection_discarded(make_server, make_sink, dns, net,
                                      certs):
    """Bytes after "220 ready" and before the handshake are not replies
    (RFC 3207 4.2): a client that kept them would read them as the answer
    to its second EHLO and fall out of step."""
    junk = (b"250-mx1.dest.test injected\r\n250 AUTH PLAIN\r\n"
            b"250 2.1.0 injected MAIL reply\r\n")
    sink = make_sink(net.addr(10), starttls=(certs["ecdsa_cert"],
                                             certs["ecdsa_key"]),
                     starttls_inject=junk)
    sender = make_sender(make_server, dns, level="encrypt")
    qid = submit(sender, RCPT, message("injection", RCPT))
    msg, = sink.wait_for_messages(1)
    assert msg.tls
    _sent_line(sender, qid)
    sess = sink.wait_for_sessions(1)[0]
    assert not any(c.upper().startswith("AUTH") for c in sess.commands)
    assert sess.error is None, sess.error


def test_may_handshake_failure_falls_back_to_plaintext(make_server,
                                                       make_sink, dns, net,
                                                       certs):
    """may: STARTTLS offered and accepted, but no TLS comes: the same
    host is tried again in plaintext (RFC 3207 allows it at this level)
    and the log says so."""
    sink = make_sink(net.addr(10), starttls=(certs["ecdsa_cert"],
                                             certs["ecdsa_key"]),
                     tls_broken=True)
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, message("may-fallback", RCPT))
    msg, = sink.wait_for_messages(1)
    assert not msg.tls
    line = _sent_line(sender, qid)
    assert 'tls="no TLS: handshake failed' in line, line
    assert re.search(rf"{qid} TLS handshake failed.*without TLS",
                     sender.log(everything=True)), sender.log()
    last = sink.sessions()[-1]
    assert not any(c.upper() == "STARTTLS" for c in last.commands), last


@pytest.mark.parametrize("level", ["encrypt", "verify"])
def test_handshake_failure_never_plaintext(make_server, make_sink, dns, net,
                                           certs, test_pki, level):
    sink = make_sink(net.addr(11), starttls=(certs["ecdsa_cert"],
                                             certs["ecdsa_key"]),
                     tls_broken=True)
    sender = make_sender(make_server, dns, test_pki, level=level)
    qid = submit(sender, ONE_RCPT, message(f"broken-{level}", ONE_RCPT))
    line = _deferred_line(sender, qid, ONE_RCPT)
    assert "handshake" in line.lower(), line
    assert sink.all_messages() == []
    for s in sink.sessions():
        assert not any(c.upper().startswith("MAIL") for c in s.commands), s


# -- MX walk --------------------------------------------------------------------

def test_first_mx_down_second_used(make_server, make_sink, dns, net):
    """Nothing listens on mx1 (.10): connection refused, mx2 (.20) gets
    the message."""
    sink2 = make_sink(net.addr(20))
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, message("mx-walk", RCPT))
    msg, = sink2.wait_for_messages(1)
    assert msg.rcpts == [RCPT]
    line = _sent_line(sender, qid)
    assert f"relay=mx2.dest.test[{net.prefix}20]:25" in line, line


def test_first_mx_greets_421_second_used(make_server, make_sink, dns, net):
    sink1 = make_sink(net.addr(10), replies={"CONNECT": "421 4.3.2 busy"})
    sink2 = make_sink(net.addr(20))
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, message("mx-421", RCPT))
    sink2.wait_for_messages(1)
    assert sink1.messages() == []
    assert "mx2.dest.test" in _sent_line(sender, qid)


def test_all_mx_down_deferred(make_server, dns, net):
    sender = make_sender(make_server, dns, level="may")
    qid = submit(sender, RCPT, message("mx-all-down", RCPT))
    line = _deferred_line(sender, qid)
    assert "status=deferred" in line
    assert delivery_lines(sender, qid), sender.log()
