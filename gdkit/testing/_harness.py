"""The hypothesis harness: :class:`_Checker` runs one part's checks on drawn
examples and records what passed; the strategies that draw those examples;
and the output assertions several checks share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn, final

import numpy as np
import numpy.typing as npt

from ..protocols import Batch, FloatArray, Objective, Sampled
from ._common import SMALL_DIM, CheckError, PartReport, _require_hypothesis
from ._numeric import _eps

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


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


class _Declined(Exception):
    """The rule raised :class:`~gdkit.errors.StepError`: it found no step, which
    the loop reports as an unsuccessful run. The example tells nothing."""


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


# -- drawing examples ----------------------------------------------------------
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


def _sample_batch(obj: Sampled, rng: np.random.Generator, size: int) -> Batch:
    n = int(obj.n_samples)
    return np.sort(rng.choice(n, size=min(size, n), replace=False)).astype(np.intp)


def _ref(ex: _Point) -> int:
    assert ex.ref is not None
    return ex.ref


def _ref_name(ref: Objective, ex: _Point) -> str:
    return f"{ref!r}, {ex!r}"


# -- assertions several checks share -----------------------------------------
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
