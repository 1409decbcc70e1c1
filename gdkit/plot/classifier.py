"""Pictures of any classifier: its confusion matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ShapeError
from .figure import new_figure

__all__ = ["confusion"]


def confusion(matrix: npt.ArrayLike, *, labels: Sequence[str] | None = None,
              title: str | None = None) -> Any:
    """Draw a confusion matrix: rows the true class, columns the predicted one.

    Parameters
    ----------
    matrix : array_like of int, shape (k, k)
        ``matrix[i, j]``: how many inputs of class i were predicted as j.
    labels : sequence of str, optional
        Class names (default "0", "1", …).
    title : str, optional
        Default: the accuracy, trace / total.

    Returns
    -------
    matplotlib.figure.Figure
        The counts as an image (log-scaled colour, so the few errors show
        beside the many right answers) with every count written in its cell.
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ShapeError(f"a confusion matrix is square, k×k; got shape {m.shape}.")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if labels is None else [str(s) for s in labels]
    fig = new_figure("gdkit.plot.confusion", (0.55 * k + 2.2, 0.55 * k + 1.6))
    ax = fig.add_subplot()
    from matplotlib.colors import LogNorm

    shown = np.where(m > 0, m, np.nan).astype(float)
    image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2.0, float(m.max()))))
    fig.colorbar(image, ax=ax, shrink=0.8, label="count")
    half = math.sqrt(max(2.0, float(m.max())))
    for (i, j), count in np.ndenumerate(m):
        ax.text(j, i, f"{count}", ha="center", va="center", fontsize=7,
                color="white" if count > half else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true")
    total, right = int(m.sum()), int(np.trace(m))
    ax.set_title(title if title is not None else
                 f"{right:,} / {total:,} right ({100.0 * right / max(total, 1):.2f}%)")
    return fig
