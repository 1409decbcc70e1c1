"""Contract checks a plugin author runs on their own plugin.

gdkit's loop trusts every part it composes to keep a few promises: shapes and
dtypes, no mutation of its arguments, the same numbers for the same input,
finite values, a gradient that is the gradient of the cost, a step that does
not climb (eq. 9). These functions test those promises the way
scikit-learn's ``check_estimator`` tests an estimator, using hypothesis to
search for a counterexample and shrink it to a minimal one::

    from gdkit.testing import check_plugin

    def test_my_plugin():
        check_plugin("gdkit-momentum")   # every part of the distribution

A failing check raises :class:`CheckError`, an :class:`AssertionError`
naming the part, the check and the (shrunk) counterexample. A passing one
returns a report of what was checked and what did not apply.

hypothesis is needed (``pip install gdkit[test]``) and is imported only when
a check runs. The checks use their own hypothesis settings: no deadline, a
single failure reported as an :class:`AssertionError`
(``report_multiple_bugs=False``), derandomized (the same examples on every
run) and no example database, so nothing is written into your project's
``.hypothesis/`` unless you pass ``database=``.
"""

from __future__ import annotations

import copy
import math
import numbers
import operator
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn, final

import numpy as np
import numpy.typing as npt

from .errors import GdkitError, PluginError, StepError, UnknownPluginError
from .protocols import (
    Batch,
    ComplexCost,
    Evaluates,
    FloatArray,
    GradientSource,
    HasGradient,
    HasInitialPoint,
    Objective,
    Sampled,
    Stateful,
    StepContext,
    StepRule,
    ValidatesObjective,
)
from .registry import KINDS, PartInfo, Registry, _check_options, check_part, get_registry

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "GRADIENT_SOURCE_CHECKS",
    "OBJECTIVE_CHECKS",
    "STEP_RULE_CHECKS",
    "CheckError",
    "CheckSkippedWarning",
    "PartReport",
    "PluginReport",
    "check_gradient_source",
    "check_objective",
    "check_plugin",
    "check_step_rule",
    "plugin_parts",
    "reference_objectives",
]

DEFAULT_MAX_EXAMPLES: Final = 20
"""Examples hypothesis tries per check (``max_examples=`` changes it)."""

SMALL_DIM: Final = 16
"""Up to this dimension hypothesis draws every coordinate of v (and shrinks
them); above it, v comes from a drawn seed (``initial_point`` or uniform)."""

FULL_BATCH_LIMIT: Final = 2000
"""Sampled objectives with more training inputs are compared with central
differences on a random mini-batch instead of the full cost."""

# Check names: the second word of every failure message.
PROTOCOL: Final = "protocol"
INITIAL_POINT: Final = "initial point"
DTYPES: Final = "shapes and dtypes"
PURITY: Final = "purity"
DETERMINISM: Final = "determinism"
FINITE: Final = "finite outputs"
GRADIENT: Final = "gradient vs central differences"
MINI_BATCH: Final = "mini-batch"
COMPLEX_STEP: Final = "complex step"
DESCENT: Final = "descent (eq. 9)"
EVALUATE: Final = "evaluate"
ACCURACY: Final = "accuracy vs analytic gradient"
IN_PLACE: Final = "in place"
ZERO_GRADIENT: Final = "zero gradient"
PROGRESS: Final = "progress"
STATE: Final = "state"
BUILD: Final = "build"

OBJECTIVE_CHECKS: Final = (PROTOCOL, INITIAL_POINT, PURITY, DTYPES, DETERMINISM, FINITE,
                           GRADIENT, MINI_BATCH, COMPLEX_STEP, DESCENT, EVALUATE)
"""The checks :func:`check_objective` runs, in order."""
GRADIENT_SOURCE_CHECKS: Final = (PROTOCOL, PURITY, DTYPES, DETERMINISM, FINITE, ACCURACY,
                                 MINI_BATCH, DESCENT)
"""The checks :func:`check_gradient_source` runs, in order."""
STEP_RULE_CHECKS: Final = (PROTOCOL, PURITY, DTYPES, IN_PLACE, DETERMINISM, ZERO_GRADIENT,
                           DESCENT, PROGRESS, STATE)
"""The checks :func:`check_step_rule` runs, in order."""

_F64: Final = np.dtype(np.float64)
_TINY: Final = 1e-300


def _require_hypothesis() -> None:
    try:
        import hypothesis  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "gdkit.testing needs hypothesis, which is not installed. Install gdkit's test "
            "extra: pip install 'gdkit[test]' (or pip install hypothesis)."
        ) from exc


# -- results -----------------------------------------------------------------
class CheckError(AssertionError):
    """A part broke a promise gdkit relies on.

    Attributes
    ----------
    part : str
        The part, as named in the message.
    check : str
        The check that failed (one of :data:`OBJECTIVE_CHECKS`,
        :data:`GRADIENT_SOURCE_CHECKS`, :data:`STEP_RULE_CHECKS`, or
        ``"build"`` when :func:`check_plugin` could not build the part).
    counterexample : str or None
        The minimal input found (hypothesis shrinks it), if any.
    """

    def __init__(self, part: str, check: str, problem: str,
                 counterexample: str | None = None) -> None:
        msg = f"{part}: check {check!r} failed: {problem}"
        if counterexample is not None:
            msg += f"\n  counterexample: {counterexample}"
        super().__init__(msg)
        self.part = part
        self.check = check
        self.counterexample = counterexample


class CheckSkippedWarning(UserWarning):
    """:func:`check_plugin` skipped a part because it was told to (``skip=``)."""


@final
@dataclass(frozen=True)
class PartReport:
    """What :func:`check_objective`, :func:`check_gradient_source` or
    :func:`check_step_rule` verified on one part.

    Attributes
    ----------
    part : str
        The part's name in messages.
    kind : str
        ``"objective"``, ``"gradient source"`` or ``"step rule"``.
    passed : tuple of str
        The checks that ran and passed.
    skipped : tuple of (str, str)
        The checks that did not apply or were skipped on request, with why.
    notes : tuple of str
        Things worth knowing that are not failures (a refused dtype...).
    """

    part: str
    kind: str
    passed: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = self.part if self.part.startswith(self.kind) else f"{self.kind} {self.part}"
        lines = [f"{head}: {len(self.passed)} checks passed"]
        lines += [f"  passed:  {c}" for c in self.passed]
        lines += [f"  skipped: {c} ({why})" for c, why in self.skipped]
        lines += [f"  note:    {n}" for n in self.notes]
        return "\n".join(lines)


@final
@dataclass(frozen=True)
class PluginReport:
    """What :func:`check_plugin` verified: one :class:`PartReport` per part,
    and the parts skipped on request, with the reason given."""

    plugin: str
    parts: tuple[PartReport, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        lines = [f"gdkit.testing: {self.plugin}: {len(self.parts)} parts checked, "
                 f"{len(self.skipped)} skipped"]
        lines += [str(p) for p in self.parts]
        lines += [f"SKIPPED {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


# -- the hypothesis harness ---------------------------------------------------
@final
class _Point:
    """One drawn input: v in a dtype, and a seed for auxiliary randomness."""

    __slots__ = ("aux", "ref", "seed", "v")

    def __init__(self, v: FloatArray, aux: int, seed: int | None = None,
                 ref: int | None = None) -> None:
        self.v = v
        self.aux = aux
        self.seed = seed
        self.ref = ref

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.aux)

    def __repr__(self) -> str:
        return _describe(self.v, self.seed) + f", aux seed {self.aux}"


def _shown(example: object) -> str | None:
    return example if example is None or isinstance(example, str) else repr(example)


def _fmt(a: npt.NDArray[Any]) -> str:
    return np.array2string(np.asarray(a), separator=", ", threshold=12, edgeitems=3,
                           floatmode="unique", max_line_width=200)


def _describe(v: FloatArray, seed: int | None = None) -> str:
    text = f"v = {_fmt(v)} ({v.dtype}, dim {v.size})"
    if seed is not None:
        text += f" drawn with numpy.random.default_rng({seed})"
    return text


def _database(database: Any) -> Any:
    if database is None or not isinstance(database, (str, os.PathLike)):
        return database
    from hypothesis.database import DirectoryBasedExampleDatabase

    return DirectoryBasedExampleDatabase(os.fspath(database))


@contextmanager
def _private_storage(database: Any) -> Iterator[None]:
    """Keep hypothesis from writing ``.hypothesis/`` into the current directory.

    Even without an example database hypothesis caches constants it finds in
    local source files under ``.hypothesis/constants``. Unless the caller opted
    in to a database, point its storage at a temporary directory for the
    duration of the check.
    """
    if database is not None:
        yield
        return
    from hypothesis import configuration

    state = vars(configuration)
    key = "__hypothesis_home_directory"
    setter = getattr(configuration, "set_hypothesis_home_dir", None)
    if key not in state or setter is None:  # pragma: no cover - another hypothesis layout
        yield
        return
    previous = state[key]
    with tempfile.TemporaryDirectory(prefix="gdkit-testing-") as tmp:
        setter(tmp)
        try:
            yield
        finally:
            setter(previous)


class _Checker:
    """Runs the checks of one part and records what passed and what was skipped."""

    def __init__(self, part: str, kind: str, known: Sequence[str], *, max_examples: int,
                 database: Any, derandomize: bool, skip: Mapping[str, str] | None) -> None:
        if isinstance(max_examples, bool) or not isinstance(max_examples, int) \
                or max_examples < 1:
            raise ValueError(f"max_examples must be an integer >= 1, got {max_examples!r}.")
        unknown = sorted(set(skip or ()) - set(known))
        if unknown:
            raise ValueError(f"skip= names no check of a {kind}: {', '.join(unknown)}. "
                             f"The checks are: {', '.join(known)}.")
        for check, why in (skip or {}).items():
            if not isinstance(why, str) or not why.strip():
                raise ValueError(f"skip={{{check!r}: ...}} needs a reason (a non-empty string).")
        _require_hypothesis()
        self.part = part
        self.kind = kind
        self.max_examples = max_examples
        self.database = _database(database)
        self.derandomize = derandomize
        self.skip = dict(skip or {})
        self.passed: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        self.notes: list[str] = []

    # -- failing -------------------------------------------------------------
    def fail(self, check: str, problem: str, example: object = None) -> NoReturn:
        raise CheckError(self.part, check, problem, _shown(example))

    def call(self, check: str, example: object, what: str, fn: Callable[..., Any],
             *args: Any) -> Any:
        """``fn(*args)``, turning any exception into a failure of ``check``."""
        try:
            return fn(*args)
        except CheckError:
            raise
        except Exception as exc:
            raise CheckError(self.part, check, f"{what} raised {type(exc).__name__}: {exc}",
                             _shown(example)) from exc

    # -- running -------------------------------------------------------------
    def wants(self, check: str) -> bool:
        if check in self.skip:
            self.skipped.append((check, f"skipped on request: {self.skip[check]}"))
            return False
        return True

    def not_applicable(self, check: str, why: str) -> None:
        if check not in self.skip:
            self.skipped.append((check, why))

    def once(self, check: str, body: Callable[[], None]) -> None:
        if self.wants(check):
            body()
            self.passed.append(check)

    def prop(self, check: str, strategy: SearchStrategy[_Point],
             body: Callable[[_Point], None]) -> None:
        """Run ``body`` on examples drawn from ``strategy`` (hypothesis shrinks a failure)."""
        if not self.wants(check):
            return
        from hypothesis import HealthCheck, Phase, given, settings

        config = settings(max_examples=self.max_examples, deadline=None,
                          database=self.database, derandomize=self.derandomize,
                          report_multiple_bugs=False, print_blob=False,
                          suppress_health_check=list(HealthCheck),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target,
                                  Phase.shrink])

        @config
        @given(example=strategy)
        def gdkit_check(example: _Point) -> None:
            with suppress(_Declined):  # a rule found no step here: nothing to judge
                body(example)

        with _private_storage(self.database):
            gdkit_check()
        self.passed.append(check)

    def report(self) -> PartReport:
        return PartReport(self.part, self.kind, tuple(self.passed), tuple(self.skipped),
                          tuple(self.notes))


