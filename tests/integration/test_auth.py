"""SMTP AUTH (RFC 4954) through Cyrus SASL with the sasldb backend (users
made with `tlsmta user add`): smtplib and swaks logins over STARTTLS and
implicit TLS, the exact replies of every failure, AUTH only after TLS,
auth = required, relay and Received (RFC 3848 ESMTPSA) once logged in,
and sender_login_maps.

Listeners (authkit.AUTH_MODES): mx = STARTTLS + auth optional,
submission = STARTTLS required + auth required, submissions = implicit
TLS + auth required, plain = no TLS, auth off."""

import base64
import os
import smtplib
import subprocess

import pytest

from authkit import (PASSWORD, USER, ScramSha256, auth_mechanisms, b64,
                     del_user, login, plain, smtplib_session, tls_session,
                     user_cmd)
from smtpwire import (CLIENT_NAME, Delivered, RawSMTP, queue_id,
                      sample_message, transaction)

LOCAL_RCPT = "bob@example.test"
FOREIGN_RCPT = "carol@example.org"       # not in local_domains
MECHS = ["PLAIN", "LOGIN"]


def _received(server, user, count=1):
    data = server.wait_for_messages(user, count)[-1]
    return Delivered(data).received


# -- advertising and AUTH before TLS ------------------------------------

@pytest.mark.parametrize("listener", ["mx", "submission"])
def test_auth_advertised_only_after_starttls(auth_server, listener):
    c = RawSMTP(auth_server.addr(listener))
    before = c.ehlo()
    assert auth_mechanisms(before) is None, before
    assert not any(k.startswith("AUTH") for k in before.keywords), before
    c.starttls()
    after = c.ehlo()
    assert auth_mechanisms(after) == MECHS, after
    c.close()


def test_auth_advertised_on_implicit_tls(auth_server):
    c, ehlo = tls_session(auth_server, "submissions")
    assert auth_mechanisms(ehlo) == MECHS, ehlo
    c.close()


# Before TLS: 538 (RFC 4954 4) where TLS is optional; on a listener that
# requires TLS, RFC 3207 4's 530 comes first (docs/config.md).
BEFORE_TLS = {
    "mx": (538, "5.7.11 Encryption required for requested authentication "
                "mechanism"),
    "submission": (530, "5.7.0 Must issue a STARTTLS command first"),
}


@pytest.mark.parametrize("listener", sorted(BEFORE_TLS))
def test_auth_before_tls_refused(auth_server, listener):
    """Never in plaintext, whatever the listener; the credentials are
    not checked, and the session can still log in after STARTTLS."""
    code, text = BEFORE_TLS[listener]
    c = RawSMTP(auth_server.addr(listener))
    c.ehlo()
    r = login(c)
    assert (r.code, r.text) == (code, text), r
    r = c.cmd("AUTH LOGIN")
    assert (r.code, r.text) == (code, text), r
    assert c.pending(0.3) == b"", "a 334 after the refusal"
    c.starttls()
    c.ehlo()
    r = login(c)
    assert (r.code, r.text) == (235, "2.7.0 Authentication successful"), r
    c.close()
    assert "auth failed" not in auth_server.log(), auth_server.log()


def test_auth_off_listener(make_auth_server):
    """auth = off: not advertised after TLS, and AUTH gets 503 5.5.1."""
    srv = make_auth_server(users={USER: PASSWORD},
                           modes={"mx": "off", "submission": "required"})
    c, ehlo = tls_session(srv, "mx")
    assert auth_mechanisms(ehlo) is None, ehlo
    r = login(c)
    assert (r.code, r.enhanced) == (503, "5.5.1"), r
    c.close()


# -- successful logins: smtplib ------------------------------------------

