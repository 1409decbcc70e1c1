"""Learning curves: test accuracy and training cost per epoch, η and ‖∇C‖ per
step or epoch, for one run or several overlaid."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from ..errors import DataError
from ..result import Result
from .figure import new_figure

__all__ = ["curves", "read_log"]

FloatArray = npt.NDArray[np.floating[Any]]
Run = Union[str, "os.PathLike[str]", Result, Mapping[str, Any]]

#: The panels a curve figure may have, in order: (column, axis label, log scale). The
#: accuracy panel also draws ``val_accuracy``, the validation accuracy, where recorded.
PANELS = (("accuracy", "accuracy (%)", False), ("cost", "training cost C", True),
          ("eta", "step size η", True), ("grad_norm", "‖∇C‖", True))
_MAX_LOG_BYTES = 256 * 2**20


def read_log(path: str | os.PathLike[str]) -> dict[str, FloatArray]:
    """The columns of a JSON-lines training log (``gdkit train --log``).

    Each line is a JSON object with an integer ``epoch`` and numbers; a
    column missing from a line is NaN there.

    Raises
    ------
    gdkit.errors.DataError
        A missing or unreadable file, or one that is not a gdkit training log,
        naming the file and the first line that is wrong.
    """
    name = os.fspath(path)
    try:
        with Path(path).open("rb") as fh:  # a device or pipe has no size: read no more
            raw = fh.read(_MAX_LOG_BYTES + 1)
        if len(raw) > _MAX_LOG_BYTES:
            raise DataError(f"{name} is larger than {_MAX_LOG_BYTES >> 20} MB; a gdkit "
                            "training log holds one short line an epoch.")
        text = raw.decode("utf-8")
    except DataError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise DataError(f"cannot read the training log {name}: {why}.") from None
    rows = [_row(name, i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not rows:
        raise DataError(f"{name} holds no epochs; give the log of a gdkit train run (JSON lines "
                        "written by gdkit.observers.JsonLog).")
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return {k: np.array([row.get(k, math.nan) for row in rows], dtype=float) for k in keys}


def _row(name: str, number: int, line: str) -> dict[str, float]:
    def wrong(why: str) -> DataError:
        return DataError(f"{name}, line {number}: {why}; this is not a gdkit training log "
                         "(JSON lines written by gdkit.observers.JsonLog).")
    try:
        row = json.loads(line)
    except ValueError:
        raise wrong("not JSON") from None
    except RecursionError:
        raise wrong("JSON nested too deeply to read") from None
    if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
        raise wrong("no integer 'epoch'")
    numbers = {k: float(v) for k, v in row.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return numbers


def curves(runs: Sequence[Run], *, labels: Sequence[str] | None = None,
           title: str | None = None) -> Any:
    """Draw learning curves of one or several runs, overlaid.

    Parameters
    ----------
    runs : sequence
        Each a training log's path (per epoch, :func:`read_log`), a
        :class:`~gdkit.Result` (its ``history``: per iteration in full-batch
        runs, per epoch in mini-batch runs) or a mapping of columns.
    labels : sequence of str, optional
        Legend entries; default: a log's file name, else "run 1", "run 2", ….
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel for each of ``accuracy`` (in %), ``cost``, ``eta`` and
        ``grad_norm`` that some run recorded; cost, η and ‖∇C‖ on log axes
        (cost on a linear one if it is ever ≤ 0). One point per record.
        The accuracy panel draws the test accuracy (solid) and, where
        recorded, the validation accuracy (dashed, same colour) with its best
        epoch starred: the epoch ``gdkit train`` keeps, chosen without
        looking at the test set. A run whose η never changed gets no η panel
        (a flat line); its legend entry says ``η = ...`` instead.
    """
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs.")
    loaded = [_columns(run, i) for i, run in enumerate(runs)]
    from matplotlib.ticker import MaxNLocator

    names = list(labels) if labels is not None else [name for name, _, _ in loaded]
    if labels is None and len(runs) == 1 and not isinstance(runs[0], (str, os.PathLike)):
        names = [""]  # one unnamed run: "run 1" says nothing
    constant = [_constant(cols, "eta") for _, cols, _ in loaded]
    names = [name if eta is None else ", ".join(filter(None, (name, f"η = {eta:g}")))
             for name, eta in zip(names, constant, strict=True)]
    panels = [p for p in PANELS if any(_has(cols, p[0]) and not (p[0] == "eta" and eta is not None)
                                       for (_, cols, _), eta in zip(loaded, constant, strict=True))]
    if not panels:
        raise DataError("nothing to draw: no run recorded accuracy, cost, eta or grad_norm.")
    fig = new_figure("gdkit.plot.curves", (4.2 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, ylabel, log) in zip(axes, panels, strict=True):
        for i, (name, (_, cols, xlabel)) in enumerate(zip(names, loaded, strict=True)):
            if key == "accuracy":
                _accuracies(ax, cols, name, f"C{i % 10}", several=len(runs) > 1)
                ax.set_xlabel(xlabel)
            elif _has(cols, key):
                x, y = _xy(cols, key)
                ax.plot(x, y, marker="o", markersize=3, label=name, color=f"C{i % 10}")
                ax.set_xlabel(xlabel)
        ys = np.concatenate([cols[key] for _, cols, _ in loaded if _has(cols, key)])
        if log and np.all(ys[np.isfinite(ys)] > 0):
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if panels[0][0] == "accuracy" or len(runs) > 1 or labels is not None:
        axes[0].legend(fontsize="small")
    if title is not None:
        fig.suptitle(title)
    return fig


def _accuracies(ax: Any, cols: Mapping[str, FloatArray], name: str, colour: str, *,
                several: bool) -> None:
    """Test accuracy (solid), validation accuracy (dashed) and its best epoch (a star)."""
    def label(what: str) -> str:
        return f"{name}: {what}" if several else f"{what} ({name})" if name else what

    if _has(cols, "accuracy"):
        x, y = _xy(cols, "accuracy")
        ax.plot(x, y, marker="o", markersize=3, color=colour, label=label("test"))
    if _has(cols, "val_accuracy"):
        x, y = _xy(cols, "val_accuracy")
        ax.plot(x, y, marker="o", markersize=3, linestyle="--", color=colour, alpha=0.8,
                label=label("validation"))
        best = int(np.nanargmax(y))  # the first of equals, as gdkit train keeps it
        test = cols["accuracy"][best] if _has(cols, "accuracy") else math.nan
        ax.plot(x[best], y[best], marker="*", markersize=14, color=colour,
                markeredgecolor="black", linestyle="none",
                label=f"{name + ': ' if several else ''}best validation, epoch {x[best]:g}"
                      + ("" if math.isnan(test) else f" (test {100 * test:.2f}%)"))
        ax.axvline(x[best], color=colour, linestyle=":", linewidth=1)


def _constant(cols: Mapping[str, FloatArray], key: str) -> float | None:
    """The one value of a column that never changed, or None."""
    if key not in cols:
        return None
    finite = cols[key][np.isfinite(cols[key])]
    if finite.size == 0 or not np.all(finite == finite[0]):
        return None
    return float(finite[0])


def _has(cols: Mapping[str, FloatArray], key: str) -> bool:
    return key in cols and bool(np.isfinite(cols[key]).any())


def _xy(cols: Mapping[str, FloatArray], key: str) -> tuple[FloatArray, FloatArray]:
    y = cols[key] * (100.0 if key in ("accuracy", "val_accuracy") else 1.0)
    x = cols["epoch"] if "epoch" in cols else np.arange(len(y), dtype=float)
    return x, y


def _columns(run: Run, i: int) -> tuple[str, dict[str, FloatArray], str]:
    if isinstance(run, (str, os.PathLike)):
        return Path(run).name, read_log(run), "epoch"
    if isinstance(run, Result):
        hist = run.history
        cols = {k: np.asarray(hist[k], dtype=float) for k in hist}
        if hist.per == "epoch":
            cols["epoch"] = np.arange(1, hist.rows + 1, dtype=float)
        return f"run {i + 1}", cols, hist.per
    cols = {k: np.asarray(v, dtype=float) for k, v in run.items()}
    return f"run {i + 1}", cols, "epoch" if "epoch" in cols else "iteration"
