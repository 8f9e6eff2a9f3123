"""One log line per event (issue 2, "Logging"): connect with the client
address, TLS established with version, cipher and bits, message queued
with queue id, sender, size and recipient count, delivered with queue id,
recipient and Maildir path, disconnect with command counts; handshake
failures with the client address and a reason.

The exact wording is the daemon's; these tests look for the facts on
one line each, in `serve -f`'s stderr."""

import os
import re
import smtplib
import socket
import ssl
import time
import warnings

import pytest

from smtpwire import CLIENT_NAME, client_context, sample_message

SENDER = "bob@example.org"
RCPT = "alice@example.test"


def _line_with(log, *needles):
    for line in log.splitlines():
        if all(n in line for n in needles):
            return line
    return None


def _wait_line(server, *needles, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        line = _line_with(server.log(), *needles)
        if line is not None:
            return line
        if time.monotonic() > deadline:
            pytest.fail(f"no log line with {needles}:\n{server.log()}")
        time.sleep(0.05)


def test_session_events_logged(server):
    message = sample_message("logging")
    with smtplib.SMTP(*server.addr("mx"), local_hostname=CLIENT_NAME,
                      timeout=15) as c:
        c.starttls(context=client_context())
        version, (cipher, _, bits) = c.sock.version(), c.sock.cipher()
        c.ehlo()
        assert c.mail(SENDER)[0] == 250
        assert c.rcpt(RCPT)[0] == 250
        code, reply = c.data(message)
        assert code == 250, reply
    qid = re.search(r"queued as (\S+)", reply.decode()).group(1)
    server.wait_for_messages("alice")
    path, = server.delivered("alice")
    _wait_line(server, "connect", "127.0.0.1")
    _wait_line(server, "127.0.0.1", version, cipher, str(bits))
    _wait_line(server, qid, SENDER)
    _wait_line(server, qid, RCPT, os.path.basename(path))
    disconnect = _wait_line(server, "disconnect", "127.0.0.1")
    # Command counts: some digit after the word disconnect.
    assert re.search(r"\d", disconnect.split("disconnect", 1)[1]), disconnect


def test_handshake_failure_logged_with_reason(server):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = client_context(minimum=ssl.TLSVersion.TLSv1_1,
                             maximum=ssl.TLSVersion.TLSv1_1,
                             ciphers="DEFAULT:@SECLEVEL=0")
    s = socket.create_connection(server.addr("submissions"), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        ctx.wrap_socket(s)
    s.close()
    line = _wait_line(server, "handshake", "127.0.0.1", "protocol")
    assert "version" in line.lower() or "unsupported" in line.lower(), line
