"""What starting gdkit costs: importing it and loading its plugins imports no heavy module."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gdkit

HEAVY = ("scipy.optimize", "scipy.special", "scipy.linalg", "matplotlib", "hypothesis", "tqdm",
         "autograd", "jax", "numba", "dask", "distributed", "tensorboardX")


@pytest.mark.parametrize("command", [["--help"], ["plugins"], ["train", "--help"]])
def test_the_command_line_starts_without_heavy_imports(command: list[str]) -> None:
    code = ("import sys\nfrom gdkit.cli import main\ntry:\n"
            f"    main({command!r})\nexcept SystemExit:\n    pass\n"
            f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
            "assert not heavy, f'imported at start: {heavy}'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_each_part_imports_what_it_needs_when_built() -> None:
    code = """
import sys
import gdkit
assert "scipy.special" not in sys.modules and "scipy.optimize" not in sys.modules
assert gdkit.minimize("rosenbrock", step="armijo", max_iter=3).nit == 3
assert "scipy.optimize" in sys.modules
net = gdkit.objective("network", cost="cross-entropy")
assert "scipy.special" in sys.modules and gdkit.check_gradient(net).passed
quad = gdkit.objective("quadratic")
assert quad.solution().shape == (quad.dim,) and "scipy.linalg" in sys.modules
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_result_follows_scipys_conventions() -> None:
    res = gdkit.minimize("valley", [1.0, 1.0], step=gdkit.step_rule("fixed", eta=0.1),
                         max_iter=2)
    assert res["x"] is res.x and res.nit == 2 and "message" in dir(res)
    res.note = "mine"
    assert res["note"] == "mine"
    del res.note
    with pytest.raises(AttributeError, match="note"):
        _ = res.note
    lines = repr(res).splitlines()
    assert lines[0].strip().startswith("message:") and lines[1].strip() == "success: False"
    assert len({ln.index(":") for ln in lines}) == 1  # the names right-aligned, as scipy's
