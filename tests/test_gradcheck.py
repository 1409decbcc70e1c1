"""gdkit.check_gradient and gdkit check-gradient: a right gradient passes, a
wrong one fails and is named by coordinate, tolerances follow the dtype."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gdkit
from gdkit.errors import ConfigError, ShapeError

from .helpers import SMALL, small
from .test_cli import gdkit_cmd


def quartic(v: np.ndarray) -> float:
    return float(np.sum(v ** 4))


def quartic_grad(v: np.ndarray) -> np.ndarray:
    return 4 * v ** 3


def slipped(index: int, factor: float = -1.0):
    """The quartic's gradient with coordinate ``index`` multiplied by ``factor``."""
    def grad(v: np.ndarray) -> np.ndarray:
        g = quartic_grad(v)
        g[index] *= factor
        return g
    return grad


# -- examples ------------------------------------------------------------------
def test_rosenbrock_passes_against_the_complex_step() -> None:
    check = gdkit.check_gradient("rosenbrock", np.array([-1.2, 1.0]))
    assert check.passed and check.method == "complex-step" and check.gradient == "analytic"
    assert check.coordinates == (0, 1) and check.directions == 3
    assert check.abs_error < 1e-12 and check.dim == 2 and check.dtype == "float64"
    # ∂C/∂v at (-1.2, 1): (-215.6, -88), the values compared
    assert [c.reference for c in check.comparisons[:2]] == pytest.approx([-215.6, -88.0])


def test_a_wrong_gradient_fails_and_names_its_worst_coordinate() -> None:
    check = gdkit.check_gradient(quartic, np.array([1.0, -2.0]), jac=lambda v: 3 * v ** 3)
    assert not check.passed and check.method == "central"
    worst = check.worst_coordinate
    assert worst is not None and worst.index == 1
    assert worst.analytic == pytest.approx(-24.0) and worst.reference == pytest.approx(-32.0)
    assert worst.error == pytest.approx(8.0) and worst.relative == pytest.approx(0.25)
    assert check.rel_error == pytest.approx(0.25)
    assert len(check.failures) == 5  # both coordinates and the three directions


def test_one_slipped_coordinate_is_the_one_reported() -> None:
    v = np.linspace(-1.5, 1.5, 20)
    check = gdkit.check_gradient(quartic, v, jac=slipped(7))
    assert [c.index for c in check.failures if c.index is not None] == [7]
    assert check.worst_coordinate is not None and check.worst_coordinate.index == 7
    assert "FAILED ∂C/∂v[7]" in str(check) and str(check).endswith(
        "FAILED: 19 of 23 derivatives agree")  # v[7] and the three random directions


def test_large_m_checks_a_sample_of_coordinates_and_random_directions() -> None:
    v = np.random.default_rng(1).uniform(-1, 1, 1000)
    check = gdkit.check_gradient(quartic, v, jac=quartic_grad, coordinates=50, directions=4)
    assert check.passed
    coords = check.coordinates
    assert len(coords) == 50 and list(coords) == sorted(set(coords)) and check.directions == 4
    assert "50 of 1000 coordinates (a random sample)" in str(check)


def test_random_directions_catch_a_coordinate_not_sampled() -> None:
    v = np.random.default_rng(1).uniform(0.5, 1, 1000)
    sampled = gdkit.check_gradient(quartic, v, jac=quartic_grad, coordinates=10).coordinates
    missed = next(i for i in range(1000) if i not in sampled)
    check = gdkit.check_gradient(quartic, v, jac=slipped(missed, 100.0), coordinates=10)
    assert not check.passed
    assert all(c.index is None for c in check.failures)  # only the directions saw it


def test_the_complex_step_tells_apart_what_central_differences_cannot() -> None:
    """A relative error of 1e-6 is within what central differences can resolve
    in float64 (1e-5) but not within the complex step's √ε."""
    v = np.array([0.3, -1.2, 2.0])
    off = lambda w: 4 * w ** 3 * (1 + 1e-6)  # noqa: E731
    holomorphic = lambda w: np.sum(w ** 4)  # noqa: E731  (no float(): complex in, complex out)
    exact = gdkit.as_objective(holomorphic, 3, off, complex_safe=True)
    assert gdkit.check_gradient(exact, v, method="central").passed
    assert not gdkit.check_gradient(exact, v).passed  # auto: the complex step
    assert gdkit.check_gradient(exact, v, rtol=1e-5).passed


def test_a_complex_cost_that_drops_the_imaginary_part_is_refused() -> None:
    obj = gdkit.as_objective(quartic, 2, quartic_grad, complex_safe=True)  # float() inside
    with pytest.raises(ConfigError, match="complex_cost returned float, not a complex number"):
        gdkit.check_gradient(obj, np.ones(2))
    assert gdkit.check_gradient(obj, np.ones(2), method="central").passed


