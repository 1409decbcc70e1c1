"""Pictures of the MNIST network: 28×28 digits with their labels (and
predictions), and each hidden neuron's input weights as a 28×28 image.

Drawn on a new :class:`matplotlib.figure.Figure` as :mod:`gdkit.plot` draws
(``gdkit[plot]``); the confusion matrix, which any classifier has, is
:func:`gdkit.plot.confusion`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from gdkit.errors import ShapeError
from gdkit.plot.figure import new_figure

__all__ = ["WEIGHTS_CMAP", "digits", "weights"]


def _images(images: npt.ArrayLike, shape: tuple[int, int], what: str) -> npt.NDArray[Any]:
    arr = np.asarray(images, dtype=float)
    pixels = shape[0] * shape[1]
    if arr.ndim == 3 and arr.shape[1:] == shape:
        return arr
    if arr.ndim != 2 or arr.shape[1] != pixels:
        raise ShapeError(f"{what} must be rows of {pixels} pixels ({shape[0]}×{shape[1]}) "
                         f"or an array of shape (n, {shape[0]}, {shape[1]}); got {arr.shape}.")
    return arr.reshape(-1, *shape)


def _grid(fig: Any, n: int, ncols: int) -> list[Any]:
    ncols = max(1, min(ncols, n))
    axes = fig.subplots(math.ceil(n / ncols), ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    return list(axes[:n])


def digits(images: npt.ArrayLike, labels: npt.ArrayLike, predicted: npt.ArrayLike | None = None,
           *, shape: tuple[int, int] = (28, 28), ncols: int = 10,
           title: str | None = None) -> Any:
    """Draw a grid of digit images, each titled with its label (and prediction).

    Parameters
    ----------
    images : array_like, shape (n, 784) or (n, 28, 28)
        Pixel values, 0 (background) to 1 (ink) as in MNIST; drawn dark on light.
    labels : array_like of int, shape (n,)
        The true digits.
    predicted : array_like of int, shape (n,), optional
        What the network said; each title then reads "true 3 → 5", in red
        where they differ.
    shape : (int, int), default (28, 28)
        Height and width of one image.
    ncols : int, default 10
        Images per row.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One image per axes, in the order given.
    """
    imgs = _images(images, shape, "images")
    true = np.asarray(labels).reshape(-1)
    pred = None if predicted is None else np.asarray(predicted).reshape(-1)
    if true.shape[0] != imgs.shape[0] or (pred is not None and pred.shape != true.shape):
        raise ShapeError(f"{imgs.shape[0]} images need as many labels (and predictions); got "
                         f"{true.shape[0]}" + ("" if pred is None else f" and {pred.shape[0]}")
                         + ".")
    n = imgs.shape[0]
    cols = max(1, min(ncols, n))
    fig = new_figure("gdkit_plugins.network.images.digits",
                     (1.1 * cols, 1.25 * max(1, math.ceil(n / cols)) + 0.4))
    for ax, img, t, k in zip(_grid(fig, n, ncols), imgs, true,
                             pred if pred is not None else [None] * n, strict=True):
        ax.imshow(img, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
        wrong = k is not None and k != t
        ax.set_title(f"{t} → {k}" if k is not None else f"{t}", fontsize=9,
                     color="tab:red" if wrong else "black")
    if n == 0:
        fig.text(0.5, 0.5, "no images", ha="center", va="center")
    if title is not None:
        fig.suptitle(title)
    return fig


def weights(w: npt.ArrayLike, *, shape: tuple[int, int] = (28, 28), ncols: int = 10,
            title: str | None = None) -> Any:
    """Draw each hidden neuron's input weights as an image.

    Parameters
    ----------
    w : array_like, shape (h, 784)
        The first layer's weights, one row per hidden neuron (the book's
        ``weights[0]``).
    shape : (int, int), default (28, 28)
        How a row is laid out as an image.
    ncols : int, default 10
        Neurons per row of the grid.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        One image per neuron, titled with its index, on a diverging colour
        map centred at 0 and scaled to that neuron's largest absolute weight
        (red: the pixel excites the neuron, blue: it inhibits it).
    """
    rows = _images(w, shape, "weights")
    n = rows.shape[0]
    cols = max(1, min(ncols, n))
    fig = new_figure("gdkit_plugins.network.images.weights",
                     (max(1.1 * cols, 5.0), 1.2 * max(1, math.ceil(n / cols)) + 1.3))
    grid = _grid(fig, n, ncols)
    for i, (ax, img) in enumerate(zip(grid, rows, strict=True)):
        scale = float(np.max(np.abs(img))) or 1.0
        ax.imshow(img, cmap=WEIGHTS_CMAP, vmin=-scale, vmax=scale, interpolation="nearest")
        ax.set_title(f"{i}", fontsize=8)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(-1.0, 1.0), WEIGHTS_CMAP), ax=grid,
                       orientation="horizontal", shrink=0.7, aspect=40, pad=0.04,
                       ticks=[-1.0, 0.0, 1.0])
    bar.ax.set_xticklabels(["blue: ink here inhibits", "0: no effect",
                            "red: ink here excites"], fontsize=8)
    bar.set_label("a pixel's weight, as a fraction of its neuron's largest |weight|",
                  fontsize=8)
    if title is not None:
        fig.suptitle(title)
    return fig


#: The weights' colour map: blue below 0, white at 0, red above.
WEIGHTS_CMAP = "RdBu_r"
