"""SMTP on the wire for the tests: a raw line client that sees every byte,
client TLS contexts, test messages and the parser of delivered files.

The raw client is deliberately dumb: it sends exactly the bytes it is
given (so tests can pipeline, split, or inject) and reads replies per
RFC 5321 4.2 ("NNN-" continuation lines, "NNN " last line).
"""

import re
import socket
import ssl
import time

REPLY_TIMEOUT = 15.0
CLIENT_NAME = "client.example"


def client_context(minimum=None, maximum=None, ciphers=None):
    """A client SSLContext that does not verify (self-signed test certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


class Reply:
    """One (possibly multi-line) SMTP reply."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # text after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The RFC 3463 code of the last line ("5.7.1"), or None."""
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})(\s|$)", self.lines[-1])
        return m.group(1) if m else None

    @property
    def keywords(self):
        """EHLO keywords (upper case), from the lines after the first."""
        return {line.split()[0].upper() for line in self.lines[1:] if line}

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"


class RawSMTP:
    """A byte-exact SMTP client over a socket, plaintext or TLS."""

    def __init__(self, addr, implicit_tls=False, ctx=None,
                 timeout=REPLY_TIMEOUT, read_greeting=True):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.buf = b""
        self.tls = False
        if implicit_tls:
            self.sock = (ctx or client_context()).wrap_socket(self.sock)
            self.tls = True
        self.greeting = self.reply() if read_greeting else None

    # -- bytes ---------------------------------------------------------

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed; unread {self.buf!r}")
        self.buf += chunk

    def readline(self):
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def pending(self, wait=0.5):
        """Whatever arrives within wait seconds (plus what is buffered),
        without blocking longer; b"" if nothing. EOF is not an error."""
        got, self.buf = self.buf, b""
        old = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (socket.timeout, TimeoutError):
            pass
        except ssl.SSLError:
            pass
        finally:
            self.sock.settimeout(old)
        return got

    def closed_by_peer(self, wait=5.0):
        """True if the server closes the connection within wait seconds
        (everything received meanwhile is kept in self.buf)."""
        deadline = time.monotonic() + wait
        old = self.sock.gettimeout()
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = self.sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    return False
                except (ConnectionResetError, ssl.SSLError):
                    return True
                if not chunk:
                    return True
                self.buf += chunk
            return False
        finally:
            self.sock.settimeout(old)

    # -- replies -------------------------------------------------------

    def reply(self):
        lines = []
        while True:
            raw = self.readline()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            m = re.match(r"(\d{3})([ -])(.*)$", line) or \
                re.match(r"(\d{3})()$", line)
            assert m, f"malformed reply line {raw!r}"
            lines.append(m.group(3) if m.lastindex >= 3 else "")
            if m.group(2) != "-":
                return Reply(int(m.group(1)), lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def ehlo(self, name=CLIENT_NAME):
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, r
        return r

    def starttls(self, ctx=None):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert self.buf == b"", f"bytes after 220: {self.buf!r}"
        self.handshake(ctx)
        return r

    def handshake(self, ctx=None):
        self.sock = (ctx or client_context()).wrap_socket(self.sock)
        self.tls = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def transaction(conn, sender, rcpts, message):
    """MAIL, RCPT..., DATA, dot-stuffed content, "."; returns the final
    reply. Fails the test on any unexpected intermediate reply."""
    r = conn.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 250, r
    for rcpt in rcpts:
        r = conn.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code == 250, r
    r = conn.cmd("DATA")
    assert r.code == 354, r
    conn.send(dot_stuff(message) + b".\r\n")
    return conn.reply()


def send_data(conn, message):
    """DATA, then message (CRLF lines, dot-stuffed here), then "."; returns
    the queue id of the 250 reply (fails the test otherwise)."""
    r = conn.cmd("DATA")
    assert r.code == 354, r
    conn.send(dot_stuff(message) + b".\r\n")
    return queue_id(conn.reply())


def dot_stuff(message):
    """RFC 5321 4.5.2 transparency; message must end with CRLF."""
    assert message.endswith(b"\r\n")
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in lines)