def test_float32_is_checked_with_float32_tolerances() -> None:
    check = gdkit.check_gradient("rosenbrock", np.array([-1.2, 1.0]), dtype="float32",
                                 method="central")
    assert check.passed and check.dtype == "float32"
    f64 = gdkit.check_gradient("rosenbrock", np.array([-1.2, 1.0]), method="central")
    assert min(c.tolerance for c in check.comparisons) > max(c.tolerance for c in f64.comparisons)


def test_a_gradient_source_can_be_checked() -> None:
    check = gdkit.check_gradient(small("network"), gradient="central")
    assert check.passed and check.gradient == "Central()"
    coarse = gdkit.check_gradient("rosenbrock", np.array([-1.2, 1.0]), gradient="forward")
    assert not coarse.passed  # forward differences are not exact: the complex step says so


def test_large_data_is_checked_on_a_mini_batch() -> None:
    big = gdkit.objective("quadratic", n_samples=2500, n_features=3, n_outputs=1)
    assert gdkit.check_gradient(big).batch == 100
    assert gdkit.check_gradient(big, batch=7).batch == 7
    chosen = gdkit.check_gradient(big, batch=np.array([3, 1, 4]))
    assert chosen.batch == 3 and chosen.passed
    assert gdkit.check_gradient(small("quadratic")).batch is None


def test_the_default_point_is_the_initial_point_at_the_seed() -> None:
    obj = small("rosenbrock")
    v = obj.initial_point(np.random.default_rng(5))
    a = gdkit.check_gradient(obj, seed=5)
    b = gdkit.check_gradient(obj, v, seed=5)
    assert a.comparisons == b.comparisons


def test_the_same_seed_gives_the_same_check() -> None:
    v = np.random.default_rng(0).uniform(-1, 1, 300)
    a = gdkit.check_gradient(quartic, v, jac=quartic_grad, coordinates=20, seed=3)
    b = gdkit.check_gradient(quartic, v, jac=quartic_grad, coordinates=20, seed=3)
    c = gdkit.check_gradient(quartic, v, jac=quartic_grad, coordinates=20, seed=4)
    assert a.comparisons == b.comparisons and a.coordinates != c.coordinates


@pytest.mark.parametrize(("call", "error", "text"), [
    (lambda: gdkit.check_gradient(gdkit.as_objective(quartic, 2), np.ones(2)), ConfigError,
     "has no analytic gradient to check"),
    (lambda: gdkit.check_gradient(quartic, jac=quartic_grad), ConfigError,
     "a callable objective needs the point v"),
    (lambda: gdkit.check_gradient("valley", np.ones(3)), ShapeError,
     "v has shape (3,), but Valley"),
    (lambda: gdkit.check_gradient("valley", np.array([1.0, np.nan])), ConfigError,
     "v contains NaN"),
    (lambda: gdkit.check_gradient(small("network"), method="complex-step"), ConfigError,
     "needs an objective with complex_cost"),
    (lambda: gdkit.check_gradient("valley", batch=3), ConfigError,
     "batch= needs a sampled objective"),
    (lambda: gdkit.check_gradient(small("quadratic"), batch=np.array([0, 99])), ShapeError,
     "indices outside 0..29"),
    (lambda: gdkit.check_gradient("valley", method="forward"), ConfigError, "method"),
    (lambda: gdkit.check_gradient("valley", coordinates=0, directions=0), ConfigError,
     "check nothing"),
])
def test_bad_requests_are_one_clear_error(call, error, text) -> None:
    with pytest.raises(error, match=None) as info:
        call()
    assert text in str(info.value)


# -- properties ----------------------------------------------------------------
points = st.lists(st.floats(-2, 2), min_size=2, max_size=2)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(SMALL)), dtype=st.sampled_from(["float64", "float32"]),
       seed=st.integers(0, 2 ** 16), method=st.sampled_from(["auto", "central"]))
def test_every_builtin_analytic_gradient_passes_everywhere(name: str, dtype: str, seed: int,
                                                           method: str) -> None:
    """No false alarm: the built-in gradients pass at random points, both dtypes."""
    obj = gdkit.objective(name, **SMALL[name],
                          **({"dtype": dtype} if name == "network" else {}))
    v = np.random.default_rng(seed).uniform(-2, 2, obj.dim)
    check = gdkit.check_gradient(obj, v, dtype=dtype, method=method, seed=seed)
    assert check.passed, str(check)


@settings(max_examples=60, deadline=None)
@given(v=points, index=st.integers(0, 1), error=st.floats(1e-3, 10),
       sign=st.sampled_from([-1.0, 1.0]))
