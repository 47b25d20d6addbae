"""Killing a test's subprocess at a chosen moment, for the kill-and-resume tests."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable


def sigkill_when(
    proc: subprocess.Popen, ready: Callable[[], bool], timeout_s: float, poll_s: float = 0.01
) -> None:
    """SIGKILLs `proc` as soon as `ready()` is true, and reaps it whatever happens.

    Fails when `proc` ends first (it finished before it could be killed) or `timeout_s` passes
    first, and checks that SIGKILL is what ended it.

    Args:
        proc: the running process.
        ready: the moment to kill (e.g. a checkpoint past the first epoch exists).
        timeout_s: how long to wait for it.
        poll_s: how often to ask.
    """
    deadline = time.time() + timeout_s
    try:
        while not ready():
            assert proc.poll() is None, "the process finished before it could be killed"
            assert time.time() < deadline, f"not ready to kill within {timeout_s} s"
            time.sleep(poll_s)
        assert proc.poll() is None, "the process finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
