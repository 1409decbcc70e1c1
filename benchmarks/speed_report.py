"""The parent half of :mod:`speed`: the runs in fresh processes, and the summary.

- :func:`startup`: ``gdkit train`` in fresh processes, with an empty compile
  cache (it compiles), then with the cache on disk, then on the numpy path;
  the difference is the compiled path's first-run pause.
- :func:`memory`: the peak resident memory of ``gdkit train --epochs 1``.
- :func:`summarize`: the targets (:func:`render.targets`), printed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from render import rows, targets

TIMEOUT = 1800.0
COMPILE_LINE = "compiling"  # a word of the line the compiled path prints when it compiles

_MEASURE = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=1800)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"returncode": proc.returncode, "maxrss": usage.ru_maxrss,
                  "stdout": proc.stdout, "stderr": proc.stderr}))
"""


RAN = (0, 3)
"""gdkit train's statuses of a run that ran (3: a digit never recognised, which a
time or memory measurement of a short run does not care about)."""


def _gdkit() -> str:
    return shutil.which("gdkit") or str(Path(sys.executable).parent / "gdkit")


def startup(data: str, env: Callable[..., dict[str, str]]) -> dict[str, Any]:
    """Wall seconds of ``gdkit train --epochs 1 --n-train 1000`` (float64) three
    times in fresh processes: an empty compile cache, the cache on disk, the
    numpy path; and whether each printed the compiling line."""
    cmd = [_gdkit(), "train", "--data", data, "--epochs", "1", "--n-train", "1000", "--quiet"]
    out: dict[str, Any] = {"command": " ".join(cmd[1:])}
    with tempfile.TemporaryDirectory() as cache:
        for key, extra in (("first", {}), ("second", {}), ("numpy", {"GDKIT_NO_COMPILE": "1"})):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env(NUMBA_CACHE_DIR=cache, **extra), text=True,
                                  capture_output=True, timeout=TIMEOUT)
            if proc.returncode not in RAN:
                raise SystemExit(f"gdkit train failed: {proc.stderr}")
            out[f"{key}_s"] = time.perf_counter() - t0
            out[f"{key}_says_compiling"] = COMPILE_LINE in proc.stderr
    print(f"  start-up: first gdkit train {out['first_s']:.2f} s, second {out['second_s']:.2f} s, "
          f"numpy path {out['numpy_s']:.2f} s", flush=True)
    return out


def memory(data: str, dtype: str, env: Callable[..., dict[str, str]]) -> dict[str, Any]:
    """Peak RSS of ``gdkit train --epochs 1`` (default path), measured by a fresh
    interpreter that imports nothing (a child's ``ru_maxrss`` starts from its
    parent's resident size at fork)."""
    cmd = [_gdkit(), "train", "--data", data, "--epochs", "1", "--dtype", dtype, "--quiet"]
    helper = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True,
                            text=True, check=True, env=env(), timeout=TIMEOUT)
    got = json.loads(helper.stdout)
    if got["returncode"] not in RAN:
        raise SystemExit(f"gdkit train failed: {got['stderr']}")
    mb = got["maxrss"] / (2**20 if sys.platform == "darwin" else 2**10)  # KB on Linux
    print(f"  peak memory, gdkit train --epochs 1 --dtype {dtype}: {mb:.0f} MB", flush=True)
    return {"dtype": dtype, "peak_rss_mb": mb, "command": " ".join(cmd[1:])}


def extra_runs(data: str, env: Callable[..., dict[str, str]]) -> dict[str, Any]:
    """The start-up and memory runs (full runs only)."""
    return {"startup": startup(data, env),
            "memory": [memory(data, d, env) for d in ("float64", "float32")]}


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Print the table and the targets; return the targets."""
    table = rows(results)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print()
    for r in table:
        print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)))
    found = targets(results)
    print()
    for t in found:
        print(f"{'MET   ' if t['met'] else 'MISSED'}  {t['target']}: {t['text']}")
    load = results["load_average"]
    print(f"load average: {load['start']} at the start, {load['end']} at the end")
    return found
