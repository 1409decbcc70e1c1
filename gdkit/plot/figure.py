"""A figure to draw on, and saving it: matplotlib imported lazily."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, MissingExtraError
from ..files import atomic_write, check_target

__all__ = ["FORMATS", "check_picture", "new_figure", "save"]

#: The picture formats gdkit promises (matplotlib's canvas writes more).
FORMATS = (".png", ".svg", ".pdf")


def new_figure(feature: str, figsize: tuple[float, float]) -> Any:
    """A fresh :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot).

    Raises :class:`~gdkit.errors.MissingExtraError` naming ``feature`` when
    matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(feature, "plot", "matplotlib") from None
    return Figure(figsize=figsize, layout="constrained")


def check_picture(path: str | os.PathLike[str], what: str) -> Path:
    """Refuse, before any work, a picture that could not be written.

    ``path`` must be writable (:func:`gdkit.files.check_target`) and end in
    one of :data:`FORMATS`, and matplotlib must be installed. ``what`` names
    the option in messages (``"--out"``, ``"--plot"``).

    Raises
    ------
    gdkit.errors.ConfigError
        A path that cannot be written or has no picture extension.
    gdkit.errors.MissingExtraError
        matplotlib is not installed.
    """
    target = check_target(path, what)
    if target.suffix.lower() not in FORMATS:
        raise ConfigError(f"{what} {os.fspath(path)}: end the file name in "
                          + ", ".join(FORMATS) + " to choose the picture's format.")
    new_figure(f"{what} (a picture)", (1.0, 1.0))
    return target


def save(fig: Any, path: str | os.PathLike[str], *, dpi: float = 100) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format its extension names.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The picture.
    path : str or os.PathLike
        ``.png``, ``.svg``, ``.pdf`` (or any other format matplotlib's canvas
        supports). The directory must exist.
    dpi : float, default 100
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    gdkit.errors.ConfigError
        No or an unknown extension, or a path that cannot be written (checked
        before drawing).
    """
    target = check_target(path, "picture")
    ext = target.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if ext not in supported:
        raise ConfigError(f"picture: {os.fspath(path)} has "
                          + (f"the extension .{ext}" if ext else "no extension")
                          + ", which names no picture format; end it in one of "
                          + ", ".join(f".{e}" for e in sorted(supported)) + ".")
    try:
        with atomic_write(target, suffix=".part") as fh:
            fig.savefig(fh, format=ext, dpi=dpi, metadata=_metadata(ext))
    except OSError as exc:  # a full disk, a quota, an I/O error: the machine's, not a bug
        raise DataError(f"cannot write the picture {os.fspath(path)} ({exc.strerror or exc}); "
                        "nothing was written (an earlier file there is intact). Free some "
                        "space, or give another path.") from None
    return target


def _metadata(ext: str) -> dict[str, Any] | None:
    """Metadata that keeps a picture's bytes the same from run to run."""
    if ext == "svg":
        return {"Date": None}
    if ext == "pdf":
        return {"CreationDate": None, "ModDate": None}
    if ext == "png":
        return {"Software": None}
    return None
