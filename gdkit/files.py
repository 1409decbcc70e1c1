"""Writing files so that a crash never leaves half of one: :func:`atomic_write`.

Every file gdkit writes for keeps (checkpoints, saved models, downloads) goes
through this one helper: the bytes go to a hidden temporary file in the same
directory, are flushed and fsynced, and the temporary file is renamed over
the final name with :func:`os.replace`, which is atomic; the directory is
then fsynced so that the rename itself survives a power cut. A reader sees
the old file or the new one, never a mixture, and an exception (a full disk,
a failed checksum, a second Ctrl-C) anywhere inside the ``with`` block
removes the temporary file and leaves the old one untouched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import CheckpointError, ConfigError, StaleLockWarning

__all__ = ["atomic_write", "check_target", "claim", "fsync_dir", "leftovers"]

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.(tmp|part)$")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only when the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its directory must exist.
    suffix : str, optional
        Ending of the temporary file's name (``.<name>.<random><suffix>`` in
        the same directory), so that a leftover from a killed process says what
        it was.

    Yields
    ------
    BinaryIO
        The temporary file, open for writing. Raise inside the block to
        abandon the write: the temporary file is removed and ``path`` keeps
        its old contents (or stays absent). When ``path`` is a symbolic link,
        the file it points to is replaced and the link is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "numbers.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write(b"1 2 3")
    >>> target.read_bytes()
    b'1 2 3'
    """
    # A symlink stays a symlink: its target is what gets replaced.
    final = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    # The temporary name is chosen before the ``try`` and the file created
    # inside it, so an exception at any point (a second Ctrl-C included) removes
    # it: ``mkstemp`` creates the file before returning its name, leaving a
    # window in which a KeyboardInterrupt strands it.
    tmp = final.parent / f".{final.name}.{secrets.token_hex(6)}{suffix}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot
    be opened, as on Windows)."""
    if os.name == "nt":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_target(path: str | os.PathLike[str], what: str, *, stream: bool = False) -> Path:
    """Refuse, before any work is done, an output file that cannot be written.

    ``path`` must name a file (not a directory) in an existing, writable
    directory: a file is created there and removed again to make sure, which
    also catches a read-only file system. ``what`` names the file in the
    message (``"--checkpoint"``, ``"checkpoint"``). A file written as a
    ``stream`` (a log) may also be an existing device or pipe, such as
    ``/dev/stderr``; a file replaced atomically may not.

    Raises
    ------
    gdkit.errors.ConfigError
        What is wrong with the path, and what to do.
    """
    target = Path(path).expanduser()
    where = f"{what}: {_short(os.fspath(path))}"
    too_long = _too_long(target)
    if too_long:
        raise ConfigError(f"{where}: {too_long}; give a shorter path.")
    if target.is_dir():
        raise ConfigError(f"{where} is a directory; give a file name in it, such as "
                          f"{target / 'run.npz'}.")
    parent = target.parent
    if not parent.is_dir():
        blocker = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(f"{where} lies under {blocker}, which is a file, not a "
                              "directory; give a path in a directory.")
        raise ConfigError(f"{where}: the directory {parent} does not exist; create it first "
                          "or give another path.")
    if target.exists() and not target.is_file():
        if stream:
            return target
        raise ConfigError(f"{where} exists and is not a regular file; give another path.")
    probe = parent / f".{target.name}.{secrets.token_hex(6)}.probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot write in the directory {parent} "
                          f"({exc.strerror or exc}); give a path in a writable directory."
                          ) from None
    return target


def _short(text: str, keep: int = 80) -> str:
    """``text``, or its start and end around "..." if longer than ``keep``."""
    return text if len(text) <= keep else f"{text[:keep // 2]}...{text[-keep // 2:]}"


def _too_long(target: Path) -> str | None:
    """What makes ``target`` too long a name for this system, or None.

    A file name gets a prefix and suffix of 20 characters while it is written
    (:func:`atomic_write`, the lock file), so those must fit too.
    """
    try:
        name_max = os.pathconf(target.anchor or ".", "PC_NAME_MAX")
        path_max = os.pathconf(target.anchor or ".", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):  # pragma: no cover - no limits to ask
        name_max, path_max = 255, 4096
    longest = max((len(os.fsencode(part)) for part in target.parts), default=0)
    if longest + 20 > name_max:
        return (f"a name in it is {longest:,} bytes long, but this file system takes names of "
                f"at most {name_max:,} (gdkit adds up to 20 while writing)")
    size = len(os.fsencode(os.path.abspath(target)))
    if size + 20 > path_max:
        return (f"the path is {size:,} bytes long, but this system takes paths of at most "
                f"{path_max:,}")
    return None


def leftovers(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files that :func:`atomic_write` left beside ``path`` when its
    process was killed mid-write (``.<name>.<random>.tmp`` or ``.part``)."""
    target = Path(path)
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return []
    return sorted(p for p in siblings
                  if (m := _LEFTOVER.match(p.name)) and m["name"] == target.name)


@contextlib.contextmanager
def claim(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold ``path`` for this process alone while the block runs.

    A lock file ``.<name>.lock`` beside it, created with ``O_EXCL``, records
    the process and host. A second run that claims the same path is refused
    while the first lives; a lock left by a killed process (no such process
    on this host) is taken over with a :class:`~gdkit.errors.StaleLockWarning`.
    Once claimed, temporary files an earlier killed write left behind are
    removed.

    Raises
    ------
    gdkit.errors.CheckpointError
        Another live process holds the path, or the lock cannot be created.
    """
    target = Path(path)
    lock = target.parent / f".{target.name}.lock"
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            _take_over_if_stale(lock, target)
            continue
        except OSError as exc:
            raise CheckpointError(f"cannot lock {os.fspath(target)!r} ({lock}: "
                                  f"{exc.strerror or exc}).") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        break
    else:  # pragma: no cover - another process took the stale lock first
        raise CheckpointError(f"another run just claimed {os.fspath(target)!r}; give this run "
                              "another path.")
    try:
        for leftover in leftovers(target):
            leftover.unlink(missing_ok=True)
        yield
    finally:
        with contextlib.suppress(OSError):
            if lock.read_text() == me:
                lock.unlink()


def _take_over_if_stale(lock: Path, target: Path) -> None:
    try:
        pid_text, _, host = lock.read_text().partition(" ")
        pid, host = int(pid_text), host.strip()
    except (OSError, ValueError):
        pid, host = -1, ""
    if host == socket.gethostname() and pid > 0 and not _alive(pid):
        warnings.warn(f"{lock} was left by process {pid}, which no longer runs (killed?); "
                      f"taking over {target}.", StaleLockWarning, stacklevel=4)
        lock.unlink(missing_ok=True)
        return
    who = f"process {pid} on {host}" if pid > 0 else "another process"
    raise CheckpointError(
        f"{os.fspath(target)!r} is in use by {who} (lock {lock}): two runs must not write "
        "one checkpoint. Wait for the other run, give this one another path, or, if no "
        f"run uses it any more, delete {lock}.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
