"""gdkit.testing: every built-in plugin passes its own contract checks, and
deliberately broken parts are each caught by the check named for their bug."""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import PluginLoadWarning, UnknownPluginError
from gdkit.registry import KINDS
from gdkit.testing import (
    CheckError,
    CheckSkippedWarning,
    check_gradient_source,
    check_objective,
    check_plugin,
    check_step_rule,
    plugin_parts,
)

from .conftest import MakeDist

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "gdkit-momentum"
MNIST_ENV = os.environ.get("GDKIT_TEST_MNIST")
MNIST_DIR = Path(MNIST_ENV or REPO.parent / "shared" / "data" / "mnist")
FEW = 8  # hypothesis examples per check for the broken fixtures: they fail fast


def _builtin_plugins() -> list[str]:
    reg = gdkit.get_registry()
    return sorted({info.plugin for kind in KINDS for info in reg.parts(kind).values()
                   if info.distribution == "gdkit"})


def _options() -> dict[str, dict[str, Any]]:
    """Options for the built-in parts that cannot be built without them."""
    rng = np.random.default_rng(0)
    opts: dict[str, dict[str, Any]] = {
        "network": {"sizes": [6, 4, 3], "inputs": rng.uniform(0, 1, (30, 6)),
                    "targets": rng.integers(0, 3, 30)},
    }
    parts = gdkit.get_registry().parts("objective")
    if "mnist-network" in parts:
        mnist: dict[str, Any] = {"data": str(MNIST_DIR), "sizes": [784, 10, 10]}
        if "n_train" in inspect.signature(parts["mnist-network"].factory).parameters:
            mnist["n_train"] = 500
        opts["mnist-network"] = mnist
    return opts


@pytest.mark.parametrize("plugin", _builtin_plugins())
def test_every_builtin_plugin_passes_its_contract_checks(plugin: str) -> None:
    if plugin == "autodiff":
        pytest.importorskip("autograd", reason="the autodiff extra is not installed")
    if plugin == "jax_gradient":
        pytest.importorskip("jax", reason="the jax extra is not installed")
    parts = {i.name for i in plugin_parts(plugin)}
    options = {k: v for k, v in _options().items() if k in parts}
    if "mnist-network" in parts and not MNIST_DIR.is_dir():
        # A missing data set fails, like every other test that needs it.
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    if plugin == "dask_gradient":
        distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=40) as cluster, \
                distributed.Client(cluster, set_as_default=False) as client:
            report = check_plugin(plugin, options={"dask": {"client": client}})
        assert any("cannot be split over a cluster" in n for p in report.parts for n in p.notes), \
            str(report)
    else:
        report = check_plugin(plugin, options=options)
    checked = {p.part.split("'")[1] for p in report.parts}
    assert checked == parts
    assert all(len(p.passed) >= 7 for p in report.parts), str(report)


def test_float32_networks_pass_too() -> None:
    opts = _options()["network"]
    report = check_objective(gdkit.objective("network", dtype="float32", **opts))
    assert "gradient vs central differences" in report.passed
    assert any("refuses float64" in n for n in report.notes)


def test_plugin_parts_by_distribution_or_plugin_name() -> None:
    reg = gdkit.get_registry()
    builtin = {(i.kind, i.name) for k in KINDS for i in reg.parts(k).values()
               if i.distribution == "gdkit"}
    assert {(i.kind, i.name) for i in plugin_parts("gdkit")} == builtin
    assert {i.name for i in plugin_parts("finite-difference")} == {"forward", "central",
                                                                   "complex-step"}
    with pytest.raises(UnknownPluginError, match=r"no plugin or distribution named 'nope'.*"
                                                  r"Known:.*step_sizes"):
        plugin_parts("nope")


# -- broken objectives ----------------------------------------------------------
class Shifted:
    """C(v) = ½‖v‖² + v₀: a correct objective the broken ones below derive from."""

    dim = 3

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        return float(0.5 * (v @ v) + v[0])

    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty_like(v)
        out[...] = v
        out[0] += 1.0
        return out


class MutatingCost(Shifted):
    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        np.abs(v, out=v)  # the bug: writes to the caller's parameters
        return super().cost(v)