@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_smtplib_login_and_relay(auth_server, listener):
    """smtplib.login() over STARTTLS (587 style) and implicit TLS (465
    style); then mail to a local and a foreign recipient is accepted. The
    foreign copy waits in the queue (no outbound delivery yet)."""
    c = smtplib_session(auth_server, listener)
    assert c.has_extn("auth")
    code, text = c.login(USER, PASSWORD)
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    message = sample_message(f"auth-{listener}", sender=USER,
                             rcpt=LOCAL_RCPT)
    assert c.sendmail(USER, [LOCAL_RCPT, FOREIGN_RCPT], message) == {}
    c.quit()
    received = _received(auth_server, "bob")
    assert "with ESMTPSA" in received, received
    assert USER not in received, "login named although " \
        "received_auth_user is off: " + received


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("initial", [True, False])
def test_smtplib_mechanisms(auth_server, mech, initial):
    """Each mechanism, with and without an initial response (smtplib
    sends "AUTH PLAIN <b64>" / "AUTH LOGIN <b64 user>", or waits for the
    first 334)."""
    c = smtplib_session(auth_server, "submission")
    c.user, c.password = USER, PASSWORD
    method = {"PLAIN": c.auth_plain, "LOGIN": c.auth_login}[mech]
    code, text = c.auth(mech, method, initial_response_ok=initial)
    assert (code, text) == (235, b"2.7.0 Authentication successful")
    c.quit()


def test_smtplib_wrong_password(auth_server):
    c = smtplib_session(auth_server, "submissions")
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        c.login(USER, "wrong")
    assert e.value.smtp_code == 535
    assert e.value.smtp_error == b"5.7.8 Authentication credentials invalid"
    c.close()


# -- swaks ------------------------------------------------------------------

@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("listener,tls_flag", [
    ("submission", "--tls"), ("submissions", "--tls-on-connect")])
