"""Password guessing (RFC 4954 14): failed AUTHs from one client address
are slowed down (auth_failure_delay) and, at auth_failure_limit, answered
421 4.7.0 and disconnected, while another client address still logs in.
Each failure is one log line with the client address and the user name,
which the fail2ban filter in etc/ matches.

Two client addresses on one machine: the client socket is bound to
127.0.0.2 before connecting to the server on 127.0.0.1 (Linux routes all
of 127/8 over loopback)."""

import os
import re
import threading
import time

import pytest

from authkit import PASSWORD, USER, b64, login, plain, tls_session

LIMIT = 3
DELAY = 1
ATTACKER = "127.0.0.1"
OTHER = "127.0.0.2"
VICTIM = "mallory@example.test"    # user name the attacker tries
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAIL2BAN_FILTER = os.path.join(REPO, "etc", "fail2ban", "filter.d",
                               "tlsmta.conf")


@pytest.fixture
def guarded(make_auth_server):
    return make_auth_server(users={USER: PASSWORD}, auth={
        "auth_failure_limit": LIMIT, "auth_failure_delay": DELAY})


def _timed(conn, line):
    t0 = time.monotonic()
    r = conn.cmd(line)
    return r, time.monotonic() - t0


def _guess(conn, n):
    return _timed(conn, f"AUTH PLAIN {plain(VICTIM, f'guess{n}')}")


def _guess_anew(server, n, listener="submission"):
    """One guess on a new connection from ATTACKER; returns the reply
    (and checks the server hangs up after a 421)."""
    c, _ = tls_session(server, listener, source=ATTACKER)
    r, _ = _guess(c, n)
    if r.code == 421:
        assert c.closed_by_peer(5.0), "still connected after 421"
    c.close()
    return r


def _other_logs_in(server, listener="submission"):
    """Meanwhile another client address logs in and may send."""
    c, _ = tls_session(server, listener, source=OTHER)
    r = login(c)
    assert r.code == 235, r
    assert c.cmd(f"MAIL FROM:<{USER}>").code == 250
    c.close()


def test_limit_gives_421_and_disconnect(guarded):
    """Failures 1..N-1 get 535 after the tarpit delay; failure N gets
    421 4.7.0 and the connection is closed by the server."""
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    for n in range(1, LIMIT):
        r, took = _guess(c, n)
        assert (r.code, r.enhanced) == (535, "5.7.8"), (n, r)
        assert took >= DELAY * 0.9, f"failure {n} answered in {took:.2f}s"
    r, _ = _guess(c, LIMIT)
    assert (r.code, r.enhanced) == (421, "4.7.0"), r
    assert c.closed_by_peer(5.0), "still connected after 421"
    c.close()
    _other_logs_in(guarded)


def test_reconnecting_does_not_reset_the_count(guarded):
    """The count is per client address, not per connection: after the
    limit, a new connection from that address gets 421 at its first
    failure (a fresh connection buys no new guesses)."""
    for n in range(LIMIT - 1):
        assert _guess_anew(guarded, n, "submissions").code == 535
    for n in (LIMIT, LIMIT + 1):
        r = _guess_anew(guarded, n)
        assert (r.code, r.enhanced) == (421, "4.7.0"), r
    _other_logs_in(guarded, "submissions")


def test_blocked_address_cannot_keep_guessing(guarded):
    """Past the limit, a new connection from the address gets no more
    guesses: even the right password is not accepted within the window
    (else guessing goes on at the speed of reconnecting, without the
    tarpit), while another address still logs in."""
    for n in range(LIMIT):
        _guess_anew(guarded, n)
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    r = login(c)
    assert (r.code, r.enhanced) == (421, "4.7.0"), r
    c.close()
    _other_logs_in(guarded)


def test_pipelined_guesses_are_tarpitted(guarded):
    """Guesses sent in one write wait like guesses sent one by one."""
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    t0 = time.monotonic()
    c.send("".join(f"AUTH PLAIN {plain(VICTIM, f'guess{n}')}\r\n"
                   for n in range(LIMIT + 2)))
    first = c.reply()
    took = time.monotonic() - t0
    assert (first.code, first.enhanced) == (535, "5.7.8"), first
    assert took >= DELAY * 0.9, f"first pipelined failure after {took:.2f}s"
    codes = [first.code]
    while codes[-1] != 421:
        codes.append(c.reply().code)
    assert codes == [535] * (LIMIT - 1) + [421], codes
    assert c.closed_by_peer(5.0)
    c.close()


def test_client_gone_during_tarpit(guarded):
    """Clients that hang up while their 535 is held: the timer fires on
    a closed session; the server must go on (ASan watches)."""
    for i in range(5):
        c, _ = tls_session(guarded, "submission", source=f"127.0.0.{10 + i}")
        c.send(f"AUTH PLAIN {plain(VICTIM, 'guess')}\r\n")
        time.sleep(0.05)
        c.close()
    time.sleep(DELAY * 1.5)
    assert guarded.alive()
    _other_logs_in(guarded)


def test_tarpit_does_not_stall_other_clients(make_auth_server):
    """While one client waits out its delay, others are served at once
    (the delay is a timer, not a sleep in the event loop)."""
    srv = make_auth_server(users={USER: PASSWORD}, auth={
        "auth_failure_limit": 10, "auth_failure_delay": 3})
    slow, _ = tls_session(srv, "submission", source=ATTACKER)
    slow.send(f"AUTH PLAIN {plain(VICTIM, 'guess')}\r\n")
    t0 = time.monotonic()
    fast, _ = tls_session(srv, "submission", source=OTHER)
    r = login(fast)
    fast_took = time.monotonic() - t0
    assert r.code == 235, r
    fast.close()
    r = slow.reply()
    slow_took = time.monotonic() - t0
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    assert fast_took < 2.0, f"other client waited {fast_took:.2f}s"
    assert slow_took >= 2.5, f"tarpit only {slow_took:.2f}s"
    slow.close()