class WrongSign(Shifted):
    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        g = super().gradient(v, batch, out)
        g *= -1.0
        return g


class WrongShape(Shifted):
    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        return super().gradient(v)[:, None]


class Float64Gradient(Shifted):
    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        g = np.zeros(v.size)  # the bug: float64 whatever v's dtype
        g[...] = v
        g[0] += 1.0
        if out is not None:
            out[...] = g
            return out
        return g


class IgnoresOut(Shifted):
    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        return super().gradient(v)


class AccumulatesIntoOut(Shifted):
    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.zeros_like(v)
        out += super().gradient(v)
        return out


class Noisy(Shifted):
    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        return super().cost(v) + 1e-9 * float(self.rng.random())


class CachedById(Shifted):
    def __init__(self) -> None:
        self.cache: dict[int, float] = {}

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        if id(v) not in self.cache:
            self.cache[id(v)] = super().cost(v)
        return self.cache[id(v)]


class LogBarrier(Shifted):
    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.sum(-np.log(v + 1.0)))


class RandomStart(Shifted):
    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        return np.random.default_rng().standard_normal(3)  # ignores rng


class SumNotMean(Shifted):
    """Sampled: C = mean over 10 inputs of ½‖v − xᵢ‖², but the batch cost is a sum."""

    n_samples = 10
    x = np.linspace(-1, 1, 30).reshape(10, 3)

    def cost(self, v: np.ndarray, batch: Any = None) -> float:
        rows = self.x if batch is None else self.x[batch]
        per = 0.5 * np.sum((v - rows) ** 2, axis=1)
        return float(per.mean() if batch is None else per.sum())

    def gradient(self, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        rows = self.x if batch is None else self.x[batch]
        if out is None:
            out = np.empty_like(v)
        out[...] = (v - rows).mean(axis=0) if batch is None else (v - rows).sum(axis=0)
        return out


class AbsComplexCost(Shifted):
    def complex_cost(self, v: np.ndarray, batch: Any = None) -> complex:
        return complex(0.5 * np.sum(np.abs(v) ** 2) + v[0])  # abs is not holomorphic


class BadDim(Shifted):
    dim = 0  # type: ignore[assignment]


@pytest.mark.parametrize(("objective", "check", "says"), [
    (MutatingCost(), "purity", "cost(v) modified v"),
    (WrongSign(), "gradient vs central differences", "relative error 2"),
    (WrongShape(), "shapes and dtypes", "returned shape (3, 1)"),
    (Float64Gradient(), "shapes and dtypes", "dtype float64 for a float32 v"),
    (IgnoresOut(), "shapes and dtypes", "instead of out"),
    (AccumulatesIntoOut(), "shapes and dtypes", "unwritten"),
    (Noisy(), "determinism", "for the same v"),
    (CachedById(), "determinism", "identity"),
    (LogBarrier(), "finite outputs", "is not finite"),
    (RandomStart(), "initial point", "different points for the same seed"),
    (SumNotMean(), "mini-batch", "not the mean"),
    (AbsComplexCost(), "complex step", "holomorphic"),
    (BadDim(), "protocol", "dim must be an integer >= 1"),
])
def test_broken_objective_is_caught_by_the_named_check(objective: Any, check: str,
                                                       says: str) -> None:
    with pytest.raises(CheckError) as info:
        check_objective(objective, name="the broken one", max_examples=FEW)
    err = info.value
    assert err.check == check, str(err)
    msg = str(err)
    assert msg.startswith(f"the broken one: check {check!r} failed: ")
    assert says in msg
    if check not in ("protocol", "initial point"):
        assert "counterexample: v = [" in msg and err.counterexample is not None


def test_descent_check_catches_a_wrong_sign_by_itself() -> None:
    with pytest.raises(CheckError, match=r"'descent \(eq\. 9\)'.*settles at -1(\.0+)?, not 1"):
        check_objective(WrongSign(), max_examples=FEW,
                        skip={"gradient vs central differences": "testing eq. 9 alone"})


def test_a_slightly_wrong_gradient_is_caught_with_relative_error() -> None:
    class Off(Shifted):
        def gradient(self, v: np.ndarray, batch: Any = None,
                     out: np.ndarray | None = None) -> np.ndarray:
            g = super().gradient(v, batch, out)
            g *= 1.001
            return g

    with pytest.raises(CheckError, match=r"relative error 0\.00099"):
        check_objective(Off(), max_examples=FEW)


def test_counterexample_is_shrunk() -> None:
    class NanAtOne(Shifted):
        def cost(self, v: np.ndarray, batch: Any = None) -> float:
            return math.nan if v[1] >= 1.0 else super().cost(v)

    with pytest.raises(CheckError) as info:
        check_objective(NanAtOne(), max_examples=200)
    assert info.value.check == "finite outputs"
    assert info.value.counterexample is not None
    assert info.value.counterexample.startswith("v = [0., 1., 0.]")


def test_two_bugs_are_reported_as_one_assertion_error() -> None:
    class TwoBugs(Shifted):
        def cost(self, v: np.ndarray, batch: Any = None) -> float:
            if v[0] > 1.0:
                raise ValueError("bug one")
            return math.inf if v[2] < -1.0 else super().cost(v)

    with pytest.raises(CheckError) as info:
        check_objective(TwoBugs(), max_examples=200)
    assert type(info.value) is CheckError


def test_large_objectives_compare_a_subset_of_coordinates() -> None:
    class Big:
        """Σ cos(vᵢ) in dim 20,000: central differences on every coordinate would
        cost 40,000 evaluations per example."""

        dim = 20_000

        def __init__(self) -> None:
            self.calls = 0

        def cost(self, v: np.ndarray, batch: Any = None) -> float:
            self.calls += 1
            return float(np.cos(v).sum())

        def gradient(self, v: np.ndarray, batch: Any = None,
                     out: np.ndarray | None = None) -> np.ndarray:
            if out is None:
                out = np.empty_like(v)
            np.negative(np.sin(v), out=out)
            return out

    big = Big()
    report = check_objective(big, max_examples=3)
    assert "gradient vs central differences" in report.passed
    assert big.calls < 2_000


# -- broken gradient sources --------------------------------------------------------
class Exact:
    """Asks the objective: a correct gradient source."""

    def gradient(self, objective: Any, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        return objective.gradient(v, batch, out)  # type: ignore[no-any-return]


class SourceWrongSign(Exact):
    def gradient(self, objective: Any, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        g = super().gradient(objective, v, batch, out)
        g *= -1.0
        return g


class SourceFloat64(Exact):
    def gradient(self, objective: Any, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        g = np.zeros(v.size)  # the bug: float64 whatever v's dtype
        g[...] = objective.gradient(v, batch)
        if out is not None:
            out[...] = g
            return out
        return g


class IgnoresBatch(Exact):
    def gradient(self, objective: Any, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        return super().gradient(objective, v, None, out)


class PerturbsInPlace:
    """Forward differences that forget to restore the coordinate."""

    def gradient(self, objective: Any, v: np.ndarray, batch: Any = None,
                 out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty_like(v)
        f0 = objective.cost(v, batch)
        for i in range(v.size):
            h = 1e-7
            v[i] += h
            out[i] = (objective.cost(v, batch) - f0) / h
        return out


@pytest.mark.parametrize(("source", "check", "says"), [
    (SourceWrongSign(), "accuracy vs analytic gradient", "‖gradient − ∇C‖"),
    (SourceFloat64(), "shapes and dtypes", "dtype float64 for a float32 v"),
    (IgnoresBatch(), "mini-batch", "is the batch passed on"),
    (PerturbsInPlace(), "purity", "modified v"),
])
def test_broken_gradient_source_is_caught_by_the_named_check(source: Any, check: str,
                                                             says: str) -> None:
    with pytest.raises(CheckError) as info:
        check_gradient_source(source, max_examples=FEW)
    assert info.value.check == check, str(info.value)
    assert says in str(info.value)
    assert "counterexample: gdkit.testing " in str(info.value)


def test_a_correct_source_passes() -> None:
    report = check_gradient_source(Exact(), name="exact", max_examples=FEW)
    assert report.passed == ("protocol", "purity", "shapes and dtypes", "determinism",
                             "finite outputs", "accuracy vs analytic gradient", "mini-batch",
                             "descent (eq. 9)")


# -- broken step rules ----------------------------------------------------------------
class Plain:
    """v ← v − η∇C: a correct step rule."""

    def __init__(self, eta: float = 0.1) -> None:
        self.eta = eta

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eta={self.eta!r})"

    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        v -= self.eta * grad
        return self.eta


class NoRepr(Plain):
    __repr__ = object.__repr__  # the bug: the address, different for equal instances


class Halving:
    """The README's example before the kit caught it: η halves every step and
    nothing resets it, so a second run starts where the first ended."""

    def __init__(self, eta: float = 1.0) -> None:
        self.eta = eta

    def __repr__(self) -> str:
        return f"Halving(eta={self.eta!r})"  # (shows the current η: equal when fresh)

    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        eta, self.eta = self.eta, self.eta / 2
        v -= eta * grad
        return eta


class Climbs(Plain):
    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        v += self.eta * grad  # the bug: uphill
        return self.eta


class Rebinds(Plain):
    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        v = v - self.eta * grad  # the bug: rebinds a local name, v is never moved
        return self.eta


class ScalesGrad(Plain):
    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        grad *= self.eta  # the bug: the loop's gradient buffer
        v -= grad
        return self.eta


class Unguarded(Plain):
    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        with np.errstate(invalid="ignore", divide="ignore"):
            eta = float(0.01 / np.linalg.norm(grad))  # inf when ∇C = 0
            v -= eta * grad
        return eta


class ReturnsNothing(Plain):
    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> None:  # type: ignore[override]
        v -= self.eta * grad


class LeakyState(Plain):
    """Momentum whose get_state hands out its own velocity buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.u: np.ndarray | None = None

    def reset(self) -> None:
        self.u = None

    def get_state(self) -> dict[str, Any]:
        return {} if self.u is None else {"velocity": self.u}  # the bug: no copy

    def set_state(self, state: dict[str, Any]) -> None:
        self.u = state.get("velocity")

    def step(self, v: np.ndarray, grad: np.ndarray, ctx: Any) -> float:
        if self.u is None:
            self.u = np.zeros_like(v)
        self.u *= 0.5
        self.u -= self.eta * grad
        v += self.u
        return self.eta


class AdaptiveEta(LeakyState):
    """A correct monolithic rule with state: get_state hands out copies."""

    def get_state(self) -> dict[str, Any]:
        return {} if self.u is None else {"velocity": self.u.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        u = state.get("velocity")
        self.u = None if u is None else np.array(u, copy=True)


class ForgetfulState(LeakyState):
    def get_state(self) -> dict[str, Any]:
        return {"eta": self.eta}  # the bug: the velocity is missing


class HalfStateful(Plain):
    def get_state(self) -> dict[str, Any]:
        return {"eta": self.eta}


@pytest.mark.parametrize(("rule", "check", "says"), [
    (Climbs(), "descent (eq. 9)", "moved v uphill"),
    (Rebinds(), "in place", "rebinds a local name"),
    (ScalesGrad(), "purity", "modified the gradient"),
    (Unguarded(), "zero gradient", "guard divisions"),
    (ReturnsNothing(), "shapes and dtypes", "step returned NoneType None"),
    (LeakyState(), "state", "return copies of arrays"),
    (ForgetfulState(), "state", "everything the next step depends on"),
    (HalfStateful(), "protocol", "has get_state but not reset, set_state"),
    (Plain(eta=5.0), "progress", "did not lower C"),
    (NoRepr(), "repr", "no address"),
    (Halving(), "repeated runs", "keeps state across runs that reset() does not clear"),
])
def test_broken_step_rule_is_caught_by_the_named_check(rule: Any, check: str,
                                                       says: str) -> None:
    with pytest.raises(CheckError) as info:
        check_step_rule(rule, max_examples=FEW)
    assert info.value.check == check, str(info.value)
    assert says in str(info.value)


def test_an_address_repr_is_named_once_and_called_what_it_is() -> None:
    """Python reuses a freed instance's address, so two "different" default reprs could be
    one string shown twice; the message shows the one default repr and says what is wrong,
    and names the part by its class, not by a third address."""
    with pytest.raises(CheckError) as info:
        check_step_rule(NoRepr, max_examples=FEW)
    message = str(info.value)
    assert re.findall(r"0x[0-9a-f]+", message, re.I) == re.findall(
        r"at (0x[0-9a-f]+)>", message, re.I)[:1], message
    assert message.startswith(f"{__name__}.NoRepr instance: check 'repr' failed: its repr is "
                              f"Python's default, '<{__name__}.NoRepr object at 0x")
    assert "a memory address, which differs from one instance to the next" in message


def test_step_rule_checks_take_a_factory_and_leave_the_instance_alone() -> None:
    rule = AdaptiveEta()
    before = rule.get_state()
    check_step_rule(rule, max_examples=FEW)
    assert rule.get_state() == before
    chained = gdkit.step_rule("bold-driver")  # a chain holds configuration only
    check_step_rule(chained, max_examples=FEW)
    assert chained == gdkit.step_rule("bold-driver")
    report = check_step_rule(lambda: gdkit.step_rule("armijo", eta0=0.5), max_examples=FEW)
    assert "state" in report.passed


# -- check_plugin ---------------------------------------------------------------------
BROKEN_PLUGIN = """
import numpy as np
import gdkit

class Climbs:
    def __repr__(self):
        return "Climbs()"
    def step(self, v, grad, ctx):
        v += 0.1 * grad
        return 0.1

class Fine:
    def __repr__(self):
        return "Fine()"
    def step(self, v, grad, ctx):
        v -= 0.1 * grad
        return 0.1

class NeedsData:
    def __init__(self, path):
        self.path = path
        self.dim = 2
    def cost(self, v, batch=None):
        return float(v @ v)

@gdkit.hookimpl
def gdkit_step_rules():
    return {"climbs": Climbs, "fine": Fine}

@gdkit.hookimpl
def gdkit_objectives():
    return {"needs-data": NeedsData}
"""


def test_check_plugin_names_part_plugin_and_distribution(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", BROKEN_PLUGIN, version="0.2")
    with pytest.raises(CheckError) as info:
        check_plugin("gdkit-broken", max_examples=FEW,
                     options={"needs-data": {"path": "/data"}})
    msg = str(info.value)
    assert msg.startswith("step rule 'climbs' (plugin 'gdkit_broken' (distribution "
                          "'gdkit-broken 0.2')): check 'descent (eq. 9)' failed")


def test_a_part_that_cannot_be_built_asks_for_options_or_skip(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", BROKEN_PLUGIN)
    with pytest.raises(CheckError) as info, pytest.warns(CheckSkippedWarning, match="climbs"):
        check_plugin("gdkit_broken", max_examples=FEW, skip={"climbs": "known to climb"})
    assert info.value.check == "build"
    assert "'needs-data'" in str(info.value) and "missing 1 required" in str(info.value)
    assert "options={'needs-data': {...}}" in str(info.value)
    with pytest.warns(CheckSkippedWarning) as warned:
        report = check_plugin("gdkit-broken", max_examples=FEW,
                              skip={"climbs": "known to climb", "needs-data": "no data here"})
    assert sorted(str(w.message).split(": ")[-1] for w in warned) == ["known to climb",
                                                                      "no data here"]
    assert [p.part.split("'")[1] for p in report.parts] == ["fine"]
    assert sorted(why for _, why in report.skipped) == ["known to climb", "no data here"]
    assert "SKIPPED" in str(report)


def test_several_failing_parts_are_listed_in_one_error(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", BROKEN_PLUGIN)
    with pytest.raises(CheckError, match=r"2 parts failed:\n- objective 'needs-data'.*build"
                                         r".*\n- step rule 'climbs'.*descent"):
        check_plugin("gdkit-broken", max_examples=FEW)


def test_check_plugin_refuses_options_for_unknown_parts(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", BROKEN_PLUGIN)
    with pytest.raises(ValueError, match="names no part of 'gdkit-broken': climb"):
        check_plugin("gdkit-broken", skip={"climb": "typo"})


def test_a_plugin_that_failed_to_load(make_dist: MakeDist) -> None:
    make_dist("gdkit-broken", "gdkit_broken", "raise ImportError('needs libfoo')\n")
    with pytest.warns(PluginLoadWarning), pytest.raises(CheckError, match=r"'load' failed.*"
                                                                         r"needs libfoo"):
        check_plugin("gdkit-broken")


@pytest.fixture
def example_installed(make_dist: MakeDist, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example distribution, as pip would leave it: its package on sys.path
    and a dist-info with its entry point."""
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    make_dist("gdkit-momentum", "gdkit_momentum_entry",
              "from gdkit_momentum.plugin import gdkit_objectives, gdkit_transforms\n",
              version="0.1.0", entry_name="momentum")
    yield
    for name in [m for m in sys.modules if m.startswith("gdkit_momentum")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.mark.usefixtures("example_installed")
def test_the_example_plugin_passes() -> None:
    report = check_plugin("gdkit-momentum")
    assert sorted(p.part for p in report.parts) == [
        "objective 'logistic' (plugin 'momentum' (distribution 'gdkit-momentum 0.1.0'))",
        "transform 'rmsprop' (plugin 'momentum' (distribution 'gdkit-momentum 0.1.0'))"]
    assert not report.skipped
    rmsprop = next(p for p in report.parts if p.kind == "transform")
    assert {"init", "checkpoint round trip", "armijo along the direction",
            "as a step rule: descent (eq. 9)", "as a step rule: state"} <= set(rmsprop.passed)
    assert not rmsprop.skipped


@pytest.mark.usefixtures("example_installed")
def test_the_example_transform_chains_by_name() -> None:
    rule = gdkit.step_rule("rmsprop,fixed", **{"rmsprop.rho": 0.5, "fixed.eta": 0.01})
    assert repr(rule) == "chain(RMSprop(rho=0.5, eps=1e-08), Fixed(eta=0.01, schedule=None))"
    assert gdkit.get_registry().lookup("transform", "rmsprop").distribution == "gdkit-momentum"
    res = gdkit.minimize("logistic", step=rule, max_iter=200, seed=0)
    assert res.fun < res.history["cost"][0] - 0.3  # from ln 2 to about 0.35


# -- hypothesis: settings, storage, laziness ------------------------------------------
def test_skip_a_check_with_a_reason() -> None:
    report = check_objective(Shifted(), max_examples=FEW, skip={"descent (eq. 9)": "why not"})
    assert ("descent (eq. 9)", "skipped on request: why not") in report.skipped
    with pytest.raises(ValueError, match="names no check of a objective: descnet"):
        check_objective(Shifted(), skip={"descnet": "typo"})
    with pytest.raises(ValueError, match="max_examples must be an integer >= 1"):
        check_objective(Shifted(), max_examples=0)


def test_example_database_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(CheckError):
        check_objective(WrongSign(), max_examples=FEW, database=tmp_path / "db",
                        derandomize=False)
    assert any((tmp_path / "db").iterdir())


def test_nothing_is_written_into_the_project(tmp_path: Path) -> None:
    (tmp_path / "my_objective.py").write_text(textwrap.dedent("""
        import numpy as np

        class Mine:
            dim = 2
            SCALE = 12345.678  # a constant hypothesis would cache from local source
            def cost(self, v, batch=None):
                return float(v @ v)
            def gradient(self, v, batch=None, out=None):
                if out is None:
                    out = np.empty_like(v)
                out[...] = 2 * v
                return out
    """))
    code = ("from gdkit.testing import check_objective\nfrom my_objective import Mine\n"
            "check_objective(Mine(), max_examples=5)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPOTHESIS")}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
    assert not (tmp_path / ".hypothesis").exists()


def test_hypothesis_is_imported_lazily() -> None:
    code = ("import sys, gdkit.testing\n"
            "assert 'hypothesis' not in sys.modules, 'imported at import time'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_clear_error_without_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ImportError, match=r"pip install 'gdkit\[test\]'"):
        check_objective(Shifted())