def test_swaks_auth(auth_server, mech, listener, tls_flag):
    host, port = auth_server.addr(listener)
    p = subprocess.run(
        ["swaks", "--server", f"{host}:{port}", tls_flag,
         "--auth", mech, "--auth-user", USER, "--auth-password", PASSWORD,
         "--helo", CLIENT_NAME, "--from", USER, "--to", FOREIGN_RCPT,
         "--timeout", "20"],
        capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, f"swaks exit {p.returncode}\n{out}\n{p.stderr}"
    assert f"~> AUTH {mech}" in out, out
    assert "<~  235 2.7.0 Authentication successful" in out, out
    assert "<~  250 2.0.0 Ok: queued as " in out, out


def test_swaks_wrong_password(auth_server):
    host, port = auth_server.addr("submission")
    p = subprocess.run(
        ["swaks", "--server", f"{host}:{port}", "--tls", "--auth", "LOGIN",
         "--auth-user", USER, "--auth-password", "wrong",
         "--helo", CLIENT_NAME, "--from", USER, "--to", FOREIGN_RCPT,
         "--timeout", "20"],
        capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode != 0, out
    assert "<~* 535 5.7.8 Authentication credentials invalid" in out, out


# -- the exchange, reply by reply ----------------------------------------

def _ok(r):
    assert (r.code, r.text) == (235, "2.7.0 Authentication successful"), r


def test_plain_without_initial_response(auth_server):
    c, _ = tls_session(auth_server)
    r = c.cmd("AUTH PLAIN")
    assert r.code == 334 and r.text.strip() == "", r
    _ok(c.cmd(plain(USER, PASSWORD)))
    c.close()


def test_login_challenges(auth_server):
    c, _ = tls_session(auth_server)
    r = c.cmd("AUTH LOGIN")
    assert (r.code, r.text) == (334, b64("Username:")), r
    r = c.cmd(b64(USER))
    assert (r.code, r.text) == (334, b64("Password:")), r
    _ok(c.cmd(b64(PASSWORD)))
    c.close()


def test_mechanism_name_case_insensitive(auth_server):
    c, _ = tls_session(auth_server)
    _ok(c.cmd(f"auth plain {plain(USER, PASSWORD)}"))
    c.close()


# Failed exchanges: (id, commands answered 334, last command, reply code,
# enhanced code). After each, the session must be clean: a new AUTH with
# any mechanism succeeds (RFC 4954 4).
WRONG = "5.7.8"
FAILED_EXCHANGES = [
    ("wrong-password", [], f"AUTH PLAIN {plain(USER, 'wrong')}", 535, WRONG),
    ("password-case", [], f"AUTH PLAIN {plain(USER, PASSWORD.upper())}",
     535, WRONG),
    ("unknown-user", [],
     f"AUTH PLAIN {plain('nobody@example.test', PASSWORD)}", 535, WRONG),
    # alice's password asking to act as bob (RFC 4616 authzid).
    ("foreign-authzid", [],
     f"AUTH PLAIN {plain(USER, PASSWORD, 'bob@example.test')}", 535, WRONG),
    ("login-wrong", ["AUTH LOGIN", b64(USER)], b64("wrong"), 535, WRONG),
    # '=' is an initial response of zero length, not bad base64; an empty
    # PLAIN message carries no credentials.
    ("empty-initial", [], "AUTH PLAIN =", 535, WRONG),
    ("cancel-login", ["AUTH LOGIN"], "*", 501, "5.7.0"),
    ("cancel-login-password", [f"AUTH LOGIN {b64(USER)}"], "*", 501,
     "5.7.0"),
    ("cancel-plain", ["AUTH PLAIN"], "*", 501, "5.7.0"),
    ("bad-b64-initial", [], "AUTH PLAIN !!!notbase64!!!", 501, "5.5.2"),
    ("bad-b64-padding", [], "AUTH PLAIN YWxpY2U", 501, "5.5.2"),
    ("bad-b64-inner-pad", [], "AUTH PLAIN YW=xp", 501, "5.5.2"),
    ("bad-b64-response", ["AUTH LOGIN"], "@@not base64@@", 501, "5.5.2"),
    ("unknown-mech", [], "AUTH FOOBAR", 504, "5.5.4"),
    ("unoffered-cram-md5", [], "AUTH CRAM-MD5", 504, "5.5.4"),
    ("unoffered-gssapi", [], "AUTH GSSAPI", 504, "5.5.4"),
    ("no-mech", [], "AUTH", 501, "5.5.4"),
    # RFC 4954 4: a response longer than the server takes (12288 octets).
    ("response-too-long", ["AUTH LOGIN"], "A" * 13000, 500, "5.5.6"),
]


@pytest.mark.parametrize("steps,last,code,enhanced",
                         [f[1:] for f in FAILED_EXCHANGES],
                         ids=[f[0] for f in FAILED_EXCHANGES])
def test_failed_exchange_then_clean(auth_server, steps, last, code,
                                    enhanced):
    c, _ = tls_session(auth_server)
    for step in steps:
        r = c.cmd(step)
        assert r.code == 334, (step, r)
    r = c.cmd(last)
    assert (r.code, r.enhanced) == (code, enhanced), r
    if code == 535:
        assert r.text == "5.7.8 Authentication credentials invalid", r
    if last == "*":
        assert "aborted" in r.text.lower(), r
    _ok(login(c))
    c.close()


def test_authzid_same_as_login(auth_server):
    """RFC 4616: an authzid equal to the login is the login itself."""
    c, _ = tls_session(auth_server)
    _ok(c.cmd(f"AUTH PLAIN {plain(USER, PASSWORD, USER)}"))
    c.close()


def test_auth_twice_503(auth_server):
    """One successful AUTH per session; EHLO and RSET keep it."""
    c, _ = tls_session(auth_server)
    _ok(login(c))
    r = login(c)
    assert (r.code, r.enhanced) == (503, "5.5.1"), r
    c.ehlo()
    assert c.cmd("RSET").code == 250
    assert c.cmd(f"MAIL FROM:<{USER}>").code == 250
    r = c.cmd("AUTH LOGIN")
    assert (r.code, r.enhanced) == (503, "5.5.1"), r
    c.close()


def test_auth_inside_transaction_503(auth_server):
    """On the optional listener a client may start a transaction without
    AUTH; AUTH inside it is refused, and accepted after RSET."""
    c, _ = tls_session(auth_server, "mx")
    assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
    r = login(c)
    assert (r.code, r.enhanced) == (503, "5.5.1"), r
    assert c.cmd("RSET").code == 250
    _ok(login(c))
    c.close()


# -- what AUTH grants -----------------------------------------------------

@pytest.mark.parametrize("listener", ["submission", "submissions"])
def test_auth_required_530_before_login(auth_server, listener):
    c, _ = tls_session(auth_server, listener)
    r = c.cmd(f"MAIL FROM:<{USER}>")
    assert (r.code, r.text) == (530, "5.7.0 Authentication required"), r
    _ok(login(c))
    assert c.cmd(f"MAIL FROM:<{USER}>").code == 250
    c.close()


def test_relay_only_after_auth(auth_server):
    """mx (auth optional): before AUTH a foreign recipient is refused
    (never an open relay); after AUTH in a new session it is accepted and
    the message is queued."""
    c, _ = tls_session(auth_server, "mx")
    assert c.cmd(f"MAIL FROM:<{USER}>").code == 250
    r = c.cmd(f"RCPT TO:<{FOREIGN_RCPT}>")
    assert (r.code, r.enhanced) == (554, "5.7.1"), r
    c.close()

    c, _ = tls_session(auth_server, "mx")
    _ok(login(c))
    message = sample_message("auth-relay", sender=USER, rcpt=FOREIGN_RCPT)
    queue_id(transaction(c, USER, [FOREIGN_RCPT], message))
    c.close()


def test_received_names_user_when_configured(make_auth_server):
    srv = make_auth_server(users={USER: PASSWORD},
                           auth={"received_auth_user": "yes"})
    c, _ = tls_session(srv, "submission")
    _ok(login(c))
    message = sample_message("auth-received", sender=USER, rcpt=LOCAL_RCPT)
    queue_id(transaction(c, USER, [LOCAL_RCPT], message))
    c.close()
    received = _received(srv, "bob")
    assert "with ESMTPSA" in received, received
    assert USER in received, received


def test_unauthenticated_received_is_esmtps(auth_server):
    """Without AUTH the mx session stays ESMTPS (no 'A')."""
    c, _ = tls_session(auth_server, "mx")
    message = sample_message("noauth", rcpt=LOCAL_RCPT)
    queue_id(transaction(c, "someone@example.org", [LOCAL_RCPT], message))
    c.close()
    received = _received(auth_server, "bob")
    assert "with ESMTPS " in received + " ", received
    assert "ESMTPSA" not in received, received


# -- sender_login_maps ------------------------------------------------------

BOB = "bob@example.test"
LOGINS = {USER: PASSWORD, BOB: "bobs password"}
# A sender each login may use, to show the session goes on after a 553.
ALLOWED = {USER: USER, BOB: "anyone@example.net"}


SENDER_MAP = """# sender-address login[,login...]
alice@example.test  alice@example.test
shared@example.test alice@example.test,bob@example.test
@example.net        bob@example.test
"""


@pytest.fixture
def map_server(make_auth_server, tmp_path):
    path = tmp_path / "sender_login_maps"
    path.write_text(SENDER_MAP)
    return make_auth_server(
        users=LOGINS,
        auth={"sender_login_maps": str(path)})


@pytest.mark.parametrize("user,sender,code", [
    (USER, USER, 250),
    (USER, "Alice@Example.TEST", 250),
    (USER, "shared@example.test", 250),
    (BOB, "shared@example.test", 250),
    (BOB, "anyone@example.net", 250),
    (BOB, USER, 553),
    (USER, "anyone@example.net", 553),
    (USER, "carol@example.test", 553),
])
def test_sender_login_maps(map_server, user, sender, code):
    """Postfix reject_sender_login_mismatch semantics: an authenticated
    login may use only the senders the map gives it."""
    c, _ = tls_session(map_server)
    _ok(login(c, user, LOGINS[user]))
    r = c.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == code, r
    if code == 553:
        assert r.enhanced == "5.7.1", r
        # The session goes on: an allowed sender is still accepted.
        assert c.cmd(f"MAIL FROM:<{ALLOWED[user]}>").code == 250
    c.close()


# -- tlsmta user add / del ---------------------------------------------------

def test_user_add_and_del(auth_server):
    """`tlsmta user add` reads the password from stdin; `user del` removes
    the login at once (sasldb is read per attempt)."""
    name, password = "dave@example.test", "pa ss:w\u00f6rd"
    p = user_cmd(auth_server, "add", name, password)
    assert p.returncode == 0, p
    c, _ = tls_session(auth_server)
    _ok(login(c, name, password))
    c.close()

    del_user(auth_server, name)
    c, _ = tls_session(auth_server)
    r = login(c, name, password)
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    _ok(login(c))
    c.close()


def test_user_cli_refusals(auth_server):
    """No empty password; no password on the command line; deleting an
    unknown user is an error."""
    p = user_cmd(auth_server, "add", "empty@example.test", "")
    assert p.returncode != 0, p
    p = subprocess.run(
        [auth_server.binary, "user", "add", "eve@example.test", "argvpass",
         "-c", auth_server.config_path],
        input=b"argvpass\n", capture_output=True, timeout=30)
    assert p.returncode != 0, p
    p = user_cmd(auth_server, "del", "nobody@example.test")
    assert p.returncode != 0, p
    c, _ = tls_session(auth_server)
    for user, password in [("empty@example.test", ""),
                           ("eve@example.test", "argvpass")]:
        assert login(c, user, password).code == 535
    c.close()


def test_sasldb_not_world_readable(auth_server):
    """The sasldb holds the passwords in clear (for CRAM/SCRAM)."""
    path = auth_server.sections["auth"]["sasldb_path"]
    mode = os.stat(path).st_mode
    assert mode & 0o007 == 0, oct(mode)


def test_user_add_replaces_password(auth_server):
    p = user_cmd(auth_server, "add", USER, "new password")
    assert p.returncode == 0, p
    c, _ = tls_session(auth_server)
    assert login(c).code == 535
    _ok(login(c, USER, "new password"))
    c.close()


# -- mechanisms: configuration and SCRAM -----------------------------------

def test_mechanisms_key_limits_offer(make_auth_server):
    srv = make_auth_server(users={USER: PASSWORD},
                           auth={"mechanisms": "PLAIN"})
    c, ehlo = tls_session(srv)
    assert auth_mechanisms(ehlo) == ["PLAIN"], ehlo
    r = c.cmd("AUTH LOGIN")
    assert (r.code, r.enhanced) == (504, "5.5.4"), r
    _ok(login(c))
    c.close()


def test_sasl_mech_list_limits_offer(make_auth_server):
    """The SASL config decides too: mechanisms is intersected with what
    SASL offers (here its mech_list)."""
    srv = make_auth_server(
        users={USER: PASSWORD},
        sasl_conf="pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                  "sasldb_path: {sasldb_path}\nmech_list: LOGIN\n")
    c, ehlo = tls_session(srv)
    assert auth_mechanisms(ehlo) == ["LOGIN"], ehlo
    assert c.cmd(f"AUTH PLAIN {plain(USER, PASSWORD)}").code == 504
    c.close()


@pytest.fixture
def scram_server(make_auth_server):
    return make_auth_server(
        users={USER: PASSWORD},
        auth={"mechanisms": "SCRAM-SHA-256 PLAIN LOGIN"})


def _scram(c, user, password):
    """Run SCRAM-SHA-256 up to the client-final message; returns the
    client and the reply to the client-final message."""
    scram = ScramSha256(user, password)
    r = c.cmd(f"AUTH SCRAM-SHA-256 {b64(scram.first())}")
    assert r.code == 334, r
    server_first = base64.b64decode(r.text).decode()
    return scram, c.cmd(b64(scram.final(server_first)))


def test_scram_sha256_with_sasldb(scram_server):
    """A challenge-response mechanism with a server-first exchange and
    additional data with success: the server's proof comes in a 334
    (RFC 4954 4), the client answers with an empty line, then 235."""
    c, ehlo = tls_session(scram_server)
    assert "SCRAM-SHA-256" in auth_mechanisms(ehlo), ehlo
    scram, r = _scram(c, USER, PASSWORD)
    assert r.code == 334, f"server proof not sent in a 334: {r}"
    assert scram.verify(base64.b64decode(r.text).decode()), r
    _ok(c.cmd(""))
    assert c.cmd(f"MAIL FROM:<{USER}>").code == 250
    c.close()


def test_scram_sha256_wrong_password(scram_server):
    c, _ = tls_session(scram_server)
    _, r = _scram(c, USER, "wrong")
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    _ok(login(c))
    c.close()
