"""SMTP AUTH checked by a real saslauthd (Debian sasl2-bin), the daemon of
the classic Sendmail TLS how-to: tlsmta's SASL config file (in its own
sasl_config_dir) says "pwcheck_method: saslauthd", and saslauthd, started
per module with its own socket directory (tests/integration/saslauthd.py),
checks each password against a test IMAP backend (-a rimap).

The server's sasldb holds the same login with another password, so a
login that works with the saslauthd password proves which path was
taken."""

import subprocess

import pytest

from authkit import b64, login, plain, smtplib_session, tls_session
from saslauthd import Saslauthd
from smtpwire import CLIENT_NAME, queue_id, sample_message, transaction

USER = "alice@example.test"
PASSWORD = "imap secret 42"          # smtplib encodes passwords as ASCII
UTF8_USER = "jose@example.test"
UTF8_PASSWORD = "contrase\u00f1a \u00e9t\u00e9"
SASLDB_PASSWORD = "sasldb password"
FOREIGN_RCPT = "carol@example.org"


@pytest.fixture(scope="module")
def saslauthd():
    daemon = Saslauthd({USER: PASSWORD, UTF8_USER: UTF8_PASSWORD}).start()
    yield daemon
    daemon.stop()


@pytest.fixture
def sa_server(make_auth_server, saslauthd):
    return make_auth_server(users={USER: SASLDB_PASSWORD},
                            sasl_conf=saslauthd.sasl_conf_text())


def test_saslauthd_answers(saslauthd):
    """The daemon itself, through Cyrus' own client testsaslauthd."""
    assert saslauthd.check(USER, PASSWORD)
    assert not saslauthd.check(USER, "wrong")


@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_smtplib_login_through_saslauthd(sa_server, saslauthd, listener):
    c = smtplib_session(sa_server, listener)
    before = len(saslauthd.logins)
    code, text = c.login(USER, PASSWORD)
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    assert saslauthd.logins[before:] == [(USER, PASSWORD, True)]
    message = sample_message(f"saslauthd-{listener}", sender=USER,
                             rcpt=FOREIGN_RCPT)
    assert c.sendmail(USER, [FOREIGN_RCPT], message) == {}
    c.quit()


def test_wrong_password_through_saslauthd(sa_server, saslauthd):
    c, _ = tls_session(sa_server)
    before = len(saslauthd.logins)
    r = c.cmd(f"AUTH PLAIN {plain(USER, 'wrong')}")
    assert (r.code, r.text) == (535, "5.7.8 Authentication credentials "
                                "invalid"), r
    assert saslauthd.logins[before:] == [(USER, "wrong", False)]
    # The sasldb password is not consulted under pwcheck_method saslauthd.
    r = login(c, USER, SASLDB_PASSWORD)
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    assert login(c, USER, PASSWORD).code == 235
    c.close()


def test_login_mechanism_through_saslauthd(sa_server, saslauthd):
    c, _ = tls_session(sa_server, "submissions")
    assert c.cmd("AUTH LOGIN").code == 334
    assert c.cmd(b64(USER)).code == 334
    r = c.cmd(b64(PASSWORD))
    assert (r.code, r.enhanced) == (235, "2.7.0"), r
    message = sample_message("saslauthd-login", sender=USER,
                             rcpt=FOREIGN_RCPT)
    queue_id(transaction(c, USER, [FOREIGN_RCPT], message))
    c.close()


def test_utf8_password_through_saslauthd(sa_server, saslauthd):
    """UTF-8 bytes reach the backend unchanged (RFC 4616 PLAIN is UTF-8)."""
    c, _ = tls_session(sa_server, "submissions")
    r = login(c, UTF8_USER, UTF8_PASSWORD)
    assert (r.code, r.enhanced) == (235, "2.7.0"), r
    assert (UTF8_USER, UTF8_PASSWORD, True) in saslauthd.logins
    c.close()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_through_saslauthd(sa_server, saslauthd, mech):
    host, port = sa_server.addr("submission")
    p = subprocess.run(
        ["swaks", "--server", f"{host}:{port}", "--tls", "--auth", mech,
         "--auth-user", USER, "--auth-password", PASSWORD,
         "--helo", CLIENT_NAME, "--from", USER, "--to", FOREIGN_RCPT,
         "--timeout", "20"],
        capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, f"swaks exit {p.returncode}\n{out}\n{p.stderr}"
    assert "<~  235 2.7.0 Authentication successful" in out, out
    assert (USER, PASSWORD, True) in saslauthd.logins


def test_saslauthd_down_fails_closed(make_auth_server):
    """With saslauthd gone no login succeeds. (tlsmta answers 535, as
    libsasl reports an unreachable saslauthd as a generic SASL_FAIL;
    454 4.7.0 would be the kinder answer.)"""
    daemon = Saslauthd({USER: PASSWORD}).start()
    try:
        srv = make_auth_server(sasl_conf=daemon.sasl_conf_text())
    finally:
        daemon.stop()
    c, _ = tls_session(srv)
    r = login(c, USER, PASSWORD)
    assert (r.code, r.enhanced) in [(454, "4.7.0"), (535, "5.7.8")], r
    c.close()
