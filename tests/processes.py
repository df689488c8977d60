"""Stopping a child process the tests (and bench/app_load.py) started: politely, then for sure."""
from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM, wait up to `timeout_s`, then SIGKILL; always reaped, never left a zombie."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
