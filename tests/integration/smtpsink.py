"""A scripted SMTP server (stdlib only) that plays the next hop of
tlsmta's outbound delivery in the integration tests, and records what
the client did byte by byte.

    sink = SmtpSink("127.0.0.7", 25, starttls=(cert, key),
                    replies={"RCPT": ["451 4.3.0 later", "250 2.1.5 ok"]})
    sink.start()
    ...
    msg, = sink.wait_for_messages(1)
    msg.data            # content after dot-unstuffing, ends with CRLF
    msg.wire            # exact bytes after 354, up to and with CRLF.CRLF
    sink.sessions()[0].tls, .sni, .commands
    sink.stop()

Replies. `replies` maps a command ("CONNECT" is the greeting, "EHLO",
"HELO", "MAIL", "RCPT", "DATA" the 354, "DOT" the reply after the end of
the data, "RSET", "NOOP", "QUIT", "STARTTLS", "AUTH") to
- a string: always that reply ("550 5.1.1 no such user"); a multi-line
  reply is written with "\\n" between lines ("250-a\\n250 b");
- a list: the n-th time the command is seen (counted over every
  connection) gets item n, the last item repeats ("451 then 250");
- a callable f(session, arg) -> str or None (None: the default reply);
  session.index is the connection number (0 for the first), so "4xx on
  the first connection, 250 on the second" is
  `lambda s, a: "451 4.4.0 busy" if s.index == 0 else None`.
The special replies CLOSE (drop the connection without a reply) and
SILENCE (say nothing, keep the connection: a hung server) exist for every
command. A refused command (code >= 400) has no effect (a refused RCPT
adds no recipient, a refused DATA starts no data).

EHLO offers PIPELINING (pipelining=True), SIZE n (size=n),
ENHANCEDSTATUSCODES, 8BITMIME, STARTTLS when starttls=(cert, key) is
given and TLS is not up yet, AUTH PLAIN LOGIN when auth={user: password}
is given (after TLS only, unless auth_before_tls), and `extensions`
(extra keywords). implicit_tls=(cert, key) makes TLS start at connect
(RFC 8314). tls_ciphers="..." limits the TLS 1.2 suites (an OpenSSL
cipher string; TLS 1.3 suites stay Python's defaults); the server side is
Python's ssl with OpenSSL's defaults otherwise (TLS 1.2 and 1.3,
client-initiated renegotiation refused).

starttls_inject=b"..." is written in the same send() as the
"220 ready to start TLS" reply, in plaintext before the handshake (the
STARTTLS response injection of CVE-2011-0411's server-side twin): a
correct client discards it (RFC 3207 4.2). tls_broken=True answers 220
to STARTTLS, then sends a non-TLS line instead of a handshake and closes
(a handshake failure, for "may" falling back to plaintext).

STARTTLS command injection (CVE-2011-0411, the historic Postfix bug):
what a client pipelines after "STARTTLS\r\n" arrives in plaintext before
the handshake. By default the sink discards it (RFC 3207 4.2: it is not
a command), as a correct server does. starttls_vulnerable=True keeps the
bytes that came in the same read as STARTTLS and runs them as commands
inside TLS after the handshake, answering them encrypted: a client that
sends "STARTTLS\r\nNOOP\r\n" in one write then reads a NOOP reply as
the first thing inside TLS. Either way session.pipelined holds those
bytes.

DATA is strict RFC 5321 4.5.2: the data ends only at CRLF "." CRLF (a
"." line right after the 354 too), never at a bare LF; one leading dot
is removed from every line that starts with one. Bare LF / bare CR stay
in `data` as they came (msg.bare_lf tells whether any came at all).

Each connection is a Session (thread-safe snapshots from sessions()):
index, peer, commands (every command line as str, CRLF stripped, in
order; DATA content not included), helo, tls (True once the handshake
ended), tls_version, cipher, sni (server name the client sent, or None),
auth_user, discarded (plaintext bytes the client had sent after
STARTTLS before the handshake: must be empty), pipelined (the same bytes,
also when starttls_vulnerable ran them), messages (Message:
mail_from, rcpts (accepted only), wire, data, reply, tls, sni), closed,
error (exception text if the session ended abnormally).

The server runs one thread per connection; stop() closes the listener
and every connection and joins the threads (bounded).
"""

