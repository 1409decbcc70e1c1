"""The compiled path says, in one line on stderr, when it compiles; and only then.

A first run compiles numba's kernels (seconds) and caches them on disk; a
later run loads them and says nothing.
"""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                reason="the fast extra (numba) is not installed")

RUN = """
import numpy as np, gdkit
rng = np.random.default_rng(0)
x = rng.random((40, 12)); x[x < 0.6] = 0.0
net = gdkit.objective("network", sizes=(12, 5, 3), inputs=x,
                      targets=rng.integers(0, 3, 40), dtype="float32")
res = gdkit.minimize(net, step=gdkit.step_rule("fixed", eta=1.0), batch_size=10,
                     max_iter=2, seed=0)
assert res.compiled
"""


def test_the_line_is_printed_once_when_numba_compiles_and_not_when_it_has() -> None:
    from gdkit_plugins.fast.network import announce_compiling
    from numba import njit

    @njit(cache=False)
    def double(a: float) -> float:
        return 2 * a

    said = io.StringIO()
    with announce_compiling("compiling now", said):
        assert double(1.5) == 3.0  # compiles: the line
        assert double(2.5) == 5.0  # compiled: nothing more
    assert said.getvalue() == "compiling now\n"
    again = io.StringIO()
    with announce_compiling("compiling now", again):
        assert double(3.5) == 7.0
    assert again.getvalue() == ""


def test_a_first_run_says_it_compiles_and_a_second_says_nothing(tmp_path: Path) -> None:
    from gdkit_plugins.fast.network import compiling_message

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("GDKIT_NO_COMPILE", None)
    runs = [subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True,
                           timeout=600) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    line = compiling_message("float32")
    assert runs[0].stderr.count(line) == 1, runs[0].stderr
    assert line not in runs[1].stderr, runs[1].stderr
