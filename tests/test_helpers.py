"""The test kit's own promises: waiting on a child's output has a bound."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .helpers import wait_for_output

SILENT = "import time; print('ready', flush=True); time.sleep(60)"
# one write: the pattern and 12 kB after it reach the pipe together, so a reader
# that buffers ahead of the pattern would hide the tail from communicate()
TALKS = "import sys; sys.stdout.write('ready\\n' + 'tail' * 3000 + '\\n'); sys.stdout.flush()"


def _child(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # as the tests pipe both


def test_waiting_for_output_that_never_comes_gives_up_at_its_timeout() -> None:
    proc = _child(SILENT)
    try:
        with pytest.raises(AssertionError, match="did not appear within 1 s"):
            wait_for_output(proc.stdout, "never printed", timeout=1.0)
    finally:
        proc.kill()
        proc.communicate(timeout=60)


def test_what_was_waited_for_plus_what_communicate_returns_is_all_of_it() -> None:
    proc = _child(TALKS)
    seen = wait_for_output(proc.stdout, "ready")
    out, _ = proc.communicate(timeout=60)
    assert seen + out == "ready\n" + "tail" * 3000 + "\n"
