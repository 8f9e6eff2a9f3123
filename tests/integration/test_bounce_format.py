"""Bounces (src/queue/bounce.c) as a mail reader sees them: the unit test
program tests/unit/test_bounce builds real notices in a real spool and,
with TLSMTA_BOUNCE_DUMP=DIR, writes each one to DIR/NAME.eml; Python's
email package must read every one as multipart/report
(report-type=delivery-status, RFC 6522) whose message/delivery-status part
yields the RFC 3464 per-message and per-recipient fields.

The program is found next to the tlsmta binary under test
(TLSMTA_BIN=build-test/tlsmta -> build-test/tests/unit/test_bounce), or
through TLSMTA_BOUNCE_TEST.
"""

import email
import email.policy
import os
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NOTICES = ("plain", "two", "injection", "long", "longheaders", "delayed",
           "mixed", "utf8", "noheaders", "noblank")


def _test_program():
    path = os.environ.get("TLSMTA_BOUNCE_TEST")
    if path is None:
        tlsmta = os.environ.get("TLSMTA_BIN",
                                os.path.join(REPO, "build-test", "tlsmta"))
        if not os.path.isabs(tlsmta):
            tlsmta = os.path.join(REPO, tlsmta)
        path = os.path.join(os.path.dirname(tlsmta), "tests", "unit",
                            "test_bounce")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} missing: build it (ninja -C build-test) or "
                    "set TLSMTA_BOUNCE_TEST")
    return path


@pytest.fixture(scope="module")
def notices(tmp_path_factory):
    """{name: parsed message} of every notice the unit tests built."""
    out = tmp_path_factory.mktemp("bounces")
    run = subprocess.run([_test_program()], capture_output=True, timeout=60,
                         env=dict(os.environ, TLSMTA_BOUNCE_DUMP=str(out)))
    assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
    parsed = {}
    for name in NOTICES:
        raw = (out / f"{name}.eml").read_bytes()
        parsed[name] = email.message_from_bytes(raw,
                                                policy=email.policy.default)
    return parsed


def _report(msg):
    """(text part, per-message block, [per-recipient blocks], headers)."""
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg.is_multipart()
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    blocks = parts[1].get_payload()
    assert len(blocks) >= 2
    return parts[0], blocks[0], blocks[1:], parts[2]


@pytest.mark.parametrize("name", NOTICES)
def test_every_notice_is_a_clean_report(notices, name):
    msg = notices[name]
    assert not msg.defects
    text, per_msg, rcpts, _ = _report(msg)
    assert msg["From"] == "MAILER-DAEMON@mail.example.org"
    assert msg["From"].addresses[0].display_name == ""
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Message-ID"].endswith("@mail.example.org>")
    assert msg["Date"].datetime is not None
    assert per_msg["Reporting-MTA"] == "dns; mail.example.org"
    assert email.utils.parsedate_to_datetime(per_msg["Arrival-Date"])
    for block in [per_msg] + rcpts:
        assert not block.defects
    for r in rcpts:
        assert r["Final-Recipient"].split(";")[0] in ("rfc822", "utf-8")
        assert r["Action"] in ("failed", "delayed")
        assert r["Status"][0] in "45"
    assert "This is the mail system at host mail.example.org." in \
        text.get_content()


def test_recipient_fields(notices):
    msg = notices["two"]
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    text, _, rcpts, headers = _report(msg)
    bob, carol = rcpts
    assert bob["Final-Recipient"] == "rfc822; bob@remote.test"
    assert bob["Action"] == "failed"
    assert bob["Status"] == "5.1.1"
    assert bob["Remote-MTA"] == "dns; mx.remote.test"
    assert bob["Diagnostic-Code"] == \
        "smtp; 550 5.1.1 <bob@remote.test>: Recipient address rejected"
    assert carol["Final-Recipient"] == "rfc822; carol@remote.test"
    assert carol["Status"] == "5.4.4"
    assert carol["Remote-MTA"] is None
    assert carol["Diagnostic-Code"] is None
    assert text.get_param("charset") == "us-ascii"
    assert "<carol@remote.test>: Host or domain name not found" in \
        text.get_content()
    original = email.message_from_string(headers.get_content(),
                                         policy=email.policy.default)
    assert original["Subject"] == "lunch"
    assert original["Message-ID"] == "<1@example.org>"
    assert "secret body" not in msg.as_string()


def test_injected_text_stays_in_its_field(notices):
    _, _, rcpts, _ = _report(notices["injection"])
    assert len(rcpts) == 1
    (bob,) = rcpts
    assert set(bob.keys()) == {"Final-Recipient", "Action", "Status",
                               "Remote-MTA", "Diagnostic-Code"}
    assert bob["Action"] == "failed"
    assert bob["Final-Recipient"] == "rfc822; bob@remote.test"
    diag = bob["Diagnostic-Code"]
    assert diag.startswith("smtp; 550 5.7.1 no Subject: injected --x ")
    assert all(" " <= c <= "~" for c in diag)
    assert notices["injection"]["Subject"] == \
        "Undelivered Mail Returned to Sender"


def test_delay_warning(notices):
    msg = notices["delayed"]
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    text, _, rcpts, _ = _report(msg)
    assert [r["Action"] for r in rcpts] == ["delayed", "delayed"]
    assert [r["Status"] for r in rcpts] == ["4.4.1", "4.0.0"]
    assert "THIS IS A WARNING ONLY" in text.get_content()


def test_utf8_recipient(notices):
    text, _, rcpts, _ = _report(notices["utf8"])
    assert rcpts[0]["Final-Recipient"] == "utf-8; j\u00f6rg@ex\u00e4mple.test"
    assert text.get_param("charset") == "utf-8"
    assert "<j\u00f6rg@ex\u00e4mple.test>" in text.get_content()


def test_long_header_section_is_cut(notices):
    _, _, _, headers = _report(notices["longheaders"])
    content = headers.get_content()
    assert 60000 < len(content) <= 65536 + 4
    assert content.startswith("X-Long: LLL")
    original = email.message_from_string(content,
                                         policy=email.policy.compat32)
    last = original.keys()[-1]
    assert last.startswith("X-Filler-")
    assert original[last] == "abcdefghijklmnopqrstuvwxyz0123456789"