def _points(dim: int, dtypes: Sequence[np.dtype[Any]], bound: float,
            make: Callable[[np.random.Generator], Any] | None) -> SearchStrategy[_Point]:
    """Points v of length ``dim``: coordinates drawn by hypothesis when few, else
    from a drawn seed through ``make``."""
    from hypothesis import strategies as st

    dts = st.sampled_from(list(dtypes))
    aux = st.integers(0, 2**32 - 1)
    if make is None and dim <= SMALL_DIM:
        def point(dtype: np.dtype[Any], coords: list[float], aux: int) -> _Point:
            return _Point(np.array(coords, dtype=dtype), aux)

        return st.builds(point, dts, _coords(dim, bound), aux)

    def seeded_point(dtype: np.dtype[Any], seed: int, aux: int) -> _Point:
        rng = np.random.default_rng(seed)
        raw = make(rng) if make is not None else rng.uniform(-bound, bound, dim)
        return _Point(np.array(raw, dtype=dtype, order="C", copy=True), aux, seed=seed)

    return st.builds(seeded_point, dts, st.integers(0, 2**32 - 1), aux)


def _coords(dim: int, bound: float) -> SearchStrategy[list[float]]:
    from hypothesis import strategies as st

    return st.lists(st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
                    min_size=dim, max_size=dim)


def _on_references(refs: Sequence[Objective], dtypes: Sequence[np.dtype[Any]],
                   bound: float) -> SearchStrategy[_Point]:
    """A reference objective (by index) and a point for it (the first ``dim``
    of the drawn coordinates, so that hypothesis shrinks both together)."""
    from hypothesis import strategies as st

    width = max(int(r.dim) for r in refs)

    def point(ref: int, dtype: np.dtype[Any], coords: list[float], aux: int) -> _Point:
        v = np.array(coords[:int(refs[ref].dim)], dtype=dtype)
        return _Point(v, aux, ref=ref)

    return st.builds(point, st.sampled_from(range(len(refs))), st.sampled_from(list(dtypes)),
                     _coords(width, bound), st.integers(0, 2**32 - 1))


