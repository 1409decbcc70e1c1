"""Downloading MNIST: verified against known digests, written atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.client import HTTPException
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from gdkit.errors import DataError
from gdkit.files import atomic_write
from gdkit.progress import ProgressBar, show_progress

from .advice import NO_CACHE, OFFLINE, about_data
from .lookup import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    _is_file,
    cache_dir,
)

__all__ = ["FILES", "MIRRORS", "Progress", "download_mnist"]

FILES: Final[Mapping[str, str]] = MappingProxyType(
    {
        TRAIN_IMAGES + ".gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        TRAIN_LABELS + ".gz": "d53e105ee54ea40749a09fcbcd1e9432",
        TEST_IMAGES + ".gz": "9fb629c4189551a2d022fa330f9573f3",
        TEST_LABELS + ".gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
)
"""File name -> md5 hex digest of the original gzipped MNIST files."""

MIRRORS: Final[tuple[str, ...]] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Base URLs tried in order for each file of :data:`FILES`."""

Progress: TypeAlias = bool | Callable[[int, int | None], None] | None
"""How to report download progress.

``None``: a progress bar on stderr if stderr is a terminal (tqdm if it is
installed, else one line redrawn with carriage returns), silent otherwise.
``True``: that display even if stderr is not a terminal. ``False``: silent.
A callable: called as ``progress(done_bytes, total_bytes_or_None)`` for each
file, first with ``done_bytes == 0``, then after each chunk received.
"""

_CHUNK: Final = 1 << 20
_DOWNLOAD_CHUNK: Final = 1 << 16
_MAX_DOWNLOAD: Final = 2**31



class _MirrorFailure(Exception):
    """Internal: one mirror failed for one file."""


class _Reporter:
    """Download progress of one file at a time: a callback, a bar, or nothing."""

    def __init__(self, progress: Progress) -> None:
        self.callback = progress if callable(progress) else None
        self.draw = self.callback is None and show_progress(
            sys.stderr, progress if isinstance(progress, bool) else None)
        self.bar: ProgressBar | None = None
        self.total: int | None = None

    def start(self, name: str, total: int | None) -> None:
        """Begin a file of ``total`` bytes (None: unknown)."""
        self.total = total
        if self.draw:
            self.bar = ProgressBar(sys.stderr, name, total, unit="B", leave=True)
        self.update(0)

    def update(self, done: int) -> None:
        """``done`` bytes of the current file received."""
        if self.callback is not None:
            self.callback(done, self.total)
        elif self.bar is not None:
            self.bar.update(done)

    def finish(self) -> None:
        """End the current file."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _file_md5(path: Path) -> str | None:
    """md5 hex digest of a file, or None if it cannot be read."""
    if not _is_file(path):
        return None
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _join_url(mirror: str, name: str) -> str:
    return mirror.rstrip("/") + "/" + name


def _failures(errors: Sequence[tuple[str, str]]) -> str:
    """What went wrong at each mirror, on one line: one reason for all when they agree
    (as they do offline), else each mirror's host and its reason."""
    if not errors:
        return "no mirror to try"
    hosts = [mirror for mirror, _ in errors]
    reasons = [why for _, why in errors]
    if len(set(reasons)) == 1:
        where = hosts[0] if len(hosts) == 1 else ", ".join(hosts[:-1]) + " and " + hosts[-1]
        return f"{reasons[0]} at {where}"
    return "; ".join(f"{host}: {why}" for host, why in zip(hosts, reasons, strict=True))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _content_length(resp: Any) -> int | None:
    value = resp.headers.get("Content-Length") if resp.headers else None
    try:
        length = int(value) if value is not None else None
    except ValueError:
        return None
    return length if length is not None and length >= 0 else None


