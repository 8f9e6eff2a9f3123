"""Process helpers shared by the test fixtures."""

import os
import signal
import subprocess


def stop_group(proc, timeout=10):
    """Stop the process group that proc leads (started with
    start_new_session=True): SIGTERM, then SIGKILL if it lingers past
    timeout seconds. Safe if it is already gone."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
