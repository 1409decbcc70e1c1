"""Writing a benchmark's results file: the one way every script here does it.

:func:`write_results` writes a script's own file. :func:`write_section` writes
one section of the shared results file, ``benchmarks/results/figures.json``
(``speed``, ``accuracy``), from which ``benchmarks/render.py`` renders the
README's and the docs' figures: each script replaces only its own section,
under a lock, through a temporary file renamed over the old one, so a run
never truncates or loses another script's section.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "results" / "figures.json"
"""The committed results file: written only by complete runs."""
QUICK = HERE / "results" / "figures-quick.json"
"""Where quick and partial runs write their sections (git-ignored)."""
INDENT = 1


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """The installed version of each of ``packages`` (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version
    out: dict[str, str | None] = {}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def blas_info() -> list[dict[str, Any]]:
    """What threadpoolctl reports: library, kernel (architecture), threads, version."""
    from threadpoolctl import threadpool_info
    return [{k: lib.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for lib in threadpool_info()]


def write_results(out: Path, results: dict[str, Any], *, indent: int = 2, note: str = "") -> None:
    """Write ``results`` as JSON to ``out`` (its folder created) and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=indent) + "\n")
    print(f"wrote {out}{note}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s sidecar lock file (POSIX)."""
    import fcntl
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _replace_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_sections(path: Path = FIGURES) -> dict[str, Any]:
    """The sections of a results file (none when it does not exist)."""
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def write_section(out: Path, name: str, section: dict[str, Any], *, complete: bool,
                  committed: Path = FIGURES) -> None:
    """Replace section ``name`` of the results file ``out`` by ``section``.

    Parameters
    ----------
    out : Path
        The results file; created with its folder if missing.
    name : str
        The section (``"speed"``, ``"accuracy"``); the others are kept as they are.
    section : dict
        The section's results, JSON-serialisable.
    complete : bool
        Whether the section comes from a complete run. Only a complete run may
        write the ``committed`` file.
    committed : Path
        The committed results file (``benchmarks/results/figures.json``).

    Raises
    ------
    SystemExit
        If an incomplete run asks to write the committed file.
    """
    if not complete and out.resolve() == committed.resolve():
        raise SystemExit(f"refusing to write a quick or partial run into {committed}: "
                         "it holds complete runs only (write another --out)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        sections = read_sections(out)
        sections[name] = section
        _replace_atomically(out, json.dumps(sections, indent=INDENT) + "\n")
