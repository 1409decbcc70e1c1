"""The seed's valley: a two-variable cost drawn as a surface and as contours,
with the ball's path (the iterates v₀, v₁, … of eq. 10) for each step rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..descent import minimize
from ..errors import DivergenceError, ShapeError
from ..parts import objective as build_objective
from ..protocols import Objective
from ..result import Result
from .figure import new_figure

__all__ = ["EQUAL_AXES_RATIO", "Trace", "inside", "trace", "valley"]

FloatArray = npt.NDArray[np.floating[Any]]


@dataclass(frozen=True)
class Trace:
    """The path of one run of full-batch gradient descent.

    Attributes
    ----------
    label : str
        What the legend calls it (the step rule, by default).
    points : ndarray, shape (k + 1, m)
        v₀, v₁, …, v_k: the start and the point after each step taken.
    costs : ndarray, shape (k + 1,)
        C at each point.
    result : Result or None
        The run's result; None when the run diverged (then ``message`` says how).
    message : str
        ``result.message``, or the divergence error's message.
    """

    label: str
    points: FloatArray
    costs: FloatArray
    result: Result | None
    message: str

    @property
    def diverged(self) -> bool:
        """True when C or ∇C overflowed: the path ends where it was last finite."""
        return self.result is None

    @property
    def rose(self) -> bool:
        """True when the path ends above its start (η too large, or diverged)."""
        return self.diverged or bool(self.costs[-1] > self.costs[0])

    @property
    def final_cost(self) -> float:
        """C at the last point of the path."""
        return float(self.costs[-1])

    @property
    def steps(self) -> int:
        """The steps the path takes (its points less the start)."""
        return len(self.points) - 1

    @property
    def legend(self) -> str:
        """``label``, and the final cost and steps taken, or "diverged"."""
        if self.diverged:
            return f"{self.label}: diverged"
        end = f"C = {self.final_cost:.3g} after {self.steps:,} step{'s' * (self.steps != 1)}"
        if self.rose:
            end += " (rose)"
        return f"{self.label}: {end}"


def trace(objective: Objective | str, v0: npt.ArrayLike, step: Any = "auto", *,
          label: str | None = None, max_iter: int = 50, **options: Any) -> Trace:
    """Run :func:`gdkit.minimize` from ``v0`` and keep every point it visits.

    Parameters
    ----------
    objective : Objective or str
        The cost, as an object or a registered name (built with default
        options; build it with :func:`gdkit.objective` for others).
    v0 : array_like
        The start.
    step : StepRule, StepSize or str, default "auto"
        As for :func:`gdkit.minimize` (``"fixed(eta=0.5)"``,
        ``"momentum(beta=0.5),armijo"``, an object; ``"auto"`` is
        ``lbfgs,wolfe`` here, as in any full-batch run).
    label : str, optional
        Legend text; default: ``step`` as written, or its ``repr``.
    max_iter : int, default 50
        The most steps to take.
    **options
        Passed on to :func:`gdkit.minimize` (``gradient``, ``gtol``, …).

    Returns
    -------
    Trace
        A run that diverges is not an error here: its path ends at the last
        finite point, and :attr:`Trace.diverged` is True (an η too large is one
        of the pictures worth drawing).
    """
    obj = build_objective(objective) if isinstance(objective, str) else objective
    points: list[FloatArray] = []
    result: Result | None = None
    try:  # divergence is expected here: it is reported, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            result = minimize(obj, v0, step=step, max_iter=max_iter,
                              observers=[points.append], **options)
        message = str(result.message)
    except DivergenceError as exc:
        message = str(exc)
    start = np.array(v0, dtype=points[0].dtype if points else np.float64, ndmin=1)
    path = np.vstack([start, *points]) if points else start[None, :]
    finite = np.all(np.isfinite(path), axis=1)
    path = path[: int(np.argmin(finite)) if not finite.all() else len(path)]
    costs = np.array([_cost(obj, v) for v in path])
    keep = np.isfinite(costs)
    if not keep.all():
        path, costs = path[: int(np.argmin(keep))], costs[: int(np.argmin(keep))]
    return Trace(label if label is not None else (step if isinstance(step, str) else repr(step)),
                 path, costs, result, message)


def _cost(obj: Objective, v: FloatArray) -> float:
    with np.errstate(all="ignore"):
        return float(obj.cost(v))


def valley(objective: Objective | str, traces: Sequence[Trace] = (), *,
           bounds: Sequence[float] | None = None, surface: bool = True,
           resolution: int = 121, levels: int = 25, log: bool | None = None,
           equal: bool | None = None, title: str | None = None) -> Any:
    """Draw a two-variable cost and the paths of gradient descent on it.

    Parameters
    ----------
    objective : Objective or str
        A cost of dim 2 (the seed's valley, Rosenbrock with ``dim=2``, or
        your own).
    traces : sequence of Trace
        Paths from :func:`trace`, each drawn in its own colour with its
        label, final cost and steps taken. A path that leaves the region
        drawn (one that rose or diverged) is drawn up to the edge, where a
        hollow diamond marks the step at which it left; the legend says so.
    bounds : (v1_min, v1_max, v2_min, v2_max), optional
        The region drawn. Default: the box around the paths of the traces
        whose cost did not rise, with a margin (the start alone if all
        rose), or [-2, 2]² without traces.
    surface : bool, default True
        Draw the 3-D surface beside the contours (the seed's valley);
        False draws the contours only.
    resolution : int, default 121
        Grid points per side at which C is evaluated.
    levels : int, default 25
        Contour levels.
    log : bool, optional
        Space the contour levels geometrically. Default: when C ≥ 0 spans
        more than three decades over the region (Rosenbrock's banana).
    equal : bool, optional
        Draw v₁ and v₂ to one scale, so that a circle is round and a
        gradient step crosses the contours at right angles, as it does
        (both variables are measured alike in the built-in costs). Default:
        equal unless the region is more than three times as wide as high,
        or as high as wide (then a strip too thin to read).
    title : str, optional
        Default: the objective's ``repr``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    gdkit.errors.ShapeError
        The objective's dim is not 2.
    """
    obj = build_objective(objective) if isinstance(objective, str) else objective
    if obj.dim != 2:
        raise ShapeError(f"a valley picture needs a cost of two variables; {obj!r} has dim "
                         f"{obj.dim}" + _dim_hint(obj) + ".")
    box = _bounds(bounds, traces)
    xs = np.linspace(box[0], box[1], resolution)
    ys = np.linspace(box[2], box[3], resolution)
    zs = np.array([[_cost(obj, np.array([x, y])) for x in xs] for y in ys])
    fig = new_figure("gdkit.plot.valley", (12.0, 5.2) if surface else (6.4, 5.2))
    if surface:
        _surface(fig.add_subplot(1, 2, 1, projection="3d"), xs, ys, zs, traces, box)
    ax = fig.add_subplot(1, 2, 2) if surface else fig.add_subplot()
    if equal is None:
        ratio = (box[1] - box[0]) / (box[3] - box[2])
        equal = 1 / EQUAL_AXES_RATIO <= ratio <= EQUAL_AXES_RATIO
    _contours(ax, xs, ys, zs, traces, box, levels, log, equal)
    fig.suptitle(title if title is not None else repr(obj))
    if traces:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center",
                   ncols=min(3, len(traces)), fontsize="small")
    return fig


#: The widest region (width ÷ height, or height ÷ width) drawn on equal axes by default.
EQUAL_AXES_RATIO = 3.0


def inside(points: FloatArray, box: Sequence[float]) -> tuple[FloatArray, int | None]:
    """The part of a path inside ``box`` = (v1_min, v1_max, v2_min, v2_max).

    Returns the points up to the first one outside the box, then the point
    where the step that left crosses the box's edge; and that step's number
    (None when the path never leaves).
    """
    pts = np.asarray(points, dtype=float)
    within = ((pts[:, 0] >= box[0]) & (pts[:, 0] <= box[1])
              & (pts[:, 1] >= box[2]) & (pts[:, 1] <= box[3]))
    if within.all():
        return pts, None
    k = int(np.argmin(within))
    if k == 0:
        return pts[:0], 0
    a, b = pts[k - 1], pts[k]
    d = b - a
    t = 1.0  # the fraction of the step a → b still inside the box
    for axis, (lo, hi) in enumerate(((box[0], box[1]), (box[2], box[3]))):
        if d[axis] > 0:
            t = min(t, (hi - a[axis]) / d[axis])
        elif d[axis] < 0:
            t = min(t, (lo - a[axis]) / d[axis])
    return np.vstack([pts[:k], a + max(t, 0.0) * d]), k


def _dim_hint(obj: Objective) -> str:
    return ": build it with dim=2 (-o dim=2)" if "dim" in repr(obj) else ""


def _bounds(bounds: Sequence[float] | None, traces: Sequence[Trace]) -> tuple[float, ...]:
    if bounds is not None:
        box = tuple(float(b) for b in bounds)
        if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
            raise ShapeError(f"bounds must be (v1_min, v1_max, v2_min, v2_max) with min < max, "
                             f"got {tuple(bounds)}.")
        return box
    calm = [t.points for t in traces if not t.rose] or [t.points[:1] for t in traces]
    if not calm:
        return (-2.0, 2.0, -2.0, 2.0)
    pts = np.vstack(calm)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum(0.25 * (hi - lo), 0.5)
    return (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])


def _levels(zs: FloatArray, levels: int, log: bool | None) -> Any:
    finite = zs[np.isfinite(zs)]
    lo, hi = float(finite.min()), float(finite.max())
    positive = finite[finite > 0]
    if log is None:
        log = lo >= 0 and positive.size > 0 and hi / positive.min() > 1e3
    if log and positive.size:
        return np.geomspace(positive.min(), hi, levels)
    return levels


def _contours(ax: Any, xs: FloatArray, ys: FloatArray, zs: FloatArray,
              traces: Sequence[Trace], box: tuple[float, ...], levels: int,
              log: bool | None, equal: bool) -> None:
    ax.contour(xs, ys, zs, levels=_levels(zs, levels, log), cmap="viridis", linewidths=0.8)
    for i, t in enumerate(traces):
        shown, left = inside(t.points, box)
        label = t.legend + ("" if left is None else f", left the view at step {left}")
        ax.plot(shown[:, 0], shown[:, 1], marker=_marker(t), markersize=3,
                linewidth=1.2, label=label, color=_colour(i))
        if left is None:  # where it ended
            ax.plot(shown[-1, 0], shown[-1, 1], marker="X", markersize=8,
                    color=_colour(i), linestyle="none")
        elif len(shown):  # where it left the picture
            ax.plot(shown[-1, 0], shown[-1, 1], marker="D", markersize=8, markeredgewidth=1.5,
                    markerfacecolor="none", color=_colour(i), linestyle="none")
    if traces:
        ax.plot(traces[0].points[0, 0], traces[0].points[0, 1], marker="o", markersize=8,
                color="black", linestyle="none", label="start v₀")
    ax.set(xlim=box[:2], ylim=box[2:], xlabel="v₁", ylabel="v₂")
    ax.set_aspect("equal" if equal else "auto", adjustable="box")


def _colour(i: int) -> str:
    return f"C{i % 10}"


def _marker(t: Trace) -> str:
    """Dots on each iterate while they can be told apart."""
    return "o" if len(t.points) <= 200 else ""


def _surface(ax: Any, xs: FloatArray, ys: FloatArray, zs: FloatArray,
             traces: Sequence[Trace], box: tuple[float, ...]) -> None:
    gx, gy = np.meshgrid(xs, ys)
    ax.plot_surface(gx, gy, zs, cmap="viridis", alpha=0.55, linewidth=0, antialiased=True)
    for i, t in enumerate(traces):  # the ball: only where it is inside the picture
        inside = ((t.points[:, 0] >= box[0]) & (t.points[:, 0] <= box[1])
                  & (t.points[:, 1] >= box[2]) & (t.points[:, 1] <= box[3])
                  & (t.costs <= np.nanmax(zs)))
        xs3, ys3, zs3 = (np.where(inside, c, np.nan) for c in
                         (t.points[:, 0], t.points[:, 1], t.costs))
        ax.plot(xs3, ys3, zs3, marker=_marker(t), markersize=2.5, linewidth=1.2,
                color=_colour(i))
    finite = zs[np.isfinite(zs)]
    ax.set(xlabel="v₁", ylabel="v₂", zlabel="C", xlim=box[:2], ylim=box[2:],
           zlim=(float(finite.min()), float(finite.max())))
    ax.view_init(elev=35, azim=-125)
