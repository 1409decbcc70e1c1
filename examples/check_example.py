"""Install gdkit and the example plugin as a user would, and check gdkit uses it.

Run by ``tox -e example`` (or directly: ``python examples/check_example.py``,
with the ``build`` package installed). In a temporary directory it

1. builds gdkit's sdist and wheel with ``python -m build`` from a copy of the
   source tree (the wheel is built from the sdist, as a packager would);
2. creates a fresh virtual environment with ``python -m venv``;
3. installs gdkit's wheel and the example distribution (a copy of
   ``examples/gdkit-momentum``, built by pip: not editable) with their
   ``test`` extras, from PyPI for everything else;
4. checks, from outside the source tree, that both packages import from the
   virtual environment, that ``gdkit plugins`` lists the example's parts with
   its distribution name and version, that ``gdkit minimize logistic --step
   rmsprop,fixed`` chains the example's transform with gdkit's ``fixed`` step
   size on the example's objective (and converges with a decaying η), and
   that the example's own tests (which run ``gdkit.testing`` on it) pass
   there.

Exit status 0 when everything holds; the failing step and its output otherwise.
Pass ``--keep`` to keep the temporary directory for inspection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "gdkit-momentum"
DIST = "gdkit-momentum"
JUNK = (".git", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".hypothesis", ".mypy_cache", ".ruff_cache", "_build", "*.npz")


def version_of(pyproject: Path) -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"check_example: no version in {pyproject}")
    return match.group(1)


class Checker:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.venv = tmp / "venv"
        scripts = "Scripts" if os.name == "nt" else "bin"
        self.bin = self.venv / scripts
        self.python = self.bin / ("python.exe" if os.name == "nt" else "python")
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
               and not k.startswith("GDKIT_")}
        env["PATH"] = str(self.bin) + os.pathsep + env.get("PATH", "")
        env["GDKIT_STRICT_PLUGINS"] = "1"  # a plugin that fails to load is an error here
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        self.env = env
        self.step_no = 0

    def run(self, what: str, cmd: list[str | Path], *, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> str:
        self.step_no += 1
        print(f"[{self.step_no}] {what}\n    $ {' '.join(map(str, cmd))}", flush=True)
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd or self.tmp, env=env or self.env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stdout[-6000:], proc.stderr[-6000:], sep="\n", file=sys.stderr)
            raise SystemExit(f"check_example: FAILED at step {self.step_no} ({what}): "
                             f"exit status {proc.returncode}")
        return proc.stdout

    def expect(self, ok: bool, message: str, output: str = "") -> None:
        if not ok:
            if output:
                print(output[-6000:], file=sys.stderr)
            raise SystemExit(f"check_example: FAILED: {message}")
        print(f"    ok: {message}", flush=True)


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    tmp = Path(tempfile.mkdtemp(prefix="gdkit-example-"))
    try:
        check(Checker(tmp))
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("check_example: the example plugin, installed from wheels, is found and used by "
          "gdkit.")
    return 0


def check(c: Checker) -> None:
    gdkit_version = version_of(REPO / "pyproject.toml")
    example_version = version_of(EXAMPLE / "pyproject.toml")
    dist = c.tmp / "dist"
    # Build from a copy of the source tree: tox builds its own package from the
    # tree at the same time (tox run-parallel), and setuptools writes into it.
    source = c.tmp / "gdkit-source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*JUNK))
    build_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    c.run("build gdkit's sdist and, from it, its wheel",
          [sys.executable, "-m", "build", "--outdir", dist, source], env=build_env)
    wheels = sorted(dist.glob(f"gdkit-{gdkit_version}-*.whl"))
    c.expect(len(wheels) == 1, f"one gdkit {gdkit_version} wheel built: "
             f"{', '.join(w.name for w in wheels) or 'none'}")

    # A copy, so that pip's build leaves nothing in the source tree.
    example = c.tmp / "gdkit-momentum"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(*JUNK))

    c.run("create a fresh virtual environment", [sys.executable, "-m", "venv", c.venv])
    c.run("pip install gdkit's wheel and the example (not editable), with their test extras",
          [c.python, "-m", "pip", "install", "--quiet", f"{wheels[0]}[test]", f"{example}[test]"])

    where = c.run("import both packages from outside the source tree",
                  [c.python, "-c", "import gdkit, gdkit_momentum; "
                   "print(gdkit.__file__); print(gdkit_momentum.__file__); "
                   "print(gdkit.__version__)"])
    lines = where.split()
    site = str(c.venv.resolve())
    c.expect(all(str(Path(p).resolve()).startswith(site) for p in lines[:2]),
             f"gdkit and gdkit_momentum import from the virtual environment ({lines[:2]})")
    c.expect(lines[2] == gdkit_version, f"gdkit.__version__ == {gdkit_version}")

    listing = json.loads(c.run("gdkit plugins --json", [c.bin / "gdkit", "plugins", "--json"]))
    parts: list[dict[str, Any]] = listing["parts"]
    c.expect(not listing["failures"], f"no plugin failed to load: {listing['failures']}")
    for kind, name in (("transform", "rmsprop"), ("objective", "logistic")):
        rows = [r for r in parts if r["kind"] == kind and r["name"] == name]
        c.expect(len(rows) == 1 and rows[0]["distribution"] == DIST
                 and rows[0]["version"] == example_version and rows[0]["plugin"] == "momentum",
                 f"gdkit plugins lists the {kind} {name!r} from {DIST} {example_version}: {rows}")
    builtin = [r for r in parts if r["distribution"] == "gdkit"]
    c.expect(bool(builtin) and all(r["version"] == gdkit_version for r in builtin),
             f"gdkit's own {len(builtin)} parts come from gdkit {gdkit_version}")
    text = c.run("gdkit plugins (the table)", [c.bin / "gdkit", "plugins"])
    c.expect(re.search(rf"rmsprop\s+momentum\s+{DIST} {re.escape(example_version)}", text)
             is not None, "the table shows the transform's plugin, distribution and version",
             text)
    c.expect(not any(r["kind"] == "step rule" and r["distribution"] == DIST for r in parts),
             f"{DIST} supplies no step rule (its old momentum rule is built in now)")

    step = ["--step", "rmsprop(rho=0.9),fixed(eta=0.05, schedule=cosine(steps=3000))",
            "--max-iter", "3000", "--seed", "0"]
    out = c.run("gdkit minimize logistic --step rmsprop,fixed",
                [c.bin / "gdkit", "minimize", "logistic", *step])
    c.expect("Logistic(" in out and "step chain(RMSprop(rho=0.9, eps=1e-08), Fixed(eta=0.05, "
             in out, "the run used the example's objective and transform, chained with gdkit's "
             "fixed step size", out)
    res = json.loads(c.run("gdkit minimize logistic --step rmsprop,fixed --json",
                           [c.bin / "gdkit", "minimize", "logistic", *step, "--json"]))
    c.expect(res["success"] and len(res["x"]) == 6,
             f"it converged: {res['message']} (C = {res['fun']:.6g}, {res['nit']} steps)")

    tests = c.run("the example's own tests (gdkit.testing on the installed plugin)",
                  [c.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                  cwd=example)
    summary = tests.strip().splitlines()[-1] if tests.strip() else ""
    c.expect(" passed" in summary and "failed" not in summary, f"pytest: {summary}", tests)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