def _fetch(url: str, final: Path, md5: str, reporter: _Reporter, timeout: float) -> None:
    """Download ``url`` to ``final`` atomically, verifying its md5."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise _MirrorFailure(f"unsupported URL scheme {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "gdkit-mnist"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        total = _content_length(resp)
        if total is not None and total > _MAX_DOWNLOAD:
            raise _MirrorFailure(f"announces {total} bytes, implausibly large")
        reporter.start(final.name, total)
        try:
            digest = hashlib.md5(usedforsecurity=False)
            done = 0
            with atomic_write(final, suffix=".part") as out:
                while chunk := resp.read(_DOWNLOAD_CHUNK):
                    done += len(chunk)
                    if done > _MAX_DOWNLOAD or (total is not None and done > total):
                        raise _MirrorFailure(
                            f"sent more than the {total or _MAX_DOWNLOAD} bytes expected"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    reporter.update(done)
                if total is not None and done < total:
                    raise _MirrorFailure(f"connection closed after {done} of {total} bytes")
                actual = digest.hexdigest()
                if actual != md5.lower():  # raised inside: the download is discarded
                    raise _MirrorFailure(
                        f"checksum mismatch from mirror {url}: expected md5 {md5}, "
                        f"got {actual} ({done} bytes); the file was discarded"
                    )
        finally:
            reporter.finish()


def _checked(mirrors: Sequence[str], files: Mapping[str, str]) -> Sequence[str]:
    """``mirrors`` as a sequence of URLs (one string: one mirror), refused when
    empty, and ``files``' names refused unless plain file names."""
    if isinstance(mirrors, str):
        mirrors = (mirrors,)
    if not mirrors:
        raise ValueError("download_mnist: mirrors must name at least one URL")
    for name in files:
        if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
            raise ValueError(f"download_mnist: {name!r} is not a plain file name")
    return mirrors


def _target(dest: str | os.PathLike[str] | None) -> tuple[Path, list[Path]]:
    """The download directory, created, and the directories created for it
    (removed again if the download fails)."""
    target = cache_dir() if dest is None else Path(dest).expanduser()
    made = [d for d in (target, *target.parents) if not d.exists()]  # to remove on failure
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot create the download directory {target}: "
            f"{exc.strerror or exc}. {NO_CACHE.python}"
        ) from None
    return target, made


@about_data
def download_mnist(
    dest: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    files: Mapping[str, str] = FILES,
    progress: Progress = None,
    timeout: float = 30.0,
) -> Path:
    """Download the MNIST files, verified, into ``dest``.

    For each file, the mirrors are tried in order. The data is streamed in
    chunks to a temporary file in ``dest`` and hashed on the way; once its
    md5 matches, it is fsynced and renamed to its final name with
    :func:`os.replace` (atomic). A failed or interrupted download leaves no
    file under the final name and removes its temporary file. Files already
    in ``dest`` with the right md5 are skipped; a file there with another
    md5 is replaced.

    Parameters
    ----------
    dest : str or os.PathLike or None, optional
        Directory to download into (created if needed); default
        :func:`cache_dir`.
    mirrors : sequence of str, optional
        Base URLs (http, https or file), tried in order; default
        :data:`MIRRORS`.
    files : mapping of str to str, optional
        File name -> expected md5 hex digest; default :data:`FILES`.
    progress : bool or callable or None, optional
        Progress display; see :data:`Progress`.
    timeout : float, optional
        Socket timeout in seconds for connecting and for each read.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    gdkit.errors.DataError
        If ``dest`` cannot be created, or a file cannot be fetched intact
        from any mirror; the message lists each mirror's error (a checksum
        mismatch names the mirror, the expected and the actual digest) and
        suggests using a local copy with ``--data DIR``.
    ValueError
        If ``mirrors`` is empty or a file name is not a plain file name.
    """
    mirrors = _checked(mirrors, files)
    target, made = _target(dest)
    reporter = _Reporter(progress)
    for name, md5 in files.items():
        final = target / name
        if _file_md5(final) == md5.lower():
            continue
        errors: list[tuple[str, str]] = []  # (the mirror's base URL, what went wrong)
        for mirror in mirrors:
            url = _join_url(mirror, name)
            try:
                _fetch(url, final, md5, reporter, timeout)
            except _MirrorFailure as exc:
                errors.append((mirror, str(exc)))
            except (OSError, HTTPException, ValueError) as exc:
                errors.append((mirror, _describe(exc)))
            else:
                break
        else:
            for directory in made:  # no empty cache folder is left behind
                with contextlib.suppress(OSError):
                    directory.rmdir()
            raise DataError(f"Could not download {name} into {target}: "
                            f"{_failures(errors)}. {OFFLINE.python}")
    return target

