"""Nothing acknowledged with 250 is lost (DESIGN.md invariant, issue 2
"Durable spool"): kill -9 of the whole server right after the 250, then a
restart on the same spool, still delivers the message, exactly once.

Delivery can be faster than our kill, so the first test makes delivery
impossible for the first server (its Maildir template lies under a
regular file, so every mkdir fails with ENOTDIR: a local, transient
failure that must defer, not drop). Only the spool can then hold the
message when the server is killed. The restarted server gets a working
Maildir and must deliver what it finds in the spool."""

import os
import subprocess

import pytest

from smtpwire import (RawSMTP, check_delivery, queue_id, sample_message,
                      transaction)

SENDER = "bob@example.org"
RCPT = "alice@example.test"
# Deferred mail is retried soon, so a restart does not wait 300 s.
RETRY = {"queue_retry_interval": 1}


def _send_one(server, tag):
    message = sample_message(tag)
    c = RawSMTP(server.addr("mx"))
    c.ehlo()
    c.starttls()
    c.ehlo()
    qid = queue_id(transaction(c, SENDER, [RCPT], message))
    return c, qid, message


def test_kill9_before_delivery_then_restart_delivers(make_server, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file: Maildirs below it cannot exist\n")
    server = make_server(
        maildir=os.path.join(str(blocker), "%d", "%u"),
        settings=RETRY)
    c, qid, message = _send_one(server, "durable-deferred")
    server.kill9()
    c.close()
    assert server.pids() == set()
    # spool.h: a committed message is a file named by its queue id.
    assert _spooled(server, qid), f"{qid} not in {server.spool}"
    good = os.path.join(server.mail_root, "%d", "%u")
    server.restart(maildir_template=good)
    data, = server.wait_for_messages("alice", timeout=20)
    d = check_delivery(data, SENDER, RCPT, message, "TLSv1.3")
    assert qid in d.received
    server.assert_no_more("alice", 1)


def _spooled(server, qid):
    return [os.path.join(d, f) for d, _, files in os.walk(server.spool)
            for f in files if qid in f]


def test_kill9_right_after_250_delivered_exactly_once(make_server):
    server = make_server()
    c, qid, message = _send_one(server, "durable-fast")
    server.kill9()
    c.close()
    server.restart()
    data, = server.wait_for_messages("alice", timeout=20)
    check_delivery(data, SENDER, RCPT, message, "TLSv1.3")
    server.assert_no_more("alice", 1, grace=2.0)


def test_pipelined_burst_then_kill9_loses_nothing(make_server, tmp_path):
    """Ten messages on one connection, each acknowledged, then kill -9
    (delivery blocked as above): all ten arrive after the restart."""
    blocker = tmp_path / "blocker"
    blocker.write_text("file\n")
    server = make_server(maildir=os.path.join(str(blocker), "%d", "%u"),
                         settings=RETRY)
    c = RawSMTP(server.addr("submissions"), implicit_tls=True)
    c.ehlo()
    ids = set()
    for i in range(10):
        ids.add(queue_id(transaction(c, SENDER, [RCPT],
                                     sample_message(f"burst-{i}"))))
    assert len(ids) == 10, "queue ids must be unique"
    server.kill9()
    c.close()
    server.restart(maildir_template=os.path.join(server.mail_root,
                                                 "%d", "%u"))
    got = server.wait_for_messages("alice", 10, timeout=30)
    subjects = sorted(next(l for l in g.split(b"\n")
                           if l.startswith(b"Subject: ")) for g in got)
    assert subjects == sorted(f"Subject: test burst-{i}".encode()
                              for i in range(10))
    server.assert_no_more("alice", 10)


def test_sigterm_with_queued_mail_then_restart(make_server, tmp_path):
    """A clean stop with deferred mail in the spool keeps it for the next
    start."""
    blocker = tmp_path / "blocker"
    blocker.write_text("file\n")
    server = make_server(maildir=os.path.join(str(blocker), "%d", "%u"),
                         settings=RETRY)
    c, qid, message = _send_one(server, "durable-sigterm")
    assert c.cmd("QUIT").code == 221
    c.close()
    assert server.stop() == []
    server.restart(maildir_template=os.path.join(server.mail_root,
                                                 "%d", "%u"))
    data, = server.wait_for_messages("alice", timeout=20)
    check_delivery(data, SENDER, RCPT, message, "TLSv1.3")


@pytest.fixture
def small_spool(tmp_path):
    """A 512 KiB tmpfs to hold the spool, so that the disk fills up."""
    path = tmp_path / "small-spool"
    path.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs",
                        str(path)], capture_output=True, timeout=30)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.decode()}")
    yield str(path)
    if subprocess.run(["umount", str(path)], timeout=30).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], timeout=30)


def test_disk_full_answers_4xx_and_leaves_nothing(small_spool, make_server):
    """DESIGN.md: a full disk answers 452 4.3.1 (or 451 4.3.0), nothing
    half-written becomes visible, and the server goes on."""
    server = make_server(spool=small_spool)
    c = RawSMTP(server.addr("submissions"), implicit_tls=True)
    c.ehlo()
    assert c.cmd(f"MAIL FROM:<{SENDER}>").code == 250
    assert c.cmd(f"RCPT TO:<{RCPT}>").code == 250
    assert c.cmd("DATA").code == 354
    line = b"z" * 998 + b"\r\n"
    c.send(b"Subject: too big for the disk\r\n\r\n" + line * 1100 + b".\r\n")
    r = c.reply()
    assert (r.code, r.enhanced) in ((452, "4.3.1"), (451, "4.3.0")), r
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(small_spool)
                 for f in files]
    assert leftovers == [], f"half-written spool files: {leftovers}"
    # The session and the server go on: a small message fits.
    message = sample_message("after-disk-full")
    queue_id(transaction(c, SENDER, [RCPT], message))
    c.close()
    data, = server.wait_for_messages("alice")
    check_delivery(data, SENDER, RCPT, message, "TLSv1.3")
