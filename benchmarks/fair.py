"""The fair yardstick: timed children without the variables that handicap numpy.

This machine exports ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, which
force OpenBLAS onto an older kernel than the CPU's; no user's numpy runs
that way. Every timed child process of these benchmarks runs without them
(never the tests or CI).
"""

from __future__ import annotations

import os
import subprocess
import sys

UNFAIR = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def fair_env(*also: str) -> dict[str, str]:
    """This process's environment without :data:`UNFAIR` (and ``also``)."""
    return {k: v for k, v in os.environ.items() if k not in (*UNFAIR, *also)}


def rerun_fair(script: str, argv: list[str] | None, timeout: float) -> int:
    """Run ``script`` again as a ``--child`` with ``argv`` (default: this
    process's arguments) in :func:`fair_env`; its exit status."""
    args = argv if argv is not None else sys.argv[1:]
    cmd = [sys.executable, script, "--child", *args]
    return subprocess.run(cmd, env=fair_env(), timeout=timeout, check=False).returncode