import base64
import re
import socket
import ssl
import threading
import time

CLOSE = object()      # reply: drop the connection, no reply
SILENCE = object()    # reply: say nothing, keep the connection open
LINE_MAX = 4096       # longer command lines get 500 (RFC 5321 4.5.3.1.4)
DATA_MAX = 64 << 20   # bytes of one message kept (guard against floods)
IO_TIMEOUT = 60.0     # a silent client is dropped after this (seconds)
STOP_TIMEOUT = 10.0

DEFAULT_REPLIES = {
    "CONNECT": "220 {host} ESMTP smtpsink",
    "HELO": "250 {host}",
    "MAIL": "250 2.1.0 Ok",
    "RCPT": "250 2.1.5 Ok",
    "DATA": "354 End data with <CR><LF>.<CR><LF>",
    "DOT": "250 2.0.0 Ok: queued as SINK{n}",
    "RSET": "250 2.0.0 Ok",
    "NOOP": "250 2.0.0 Ok",
    "QUIT": "221 2.0.0 Bye",
    "STARTTLS": "220 2.0.0 Ready to start TLS",
    "VRFY": "252 2.0.0 Send some mail, I'll try my best",
}


class Message:
    """One message the sink accepted (or answered at DOT)."""

    def __init__(self, mail_from, rcpts, wire, tls, sni):
        self.mail_from = mail_from      # reverse-path without <>
        self.mail_params = ""           # text after MAIL FROM:<...>
        self.rcpts = list(rcpts)        # accepted forward-paths, no <>
        self.wire = wire                # bytes after 354 incl. CRLF.CRLF
        self.data = unstuff(wire)       # content, dot-unstuffed
        self.tls = tls
        self.sni = sni
        self.reply = None               # the reply the sink gave at DOT

    @property
    def bare_lf(self):
        """True if a LF not preceded by CR is anywhere on the wire."""
        return re.search(rb"(?<!\r)\n", self.wire) is not None

    def __repr__(self):
        return (f"Message(from={self.mail_from!r}, rcpts={self.rcpts!r}, "
                f"{len(self.data)} bytes, tls={self.tls})")