QUEUED_RE = re.compile(r"^2\.0\.0 Ok: queued as (\S+)$")


def queue_id(reply):
    """The queue id of a "250 2.0.0 Ok: queued as ID" reply."""
    assert reply.code == 250, reply
    m = QUEUED_RE.match(reply.lines[-1])
    assert m, f"not a 'queued as' reply: {reply}"
    return m.group(1)


# -- messages -----------------------------------------------------------

def sample_message(tag, sender="bob@example.org", rcpt="alice@example.test"):
    """A message (CRLF lines) that exercises byte exactness: dots at line
    starts, trailing white space, tabs, empty lines, 8-bit bytes, a line
    of 998 octets (RFC 5322 2.1.1) and a final line without text."""
    lines = [
        f"From: Bob <{sender}>",
        f"To: Alice <{rcpt}>",
        f"Subject: test {tag}",
        f"Message-ID: <{tag}@client.example>",
        "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        f"Hello, this is {tag}.",
        ".a line starting with a dot",
        "..two dots",
        ".",
        "trailing spaces   ",
        "\ttab-indented",
        "",
        "",
        "caf\u00e9 \u00fcml\u00e4ut",
        "x" * 998,
        "-- ",
        "end",
    ]
    return "\r\n".join(lines).encode("utf-8") + b"\r\n"


def unix_lines(message):
    """What the Maildir copy of message looks like: CRLF -> LF."""
    return message.replace(b"\r\n", b"\n")


class Delivered:
    """A delivered Maildir file split into the three prepended header
    fields (Return-Path, Delivered-To, Received) and the message."""

    PREPENDED = ("return-path", "delivered-to", "received")

    def __init__(self, data):
        self.raw = data
        self.fields = {}
        rest = data
        for _ in self.PREPENDED:
            name, value, rest = _take_field(rest)
            self.fields[name.lower()] = value
        assert set(self.fields) == set(self.PREPENDED), (
            f"prepended fields {list(self.fields)} in {data[:600]!r}")
        self.body = rest

    @property
    def return_path(self):
        return self.fields["return-path"]

    @property
    def delivered_to(self):
        return self.fields["delivered-to"].strip("<>")

    @property
    def received(self):
        """The Received field unfolded into one line."""
        return re.sub(r"\n[ \t]+", " ", self.fields["received"])


def _take_field(data):
    """Split one header field (with its folded continuation lines) off
    the front of data; returns (name, value-with-folds, rest)."""
    end = data.index(b"\n")
    while data[end + 1:end + 2] in (b" ", b"\t"):
        end = data.index(b"\n", end + 1)
    field = data[:end].decode("utf-8", "replace")
    assert "\r" not in field, f"CR in Maildir header {field!r}"
    name, sep, value = field.partition(":")
    assert sep, f"not a header field: {field!r}"
    return name, value.strip(), data[end + 1:]


def check_delivery(data, sender, rcpt, message, tls_version=None,
                   cipher=None):
    """Assert that data (a Maildir file) is message delivered from sender
    to rcpt byte-exact, with a Received field stating TLS as given
    (tls_version None means a plaintext session). Returns Delivered."""
    d = Delivered(data)
    assert d.return_path == f"<{sender}>", d.fields
    assert d.delivered_to.lower() == rcpt.lower(), d.fields
    assert d.body == unix_lines(message), "message not byte-exact"
    if tls_version is None:
        assert re.search(r"\bwith ESMTP\b", d.received), d.received
        assert "TLSv" not in d.received, d.received
    else:
        assert re.search(r"\bwith ESMTPS\b", d.received), d.received
        assert tls_version in d.received, d.received
        if cipher is not None:
            assert cipher in d.received, d.received
    return d
