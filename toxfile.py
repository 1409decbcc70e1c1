"""tox's inline plugin for gdkit: find the test matrix's interpreters under pyenv, stop at once
when one is missing, and show every environment's pytest counts.

Why it exists. The README's ``pip install tox && tox run-parallel`` runs the tests on Python 3.10
to 3.13. tox (through virtualenv's interpreter discovery) looks for ``python3.12`` on ``PATH``,
where a machine with pyenv usually has one Python and pyenv's shims, which run a version only
while ``PYENV_VERSION`` or ``.python-version`` selects it. The plugins that teach tox about pyenv,
virtualenv-pyenv 0.7.0 and tox-pyenv-redux 1.2.0, fail with tox 4.67 and virtualenv 21 ("major
version component is required" for a spec of ``<0``). tox loads this file, next to tox.ini, by
itself. It does three things:

1. An environment whose base python names a version (``py312``, ``python3.12``, ``3.12``) with no
   ``python3.12`` on ``PATH`` (pyenv's shims don't count) gets the newest
   ``<pyenv root>/versions/3.12.N/bin/python3.12`` as an absolute path instead. The pyenv root is
   ``$PYENV_ROOT``, else what ``pyenv root`` says, else ``~/.pyenv``.
2. When an environment about to run has no interpreter either way, tox stops while it reads its
   configuration, before any environment starts, with one message that names every missing
   version, where it looked, and what to do. (With ``skip_missing_interpreters = false`` tox
   would otherwise run every other environment first, for minutes, and fail at the end.)
   Environments picked by label or factor (``-m``, ``-f``) are not checked ahead: tox fails
   such an environment itself when it gets to it.
3. ``tox run-parallel`` shows an environment's output only when it fails, so after the run each
   environment's pytest summary line (``py310: 494 passed, 1 xfailed in 85.21s``) is printed
   below tox's report. Environments that don't run pytest print nothing extra.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tox.plugin import impl
from tox.report import HandledError

if TYPE_CHECKING:
    from tox.config.sets import EnvConfigSet
    from tox.execute import Outcome
    from tox.session.state import State
    from tox.tox_env.api import ToxEnv

#: a base python that names one CPython minor version: py312, python3.12, cpython3.12, 3.12
_VERSION_SPEC = re.compile(r"(?:py|python|cpython)?(?P<major>\d)\.?(?P<minor>\d{1,2})")
#: pytest's closing line: "=== 494 passed, 1 xfailed in 85.21s (0:01:25) ===" (or "no tests ran")
_PYTEST_COUNT = r"\d+ (?:passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?|rerun)"
_PYTEST_SUMMARY = re.compile(
    rf"=*\s*(?P<summary>(?:{_PYTEST_COUNT}, )*{_PYTEST_COUNT} in [\d.]+s(?: \([\d:]+\))?"
    r"|no tests ran in [\d.]+s)\s*=*"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: commands (and their short names) that create and run environments; `tox` alone is "legacy"
_RUNNING_COMMANDS = frozenset(
    {"run", "r", "run-parallel", "p", "legacy", "le", "exec", "e", "devenv", "d"}
)


@dataclass
class _Run:
    """What this tox invocation found, across the hooks."""

    #: the environments that will run, known at the first environment's configuration;
    #: None when this plugin can't tell (label or factor selection), so it doesn't stop tox
    selected: set[str] | None = None
    selection_known: bool = False
    configured: set[str] = field(default_factory=set)
    #: environment name -> (major, minor) that has no interpreter
    missing: dict[str, tuple[int, int]] = field(default_factory=dict)
    checked: bool = False
    #: environment names in the order tox configured them (tox.ini's env_list first)
    order: list[str] = field(default_factory=list)
    #: environment name -> pytest's closing line
    summaries: dict[str, str] = field(default_factory=dict)


_RUN = _Run()


@cache
def _pyenv_root() -> Path | None:
    """pyenv's root, as pyenv itself finds it; None without pyenv."""
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    if pyenv := shutil.which("pyenv"):
        try:
            answer = subprocess.run(
                [pyenv, "root"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            answer = ""
        if answer:
            return Path(answer)
    home = Path.home() / ".pyenv"
    return home if (home / "versions").is_dir() else None


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _on_path(version: tuple[int, int]) -> bool:
    """Whether tox finds this version by itself: it runs tox, or pythonX.Y is on PATH.

    pyenv's shims don't count: one runs a version only while PYENV_VERSION or a
    .python-version file selects it.
    """
    if sys.version_info[:2] == version:
        return True
    root = _pyenv_root()
    shims = (root / "shims").resolve() if root is not None else None
    name = "python{}.{}".format(*version)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        folder = Path(entry)
        if not folder.is_absolute() or (shims is not None and folder.resolve() == shims):
            continue
        if _is_executable(folder / name):
            return True
    return False


def _from_pyenv(version: tuple[int, int]) -> Path | None:
    """The newest pyenv-installed release of this version: versions/X.Y.N/bin/pythonX.Y."""
    root = _pyenv_root()
    if root is None or not (root / "versions").is_dir():
        return None
    major, minor = version
    release = re.compile(rf"{major}\.{minor}\.(\d+)")
    found: list[tuple[int, Path]] = []
    for folder in (root / "versions").iterdir():
        exe = folder / "bin" / f"python{major}.{minor}"
        if (match := release.fullmatch(folder.name)) and _is_executable(exe):
            found.append((int(match[1]), exe))
    return max(found)[1] if found else None


def _selected_envs(state: State) -> set[str] | None:
    """The environments this invocation runs, as tox selects them; None if it can't be told
    simply (labels, factors), and an empty set for commands that run nothing (list, config)."""
    options = state.conf.options
    if getattr(options, "command", None) not in _RUNNING_COMMANDS or any(
        getattr(options, flag, False) for flag in ("list_envs", "list_envs_all", "show_config")
    ):
        return set()
    if getattr(options, "labels", None) or getattr(options, "factors", None):
        return None
    cli_envs = getattr(options, "env", None)
    if cli_envs is None or cli_envs.is_default_list:
        names = set(state.conf.core["env_list"])
    elif cli_envs.is_all:
        names = set(state.conf)
    else:
        names = set(cli_envs)
    if skip := (getattr(options, "skip_env", None) or "").strip():
        names = {name for name in names if not re.match(skip, name)}
    return names


def _missing_message(missing: dict[str, tuple[int, int]], command: str) -> str:
    """One message for all the missing interpreters: which, where it looked, what to do."""
    needed_by: dict[str, list[str]] = {}
    for env, version in sorted(missing.items(), key=lambda item: item[1]):
        needed_by.setdefault("{}.{}".format(*version), []).append(env)
    versions = list(needed_by)
    them = "it" if len(versions) == 1 else "them"
    names = ", ".join(f"python{v}" for v in versions)
    root = _pyenv_root()
    where = (
        f"under pyenv's {root}/versions/ (X.Y.N/bin/pythonX.Y)"
        if root is not None
        else "found no pyenv (no $PYENV_ROOT, no pyenv on PATH, no ~/.pyenv)"
    )
    others = sorted((_RUN.selected or set()) - set(missing), key=_RUN.order.index)
    run = "tox run-parallel" if command in {"run-parallel", "p"} else "tox run"
    lines = [
        "no interpreter for "
        + ", ".join(f"Python {v} (needed by {', '.join(envs)})" for v, envs in needed_by.items()),
        f"looked for {names} on PATH (pyenv's shims don't count) and {where}",
        f"install {them} with `pyenv install {' '.join(versions)}` (or put {names} on PATH)"
        " and run tox again",
    ]
    if others:
        lines.append(f"or leave {them} out: {run} -e {','.join(others)}")
    return "\n  ".join(lines)


@impl
def tox_add_env_config(env_conf: EnvConfigSet, state: State) -> None:
    """Point the environment at a pyenv interpreter when needed; stop tox if one is missing."""
    name = env_conf.name
    if not _RUN.selection_known:
        _RUN.selected, _RUN.selection_known = _selected_envs(state), True
    _RUN.order.append(name)
    if "base_python" in env_conf:  # every Python environment, run or package
        _resolve(name, env_conf["base_python"])
    _RUN.configured.add(name)
    if _RUN.checked or _RUN.selected is None or not _RUN.selected <= _RUN.configured:
        return
    _RUN.checked = True  # every environment that runs is configured: check once
    if missing := {env: v for env, v in _RUN.missing.items() if env in _RUN.selected}:
        raise HandledError(_missing_message(missing, state.conf.options.command))


def _resolve(name: str, base_python: list[str]) -> None:
    """Replace base_python by a pyenv interpreter's path when tox wouldn't find the version."""
    wanted: list[tuple[int, int]] = []
    for spec in base_python:  # tox takes the first one it finds
        match = _VERSION_SPEC.fullmatch(spec.strip())
        if match is None:  # a path, "python3", "pypy3", ...: tox's own business
            return
        version = (int(match["major"]), int(match["minor"]))
        if _on_path(version):
            return
        if (exe := _from_pyenv(version)) is not None:
            # tox caches the value it read and hands out that same list: changing the list in
            # place is how a plugin overrides a value that it had to read first.
            base_python[:] = [str(exe)]
            return
        wanted.append(version)
    if wanted:
        _RUN.missing[name] = wanted[0]


@impl
def tox_after_run_commands(tox_env: ToxEnv, outcomes: list[Outcome]) -> None:
    """Keep pytest's closing line, to be shown when tox is done."""
    for outcome in reversed(outcomes):
        for line in reversed(_ANSI.sub("", outcome.out).splitlines()):
            if match := _PYTEST_SUMMARY.fullmatch(line.strip()):
                _RUN.summaries[tox_env.name] = match["summary"]
                return


@atexit.register
def _print_summaries() -> None:
    """Print the pytest counts below tox's own report (tox has no hook after it)."""
    if not _RUN.summaries:
        return
    order = {name: index for index, name in enumerate(_RUN.order)}
    names = sorted(_RUN.summaries, key=lambda name: order.get(name, len(order)))
    width = max(map(len, names))
    print("pytest, per environment:")
    for name in names:
        print(f"  {name + ':':<{width + 1}} {_RUN.summaries[name]}")
    sys.stdout.flush()