def unstuff(wire):
    """RFC 5321 4.5.2 receiver side: wire is everything after the 354 up
    to and including CRLF.CRLF (or ".\\r\\n" alone for empty data);
    returns the content without the final "." line, each line's first
    leading dot removed. Lines are split at CRLF only."""
    if wire == b".\r\n":
        return b""
    assert wire.endswith(b"\r\n.\r\n"), wire[-20:]
    body = wire[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


class Session:
    def __init__(self, index, peer):
        self.index = index
        self.peer = peer
        self.commands = []
        self.helo = None
        self.tls = False
        self.tls_version = None
        self.cipher = None
        self.sni = None
        self.auth_user = None
        self.discarded = b""
        self.pipelined = b""
        self.messages = []
        self.closed = False
        self.error = None

    def snapshot(self):
        s = Session(self.index, self.peer)
        s.__dict__.update(self.__dict__)
        s.commands = list(self.commands)
        s.messages = list(self.messages)
        return s

    def __repr__(self):
        return (f"Session({self.index}, tls={self.tls}, sni={self.sni!r}, "
                f"commands={self.commands!r})")


class SinkClosed(Exception):
    """The client went away (or the sink was stopped)."""


class SmtpSink:
    def __init__(self, host="127.0.0.1", port=0, hostname="sink.example.test",
                 replies=None, starttls=None, implicit_tls=False,
                 pipelining=True, size=None, auth=None, auth_before_tls=False,
                 extensions=(), starttls_inject=b"", tls_min=None,
                 tls_broken=False, starttls_vulnerable=False,
                 tls_ciphers=None):
        self.host = host
        self.port = port
        self.hostname = hostname
        self.replies = dict(replies or {})
        self.cert = starttls or (implicit_tls if implicit_tls else None)
        self.offer_starttls = bool(starttls)
        self.implicit_tls = bool(implicit_tls)
        self.pipelining = pipelining
        self.size = size
        self.auth = dict(auth) if auth else None
        self.auth_before_tls = auth_before_tls
        self.extensions = list(extensions)
        self.starttls_inject = starttls_inject
        self.tls_min = tls_min
        self.tls_broken = tls_broken
        self.starttls_vulnerable = starttls_vulnerable
        self.tls_ciphers = tls_ciphers
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._sessions = []
        self._counts = {}
        self._threads = []
        self._socks = set()
        self._listener = None
        self._stopping = False
        self._ctx = self._tls_context() if self.cert else None

    # -- life cycle -----------------------------------------------------

    def start(self):
        """Bind and listen (SO_REUSEADDR); returns self. port 0 picks a
        free port, readable as .port afterwards."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        self._listener = s
        t = threading.Thread(target=self._accept_loop, daemon=True,
                             name=f"smtpsink-{self.host}:{self.port}")
        t.start()
        self._threads.append(t)
        return self

    @property
    def addr(self):
        return (self.host, self.port)

    def stop(self):
        """Stop accepting, close every connection, join every thread
        (each bounded by STOP_TIMEOUT)."""
        with self._lock:
            self._stopping = True
            socks = list(self._socks)
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(STOP_TIMEOUT)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- accessors (thread-safe) ------------------------------------------

    def sessions(self):
        """Snapshots of every session so far, in connection order."""
        with self._lock:
            return [s.snapshot() for s in self._sessions]

    def messages(self):
        """Every message that got a 2xx at DOT, in order."""
        with self._lock:
            return [m for s in self._sessions for m in s.messages
                    if m.reply and m.reply.startswith("2")]

    def all_messages(self):
        """Every message whose data ended, whatever the DOT reply."""
        with self._lock:
            return [m for s in self._sessions for m in s.messages]

    def count(self, command):
        """How often command (e.g. "RCPT") was seen, all sessions."""
        with self._lock:
            return self._counts.get(command, 0)

    def wait_for_messages(self, count=1, timeout=30.0, what=""):
        """Wait (bounded) until count messages were accepted; returns
        them. Raises AssertionError with the transcript otherwise."""
        return self._wait(lambda: len(self.messages()) >= count,
                          self.messages, timeout,
                          f"{count} message(s) {what}")

    def wait_for_sessions(self, count=1, timeout=30.0, closed=True):
        """Wait until count sessions exist (and have ended, if closed)."""
        def ok():
            ss = self.sessions()
            return len(ss) >= count and (not closed or
                                         all(s.closed for s in ss))
        return self._wait(ok, self.sessions, timeout,
                          f"{count} session(s)")

    def _wait(self, ok, result, timeout, what):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ok():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"smtpsink {self.host}:{self.port}: no {what} after "
                        f"{timeout}s; sessions: {self._sessions!r}")
                self._cond.wait(min(left, 0.2))
        return result()

    def transcript(self):
        """Every session's commands, one line each, for failure text."""
        return "\n".join(f"[{s.index} tls={s.tls} sni={s.sni}] "
                         + " | ".join(s.commands) for s in self.sessions())

    # -- TLS -----------------------------------------------------------

    def _tls_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.cert)
        if self.tls_min is not None:
            ctx.minimum_version = self.tls_min
        if self.tls_ciphers is not None:
            ctx.set_ciphers(self.tls_ciphers)
        ctx.sni_callback = self._on_sni
        return ctx

    def _on_sni(self, sslobj, name, ctx):
        sess = getattr(sslobj, "_sink_session", None)
        if sess is not None:
            with self._lock:
                sess.sni = name
        return None

    # -- connections -----------------------------------------------------

    def _accept_loop(self):
        while True:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._stopping:
                    conn.close()
                    return
                sess = Session(len(self._sessions), peer)
                self._sessions.append(sess)
                self._socks.add(conn)
                t = threading.Thread(target=self._serve, args=(conn, sess),
                                     daemon=True)
                self._threads.append(t)
            t.start()

    def _serve(self, conn, sess):
        conn.settimeout(IO_TIMEOUT)
        c = _Conn(self, conn, sess)
        try:
            if self.implicit_tls:
                c.start_tls()
            _Dialogue(self, c, sess).run()
        except Exception as e:   # noqa: BLE001 - recorded for the test
            if not isinstance(e, SinkClosed):
                with self._lock:
                    sess.error = f"{type(e).__name__}: {e}"
        finally:
            with self._cond:
                sess.closed = True
                self._socks.discard(conn)
                self._socks.discard(c.sock)
                self._cond.notify_all()
            c.close()

    def _reply_for(self, sess, command, arg):
        """The scripted reply for command (None: default), counting it."""
        with self._lock:
            n = self._counts.get(command, 0)
            self._counts[command] = n + 1
        spec = self.replies.get(command)
        if callable(spec):
            return spec(sess, arg)
        if isinstance(spec, (list, tuple)):
            return spec[min(n, len(spec) - 1)] if spec else None
        return spec

    def _record(self, sess, fn):
        with self._cond:
            fn(sess)
            self._cond.notify_all()


