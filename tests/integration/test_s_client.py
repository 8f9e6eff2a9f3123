"""`openssl s_client -starttls smtp` as the client: a whole transaction
typed through it, as an administrator would, and the negotiated TLS
parameters it reports.

s_client is driven line by line: a reader thread collects its stdout, and
each command is written only once the previous reply has arrived, so the
test does not depend on timing. -crlf turns our LF into CRLF; -quiet also
implies -ign_eof and turns off the "R"/"Q" command letters, so "RCPT" is
sent as typed."""

import queue
import re
import subprocess
import threading
import time

from smtpwire import CLIENT_NAME, RawSMTP, check_delivery

SENDER = "bob@example.org"
RCPT = "alice@example.test"
LINE_TIMEOUT = 15.0


class SClient:
    def __init__(self, args):
        # stderr merged: s_client's notes there (verify errors, alerts)
        # are kept in self.seen and skipped when reading replies.
        self.proc = subprocess.Popen(
            ["openssl", "s_client", *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.lines.put(None)

    def reply(self):
        """The next SMTP reply: (code, [lines])."""
        got = []
        deadline = time.monotonic() + LINE_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline -
                                                  time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no reply from s_client; seen "
                                     f"{self.seen}") from None
            if line is None:
                raise AssertionError(f"s_client ended; seen {self.seen}")
            self.seen.append(line)
            if not re.match(r"\d{3}[ -]", line):
                continue        # s_client's own chatter
            got.append(line)
            if line[3] == " ":
                return int(line[:3]), got

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def cmd(self, line, expect):
        self.send(line + "\n")
        code, lines = self.reply()
        assert code == expect, (line, lines, self.seen)
        return lines

    def sync(self):
        """OpenSSL 3.0's s_client prints the last line of the pre-TLS EHLO
        reply ("250 SMTPUTF8") once the handshake is done, as if it came
        from the server. Send NOOP and skip replies up to its own."""
        self.send("NOOP\n")
        while True:
            code, lines = self.reply()
            if lines[-1].startswith("250 2.0.0"):
                return

    def finish(self):
        """Close stdin, wait (bounded) for s_client to end; returns what
        it printed."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return "\n".join(self.seen)


def test_s_client_starttls_transaction(server):
    host, port = server.addr("mx")
    c = SClient(["-connect", f"{host}:{port}", "-starttls", "smtp",
                 "-name", CLIENT_NAME, "-crlf", "-quiet"])
    try:
        c.sync()
        ehlo = c.cmd(f"EHLO {CLIENT_NAME}", 250)
        assert not any(l[4:].upper().startswith("STARTTLS") for l in ehlo)
        c.cmd(f"MAIL FROM:<{SENDER}>", 250)
        c.cmd(f"RCPT TO:<{RCPT}>", 250)
        c.cmd("DATA", 354)
        body = ("From: bob@example.org\nTo: alice@example.test\n"
                "Subject: via s_client\n\nline one\n..dot-stuffed\n"
                "last line\n")
        c.send(body)
        queued = c.cmd(".", 250)
        assert re.match(r"250 2\.0\.0 Ok: queued as \S+$", queued[-1])
        c.cmd("QUIT", 221)
    finally:
        c.finish()
    data, = server.wait_for_messages("alice")
    sent = (body.replace("\n..", "\n.").replace("\n", "\r\n")).encode()
    d = check_delivery(data, SENDER, RCPT, sent, "TLSv1.3")
    assert "Subject: via s_client" in d.body.decode()


def test_s_client_reports_tls12_aead_forward_secret(server):
    host, port = server.addr("submissions")
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"{host}:{port}", "-tls1_2",
         "-brief"], input=b"QUIT\r\n", capture_output=True, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    assert "Protocol version: TLSv1.2" in err, err
    cipher = re.search(r"Ciphersuite: (\S+)", err).group(1)
    assert cipher.startswith(("ECDHE-", "DHE-")), err
    assert "GCM" in cipher or "CHACHA20" in cipher, err


def test_s_client_tls11_refused(server):
    host, port = server.addr("submissions")
    p = subprocess.run(
        ["openssl", "s_client", "-connect", f"{host}:{port}", "-tls1_1",
         "-cipher", "DEFAULT:@SECLEVEL=0", "-brief"],
        input=b"", capture_output=True, timeout=30)
    err = p.stderr.decode("utf-8", "replace") + p.stdout.decode(
        "utf-8", "replace")
    assert p.returncode != 0, err
    assert "Protocol version: TLSv1.1" not in err, err
    # The refusal is the server's (an alert), not our client's.
    assert re.search(r"alert", err, re.I), err


def test_no_client_initiated_renegotiation(server):
    """TLS 1.2 renegotiation requested by the client is refused (the "R"
    command letter of s_client, which works without -quiet; sent once
    the greeting came over the implicit-TLS connection). The server
    stays up."""
    host, port = server.addr("submissions")
    c = SClient(["-connect", f"{host}:{port}", "-tls1_2"])
    try:
        c.reply()                                   # 220 greeting
        start = len(c.seen)
        c.send("R\n")
        deadline = time.monotonic() + LINE_TIMEOUT
        while not any("renegotiation" in l.lower() or "alert" in l.lower()
                      for l in c.seen[start:]) and \
                time.monotonic() < deadline:
            try:
                line = c.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            c.seen.append(line)
    finally:
        c.finish()
    out = "\n".join(c.seen[start:])
    assert "RENEGOTIATING" in out, "\n".join(c.seen)
    assert re.search(r"no renegotiation|alert", out, re.I), out
    with RawSMTP(server.addr("submissions"), implicit_tls=True) as raw:
        assert raw.greeting.code == 220