def test_parallel_connections_share_the_count(guarded):
    """LIMIT connections from one address guessing at the same time do
    not get LIMIT guesses each: in all, at most LIMIT failures are
    answered 535 before 421."""
    conns = [tls_session(guarded, "submission", source=ATTACKER)[0]
             for _ in range(LIMIT + 1)]
    replies = [[] for _ in conns]

    def attack(i, conn):
        for n in range(LIMIT):
            try:
                r, _ = _guess(conn, 100 * i + n)
            except (EOFError, OSError):
                return
            replies[i].append(r)
            if r.code == 421:
                return

    threads = [threading.Thread(target=attack, args=(i, c), daemon=True)
               for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in conns:
        c.close()
    codes = [r.code for rs in replies for r in rs]
    assert set(codes) <= {535, 421}, replies
    assert codes.count(535) <= LIMIT - 1, replies
    assert codes.count(421) >= 1, replies


def test_exchanges_opened_in_parallel_share_the_count(guarded):
    """Many exchanges opened first (each waiting at its 334), passwords
    sent after: only LIMIT - 1 passwords are checked and answered 535;
    the rest are refused before SASL sees them, the right password
    included."""
    n = LIMIT + 4
    conns = [tls_session(guarded, "submission", source=ATTACKER)[0]
             for _ in range(n)]
    for c in conns:
        assert c.cmd("AUTH PLAIN").code == 334
    codes = []
    for i, c in enumerate(conns):
        right = i == n - 1
        r = c.cmd(plain(USER, PASSWORD if right else f"guess{i}"))
        codes.append(r.code)
        c.close()
    assert codes.count(535) == LIMIT - 1, codes
    assert codes[LIMIT - 1:] == [421] * (n - LIMIT + 1), codes
    assert 235 not in codes


def _failure_lines(server, user):
    return [line for line in server.log().splitlines()
            if ATTACKER in line and user in line]


def test_each_failure_logged_with_address_and_user(guarded):
    """PLAIN and LOGIN failures alike, the last one (421) included."""
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    for n in range(LIMIT - 1):
        assert _guess(c, n)[0].code == 535
    c.close()
    c, _ = tls_session(guarded, "submissions", source=ATTACKER)
    assert c.cmd("AUTH LOGIN").code == 334
    assert c.cmd(b64(VICTIM)).code == 334
    assert c.cmd(b64("wrong")).code == 421
    c.close()
    time.sleep(0.3)
    lines = _failure_lines(guarded, VICTIM)
    assert len(lines) >= LIMIT, "\n".join(lines) + "\n" + guarded.log()


def test_user_name_cannot_forge_log_lines(guarded):
    """A user name with CR/LF must not start a log line of its own that
    a log watcher (fail2ban) would read as another client's failure."""
    forged = "x\nFORGED failure for 192.0.2.66 user=root\r\nFORGED2 y"
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    r = c.cmd(f"AUTH PLAIN {plain(forged, 'guess')}")
    assert r.code in (535, 501), r
    c.close()
    time.sleep(0.3)
    for line in guarded.log().splitlines():
        assert not line.startswith("FORGED"), guarded.log()


# -- the fail2ban filter (etc/fail2ban/filter.d/tlsmta.conf) -----------

def _fail2ban_regexes(path):
    """failregex lines of a fail2ban filter as Python regexes: <HOST> and
    friends become a named group 'host', <F-USER>...</F-USER> a group
    'user', %(__prefix_line)s anything before the message."""
    text = open(path).read()
    m = re.search(r"^failregex\s*=\s*(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert m, f"no failregex in {path}"
    regexes = []
    for raw in m.group(1).splitlines():
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        raw = re.sub(r"%\(_*prefix_line\)s", ".*?", raw)
        raw = re.sub(r"%\(\w+\)s", ".*?", raw)
        raw = raw.replace("<HOST>", r"(?P<host>[0-9A-Fa-f.:]+)")
        raw = raw.replace("<ADDR>", r"(?P<host>[0-9A-Fa-f.:]+)")
        raw = raw.replace("<IP4>", r"(?P<host>[0-9.]+)")
        raw = re.sub(r"<F-USER>(.*?)</F-USER>", r"(?P<user>\1)", raw)
        raw = re.sub(r"</?F-\w+>", "", raw)
        regexes.append(re.compile(raw))
    return regexes


def test_fail2ban_filter_matches_failures(guarded):
    if not os.path.exists(FAIL2BAN_FILTER):
        pytest.skip("etc/fail2ban/filter.d/tlsmta.conf not written yet")
    regexes = _fail2ban_regexes(FAIL2BAN_FILTER)
    c, _ = tls_session(guarded, "submission", source=ATTACKER)
    for n in range(LIMIT - 1):
        _guess(c, n)
    assert login(c).code == 235
    c.close()
    hosts = []
    for line in guarded.log().splitlines():
        for rx in regexes:
            m = rx.search(line)
            if m:
                hosts.append(m.group("host"))
                break
    assert hosts == [ATTACKER] * (LIMIT - 1), (hosts, guarded.log())
