"""The learning curve as a run observer: every epoch, drawn when the run ends."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..observers import EpochEnd, RunStart
from ..result import Result
from .curves import curves
from .figure import save

__all__ = ["CurvePicture"]


class CurvePicture:
    """An observer (:mod:`gdkit.observers`) that draws the run's learning curve
    (:func:`~gdkit.plot.curves`) to ``path`` when the run finishes.

    Every epoch is in the picture, a resumed run's earlier epochs too (read by
    :meth:`on_start`). A run stopped by a signal never reaches
    :meth:`on_finish`: call :meth:`draw` then to keep the epochs so far, as
    ``gdkit train --plot`` does. Drawing needs ``gdkit[plot]`` (matplotlib),
    imported only when the picture is drawn.

    Parameters
    ----------
    path : str or path-like
        A ``.png``, ``.svg`` or ``.pdf`` file.
    title : str, optional
        The picture's title, followed by the number of epochs drawn.

    Examples
    --------
    >>> import gdkit
    >>> from gdkit.plot import CurvePicture
    >>> picture = CurvePicture("curve.png", title="quadratic")   # doctest: +SKIP
    >>> gdkit.minimize("quadratic", batch_size=10, epochs=5, observers=[picture])  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str], *, title: str = "") -> None:
        self.path = path
        self.title = title
        self.records: list[dict[str, Any]] = []

    def on_start(self, event: RunStart) -> None:
        hist = event.history  # a resumed run's epochs
        rows = len(next(iter(hist.values()), ()))
        self.records = [{"epoch": i + 1, **{k: col[i] for k, col in hist.items()}}
                        for i in range(rows)]

    def on_epoch(self, event: EpochEnd) -> None:
        self.records.append({"epoch": event.epoch, **event.record})

    def on_finish(self, result: Result) -> None:
        self.draw()

    def draw(self) -> Path | None:
        """Draw every epoch observed so far; the file written (None: no epoch yet)."""
        records = self.records
        if not records:
            return None
        columns = {k: [r.get(k, math.nan) for r in records]
                   for k in dict.fromkeys(k for r in records for k in r)}
        title = f"{self.title}: {len(records)} epoch(s)" if self.title \
            else f"{len(records)} epoch(s)"
        return save(curves([columns], title=title), self.path)