class _Conn:
    """Line and byte I/O on one connection, plaintext or TLS."""

    def __init__(self, sink, sock, sess):
        self.sink = sink
        self.sock = sock
        self.sess = sess
        self.buf = b""

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise SinkClosed("client silent")
        if not chunk:
            raise SinkClosed("eof")
        self.buf += chunk

    def readline(self):
        """One line up to LF (CRLF expected); None if over LINE_MAX."""
        while b"\n" not in self.buf:
            if len(self.buf) > LINE_MAX:
                self.buf = b""
                return None
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_data(self):
        """Bytes up to and including the first CRLF.CRLF (or ".\\r\\n"
        as the very first line)."""
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                wire, self.buf = self.buf[:3], self.buf[3:]
                return wire
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                wire, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return wire
            if len(self.buf) > DATA_MAX:
                raise SinkClosed("data too large")
            start = max(0, len(self.buf) - 4)
            self._fill()

    def send(self, data):
        self.sock.sendall(data)

    def start_tls(self):
        raw = self.sock
        sslobj = self.sink._ctx.wrap_socket(raw, server_side=True,
                                            do_handshake_on_connect=False)
        sslobj._sink_session = self.sess
        with self.sink._lock:
            self.sink._socks.add(sslobj)
        self.sock = sslobj
        sslobj.do_handshake()
        self.sink._record(self.sess, self._note_tls)

    def _note_tls(self, sess):
        sess.tls = True
        sess.tls_version = self.sock.version()
        sess.cipher = self.sock.cipher()[0]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class _Dialogue:
    """The SMTP server side of one session (RFC 5321 4.1, 4.3.2)."""

    def __init__(self, sink, conn, sess):
        self.sink = sink
        self.c = conn
        self.sess = sess
        self.mail = None          # (reverse-path, params) once MAIL ok
        self.rcpts = []
        self.handlers = {
            "EHLO": self.ehlo, "HELO": self.helo, "MAIL": self.mail_from,
            "RCPT": self.rcpt_to, "DATA": self.data, "RSET": self.rset,
            "NOOP": self.simple, "QUIT": self.quit, "VRFY": self.simple,
            "STARTTLS": self.starttls, "AUTH": self.auth_cmd,
        }

    def run(self):
        self.answer("CONNECT", "", DEFAULT_REPLIES["CONNECT"])
        while True:
            raw = self.c.readline()
            if raw is None:
                self.send_text("500 5.5.2 Line too long")
                continue
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self.sink._record(self.sess,
                              lambda s: s.commands.append(line))
            verb, _, arg = line.partition(" ")
            handler = self.handlers.get(verb.upper())
            if handler is None:
                self.send_text("502 5.5.2 Command not recognized")
                continue
            handler(verb.upper(), arg)

    # -- replies -------------------------------------------------------

    def reply(self, command, arg):
        return self.sink._reply_for(self.sess, command, arg)

    def say(self, scripted, default, extra=b""):
        """Send the scripted reply (or default); returns its code.
        Raises SinkClosed for CLOSE and (after IO_TIMEOUT) SILENCE."""
        text = self.render(default if scripted is None else scripted)
        self.send_text(text, extra)
        return int(text[:3])

    def render(self, text):
        """The reply text with {host} and {n} (messages so far) filled."""
        if text is CLOSE:
            raise SinkClosed("scripted close")
        if text is SILENCE:
            time.sleep(IO_TIMEOUT)
            raise SinkClosed("scripted silence")
        return text.format(host=self.sink.hostname,
                           n=len(self.sink.all_messages()))

    def send_text(self, text, extra=b""):
        data = b"".join(l.encode() + b"\r\n" for l in text.split("\n"))
        self.c.send(data + extra)

    def answer(self, command, arg, default):
        return self.say(self.reply(command, arg), default)

    # -- commands ------------------------------------------------------

    def ehlo_lines(self):
        lines = [f"{self.sink.hostname} greets you"]
        if self.sink.pipelining:
            lines.append("PIPELINING")
        if self.sink.size is not None:
            lines.append(f"SIZE {self.sink.size}")
        lines += ["ENHANCEDSTATUSCODES", "8BITMIME"]
        if self.sink.offer_starttls and not self.sess.tls:
            lines.append("STARTTLS")
        if self.sink.auth and (self.sess.tls or self.sink.auth_before_tls):
            lines.append("AUTH PLAIN LOGIN")
        lines += self.sink.extensions
        return "\n".join(("250-" if i < len(lines) - 1 else "250 ") + l
                         for i, l in enumerate(lines))

    def ehlo(self, verb, arg):
        self.reset()
        if self.answer("EHLO", arg, self.ehlo_lines()) < 400:
            self.sink._record(self.sess, lambda s: setattr(s, "helo", arg))

    def helo(self, verb, arg):
        self.reset()
        if self.answer("HELO", arg, DEFAULT_REPLIES["HELO"]) < 400:
            self.sink._record(self.sess, lambda s: setattr(s, "helo", arg))

    def mail_from(self, verb, arg):
        m = re.match(r"(?i)FROM:\s*<([^>]*)>\s*(.*)$", arg)
        if m is None:
            self.send_text("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        if self.mail is not None:
            self.send_text("503 5.5.1 Error: nested MAIL command")
            return
        if self.answer("MAIL", arg, DEFAULT_REPLIES["MAIL"]) < 400:
            self.mail = (m.group(1), m.group(2))
            self.rcpts = []

    def rcpt_to(self, verb, arg):
        m = re.match(r"(?i)TO:\s*<([^>]*)>", arg)
        if m is None:
            self.send_text("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        if self.mail is None:
            self.send_text("503 5.5.1 Error: need MAIL command")
            return
        if self.answer("RCPT", m.group(1), DEFAULT_REPLIES["RCPT"]) < 400:
            self.rcpts.append(m.group(1))

    def data(self, verb, arg):
        if self.mail is None or not self.rcpts:
            self.send_text("503 5.5.1 Error: need RCPT command"
                           if self.mail else
                           "503 5.5.1 Error: need MAIL command")
            return
        if self.answer("DATA", arg, DEFAULT_REPLIES["DATA"]) >= 400:
            return
        wire = self.c.read_data()
        msg = Message(self.mail[0], self.rcpts, wire, self.sess.tls,
                      self.sess.sni)
        msg.mail_params = self.mail[1]
        scripted = self.reply("DOT", msg)
        self.sink._record(self.sess, lambda s: s.messages.append(msg))
        text = self.render(DEFAULT_REPLIES["DOT"] if scripted is None
                           else scripted)
        self.sink._record(self.sess, lambda s: setattr(msg, "reply", text))
        self.send_text(text)
        self.reset()

    def rset(self, verb, arg):
        self.reset()
        self.answer("RSET", arg, DEFAULT_REPLIES["RSET"])

    def simple(self, verb, arg):
        self.answer(verb, arg, DEFAULT_REPLIES[verb])

    def quit(self, verb, arg):
        self.answer("QUIT", arg, DEFAULT_REPLIES["QUIT"])
        raise SinkClosed("quit")

    def starttls(self, verb, arg):
        if not self.sink.offer_starttls or self.sess.tls:
            self.send_text("502 5.5.1 STARTTLS not available")
            return
        scripted = self.reply("STARTTLS", arg)
        code = self.say(scripted, DEFAULT_REPLIES["STARTTLS"],
                        self.sink.starttls_inject)
        if code >= 400:
            return
        # RFC 3207 4.2: anything the client pipelined after STARTTLS is
        # not a command; keep it for the tests to see, then forget it
        # (or, starttls_vulnerable, run it inside TLS: CVE-2011-0411).
        pending = self.c.buf
        self.c.buf = b""
        self.sink._record(self.sess, lambda s: setattr(s, "pipelined",
                                                       pending))
        if not self.sink.starttls_vulnerable:
            self.sink._record(self.sess,
                              lambda s: setattr(s, "discarded", pending))
        if self.sink.tls_broken:
            self.c.send(b"HTTP/1.0 400 this is not TLS\r\n\r\n")
            raise SinkClosed("tls_broken")
        self.c.start_tls()
        if self.sink.starttls_vulnerable:
            self.c.buf = pending
        self.reset()
        self.sink._record(self.sess, lambda s: setattr(s, "helo", None))

    def auth_cmd(self, verb, arg):
        if not self.sink.auth or not (self.sess.tls or
                                      self.sink.auth_before_tls):
            self.send_text("503 5.5.1 AUTH not available")
            return
        words = arg.split()
        mech = words[0].upper() if words else ""
        initial = words[1] if len(words) > 1 else None
        user_pass = {"PLAIN": self.auth_plain,
                     "LOGIN": self.auth_login}.get(mech)
        if user_pass is None:
            self.send_text("504 5.5.4 Unrecognized authentication type")
            return
        got = user_pass(initial)
        if got is None:
            self.send_text("501 5.5.2 Cannot decode response")
            return
        user, password = got
        scripted = self.reply("AUTH", user)
        if scripted is None and self.sink.auth.get(user) != password:
            scripted = "535 5.7.8 Authentication credentials invalid"
        if self.say(scripted, "235 2.7.0 Authentication successful") < 400:
            self.sink._record(self.sess,
                              lambda s: setattr(s, "auth_user", user))

    def challenge(self, text):
        self.send_text("334 " + base64.b64encode(text).decode())
        raw = self.c.readline() or b""
        return raw.rstrip(b"\r\n")

    def auth_plain(self, initial):
        resp = initial if initial is not None else \
            self.challenge(b"").decode()
        try:
            parts = base64.b64decode(resp, validate=True).split(b"\0")
        except ValueError:
            return None
        if len(parts) != 3:
            return None
        return parts[1].decode(), parts[2].decode()

    def auth_login(self, initial):
        try:
            user = base64.b64decode(initial, validate=True) if initial \
                else base64.b64decode(self.challenge(b"Username:"),
                                      validate=True)
            password = base64.b64decode(self.challenge(b"Password:"),
                                        validate=True)
        except ValueError:
            return None
        return user.decode(), password.decode()

    def reset(self):
        self.mail = None
        self.rcpts = []