def test_a_relative_error_of_a_thousandth_is_always_caught(v: list[float], index: int,
                                                           error: float, sign: float) -> None:
    """Rosenbrock's gradient with one coordinate off by a relative 1e-3 or more
    fails in float64, whichever reference, wherever that derivative is not ~0."""
    x = np.array(v)
    obj = gdkit.objective("rosenbrock")
    g = obj.gradient(x)
    assume(abs(g[index]) > 1e-6)

    def wrong(w: np.ndarray) -> np.ndarray:
        out = obj.gradient(w)
        out[index] *= 1 + sign * error
        return out

    bent = gdkit.as_objective(obj.cost, 2, wrong)
    check = gdkit.check_gradient(bent, x, method="central")
    assert not check.passed
    assert index in [c.index for c in check.failures]


# -- the command ---------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gdkit_cmd(), "check-gradient", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_command_passes_a_right_gradient() -> None:
    out = run("rosenbrock", "--at", "-1.2", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == ("Rosenbrock(dim=2) (2 parameters, float64): analytic gradient against "
                        "the complex step")
    assert lines[-1] == "PASSED: 5 of 5 derivatives agree"
    assert lines[3].startswith("  worst coordinate: ∂C/∂v[")


def test_the_command_exits_1_when_the_gradient_is_not_exact() -> None:
    out = run("rosenbrock", "--at", "-1.2", "1", "--gradient", "forward")
    assert out.returncode == 1 and out.stderr == ""
    assert out.stdout.splitlines()[-1] == "FAILED: 0 of 5 derivatives agree"


def test_the_command_json_is_the_library_result() -> None:
    out = run("network", "-o", "sizes=(3,4,2)", "-o", "n_samples=10", "--coordinates", "5",
              "--seed", "2", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    check = gdkit.check_gradient(small("network"), coordinates=5, seed=2)
    assert got["passed"] is True and got["dim"] == check.dim == 26
    assert [c["index"] for c in got["comparisons"]] == [c.index for c in check.comparisons]
    assert [c["gradient"] for c in got["comparisons"]] == [c.analytic for c in check.comparisons]
    assert got["worst_coordinate"] == check.worst_coordinate.index  # type: ignore[union-attr]


def test_the_command_with_a_wrong_point_is_one_line() -> None:
    out = run("valley", "--at", "1", "2", "3")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == ("gdkit check-gradient: error: --at gives 3 numbers, but "
                                  "valley has 2 parameters: give one number per parameter.")


def test_a_large_relative_error_that_passes_says_why() -> None:
    """A derivative too small for the differences to resolve may be off by half and pass:
    the report says so rather than print "relative error 0.5" right above PASSED."""
    def cost(v: np.ndarray) -> float:
        return float(v[0] ** 2 + 1e-10 * v[1])

    check = gdkit.check_gradient(cost, np.array([1.0, 2.0]), method="central", directions=0,
                                 jac=lambda v: np.array([2 * v[0], 1.5e-10]))
    assert check.passed and check.rtol == 1e-5
    tiny = next(c for c in check.comparisons if c.index == 1)
    assert tiny.relative > 0.3 and check.rel_error == tiny.relative
    lines = str(check).splitlines()
    assert lines[-2] == (
        f"  the largest relative error passes: ∂C/∂v[1] is only {1.5e-10:.3g}, and its "
        f"absolute error {tiny.error:.3g} is within the {tiny.tolerance:.3g} allowed there "
        "(rtol 1e-05 of it, plus the rounding and truncation error of central differences "
        "itself)")
    assert lines[-1] == "PASSED: 2 of 2 derivatives agree"
    resolved = gdkit.check_gradient(quartic, np.array([1.0, -2.0]), jac=quartic_grad)
    assert resolved.rel_error <= 1e-5 and "passes:" not in str(resolved)


MNIST = os.environ.get("GDKIT_TEST_MNIST", str(Path(__file__).resolve().parents[2] / "shared"
                                               / "data" / "mnist"))


def test_the_command_takes_data_and_dtype_as_gdkit_train_does() -> None:
    out = run("mnist-network", "--data", MNIST, "--dtype", "float32", "--coordinates", "3",
              "--directions", "1", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["dtype"] == "float32" and "dtype=float32" in got["objective"]
    assert got["passed"] is True and got["rtol"] == 1e-2


@pytest.mark.parametrize(("args", "message"), [
    (("rosenbrock", "--data", "somewhere"),
     "gdkit check-gradient: error: --data: the objective rosenbrock reads no data set (its "
     "options: dim)."),
    (("rosenbrock", "--download"),
     "gdkit check-gradient: error: --download: the objective rosenbrock reads no data set "
     "(its options: dim)."),
    (("mnist-network", "--dtype", "float32", "-o", "dtype=float64"),
     "gdkit check-gradient: error: --dtype float32 and -o dtype=float64 disagree: give one "
     "of the two."),
    (("mnist-network", "--data", "/nowhere/mnist"),
     "  - /nowhere/mnist (the directory given): no such directory"),
])
def test_the_commands_data_flags_are_checked(args: tuple[str, ...], message: str) -> None:
    out = run(*args)
    assert out.returncode in (1, 2) and out.stdout == ""
    assert message in out.stderr.splitlines(), out.stderr
