"""`make run` (tools/demo.sh): the swaks lines it prints work as printed,
the one for the submission port logging in as the demo user (issue 3).

The script is run from a copy under the test's directory, so its demo/
directory (certificates, config, sasldb, spool, Maildir) lands there and
not in the checkout. It listens on its fixed ports 2525, 4465 and 5587 of
127.0.0.1; the test is skipped when one of them is taken (a demo running
beside the tests)."""

import os
import shlex
import shutil
import socket
import subprocess
import time

import pytest

from tlsmta_server import HOST, SANITIZER_MARKERS
from proctools import stop_group

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEMO_PORTS = (2525, 4465, 5587)
READY_TIMEOUT = 60.0


def _ports_free():
    """No listener on a demo port (TIME_WAIT leftovers do not count, as
    the server binds with SO_REUSEADDR too)."""
    for port in DEMO_PORTS:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _wait_ready(proc, log_path):
    """Wait until the demo printed its help and listens on every port."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        text = open(log_path, errors="replace").read()
        if "Stop with Ctrl-C." in text and "ready" in text:
            for port in DEMO_PORTS:
                socket.create_connection((HOST, port), timeout=5).close()
            return text
        assert proc.poll() is None, f"demo exited {proc.returncode}:\n{text}"
        assert time.monotonic() < deadline, f"demo not ready:\n{text}"
        time.sleep(0.1)


@pytest.fixture
def demo(tlsmta_bin, tmp_path):
    if not _ports_free():
        pytest.skip("a demo port (2525, 4465, 5587) is in use")
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(os.path.join(REPO, "tools", "demo.sh"), tools / "demo.sh")
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["sh", str(tools / "demo.sh"), tlsmta_bin],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    try:
        yield _wait_ready(proc, log_path), tmp_path / "demo"
    finally:
        stop_group(proc, timeout=15)
    text = open(log_path, errors="replace").read()
    assert not any(m in text for m in SANITIZER_MARKERS), text


def test_printed_swaks_lines_work(demo):
    text, demo_dir = demo
    lines = [line.strip() for line in text.splitlines()
             if line.strip().startswith("swaks ")]
    assert len(lines) >= 2, text
    auth_lines = [line for line in lines if "--auth" in line]
    assert any("5587" in line for line in auth_lines), lines
    for line in lines:
        p = subprocess.run(shlex.split(line), capture_output=True,
                           timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        assert p.returncode == 0, f"{line}\nexit {p.returncode}\n{out}"
        assert "<~  250 2.0.0 Ok: queued as " in out, out
        if "--auth" in line:
            assert "<~  235 2.7.0 Authentication successful" in out, out
    # Both arrived in the demo's Maildir.
    new = demo_dir / "mail" / "example.test" / "alice" / "new"
    deadline = time.monotonic() + 15
    while len(os.listdir(new) if new.exists() else []) < len(lines):
        assert time.monotonic() < deadline, f"{new}: {lines}"
        time.sleep(0.1)