# -- small numerical helpers --------------------------------------------------
def _eps(dtype: np.dtype[Any]) -> float:
    return float(np.finfo(dtype).eps)


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _same_bits(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _first_diff(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> str:
    if a.shape != b.shape or a.dtype != b.dtype:
        return ""
    bits = np.dtype(f"u{a.dtype.itemsize}")
    diff = np.flatnonzero(a.reshape(-1).view(bits) != b.reshape(-1).view(bits))
    if diff.size == 0:
        return ""
    i = int(diff[0])
    return f" (coordinate {i}: {b[i]!r} became {a[i]!r})"


def _close(a: float, b: float, rtol: float, scale: float = 0.0) -> bool:
    """Equal within rtol (NaN equals NaN here: finiteness is another check)."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return abs(a - b) <= rtol * max(abs(a), abs(b), scale) + _TINY


def _vector(chk: _Checker, check: str, what: str, g: object, v: FloatArray,
            example: object) -> FloatArray:
    """``g`` must be an ndarray of v's shape and dtype."""
    if not isinstance(g, np.ndarray):
        chk.fail(check, f"{what} returned {type(g).__name__}, not a numpy array of shape "
                        f"{v.shape} and dtype {v.dtype}", example)
    if g.shape != v.shape:
        chk.fail(check, f"{what} returned shape {g.shape}; a gradient must have v's shape "
                        f"{v.shape}", example)
    if g.dtype != v.dtype:
        chk.fail(check, f"{what} returned dtype {g.dtype} for a {v.dtype} v; a gradient must "
                        f"have v's dtype (allocate with numpy.empty_like(v), not numpy.empty("
                        f"{v.size}) or numpy.zeros({v.size}))", example)
    return g


def _into_out(chk: _Checker, check: str, what: str, fn: Callable[[FloatArray], object],
              expected: FloatArray, v: FloatArray, example: object) -> None:
    """``fn(out)`` must write ``expected`` into ``out`` (pre-filled with NaN) and return it."""
    out = np.full_like(v, np.nan)
    got = chk.call(check, example, what, fn, out)
    if got is not out:
        chk.fail(check, f"{what} returned {type(got).__name__} {getattr(got, 'shape', '')} "
                        "instead of out: write ∇C into out and return out", example)
    if np.isnan(out).any() and not np.isnan(expected).any():
        i = int(np.flatnonzero(np.isnan(out))[0])
        chk.fail(check, f"{what} left coordinate {i} of out unwritten (out was filled with NaN "
                        "first): every entry must be overwritten, never accumulated into",
                 example)
    tol = 1e3 * _eps(v.dtype)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    if not np.allclose(out, expected, rtol=tol, atol=tol * scale):
        i = int(np.argmax(np.abs(out.astype(float) - expected.astype(float))))
        chk.fail(check, f"{what} wrote {out[i]!r} at coordinate {i}, but the same call "
                        f"without out returned {expected[i]!r}", example)


def _exact_steps(v: FloatArray, u: FloatArray, h: float) -> tuple[FloatArray, FloatArray]:
    """v ± h·u in v's dtype."""
    step = (h * u).astype(v.dtype)
    return v + step, v - step


@final
@dataclass(frozen=True)
class _Compare:
    """One analytic directional derivative against central differences."""

    label: str
    analytic: float
    fd: float
    error: float
    tolerance: float
    h: float

    @property
    def badness(self) -> float:
        return self.error / self.tolerance if self.tolerance > 0 else math.inf


def _central(cost: Callable[[FloatArray], float], grad: FloatArray, v: FloatArray,
             u: FloatArray, h: float, rtol: float, label: str) -> _Compare:
    """Compare grad·u with (C(v + h u) − C(v − h u)) / 2h.

    The truncation error is estimated from the same difference with step 2h
    (it is four times larger there), the rounding error from the cost's
    magnitude, so the tolerance is rtol plus what central differences
    themselves can be trusted to.
    """
    eps = _eps(v.dtype)
    g64 = grad.astype(np.float64)
    v64 = v.astype(np.float64)
    errors: list[float] = []
    values: list[tuple[float, float, float]] = []
    for hk in (h, 2 * h):
        wp, wm = _exact_steps(v, u, hk)
        d = (wp.astype(np.float64) - v64) + (v64 - wm.astype(np.float64))  # ≈ 2 hk u
        cp, cm = float(cost(wp)), float(cost(wm))
        an = float(g64 @ d) / (2 * hk)
        fd = (cp - cm) / (2 * hk)
        errors.append(fd - an)
        values.append((an, fd, 64 * eps * (abs(cp) + abs(cm)) / (2 * hk)))
    (an, fd, rounding), _ = values
    tol = rtol * max(abs(an), abs(fd)) + 2 * abs(errors[1] - errors[0]) + rounding + _TINY
    return _Compare(label, an, fd, abs(errors[0]), tol, h)


def _default_rtol(dtype: np.dtype[Any]) -> float:
    return 1e-5 if dtype == _F64 else 1e-2


# -- reference objectives -------------------------------------------------------
@final
class _Bowl:
    """C(v) = ½ Σ c_i (v_i − t_i)², curvatures c_i in [0.5, 2]: a well-scaled valley."""

    def __init__(self, dim: int = 5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.c = rng.uniform(0.5, 2.0, dim)
        self.t = rng.uniform(-1.0, 1.0, dim)
        self.curvature = float(self.c.max())
        self.minimizer = self.t.copy()
        self.minimum = 0.0

    def __repr__(self) -> str:
        return f"gdkit.testing bowl (dim {self.dim})"

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        r = v.astype(np.float64) - self.t
        return float(0.5 * (self.c @ (r * r)))

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        r = v - self.t
        return complex(0.5 * np.sum(self.c * r * r))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        if out is None:
            out = np.empty_like(v)
        out[...] = self.c * (v.astype(np.float64) - self.t)
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(-2.0, 2.0, self.dim)


@final
class _Logistic:
    """A sampled, non-quadratic reference: mean logistic loss plus ½λ‖v‖².

    C(v) = 1/n Σ_j log(1 + exp(−y_j a_j·v)) + ½ λ ‖v‖², y_j = ±1.
    """

    def __init__(self, dim: int = 4, n: int = 24, lam: float = 0.1, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.dim = dim
        self.a = rng.standard_normal((n, dim))
        w = rng.standard_normal(dim)
        self.y = np.where(self.a @ w + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
        self.lam = lam
        self.curvature = 0.25 * float(np.linalg.norm(self.a, 2) ** 2) / n + lam
        self.minimizer = self._newton()
        self.minimum = self.cost(self.minimizer)

    def __repr__(self) -> str:
        return f"gdkit.testing logistic (dim {self.dim}, n_samples {self.n_samples})"

    @property
    def n_samples(self) -> int:
        return int(self.a.shape[0])

    def _rows(self, batch: Batch | None) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        return (self.a, self.y) if batch is None else (self.a[batch], self.y[batch])

    def cost(self, v: FloatArray, batch: Batch | None = None) -> float:
        a, y = self._rows(batch)
        v64 = v.astype(np.float64)
        return float(np.mean(np.logaddexp(0.0, -y * (a @ v64))) + 0.5 * self.lam * (v64 @ v64))

    def complex_cost(self, v: npt.NDArray[Any], batch: Batch | None = None) -> complex:
        a, y = self._rows(batch)
        return complex(np.mean(np.log(1.0 + np.exp(-y * (a @ v)))) + 0.5 * self.lam * (v @ v))

    def gradient(self, v: FloatArray, batch: Batch | None = None,
                 out: FloatArray | None = None) -> FloatArray:
        a, y = self._rows(batch)
        v64 = v.astype(np.float64)
        s = -y * _sigmoid(-y * (a @ v64))
        if out is None:
            out = np.empty_like(v)
        out[...] = a.T @ s / a.shape[0] + self.lam * v64
        return out

    def initial_point(self, rng: np.random.Generator) -> FloatArray:
        return rng.uniform(-2.0, 2.0, self.dim)

    def _newton(self) -> FloatArray:
        v = np.zeros(self.dim)
        for _ in range(50):
            z = self.a @ v
            p = _sigmoid(-self.y * z)
            g = self.gradient(v)
            h = (self.a.T * (p * (1 - p))) @ self.a / self.n_samples + self.lam * np.eye(self.dim)
            v = v - np.linalg.solve(h, g)
        return v


def _sigmoid(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def reference_objectives() -> list[Objective]:
    """The small objectives gradient sources and step rules are checked on.

    A 5-D bowl ½ Σ cᵢ(vᵢ − tᵢ)² with curvatures in [0.5, 2], and a 4-D
    mean logistic loss over 24 samples with ½·0.1‖v‖² (sampled: it takes
    mini-batches). Both have an analytic gradient, a complex-safe cost, a
    ``curvature`` attribute bounding ‖∇²C‖ and their exact ``minimizer``,
    and evaluate C in float64 whatever v's dtype.
    """
    return [_Bowl(), _Logistic()]


# -- objectives -------------------------------------------------------------------
def check_objective(
    objective: Objective,
    *,
    name: str | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    points: Callable[[np.random.Generator], Any] | None = None,
    bound: float = 2.0,
    rtol: float | None = None,
    fd_coords: int = 16,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that an objective keeps the promises gdkit's loop relies on.

    Parameters
    ----------
    objective : Objective
        The part to check (an instance, built with the configuration you ship).
    name : str, optional
        How failures name it (default: its repr).
    max_examples : int, default 20
        Examples hypothesis tries per check.
    dtypes : sequence of dtype, default ("float64", "float32")
        The dtypes of v to try. An objective may refuse one with a
        :class:`~gdkit.errors.GdkitError` (a float64-only network raising
        :class:`~gdkit.errors.ShapeError`): that is noted, not a failure;
        any other exception is.
    points : callable, optional
        ``points(rng) -> v``: where to evaluate (for a cost defined on part of
        R^m only). Default: for ``dim <= 16`` hypothesis draws each coordinate
        in [−bound, bound]; above, ``initial_point(rng)`` if the objective has
        one, else uniform in [−bound, bound].
    bound : float, default 2.0
    rtol : float, optional
        Relative tolerance of the gradient comparisons, on top of the
        estimated error of central differences (default 1e-5 for float64,
        1e-2 for float32).
    fd_coords : int, default 16
        Coordinates compared with central differences per example (all of
        them when dim is smaller; a random subset otherwise), plus two random
        directions.
    skip : mapping, optional
        Check name → reason, for checks that do not apply (reported).
    database : path or hypothesis ExampleDatabase, optional
        Opt in to hypothesis' example database (default: none, nothing written).
    derandomize : bool, default True
        The same examples on every run.

    Returns
    -------
    PartReport

    Raises
    ------
    CheckError
        An :class:`AssertionError` naming the part, the check and a minimal
        counterexample.

    Notes
    -----
    The checks, in order (:data:`OBJECTIVE_CHECKS`):

    - ``protocol``: ``dim`` is an integer >= 1, ``cost`` exists, ``n_samples``
      (if any) is an integer >= 1.
    - ``initial point``: ``initial_point(rng)`` is a finite float vector of
      shape (dim,), the same for the same seed.
    - ``purity``: neither ``cost`` nor ``gradient`` modifies v (or the batch).
    - ``shapes and dtypes``: for each dtype, ``cost`` returns a real number;
      ``gradient`` returns an array of v's shape and dtype, and with ``out=``
      overwrites every entry of ``out`` and returns it; the same on a batch.
    - ``determinism``: the same values give the same numbers, also when the
      same array is overwritten in place between calls (as the loop does).
    - ``finite outputs``: cost and gradient are finite.
    - ``gradient vs central differences``: the analytic gradient agrees with
      central differences on a subset of coordinates and on two random
      directions, within ``rtol`` plus the differences' own estimated error
      (from a second step 2h), relative error reported.
    - ``mini-batch`` (sampled objectives): the cost of a batch is the mean of
      its inputs' costs, independent of their order; all indices give the
      full cost; the batch gradient agrees with central differences of the
      batch cost and is the mean of the per-input gradients.
    - ``complex step`` (with ``complex_cost``): its real part is the cost and
      Im C(v + ihu)/h is the directional derivative.
    - ``descent (eq. 9)``: along Δv = −η∇C the change ΔC over −η‖∇C‖² tends
      to 1 as η → 0 (ΔC ≈ ∇C·Δv); once it does, no smaller step raises C.
    - ``evaluate`` (with ``evaluate``): a mapping of names to finite floats.
    """
    obj = objective
    chk = _Checker(name or repr(obj), "objective", OBJECTIVE_CHECKS, max_examples=max_examples,
                   database=database, derandomize=derandomize, skip=skip)
    chk.once(PROTOCOL, lambda: _objective_protocol(chk, obj))
    dim = int(obj.dim)
    make = points
    if make is None and dim > SMALL_DIM and isinstance(obj, HasInitialPoint):
        make = obj.initial_point
    if isinstance(obj, HasInitialPoint):
        chk.once(INITIAL_POINT, lambda: _initial_point(chk, obj))
    else:
        chk.not_applicable(INITIAL_POINT, "no initial_point")
    wanted = [np.dtype(d) for d in dtypes]
    supported = _supported_dtypes(chk, obj, wanted, make, bound)
    best = [_F64] if _F64 in supported else supported[:1]
    everywhere = _points(dim, supported, bound, make)
    preferred = _points(dim, best, bound, make)
    has_grad = isinstance(obj, HasGradient)
    chk.prop(PURITY, everywhere, lambda ex: _objective_purity(chk, obj, ex))
    chk.prop(DTYPES, everywhere, lambda ex: _objective_shapes(chk, obj, ex))
    chk.prop(DETERMINISM, everywhere, lambda ex: _objective_determinism(chk, obj, ex))
    chk.prop(FINITE, everywhere, lambda ex: _objective_finite(chk, obj, ex))
    if has_grad:
        chk.prop(GRADIENT, preferred,
                 lambda ex: _objective_gradient(chk, obj, ex, rtol, fd_coords))
    else:
        chk.not_applicable(GRADIENT, "no analytic gradient")
    if isinstance(obj, Sampled):
        chk.prop(MINI_BATCH, preferred, lambda ex: _objective_batches(chk, obj, ex, rtol))
    else:
        chk.not_applicable(MINI_BATCH, "not sampled (no n_samples)")
    if isinstance(obj, ComplexCost):
        chk.prop(COMPLEX_STEP, preferred, lambda ex: _objective_complex(chk, obj, ex))
    else:
        chk.not_applicable(COMPLEX_STEP, "no complex_cost")
    if has_grad or dim <= 64:
        chk.prop(DESCENT, preferred, lambda ex: _objective_descent(chk, obj, ex))
    else:
        chk.not_applicable(DESCENT, "no analytic gradient and dim > 64")
    if isinstance(obj, Evaluates):
        chk.once(EVALUATE, lambda: _objective_evaluate(chk, obj, best[0], make, bound))
    else:
        chk.not_applicable(EVALUATE, "no evaluate")
    return chk.report()


def _objective_protocol(chk: _Checker, obj: object) -> None:
    try:
        check_part("objective", obj, chk.part, "")
    except PluginError:
        chk.fail(PROTOCOL, f"a {type(obj).__name__} without dim and cost is not an Objective "
                           "(gdkit.protocols.Objective); wrap a plain callable with "
                           "gdkit.as_objective(f, dim, jac=...)")
    dim = getattr(obj, "dim", None)
    try:
        ok = not isinstance(dim, bool) and operator.index(dim) >= 1  # type: ignore[arg-type]
    except TypeError:
        ok = False
    if not ok:
        chk.fail(PROTOCOL, f"dim must be an integer >= 1 (the length of v), got {dim!r}")
    if isinstance(obj, Sampled):
        n = obj.n_samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            chk.fail(PROTOCOL, f"n_samples must be an integer >= 1 (the number of training "
                               f"inputs the cost is a mean over), got {n!r}")


def _initial_point(chk: _Checker, obj: HasInitialPoint) -> None:
    dim = int(obj.dim)  # type: ignore[attr-defined]
    for seed in (0, 1):
        what = f"initial_point(numpy.random.default_rng({seed}))"
        p = chk.call(INITIAL_POINT, None, what, obj.initial_point, np.random.default_rng(seed))
        q = chk.call(INITIAL_POINT, None, what, obj.initial_point, np.random.default_rng(seed))
        arr = np.asarray(p)
        if arr.shape != (dim,) or not np.issubdtype(arr.dtype, np.floating):
            chk.fail(INITIAL_POINT, f"{what} returned shape {arr.shape} and dtype {arr.dtype}; "
                                    f"it must be a float array of shape ({dim},)")
        if not np.all(np.isfinite(arr)):
            chk.fail(INITIAL_POINT, f"{what} contains NaN or infinite values")
        if not _same_bits(arr, np.asarray(q)):
            chk.fail(INITIAL_POINT, f"{what} gave different points for the same seed: draw "
                                    "every random number from rng, never from numpy.random "
                                    "or random")


def _probe(obj: Objective, make: Callable[[np.random.Generator], Any] | None,
           bound: float) -> FloatArray:
    rng = np.random.default_rng(0)
    raw = make(rng) if make is not None else rng.uniform(-bound, bound, int(obj.dim))
    return np.asarray(raw, dtype=np.float64)


def _supported_dtypes(chk: _Checker, obj: Objective, dtypes: list[np.dtype[Any]],
                      make: Callable[[np.random.Generator], Any] | None,
                      bound: float) -> list[np.dtype[Any]]:
    if not dtypes or any(not np.issubdtype(d, np.floating) for d in dtypes):
        raise ValueError(f"dtypes must be floating dtypes such as 'float64', 'float32'; "
                         f"got {dtypes!r}.")
    probe = _probe(obj, make, bound)
    supported: list[np.dtype[Any]] = []
    for dt in dtypes:
        v = probe.astype(dt)
        try:
            obj.cost(v)
            if isinstance(obj, HasGradient):
                obj.gradient(v)
        except GdkitError as exc:
            chk.notes.append(f"refuses {dt} v: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - reported
            chk.fail(DTYPES, f"cost or gradient raised {type(exc).__name__}: {exc} on a {dt} v. "
                             f"Accept {dt}, or refuse it with gdkit.errors.ShapeError saying "
                             "which dtype the objective needs", _describe(v))
        supported.append(dt)
    if not supported:
        chk.fail(DTYPES, f"refused v of every dtype tried ({', '.join(map(str, dtypes))}); "
                         + "; ".join(chk.notes))
    return supported


def _sample_batch(obj: Sampled, rng: np.random.Generator, size: int) -> Batch:
    n = int(obj.n_samples)
    return np.sort(rng.choice(n, size=min(size, n), replace=False)).astype(np.intp)


def _objective_shapes(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    c = chk.call(DTYPES, ex, "cost(v)", obj.cost, v)
    if not _is_real(c):
        chk.fail(DTYPES, f"cost(v) returned {type(c).__name__} {c!r}; it must return a real "
                         "number (a Python float)", ex)
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    if batch is not None:
        cb = chk.call(DTYPES, ex, "cost(v, batch)", obj.cost, v, batch)
        if not _is_real(cb):
            chk.fail(DTYPES, f"cost(v, batch) returned {type(cb).__name__} {cb!r}; it must "
                             "return a real number", ex)
    if not isinstance(obj, HasGradient):
        return
    for b in (None, batch) if batch is not None else (None,):
        label = "" if b is None else ", batch"
        g = _vector(chk, DTYPES, f"gradient(v{label})",
                    chk.call(DTYPES, ex, f"gradient(v{label})", obj.gradient, v, b), v, ex)
        _into_out(chk, DTYPES, f"gradient(v{label}, out=out)", _with_out(obj, v, b), g, v,
                  ex)


def _with_out(obj: HasGradient, v: FloatArray,
              batch: Batch | None) -> Callable[[FloatArray], object]:
    def call(out: FloatArray) -> object:
        return obj.gradient(v, batch, out)

    return call


def _objective_calls(obj: Objective, v: FloatArray,
                     batch: Batch | None) -> list[tuple[str, Callable[[], object]]]:
    calls: list[tuple[str, Callable[[], object]]] = [("cost(v)", lambda: obj.cost(v))]
    if batch is not None:
        calls.append(("cost(v, batch)", lambda: obj.cost(v, batch)))
    if isinstance(obj, HasGradient):
        calls.append(("gradient(v)", lambda: obj.gradient(v)))
        calls.append(("gradient(v, out=out)",
                      lambda: obj.gradient(v, None, np.empty_like(v))))
        if batch is not None:
            calls.append(("gradient(v, batch)", lambda: obj.gradient(v, batch)))
    return calls


def _objective_purity(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    before = v.copy()
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    batch_before = None if batch is None else batch.copy()
    for what, fn in _objective_calls(obj, v, batch):
        chk.call(PURITY, ex, what, fn)
        if not _same_bits(v, before):
            chk.fail(PURITY, f"{what} modified v{_first_diff(v, before)}: a cost or gradient "
                             "must never write to v (the loop's parameters); work on a copy",
                     _describe(before) + f", aux seed {ex.aux}")
        if batch is not None and batch_before is not None and not _same_bits(batch,
                                                                             batch_before):
            chk.fail(PURITY, f"{what} modified the batch index array", ex)


def _objective_determinism(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v
    rng = ex.rng()
    c1 = chk.call(DETERMINISM, ex, "cost(v)", obj.cost, v)
    c2 = chk.call(DETERMINISM, ex, "cost(v)", obj.cost, v)
    if not (c1 == c2 or (math.isnan(c1) and math.isnan(c2))):
        chk.fail(DETERMINISM, f"cost(v) returned {c1!r} then {c2!r} for the same v: same "
                              "input, same numbers (seed any randomness at construction)", ex)
    scale = max(1.0, float(np.max(np.abs(v))) if v.size else 1.0)
    w = (v + 0.1 * scale * rng.standard_normal(v.size)).astype(v.dtype)
    rtol = 1e3 * _eps(v.dtype)
    buf = v.copy()
    chk.call(DETERMINISM, ex, "cost(buf)", obj.cost, buf)
    buf[...] = w
    c_buf = chk.call(DETERMINISM, ex, "cost(buf)", obj.cost, buf)
    c_w = chk.call(DETERMINISM, ex, "cost(w)", obj.cost, w.copy())
    if not _close(c_buf, c_w, rtol):
        chk.fail(DETERMINISM, f"after the array passed to cost was overwritten in place with "
                              f"new values w, cost returned {c_buf!r}, but {c_w!r} for a fresh "
                              "copy of w: the cost must depend on v's values only (a cache "
                              "keyed on the array's identity?)", ex)
    if not isinstance(obj, HasGradient):
        return
    g1 = chk.call(DETERMINISM, ex, "gradient(v)", obj.gradient, v)
    g2 = chk.call(DETERMINISM, ex, "gradient(v)", obj.gradient, v)
    if isinstance(g1, np.ndarray) and isinstance(g2, np.ndarray) and not _same_bits(g1, g2):
        chk.fail(DETERMINISM, f"gradient(v) differs between two calls with the same v"
                              f"{_first_diff(g2, g1)}", ex)
    out = np.empty_like(v)
    buf = v.copy()
    chk.call(DETERMINISM, ex, "gradient(buf, out=out)", obj.gradient, buf, None, out)
    buf[...] = w
    g_buf = np.array(chk.call(DETERMINISM, ex, "gradient(buf, out=out)", obj.gradient, buf,
                              None, out))
    g_w = np.asarray(chk.call(DETERMINISM, ex, "gradient(w)", obj.gradient, w.copy()))
    gscale = float(np.max(np.abs(g_w))) if g_w.size else 0.0
    if g_buf.shape == g_w.shape and not np.allclose(g_buf, g_w, rtol=rtol, atol=rtol * gscale,
                                                    equal_nan=True):
        chk.fail(DETERMINISM, "after the array passed to gradient was overwritten in place "
                              "with new values w, gradient returned a different result than "
                              "for a fresh copy of w (a cache keyed on the array's identity?)",
                 ex)


def _objective_finite(chk: _Checker, obj: Objective, ex: _Point) -> None:
    batch = _sample_batch(obj, ex.rng(), 5) if isinstance(obj, Sampled) else None
    for what, fn in _objective_calls(obj, ex.v, batch):
        value = np.asarray(chk.call(FINITE, ex, what, fn), dtype=float)
        if not np.all(np.isfinite(value)):
            shown = value if value.ndim == 0 else "NaN or inf entries"
            chk.fail(FINITE, f"{what} is not finite ({shown}) at this v; if the objective is "
                             "defined on part of R^m only, pass points= to check it there", ex)


def _indices(batch: Batch) -> str:
    return str(batch.tolist()) if batch.size <= 8 else f"<{batch.size} indices>"


def _fd_batch(obj: Objective, rng: np.random.Generator) -> Batch | None:
    if isinstance(obj, Sampled) and int(obj.n_samples) > FULL_BATCH_LIMIT:
        return _sample_batch(obj, rng, 64)
    return None


def _directions(v: FloatArray, rng: np.random.Generator, fd_coords: int,
                ) -> Iterator[tuple[str, FloatArray, float]]:
    """Unit vectors to differentiate along: coordinates, then random directions."""
    dim = v.size
    eps = _eps(v.dtype)
    coords = range(dim) if dim <= fd_coords else np.sort(rng.choice(dim, fd_coords,
                                                                      replace=False))
    for i in coords:
        e = np.zeros(dim)
        e[int(i)] = 1.0
        yield f"∂C/∂v[{int(i)}]", e, eps ** (1 / 3) * max(1.0, abs(float(v[int(i)])))
    scale = max(1.0, float(np.max(np.abs(v))))
    for k in range(2):
        u = rng.standard_normal(dim)
        u /= np.linalg.norm(u)
        yield f"∇C·u (random unit direction #{k + 1})", u, eps ** (1 / 3) * scale


def _worst(comparisons: list[_Compare]) -> _Compare | None:
    bad = [c for c in comparisons if not c.error <= c.tolerance]
    return max(bad, key=lambda c: c.badness) if bad else None


def _comparison_problem(c: _Compare, what: str) -> str:
    rel = c.error / max(abs(c.fd), abs(c.analytic), _TINY)
    return (f"{c.label}: {what} {c.analytic:.10g}, central differences {c.fd:.10g} "
            f"(h = {c.h:.3g}): relative error {rel:.3g}, an error of {c.error:.3g} where "
            f"{c.tolerance:.3g} is allowed")


def _objective_gradient(chk: _Checker, obj: Objective, ex: _Point, rtol: float | None,
                        fd_coords: int) -> None:
    v = ex.v
    rng = ex.rng()
    batch = _fd_batch(obj, rng)
    what = "gradient(v)" if batch is None else "gradient(v, batch)"
    g = _vector(chk, GRADIENT, what,
                chk.call(GRADIENT, ex, what, obj.gradient, v, batch), v, ex)  # type: ignore[attr-defined]
    if not np.all(np.isfinite(g)):
        chk.fail(GRADIENT, f"{what} is not finite", ex)
    tol = _default_rtol(v.dtype) if rtol is None else rtol

    def cost(w: FloatArray) -> float:
        return float(chk.call(GRADIENT, ex, "cost", obj.cost, w, batch))

    comps = [_central(cost, g, v, u, h, tol, label) for label, u, h in
             _directions(v, rng, fd_coords)]
    worst = _worst(comps)
    if worst is not None:
        where = "" if batch is None else f" on a mini-batch of {batch.size} inputs"
        chk.fail(GRADIENT, _comparison_problem(worst, "analytic gradient") + where, ex)


def _objective_batches(chk: _Checker, obj: Sampled, ex: _Point, rtol: float | None) -> None:
    o: Any = obj
    v = ex.v
    rng = ex.rng()
    n = int(obj.n_samples)
    eq = 1e3 * _eps(v.dtype)

    def cost(b: Batch) -> float:
        return float(chk.call(MINI_BATCH, ex, f"cost(v, batch={_indices(b)})", o.cost, v, b))

    if n >= 2:
        i, j = (int(k) for k in rng.choice(n, 2, replace=False))
        ci, cj = cost(np.array([i], np.intp)), cost(np.array([j], np.intp))
        cij, cji = cost(np.array([i, j], np.intp)), cost(np.array([j, i], np.intp))
        scale = max(abs(ci), abs(cj))
        if not _close(cij, (ci + cj) / 2, eq, scale):
            chk.fail(MINI_BATCH, f"cost(v, [{i}, {j}]) = {cij!r} is not the mean of cost(v, "
                                 f"[{i}]) = {ci!r} and cost(v, [{j}]) = {cj!r}: a sampled "
                                 "cost must be the mean over the batch's inputs (eq. 6), not "
                                 "a sum", ex)
        if not _close(cij, cji, eq, scale):
            chk.fail(MINI_BATCH, f"cost(v, [{i}, {j}]) = {cij!r} but cost(v, [{j}, {i}]) = "
                                 f"{cji!r}: the order of a batch must not matter", ex)
    if n <= FULL_BATCH_LIMIT:
        full = float(chk.call(MINI_BATCH, ex, "cost(v)", o.cost, v))
        every = cost(np.arange(n, dtype=np.intp))
        if not _close(full, every, eq):
            chk.fail(MINI_BATCH, f"cost(v) = {full!r} but cost(v, batch=arange(n_samples)) = "
                                 f"{every!r}: the full cost must be the mean over all "
                                 "n_samples inputs", ex)
    if not isinstance(obj, HasGradient):
        return
    batch = _sample_batch(obj, rng, 8)
    g = _vector(chk, MINI_BATCH, "gradient(v, batch)",
                chk.call(MINI_BATCH, ex, "gradient(v, batch)", obj.gradient, v, batch), v, ex)
    u = rng.standard_normal(v.size)
    u /= np.linalg.norm(u)
    h = _eps(v.dtype) ** (1 / 3) * max(1.0, float(np.max(np.abs(v))))
    comp = _central(lambda w: float(chk.call(MINI_BATCH, ex, "cost(w, batch)", o.cost, w,
                                             batch)), g, v, u, h,
                    _default_rtol(v.dtype) if rtol is None else rtol,
                    "∇C_batch·u (random unit direction)")
    if not comp.error <= comp.tolerance:
        chk.fail(MINI_BATCH, _comparison_problem(comp, "gradient(v, batch)")
                 + f", batch = {batch.tolist()}", ex)
    if n >= 2:
        i, j = (int(k) for k in batch[:2]) if batch.size >= 2 else (0, 1)
        def grad(b: list[int]) -> npt.NDArray[np.float64]:
            return np.asarray(chk.call(MINI_BATCH, ex, f"gradient(v, batch={b})", o.gradient,
                                       v, np.array(b, np.intp)), dtype=float)

        gi, gj, gij = grad([i]), grad([j]), grad([i, j])
        allowed = eq * (float(np.abs(gi).sum() + np.abs(gj).sum())) + _TINY
        if float(np.abs(gij - (gi + gj) / 2).max()) > allowed:
            chk.fail(MINI_BATCH, f"gradient(v, [{i}, {j}]) is not the mean of the gradients "
                                 f"of the inputs {i} and {j} (eq. 18)", ex)


def _objective_complex(chk: _Checker, obj: ComplexCost, ex: _Point) -> None:
    o: Any = obj
    v = ex.v
    rng = ex.rng()
    c = float(chk.call(COMPLEX_STEP, ex, "cost(v)", o.cost, v))
    z = chk.call(COMPLEX_STEP, ex, "complex_cost(v + 0j)", obj.complex_cost,
                 v.astype(np.complex128))
    try:
        zc = complex(z)
    except TypeError:
        chk.fail(COMPLEX_STEP, f"complex_cost returned {type(z).__name__}, not a number", ex)
    if not _close(zc.real, c, 1e3 * _eps(v.dtype)):
        chk.fail(COMPLEX_STEP, f"Re complex_cost(v) = {zc.real!r} but cost(v) = {c!r}", ex)
    u = rng.standard_normal(v.size)
    u /= np.linalg.norm(u)
    h = 1e-20
    w = v.astype(np.complex128) + 1j * h * u
    cs = complex(chk.call(COMPLEX_STEP, ex, "complex_cost(v + ihu)", obj.complex_cost, w)).imag / h
    if isinstance(obj, HasGradient):
        g = np.asarray(chk.call(COMPLEX_STEP, ex, "gradient(v)", obj.gradient, v),
                       dtype=np.float64)
        an = float(g @ u)
        allowed = 1e-7 * max(abs(an), abs(cs)) + 1e3 * _eps(v.dtype) * (
            float(np.abs(g * u).sum()) + abs(c)) + _TINY
        if abs(cs - an) > allowed:
            chk.fail(COMPLEX_STEP, f"Im complex_cost(v + ihu)/h = {cs:.10g} but the gradient "
                                   f"gives ∇C·u = {an:.10g} along a random direction u: "
                                   "complex_cost must be the same C, written with holomorphic "
                                   "operations only (r * r, not abs(r) ** 2)", ex)
    else:
        hc = _eps(v.dtype) ** (1 / 3) * max(1.0, float(np.max(np.abs(v))))
        comp = _central(lambda x: float(chk.call(COMPLEX_STEP, ex, "cost", o.cost, x)),
                        np.full(v.size, 0.0), v, u, hc, 1e-5, "")
        if abs(cs - comp.fd) > 1e-5 * max(abs(cs), abs(comp.fd)) + 2 * comp.tolerance:
            chk.fail(COMPLEX_STEP, f"Im complex_cost(v + ihu)/h = {cs:.10g} but central "
                                   f"differences of cost give {comp.fd:.10g}", ex)


def _fd_gradient(cost: Callable[[FloatArray], float], v: FloatArray) -> FloatArray:
    g = np.empty(v.size)
    eps = _eps(v.dtype)
    for i in range(v.size):
        h = eps ** (1 / 3) * max(1.0, abs(float(v[i])))
        e = np.zeros(v.size)
        e[i] = 1.0
        wp, wm = _exact_steps(v, e, h)
        g[i] = (cost(wp) - cost(wm)) / float(wp[i].astype(float) - wm[i].astype(float))
    return g.astype(v.dtype)


@final
@dataclass(frozen=True)
class _Trial:
    eta: float
    delta: float
    predicted: float

    @property
    def ratio(self) -> float:
        return self.delta / self.predicted


def _objective_descent(chk: _Checker, obj: Objective, ex: _Point) -> None:
    v = ex.v

    def cost(w: FloatArray) -> float:
        return float(chk.call(DESCENT, ex, "cost", obj.cost, w))

    if isinstance(obj, HasGradient):
        g = np.asarray(chk.call(DESCENT, ex, "gradient(v)", obj.gradient, v))
    else:
        g = _fd_gradient(cost, v)
    trials = _taylor(cost, v, g)
    problem = _judge_taylor(trials)
    if problem is not None:
        chk.fail(DESCENT, problem, ex)


def _taylor(cost: Callable[[FloatArray], float], v: FloatArray, g: FloatArray) -> list[_Trial]:
    """ΔC of the steps −η∇C whose length is 10⁻¹, 10⁻², … of max(1, ‖v‖∞), while
    the predicted change ∇C·Δv stays above the cost's rounding."""
    g64 = g.astype(np.float64)
    v64 = v.astype(np.float64)
    gnorm = math.sqrt(float(g64 @ g64))
    if gnorm == 0.0 or not math.isfinite(gnorm):
        return []
    c0 = cost(v)
    eps = _eps(v.dtype)
    scale = max(1.0, float(np.max(np.abs(v64))))
    trials: list[_Trial] = []
    for k in range(1, 13):
        eta = 10.0**-k * scale / gnorm
        w = (v64 - eta * g64).astype(v.dtype)
        predicted = float(g64 @ (w.astype(np.float64) - v64))
        c1 = cost(w)
        if -predicted <= 1e3 * eps * (abs(c0) + abs(c1)) + _TINY:
            break
        trials.append(_Trial(eta, c1 - c0, predicted))
    return trials


def _judge_taylor(trials: list[_Trial]) -> str | None:
    """Eq. (9): ΔC/(∇C·Δv) → 1 as η → 0. None if the trials agree or are inconclusive."""
    for i, t in enumerate(trials):
        if abs(t.ratio - 1.0) <= 0.1:
            for later in trials[i:]:
                if later.delta > 0:
                    return (f"the step −η∇C with η = {later.eta:.3g} raised C by "
                            f"{later.delta:.3g}, although ∇C·Δv = {later.predicted:.3g} "
                            f"and steps down to η = {t.eta:.3g} already agreed with it")
            return None
    if len(trials) >= 2:
        a, b = trials[-2], trials[-1]
        if abs(a.ratio - b.ratio) <= 0.05 * max(1.0, abs(b.ratio)):
            climbs = " raises C:" if b.delta > 0 else ""
            return (f"ΔC/(∇C·Δv) settles at {b.ratio:.4g}, not 1, as η → 0 (η = {b.eta:.3g}: "
                    f"ΔC = {b.delta:.3g}, ∇C·Δv = {b.predicted:.3g}): a small step along "
                    f"−∇C{climbs} the gradient is not the derivative of this cost (wrong "
                    "sign or scale?)")
    return None


def _objective_evaluate(chk: _Checker, obj: Evaluates, dtype: np.dtype[Any],
                        make: Callable[[np.random.Generator], Any] | None, bound: float) -> None:
    v = _probe(obj, make, bound).astype(dtype)  # type: ignore[arg-type]
    res = chk.call(EVALUATE, _describe(v), "evaluate(v)", obj.evaluate, v)
    if not isinstance(res, Mapping):
        chk.fail(EVALUATE, f"evaluate(v) returned {type(res).__name__}; it must return a "
                           "mapping name -> float")
    for k, val in res.items():
        if not isinstance(k, str) or not _is_real(val) or not math.isfinite(float(val)):
            chk.fail(EVALUATE, f"evaluate(v) returned {k!r}: {val!r}; every entry must be "
                               "a str name and a finite float")


# -- gradient sources -------------------------------------------------------------
def check_gradient_source(
    source: GradientSource,
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    rtol: float = 1e-4,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a gradient source gives ∇C, within the accuracy its dtype allows.

    Parameters
    ----------
    source : GradientSource
    name : str, optional
        How failures name it (default: its repr).
    objectives : sequence of Objective, optional
        Objectives with an analytic gradient to compare against (default:
        :func:`reference_objectives`). One the source's ``validate`` refuses
        with a :class:`~gdkit.errors.GdkitError` is noted and left out.
    max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_objective`.
    rtol : float, default 1e-4
        Relative tolerance, on top of the error forward differences are
        allowed in v's dtype (``10·√m·(½ h L + 4 ε |C| / h)`` with
        ``h = √ε·max(1, |vᵢ|)``, L the objective's curvature).

    Returns
    -------
    PartReport

    Notes
    -----
    The checks (:data:`GRADIENT_SOURCE_CHECKS`): ``protocol`` (a ``gradient``
    method; ``validate``, if any, accepts some reference); ``purity`` (v and
    the batch unchanged); ``shapes and dtypes`` (v's shape and dtype, ``out``
    overwritten and returned); ``determinism``; ``finite
    outputs``; ``accuracy vs analytic gradient``; ``mini-batch`` (the batch is
    passed on: on a sampled objective the result is the batch's gradient);
    ``descent (eq. 9)`` (with η = 1/(2L) the step −η·gradient does not raise
    C).
    """
    src = source
    chk = _Checker(name or repr(src), "gradient source", GRADIENT_SOURCE_CHECKS,
                   max_examples=max_examples, database=database, derandomize=derandomize,
                   skip=skip)
    candidates = list(reference_objectives() if objectives is None else objectives)
    for ref in candidates:
        if not isinstance(ref, HasGradient):
            raise ValueError(f"objectives= must have an analytic gradient to compare "
                             f"against; {ref!r} has none.")
    refs: list[Objective] = []

    def protocol() -> None:
        try:
            check_part("gradient source", src, chk.part, "")
        except PluginError:
            chk.fail(PROTOCOL, f"a {type(src).__name__} without a gradient method is not a "
                               "GradientSource (gdkit.protocols.GradientSource)")
        for ref in candidates:
            if isinstance(src, ValidatesObjective):
                try:
                    src.validate(ref)
                except GdkitError as exc:
                    chk.notes.append(f"refuses {ref!r}: {exc}")
                    continue
                except Exception as exc:  # noqa: BLE001 - reported
                    chk.fail(PROTOCOL, f"validate({ref!r}) raised {type(exc).__name__}: {exc}; "
                                       "refuse an objective with a gdkit.errors.GdkitError")
            refs.append(ref)
        if not refs:
            chk.fail(PROTOCOL, "validate() refused every reference objective: "
                               + "; ".join(chk.notes) + ". Pass objectives= it accepts.")

    chk.once(PROTOCOL, protocol)
    if not refs:  # protocol skipped on request
        refs = candidates
    supported = _source_dtypes(chk, src, refs[0], [np.dtype(d) for d in dtypes], bound)
    everywhere = _on_references(refs, supported, bound)
    preferred = _on_references(refs, [_F64] if _F64 in supported else supported[:1], bound)
    chk.prop(PURITY, everywhere, lambda ex: _source_purity(chk, src, refs[_ref(ex)], ex))
    chk.prop(DTYPES, everywhere, lambda ex: _source_shapes(chk, src, refs[_ref(ex)], ex))
    chk.prop(DETERMINISM, everywhere,
             lambda ex: _source_determinism(chk, src, refs[_ref(ex)], ex))
    chk.prop(FINITE, everywhere, lambda ex: _source_finite(chk, src, refs[_ref(ex)], ex))
    chk.prop(ACCURACY, everywhere,
             lambda ex: _source_accuracy(chk, src, refs[_ref(ex)], ex, None, rtol))
    sampled = [i for i, r in enumerate(refs) if isinstance(r, Sampled)]
    if sampled:
        sub = [refs[i] for i in sampled]
        chk.prop(MINI_BATCH, _on_references(sub, supported, bound),
                 lambda ex: _source_accuracy(chk, src, sub[_ref(ex)], ex,
                                             _sample_batch(sub[_ref(ex)],  # type: ignore[arg-type]
                                                           ex.rng(), 6), rtol))
    else:
        chk.not_applicable(MINI_BATCH, "no sampled reference objective")
    chk.prop(DESCENT, preferred, lambda ex: _source_descent(chk, src, refs[_ref(ex)], ex))
    return chk.report()


def _ref(ex: _Point) -> int:
    assert ex.ref is not None
    return ex.ref


def _ref_name(ref: Objective, ex: _Point) -> str:
    return f"{ref!r}, {ex!r}"


def _source_dtypes(chk: _Checker, src: GradientSource, ref: Objective,
                   dtypes: list[np.dtype[Any]], bound: float) -> list[np.dtype[Any]]:
    probe = np.random.default_rng(0).uniform(-bound, bound, int(ref.dim))
    supported: list[np.dtype[Any]] = []
    for dt in dtypes:
        try:
            src.gradient(ref, probe.astype(dt))
        except GdkitError as exc:
            chk.notes.append(f"refuses {dt} v: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - reported
            chk.fail(DTYPES, f"gradient({ref!r}, v) raised {type(exc).__name__}: {exc} on a "
                             f"{dt} v. Accept {dt}, or refuse it with gdkit.errors.ShapeError",
                     _describe(probe.astype(dt)))
        supported.append(dt)
    if not supported:
        chk.fail(DTYPES, "refused v of every dtype tried: " + "; ".join(chk.notes))
    return supported


def _source_shapes(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g = _vector(chk, DTYPES, "gradient(objective, v)",
                chk.call(DTYPES, where, "gradient(objective, v)", src.gradient, ref, v), v,
                where)
    _into_out(chk, DTYPES, "gradient(objective, v, out=out)",
              lambda out: src.gradient(ref, v, None, out), g, v, where)


def _source_purity(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    before = v.copy()
    batch = _sample_batch(ref, ex.rng(), 5) if isinstance(ref, Sampled) else None
    batch_before = None if batch is None else batch.copy()
    where = _ref_name(ref, ex)
    chk.call(PURITY, where, "gradient(objective, v, batch)", src.gradient, ref, v, batch)
    if not _same_bits(v, before):
        chk.fail(PURITY, f"gradient(objective, v) modified v{_first_diff(v, before)}: perturb "
                         "a private copy of v", _ref_name(ref, _Point(before, ex.aux)))
    if batch is not None and batch_before is not None and not _same_bits(batch, batch_before):
        chk.fail(PURITY, "gradient(objective, v, batch) modified the batch index array", where)


def _source_determinism(chk: _Checker, src: GradientSource, ref: Objective,
                        ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g1 = np.array(chk.call(DETERMINISM, where, "gradient(objective, v)", src.gradient, ref, v))
    g2 = np.array(chk.call(DETERMINISM, where, "gradient(objective, v)", src.gradient, ref, v))
    if not _same_bits(g1, g2):
        chk.fail(DETERMINISM, f"two calls with the same objective and v gave different "
                              f"gradients{_first_diff(g2, g1)}", where)


def _source_finite(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    g = np.asarray(chk.call(FINITE, where, "gradient(objective, v)", src.gradient, ref, ex.v),
                   dtype=float)
    if not np.all(np.isfinite(g)):
        chk.fail(FINITE, "gradient(objective, v) has NaN or infinite entries", where)


def _positive_attr(obj: object, name: str) -> float | None:
    """``obj.name`` if it is a finite number > 0."""
    value = getattr(obj, name, None)
    if not _is_real(value):
        return None
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) and x > 0 else None


def _curvature(ref: Objective, v: FloatArray) -> float:
    known = _positive_attr(ref, "curvature")
    if known is not None:
        return known
    g: Any = ref
    v64 = v.astype(np.float64)
    d = 1e-4 * max(1.0, float(np.max(np.abs(v64))))
    u = np.random.default_rng(0).standard_normal(v.size)
    u /= np.linalg.norm(u)
    diff = np.asarray(g.gradient(v64 + d * u), float) - np.asarray(g.gradient(v64), float)
    return 4.0 * max(float(np.linalg.norm(diff)) / d, 1e-12)


def _source_accuracy(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point,
                     batch: Batch | None, rtol: float) -> None:
    check = ACCURACY if batch is None else MINI_BATCH
    v = ex.v
    where = _ref_name(ref, ex) + ("" if batch is None else f", batch = {batch.tolist()}")
    got = np.asarray(chk.call(check, where, "gradient(objective, v, batch)", src.gradient, ref,
                              v, batch), dtype=np.float64)
    true = np.asarray(ref.gradient(v, batch), dtype=np.float64)  # type: ignore[attr-defined]
    if got.shape != true.shape:
        chk.fail(check, f"returned shape {got.shape}, expected {true.shape}", where)
    eps = _eps(v.dtype)
    va = np.abs(v.astype(np.float64))
    h = math.sqrt(eps) * np.maximum(1.0, va)
    c = abs(float(ref.cost(v, batch)))
    lip = _curvature(ref, v)
    per = 0.5 * h * lip + 4 * eps * c / h
    allowed = rtol * float(np.linalg.norm(true)) + 10 * float(np.linalg.norm(per)) + _TINY
    err = float(np.linalg.norm(got - true))
    if not err <= allowed:
        i = int(np.argmax(np.abs(got - true)))
        what = ("the batch's gradient: is the batch passed on to the objective?"
                if batch is not None else "the gradient")
        chk.fail(check, f"‖gradient − ∇C‖ = {err:.3g} > {allowed:.3g} allowed (relative error "
                        f"{err / max(float(np.linalg.norm(true)), _TINY):.3g}); coordinate {i}: "
                        f"got {got[i]:.10g}, exact {true[i]:.10g}. It should give {what}",
                 where)


def _source_descent(chk: _Checker, src: GradientSource, ref: Objective, ex: _Point) -> None:
    v = ex.v
    where = _ref_name(ref, ex)
    g = np.asarray(chk.call(DESCENT, where, "gradient(objective, v)", src.gradient, ref, v),
                   dtype=np.float64)
    true = np.asarray(ref.gradient(v), dtype=np.float64)  # type: ignore[attr-defined]
    eta = 1.0 / (2.0 * _curvature(ref, v))
    v64 = v.astype(np.float64)
    w = (v64 - eta * g).astype(v.dtype)
    predicted = float(true @ (w.astype(np.float64) - v64))
    c0, c1 = float(ref.cost(v)), float(ref.cost(w))
    rounding = 64 * _eps(v.dtype) * (abs(c0) + abs(c1)) + _TINY
    if -predicted <= 16 * rounding:
        return  # the predicted decrease is lost in the cost's rounding
    if c1 - c0 > rounding:
        chk.fail(DESCENT, f"the step −η·gradient with η = 1/(2L) = {eta:.3g} (small enough for "
                          f"this objective, whose curvature is at most L) raised C from "
                          f"{c0:.10g} to {c1:.10g}: the gradient does not point uphill", where)


# -- step rules -------------------------------------------------------------------
def check_step_rule(
    rule: StepRule | Callable[[], StepRule],
    *,
    name: str | None = None,
    objectives: Sequence[Objective] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    dtypes: Sequence[Any] = ("float64", "float32"),
    bound: float = 2.0,
    n_steps: int = 50,
    skip: Mapping[str, str] | None = None,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
) -> PartReport:
    """Check that a step rule moves v as gdkit's loop expects, and descends.

    Parameters
    ----------
    rule : StepRule or callable
        The rule as configured (its η is the one checked), or a factory
        returning a fresh rule with no arguments. Every example starts from a
        fresh rule: a deep copy of ``rule``, or a new one from the factory.
    name : str, optional
    objectives : sequence of Objective, optional
        Objectives with an analytic gradient to step on (default:
        :func:`reference_objectives`, whose curvature is at most 2: a rule
        configured for a well-scaled problem must descend on them). A
        ``curvature`` attribute (an upper bound of ‖∇²C‖) and a
        ``minimizer`` enable the parts of the checks that need them.
    n_steps : int, default 50
        Steps of the ``progress`` check.
    max_examples, dtypes, bound, skip, database, derandomize
        As for :func:`check_objective`.

    Returns
    -------
    PartReport

    Notes
    -----
    The checks (:data:`STEP_RULE_CHECKS`):

    - ``protocol``: a ``step`` method; ``reset``, ``get_state`` and
      ``set_state`` all or none (:class:`~gdkit.protocols.Stateful`).
    - ``purity``: the gradient is not modified.
    - ``shapes and dtypes``: a step on a float64 or float32 v returns the η
      used as a finite real number >= 0 and leaves v finite; in float32 it
      moves v as in float64 (when it chose the same η).
    - ``in place``: v is moved in place (η > 0 with v unchanged means it
      rebound a local name), and η = 0 (a rejected step) leaves v unchanged.
    - ``determinism``: two fresh rules take the same steps, bit for bit.
    - ``zero gradient``: ∇C = 0 does not produce NaN (a division by ‖∇C‖).
    - ``descent (eq. 9)``: the first step from a fresh rule is a descent
      step, ∇C·Δv <= 0, and when it is small enough for the objective's
      curvature L (L‖Δv‖ <= ‖∇C‖) it does not raise C.
    - ``progress``: ``n_steps`` steps from a point away from the minimizer
      end with a lower C, every iterate finite (a
      :class:`~gdkit.errors.StepError` ends the run early, as in the loop).
    - ``state`` (stateful rules): ``get_state()`` is a dict of plain numbers,
      strings and arrays, a snapshot (later steps do not change it); a fresh
      rule given it by ``set_state`` takes the same next step bit for bit;
      after ``reset()`` the rule steps like a fresh one.
    """
    if isinstance(rule, type) or (callable(rule) and not hasattr(rule, "step")):
        factory: Callable[[], Any] = rule
        sample = factory()
    else:
        sample = rule
        try:
            pristine = copy.deepcopy(rule)
        except Exception as exc:
            raise TypeError(f"check_step_rule needs fresh copies of {rule!r} and could not "
                            f"deep-copy it ({type(exc).__name__}: {exc}); pass a factory "
                            f"instead: check_step_rule(lambda: {type(rule).__name__}(...))"
                            ) from exc

        def factory() -> Any:
            return copy.deepcopy(pristine)

    chk = _Checker(name or repr(sample), "step rule", STEP_RULE_CHECKS,
                   max_examples=max_examples, database=database, derandomize=derandomize,
                   skip=skip)
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}.")
    refs = list(reference_objectives() if objectives is None else objectives)
    for ref in refs:
        if not isinstance(ref, HasGradient):
            raise ValueError(f"objectives= must have an analytic gradient; {ref!r} has none.")
    chk.once(PROTOCOL, lambda: _rule_protocol(chk, sample))
    wanted = [np.dtype(d) for d in dtypes]
    everywhere = _on_references(refs, wanted, bound)
    f64 = _on_references(refs, [_F64], bound)
    chk.prop(PURITY, everywhere, lambda ex: _rule_purity(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DTYPES, everywhere, lambda ex: _rule_shapes(chk, factory, refs[_ref(ex)], ex))
    chk.prop(IN_PLACE, f64, lambda ex: _rule_in_place(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DETERMINISM, f64,
             lambda ex: _rule_determinism(chk, factory, refs[_ref(ex)], ex))
    chk.prop(ZERO_GRADIENT, everywhere, lambda ex: _rule_zero(chk, factory, refs[_ref(ex)], ex))
    chk.prop(DESCENT, f64, lambda ex: _rule_descent(chk, factory, refs[_ref(ex)], ex))
    chk.prop(PROGRESS, f64,
             lambda ex: _rule_progress(chk, factory, refs[_ref(ex)], ex, n_steps))
    if isinstance(sample, Stateful):
        chk.prop(STATE, f64, lambda ex: _rule_state(chk, factory, refs[_ref(ex)], ex))
    else:
        chk.not_applicable(STATE, "not stateful (no get_state/set_state/reset)")
    return chk.report()


_STATEFUL: Final = ("reset", "get_state", "set_state")


def _rule_protocol(chk: _Checker, rule: object) -> None:
    try:
        check_part("step rule", rule, chk.part, "")
    except PluginError:
        chk.fail(PROTOCOL, f"a {type(rule).__name__} without a step method is not a StepRule "
                           "(gdkit.protocols.StepRule)")
    has = [m for m in _STATEFUL if callable(getattr(rule, m, None))]
    if has and len(has) < len(_STATEFUL):
        missing = [m for m in _STATEFUL if m not in has]
        chk.fail(PROTOCOL, f"has {', '.join(has)} but not {', '.join(missing)}: a rule with "
                           "state needs all three (gdkit.protocols.Stateful), or the loop "
                           "and checkpoints ignore its state")


@final
@dataclass
class _Stepped:
    v: FloatArray
    eta: object
    grad: FloatArray


class _Declined(Exception):
    """The rule raised :class:`~gdkit.errors.StepError`: it found no step, which
    the loop reports as an unsuccessful run. The example tells nothing."""


def _take_step(chk: _Checker, check: str, rule: Any, ref: Objective, v: FloatArray,
               grad: FloatArray, where: str, iteration: int = 0) -> _Stepped:
    ctx = StepContext(ref.cost, v)
    ctx.iteration = iteration
    try:
        eta = rule.step(v, grad, ctx)
    except StepError as exc:
        raise _Declined(str(exc)) from exc
    except Exception as exc:
        raise CheckError(chk.part, check, f"step(v, grad, ctx) raised {type(exc).__name__}: "
                                          f"{exc}", where) from exc
    return _Stepped(v, eta, grad)


def _fresh(chk: _Checker, check: str, factory: Callable[[], Any]) -> Any:
    rule = chk.call(check, None, "building a fresh rule", factory)
    if isinstance(rule, Stateful):
        chk.call(check, None, "reset()", rule.reset)
    return rule


def _gradient_at(ref: Objective, v: FloatArray) -> FloatArray:
    g: FloatArray = ref.gradient(v)  # type: ignore[attr-defined]
    return g


def _rule_shapes(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                 ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v0 = ex.v
    g = _gradient_at(ref, v0)
    s = _take_step(chk, DTYPES, _fresh(chk, DTYPES, factory), ref, v0.copy(), g, where)
    if not _is_real(s.eta) or not math.isfinite(float(s.eta)) or float(s.eta) < 0:  # type: ignore[arg-type]
        chk.fail(DTYPES, f"step returned {type(s.eta).__name__} {s.eta!r}; it must return the "
                         "η it used as a finite float >= 0 (0.0 for a rejected step)", where)
    if not np.all(np.isfinite(s.v)):
        chk.fail(DTYPES, f"after one step v has NaN or infinite entries (v is {v0.dtype})",
                 where)
    if v0.dtype == _F64:
        return
    v64 = v0.astype(np.float64)
    s64 = _take_step(chk, DTYPES, _fresh(chk, DTYPES, factory), ref, v64.copy(),
                     _gradient_at(ref, v64), where)
    eta32, eta64 = float(s.eta), float(s64.eta)  # type: ignore[arg-type]
    if not _close(eta32, eta64, 1e-3):
        return  # a cost-driven rule may choose another η in another precision
    d32 = s.v.astype(np.float64) - v64
    d64 = s64.v - v64
    allowed = 1e-3 * float(np.linalg.norm(d64)) + 10 * _eps(v0.dtype) * (
        1 + float(np.linalg.norm(v64)))
    if float(np.linalg.norm(d32 - d64)) > allowed:
        chk.fail(DTYPES, f"in {v0.dtype} the step moved v by {_fmt(d32)} but in float64 by "
                         f"{_fmt(d64)} (same η = {eta64:.6g})", where)


def _rule_purity(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                 ex: _Point) -> None:
    where = _ref_name(ref, ex)
    g = _gradient_at(ref, ex.v)
    before = g.copy()
    _take_step(chk, PURITY, _fresh(chk, PURITY, factory), ref, ex.v.copy(), g, where)
    if not _same_bits(g, before):
        chk.fail(PURITY, f"step modified the gradient it was given{_first_diff(g, before)}: "
                         "the loop reuses that buffer; compute into a buffer of your own",
                 where)


def _rule_in_place(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                   ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v = ex.v.copy()
    g = _gradient_at(ref, v)
    s = _take_step(chk, IN_PLACE, _fresh(chk, IN_PLACE, factory), ref, v, g, where)
    moved = not _same_bits(v, ex.v)
    eta = float(s.eta) if _is_real(s.eta) else math.nan  # type: ignore[arg-type]
    if eta == 0.0 and moved:
        chk.fail(IN_PLACE, "step returned η = 0 (a rejected step) but moved v: a rejected step "
                           "must leave v unchanged", where)
    scale = max(1.0, float(np.max(np.abs(ex.v))))
    if eta > 0 and not moved and float(np.linalg.norm(g)) > 1e-3 * scale:
        chk.fail(IN_PLACE, f"step returned η = {eta:.6g} > 0 but v is unchanged: move v in "
                           "place (v -= ..., v[...] = ..., numpy ufuncs with out=v), never "
                           "v = v - ... (that rebinds a local name)", where)


def _trajectory(chk: _Checker, check: str, rule: Any, ref: Objective, v: FloatArray,
                steps: int, where: str) -> list[tuple[bytes, object]]:
    out: list[tuple[bytes, object]] = []
    for k in range(steps):
        g = _gradient_at(ref, v)
        try:
            s = _take_step(chk, check, rule, ref, v, g, where, iteration=k)
        except _Declined:
            out.append((v.tobytes(), "StepError"))
            break
        out.append((v.tobytes(), s.eta))
    return out


def _rule_determinism(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                      ex: _Point) -> None:
    where = _ref_name(ref, ex)
    a = _trajectory(chk, DETERMINISM, _fresh(chk, DETERMINISM, factory), ref, ex.v.copy(), 3,
                    where)
    b = _trajectory(chk, DETERMINISM, _fresh(chk, DETERMINISM, factory), ref, ex.v.copy(), 3,
                    where)
    for k, (sa, sb) in enumerate(zip(a, b, strict=False)):
        if sa != sb:
            chk.fail(DETERMINISM, f"two fresh rules took different steps at step {k} from the "
                                  "same v and gradients (η "
                                  f"{sa[1]!r} vs {sb[1]!r}): same input, same numbers", where)


def _rule_zero(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex) + ", ∇C = 0"
    v = ex.v.copy()
    s = _take_step(chk, ZERO_GRADIENT, _fresh(chk, ZERO_GRADIENT, factory), ref, v,
                   np.zeros_like(v), where)
    eta = float(s.eta) if _is_real(s.eta) else math.nan  # type: ignore[arg-type]
    if not math.isfinite(eta) or not np.all(np.isfinite(v)):
        chk.fail(ZERO_GRADIENT, f"a step with a zero gradient returned η = {s.eta!r} and left "
                                f"v = {_fmt(v)}: guard divisions by ‖∇C‖ (return 0.0, v "
                                "unchanged)", where)


def _rule_descent(chk: _Checker, factory: Callable[[], Any], ref: Objective,
                  ex: _Point) -> None:
    where = _ref_name(ref, ex)
    v0 = ex.v
    v = v0.copy()
    g = _gradient_at(ref, v0)
    _take_step(chk, DESCENT, _fresh(chk, DESCENT, factory), ref, v, g, where)
    dv = v - v0
    slope = float(g @ dv)
    gnorm, dnorm = float(np.linalg.norm(g)), float(np.linalg.norm(dv))
    if slope > 1e3 * _eps(v0.dtype) * gnorm * dnorm + _TINY:
        chk.fail(DESCENT, f"the first step moved v uphill: ∇C·Δv = {slope:.3g} > 0 (Δv = "
                          f"{_fmt(dv)}, ∇C = {_fmt(g)}); a step must go against the "
                          "gradient, Δv = −η∇C (eq. 10)", where)
    lip = _positive_attr(ref, "curvature")
    if lip is None or lip * dnorm > gnorm:
        return  # not small enough for eq. (9) to promise a decrease
    c0, c1 = float(ref.cost(v0)), float(ref.cost(v))
    if c1 - c0 > 1e3 * _eps(v0.dtype) * (abs(c0) + abs(c1)) + _TINY:
        chk.fail(DESCENT, f"a step small enough to descend (‖Δv‖ = {dnorm:.3g} <= ‖∇C‖/L = "
                          f"{gnorm / lip:.3g}) raised C from {c0:.10g} to {c1:.10g}", where)


def _rule_progress(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point,
                   n_steps: int) -> None:
    where = _ref_name(ref, ex)
    v = ex.v.copy()
    star = getattr(ref, "minimizer", None)
    if star is not None and float(np.linalg.norm(v - star)) < 0.25:
        return  # too close to the minimum to judge progress
    c0 = float(ref.cost(v))
    rule = _fresh(chk, PROGRESS, factory)
    stopped = ""
    for k in range(n_steps):
        g = _gradient_at(ref, v)
        try:
            s = _take_step(chk, PROGRESS, rule, ref, v, g, where, iteration=k)
        except _Declined as exc:
            stopped = f" (it raised StepError at step {k}: {exc})"
            break
        if not np.all(np.isfinite(v)) or not (_is_real(s.eta)
                                              and math.isfinite(float(s.eta))):  # type: ignore[arg-type]
            chk.fail(PROGRESS, f"after {k + 1} steps v or η is not finite (η = {s.eta!r}): "
                               "the rule diverged on a well-scaled objective", where)
    c1 = float(ref.cost(v))
    if not c1 < c0:
        chk.fail(PROGRESS, f"{n_steps} steps did not lower C: {c0:.10g} at the start, "
                           f"{c1:.10g} at the end{stopped}. Is η too large for an objective of "
                           "curvature up to 2, or too small to move?", where)


def _plain(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, float, str, np.number, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if isinstance(value, (list, tuple)):
        return all(_plain(x) for x in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in value.items())
    return False


def _saved(state: Mapping[str, Any]) -> dict[str, Any]:
    """The state as a checkpoint gives it back: fresh arrays, Python scalars."""
    def conv(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return np.array(x, copy=True)
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, (list, tuple)):
            return type(x)(conv(y) for y in x)
        if isinstance(x, dict):
            return {k: conv(y) for k, y in x.items()}
        return x

    return {k: conv(x) for k, x in state.items()}


def _rule_state(chk: _Checker, factory: Callable[[], Any], ref: Objective, ex: _Point) -> None:
    where = _ref_name(ref, ex)
    rule = _fresh(chk, STATE, factory)
    v = ex.v.copy()
    _trajectory(chk, STATE, rule, ref, v, 3, where)
    state = chk.call(STATE, where, "get_state()", rule.get_state)
    if not isinstance(state, dict) or not _plain(state):
        chk.fail(STATE, f"get_state() returned {state!r}; it must be a dict with str keys and "
                        "plain values (numbers, strings, numpy arrays, lists of them) so a "
                        "checkpoint can store it without pickle", where)
    snapshot = {k: (x.copy() if isinstance(x, np.ndarray) else copy.deepcopy(x))
                for k, x in state.items()}
    g = _gradient_at(ref, v)
    resumed_from = v.copy()
    a = _take_step(chk, STATE, rule, ref, v, g.copy(), where, iteration=3)
    if not all(_state_equal(state[k], snapshot[k]) for k in snapshot):
        chk.fail(STATE, "the dict get_state() returned changed when the rule took another step: "
                        "return copies of arrays, not the rule's own buffers", where)
    other = _fresh(chk, STATE, factory)
    chk.call(STATE, where, "set_state(get_state())", other.set_state, _saved(state))
    w = resumed_from.copy()
    b = _take_step(chk, STATE, other, ref, w, g.copy(), where, iteration=3)
    if not (_same_bits(a.v, w) and _eta_equal(a.eta, b.eta)):
        chk.fail(STATE, f"a fresh rule given the state by set_state took another step than the "
                        f"rule it came from (η {b.eta!r} vs {a.eta!r}; v{_first_diff(w, a.v)}): "
                        "the state must hold everything the next step depends on", where)
    chk.call(STATE, where, "reset()", rule.reset)
    v1, v2 = ex.v.copy(), ex.v.copy()
    g0 = _gradient_at(ref, ex.v)
    r = _take_step(chk, STATE, rule, ref, v1, g0.copy(), where)
    f = _take_step(chk, STATE, _fresh(chk, STATE, factory), ref, v2, g0.copy(), where)
    if not (_same_bits(v1, v2) and _eta_equal(r.eta, f.eta)):
        chk.fail(STATE, f"after reset() the rule stepped differently from a fresh one (η "
                        f"{r.eta!r} vs {f.eta!r}): reset() must forget the previous run", where)


def _state_equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and _same_bits(a, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_state_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    return bool(a == b) or (isinstance(a, float) and isinstance(b, float)
                            and math.isnan(a) and math.isnan(b))


def _eta_equal(a: object, b: object) -> bool:
    try:
        x, y = float(a), float(b)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return x == y or (math.isnan(x) and math.isnan(y))


# -- whole plugins ----------------------------------------------------------------
def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def plugin_parts(name: str, *, registry: Registry | None = None) -> list[PartInfo]:
    """Every part supplied by the plugin or distribution ``name``.

    ``name`` is a plugin's name (its entry-point name, as ``gdkit plugins``
    shows it, e.g. ``"step_rules"``) or a distribution's (``"gdkit"``,
    ``"gdkit-momentum"``; ``-``, ``_`` and ``.`` are equivalent). Parts whose
    name another plugin also registers are included.

    Raises
    ------
    CheckError
        The plugin failed to load (check ``"load"``).
    UnknownPluginError
        No loaded plugin or distribution has that name.
    """
    reg = registry or get_registry()
    wanted = _normalize(name)
    found: list[PartInfo] = []
    for kind in KINDS:
        infos = list(reg.parts(kind).values())
        infos += [i for group in reg.conflicts(kind).values() for i in group]
        found += sorted((i for i in infos if i.plugin == name or _normalize(i.plugin) == wanted
                         or _normalize(i.distribution) == wanted), key=lambda i: i.name)
    if found:
        return found
    for failure in reg.failures:
        if wanted in (_normalize(failure.plugin), _normalize(failure.distribution)):
            raise CheckError(name, "load", failure.describe())
    known = sorted({i.plugin for k in KINDS for i in reg.parts(k).values()}
                   | {i.distribution for k in KINDS for i in reg.parts(k).values()})
    raise UnknownPluginError(f"no plugin or distribution named {name!r} supplies any part. "
                             f"Known: {', '.join(known)}. Is it installed (pip install "
                             "<your distribution>) in this environment, with a gdkit.plugins "
                             "entry point?")


def _build(info: PartInfo, options: Mapping[str, Any]) -> Any:
    _check_options(info, options)
    product = info.factory(**options)
    check_part(info.kind, product, f"the {info.kind} {info.name!r} built by {info.supplier}",
               "Fix the plugin's factory.")
    return product


def check_plugin(
    name: str,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Mapping[str, str] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
    registry: Registry | None = None,
) -> PluginReport:
    """Run the checks on every part a registered plugin or distribution supplies.

    Parameters
    ----------
    name : str
        A plugin name (``gdkit plugins`` shows it: ``"step_rules"``,
        ``"momentum"``) or a distribution name (``"gdkit-momentum"``).
    options : mapping, optional
        Part name → keyword options to build it with, for parts that need
        configuration (``{"mnist-network": {"data": "...", "n_train": 500}}``).
        Default: each factory is called without arguments.
    skip : mapping, optional
        Part name → reason, for parts that cannot be checked here (data not
        available, ...). Each skipped part is reported in the result and by a
        :class:`CheckSkippedWarning`; nothing is skipped silently.
    max_examples, database, derandomize
        Passed to each check (see :func:`check_objective`).
    registry : Registry, optional
        Default: the process-wide registry.

    Returns
    -------
    PluginReport

    Raises
    ------
    CheckError
        A part failed a check, or could not be built (check ``"build"``:
        pass ``options=`` or ``skip=`` for it). When several parts fail, one
        error lists them all.
    UnknownPluginError
        No plugin or distribution of that name.
    """
    infos = plugin_parts(name, registry=registry)
    names = {i.name for i in infos}
    for what, given in (("options", options or {}), ("skip", skip or {})):
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(f"{what}= names no part of {name!r}: {', '.join(unknown)}. Its "
                             f"parts: {', '.join(sorted(names))}.")
    reports: list[PartReport] = []
    skipped: list[tuple[str, str]] = []
    failures: list[CheckError] = []
    common: dict[str, Any] = {"max_examples": max_examples, "database": database,
                              "derandomize": derandomize}
    for info in infos:
        label = f"{info.kind} {info.name!r} ({info.supplier})"
        reason = (skip or {}).get(info.name)
        if reason is not None:
            skipped.append((label, reason))
            warnings.warn(f"gdkit.testing: skipped the {label}: {reason}",
                          CheckSkippedWarning, stacklevel=2)
            continue
        opts = dict((options or {}).get(info.name, {}))
        try:
            reports.append(_check_part(info, opts, label, common))
        except CheckError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise CheckError(name, "; ".join(f.check for f in failures),
                         f"{len(failures)} parts failed:\n"
                         + "\n".join(f"- {f}" for f in failures))
    return PluginReport(name, tuple(reports), tuple(skipped))


def _check_part(info: PartInfo, opts: dict[str, Any], label: str,
                common: dict[str, Any]) -> PartReport:
    def build() -> Any:
        try:
            return _build(info, opts)
        except Exception as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in opts.items()) or "no options"
            raise CheckError(label, BUILD, f"could not be built with {shown}: "
                             f"{type(exc).__name__}: {exc}. Pass options={{{info.name!r}: "
                             f"{{...}}}} to check_plugin, or skip={{{info.name!r}: 'why'}}"
                             ) from exc

    part = build()
    if info.kind == "objective":
        return check_objective(part, name=label, **common)
    if info.kind == "gradient source":
        return check_gradient_source(part, name=label, **common)
    return check_step_rule(build, name=label, **common)

