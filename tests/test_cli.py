"""End to end: the installed ``gdkit`` command, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import MakeDist
from .test_registry import HALVING


def gdkit_cmd() -> list[str]:
    here = Path(sys.executable).parent / "gdkit"
    found = str(here) if here.exists() else shutil.which("gdkit")
    assert found, "the gdkit console script is not installed"
    return [found]


def run(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("GDKIT_DISABLE_PLUGIN_AUTOLOAD", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([*gdkit_cmd(), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_plugins_lists_every_builtin_with_its_distribution() -> None:
    out = run("plugins", "--json")
    assert out.returncode == 0, out.stderr
    parts = json.loads(out.stdout)["parts"]
    names = {(p["kind"], p["name"]) for p in parts}
    assert {("objective", "rosenbrock"), ("gradient source", "complex-step"),
            ("step size", "barzilai-borwein"), ("transform", "momentum")} <= names
    assert {p["distribution"] for p in parts if p["plugin"] == "step_sizes"} == {"gdkit"}


def test_third_party_plugin_is_listed_and_usable(make_dist: MakeDist) -> None:
    site = make_dist("gdkit-halving", "gdkit_halving", HALVING, version="2.5")
    out = run("plugins", pythonpath=site)
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if "halving" in ln.split()[:1])
    assert "gdkit-halving 2.5" in line
    out = run("minimize", "valley", "--step", "halving", "--max-iter", "3", "--json",
              pythonpath=site)
    assert out.returncode == 1, out.stderr  # stopped at max_iter, not converged
    assert json.loads(out.stdout)["nit"] == 3


def test_minimize_prints_the_result() -> None:
    out = run("minimize", "rosenbrock", "-o", "dim=3", "--max-iter", "40000", "--gtol", "1e-9")
    assert out.returncode == 0, out.stderr
    assert "converged" in out.stdout
    assert "x        = [1. 1. 1.]" in out.stdout  # printed to 6 decimals


def test_minimize_options_reach_the_parts() -> None:
    out = run("minimize", "valley", "--step", "fixed", "--step-option", "eta=0.1",
              "--gradient", "central", "--max-iter", "2", "--json", "--seed", "0")
    res = json.loads(out.stdout)
    assert res["nit"] == 2 and not res["success"]


@pytest.mark.parametrize(("args", "message", "status"), [
    (("minimize", "rosenbrok"), "Did you mean 'rosenbrock'", 2),
    (("minimize", "valley", "--step", "momentum,armijio"), "Did you mean 'armijo'", 2),
    (("minimize", "valley", "--step", "momentum(beta=0.9"),
     "step 'momentum(beta=0.9': the '(' of 'momentum' is never closed at character 9", 2),
    (("minimize", "valley", "--step", "momentum(beta=0.9,armijo"),
     "expected '=' after the option 'armijo' of 'momentum' at character 25", 2),
    (("minimize", "valley", "--gradient", "centrl"), "Did you mean 'central'", 2),
    (("minimize", "valley", "--step-option", "etaa=1", "--step", "fixed"),
     "does not take option(s) etaa", 2),
    (("minimize", "valley", "--step", "fixed", "--step-option", "eta=50"),
     "became inf at iteration", 1),
    (("minimize", "valley", "-o", "curvature"), "not of the form key=value", 2),
    (("minimize", "valley", "--seed", "-5"), "--seed: must be an integer >= 0, got -5.", 2),
    (("minimize", "valley", "--max-iter", "ten"), "--max-iter: must be an integer >= 0, got "
                                                   "'ten'.", 2),
    (("minimize", "valley", "--gtol", "nan"), "--gtol: must be a number >= 0, got nan.", 2),
    (("train", "--seed", "-5"), "--seed: must be an integer >= 0, got -5.", 2),
])
def test_errors_are_one_paragraph_without_traceback(args: tuple[str, ...], message: str,
                                                    status: int) -> None:
    out = run(*args)
    assert out.returncode == status
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_debug_shows_the_traceback() -> None:
    out = run("--debug", "minimize", "rosenbrok")
    assert out.returncode == 2 and "Traceback" in out.stderr


def test_check_flag_fails_an_unconverged_run() -> None:
    out = run("minimize", "rosenbrock", "--max-iter", "3", "--check")
    assert out.returncode == 1


def test_check_flag_says_it_does_nothing_and_is_not_offered() -> None:
    """--check once asked for exit status 1 on no convergence, which is now always so: old
    scripts still run, told they can drop it, and --help no longer offers it."""
    out = run("minimize", "valley", "--check")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ("gdkit minimize: note: --check does nothing and can be dropped: a "
                          "run that does not converge always exits with status 1.\n")
    assert "--check " not in run("minimize", "--help").stdout.replace("--checkpoint", "")
    assert run("minimize", "valley").stderr == ""


MNIST = os.environ.get("GDKIT_TEST_MNIST", str(Path(__file__).resolve().parents[2] / "shared"
                                               / "data" / "mnist"))


def test_minimize_takes_data_and_dtype_as_gdkit_train_does() -> None:
    out = run("minimize", "mnist-network", "--data", MNIST, "--dtype", "float32", "-o",
              "n_train=20", "-o", "sizes=(784,4,10)", "--step", "fixed", "--max-iter", "2")
    assert out.returncode == 1, out.stderr  # two steps do not converge
    assert "Network(sizes=[784, 4, 10], n_samples=20, dtype=float32" in out.stdout
    assert "max_iter = 2 steps taken" in out.stdout
    small = run("minimize", "rosenbrock", "--dtype", "float32", "--max-iter", "1", "--json")
    assert json.loads(small.stdout)["nit"] == 1
    refused = run("minimize", "rosenbrock", "--data", MNIST)
    assert refused.returncode == 2
    assert refused.stderr == ("gdkit minimize: error: --data: the objective rosenbrock reads "
                              "no data set (its options: dim).\n")


def test_minimize_takes_a_chain_and_per_part_options() -> None:
    out = run("minimize", "valley", "--step", "momentum,fixed", "--step-option",
              "momentum.beta=0.5", "--step-option", "eta=0.1", "--seed", "0", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["success"] is True
    legacy = run("minimize", "valley", "--step", "armijo", "--step-option", "eta0=1.0",
                 "--seed", "0")  # an unqualified option configures the last part, as before
    assert legacy.returncode == 0, legacy.stderr
    assert "chain(Armijo(eta0=1.0, c=0.5" in legacy.stdout


def test_a_bad_chain_is_one_line_without_traceback() -> None:
    out = run("minimize", "valley", "--step", "fixed,momentum")
    assert out.returncode == 2
    assert out.stderr.startswith("gdkit minimize: error: step 'fixed,momentum': 'fixed' is a "
                                 "step size, but only the last part may be one")
    assert "Traceback" not in out.stderr


def test_minimize_is_seeded_by_default_and_takes_mini_batches() -> None:
    first, second = (run("minimize", "quadratic", "--step", "fixed", "--step-option", "eta=0.1",
                         "--batch-size", "10", "--epochs", "2", "--json") for _ in range(2))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["x"] == json.loads(second.stdout)["x"]
    assert json.loads(first.stdout)["nit"] == 20  # 2 epochs of 100 samples in batches of 10


def test_minimize_takes_the_librarys_defaults_and_names_them() -> None:
    """--gradient and --step default to auto, resolved as gdkit.minimize resolves them."""
    import gdkit

    out = run("minimize", "rosenbrock", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    lib = gdkit.minimize("rosenbrock", seed=0)
    assert got["gradient_source"] == repr(lib.gradient_source) == "Analytic()"
    assert got["step_rule"] == repr(lib.step_rule) == repr(gdkit.step_rule("lbfgs,wolfe"))
    assert got["x"] == lib.x.tolist() and got["nit"] == lib.nit


def test_auto_takes_no_options() -> None:
    out = run("minimize", "valley", "--step-option", "eta=0.3")
    assert out.returncode == 2
    assert out.stderr == ("gdkit minimize: error: --step auto takes no options (--step-option "
                          "eta=0.3): name the part, e.g. --step armijo.\n")


def test_minimize_without_convergence_exits_1_and_says_why() -> None:
    out = run("minimize", "valley", "--step", "armijo", "--max-iter", "3")
    assert out.returncode == 1
    assert out.stderr == "gdkit minimize: no success: stopped: max_iter = 3 steps taken " \
                         "(‖∇C‖ = 0.778)\n"


def test_plugins_has_column_headers() -> None:
    first = run("plugins").stdout.splitlines()[0].split()
    assert first == ["NAME", "PLUGIN", "DISTRIBUTION", "FACTORY"]


def test_plugins_prints_no_empty_section() -> None:
    """gdkit's step rules are all chains, so no step rule is registered whole: the listing
    says how to make one instead of printing an empty "step rules:" heading."""
    lines = run("plugins").stdout.splitlines()
    parts = json.loads(run("plugins", "--json").stdout)["parts"]
    assert not any(p["kind"] == "step rule" for p in parts)
    assert "step rules: none registered whole; --step chains the transforms and one step " \
           "size below (e.g. 'momentum(beta=0.9),fixed')" in lines
    headings = [i for i, line in enumerate(lines) if line.endswith(":")]
    assert headings and all(lines[i + 1].startswith("  ") for i in headings), lines


@pytest.mark.parametrize("args", [("plugins",), ("minimize", "valley", "--max-iter", "3")])
def test_a_closed_pipe_ends_quietly(args: tuple[str, ...]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write, as after `| head -c 5`
    try:
        out = subprocess.run([*gdkit_cmd(), *args], stdout=write, stderr=subprocess.PIPE,
                             text=True, timeout=120, check=False)
    finally:
        os.close(write)
    assert out.returncode == 141, out.stderr
    assert out.stderr == ""


HOSTILE = '''
import gdkit

class Part:
    dim = 2

    def __init__(self, where="cost"):
        if where == "factory":
            raise RuntimeError("factory failed")
        self.where = where

    def cost(self, v, batch=None):
        if self.where == "cost":
            raise RuntimeError("cost failed")
        return float(v @ v)

    def gradient(self, v, batch=None, out=None):
        out[...] = 2 * v
        return out

    def initial_point(self, rng):
        return rng.standard_normal(2)

    def step(self, v, g, ctx):
        raise RuntimeError("step failed")

class Hooks:
    @gdkit.hookimpl
    def gdkit_run_start(self, run):
        raise RuntimeError("hook failed")

@gdkit.hookimpl
def gdkit_objectives():
    return {"hostile": Part}

@gdkit.hookimpl
def gdkit_step_rules():
    return {"hostile-step": lambda: Part(where="none")}
'''


@pytest.mark.parametrize(("args", "said"), [
    (("-o", "where='factory'"), "RuntimeError: factory failed"),
    (("-o", "where='cost'"), "RuntimeError: cost failed"),
    (("-o", "where='none'", "--step", "hostile-step"), "RuntimeError: step failed"),
])
def test_a_hostile_plugin_is_one_line_naming_it(make_dist: MakeDist, args: tuple[str, ...],
                                                said: str) -> None:
    site = make_dist("gdkit-hostile", "gdkit_hostile", HOSTILE, version="6.6")
    out = run("minimize", "hostile", *args, pythonpath=site)
    assert out.returncode == 1
    assert out.stderr == (f"gdkit minimize: error: plugin 'gdkit_hostile' (distribution "
                          f"'gdkit-hostile 6.6') raised {said}. This is a bug in that plugin: "
                          "rerun with --debug for the traceback and report it to its author.\n")


def test_a_run_hook_that_raises_is_named(make_dist: MakeDist) -> None:
    site = make_dist("gdkit-hooky", "gdkit_hooky", HOSTILE.replace(
        "@gdkit.hookimpl\ndef gdkit_objectives", "gdkit_run_start = Hooks().gdkit_run_start\n\n"
        "@gdkit.hookimpl\ndef gdkit_objectives"))
    out = run("minimize", "valley", pythonpath=site)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "plugin 'gdkit_hooky'" in out.stderr and "RuntimeError: hook failed" in out.stderr


@pytest.mark.parametrize(("args", "said"), [
    (("rosenbrock", "-o", "dim=10000000000"), "rosenbrock: dim = 10,000,000,000 would need "
                                              "960.0 GB of memory (1.2 TB with gdkit's margin "
                                              "of 1.25x)"),
    (("valley", "-o", "curvature='ab'"), "valley: curvature must be two positive numbers, got "
                                         "'ab'."),
])
def test_bad_objective_options_are_one_line(args: tuple[str, ...], said: str) -> None:
    out = run("minimize", *args)
    assert out.returncode == 2 and said in out.stderr and "Traceback" not in out.stderr


def test_a_resume_error_of_minimize_names_its_own_flag(tmp_path: Path) -> None:
    """The library says allow_config_change=True; gdkit minimize says --allow-config-change,
    and takes it."""
    ck = str(tmp_path / "ck.npz")
    first = run("minimize", "rosenbrock", "--step", "fixed", "--step-option", "eta=0.001",
                "--max-iter", "30", "--checkpoint", ck)
    assert first.returncode == 1 and Path(ck).is_file(), first.stderr  # 30 steps: no success
    other = ("minimize", "rosenbrock", "--step", "fixed", "--step-option", "eta=0.002",
             "--max-iter", "40", "--resume", ck)
    refused = run(*other)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"gdkit minimize: error: cannot resume from {ck!r}: ")
    assert refused.stderr.endswith("Resume with the same parts, or pass "
                                   "--allow-config-change to continue anyway.\n")
    assert "allow_config_change" not in refused.stderr
    allowed = run(*other, "--allow-config-change", "--json")
    assert json.loads(allowed.stdout)["nit"] == 40, allowed.stderr
    alone = run("minimize", "rosenbrock", "--allow-config-change")
    assert alone.returncode == 2
    assert alone.stderr == ("gdkit minimize: error: --allow-config-change only makes sense "
                            "with --resume PATH.\n")


def test_an_interrupted_minimize_says_how_to_resume_on_the_command_line(
        tmp_path: Path) -> None:
    ck = tmp_path / "ck.npz"
    proc = subprocess.Popen(
        [*gdkit_cmd(), "minimize", "rosenbrock", "--step", "fixed", "--step-option",
         "eta=1e-6", "--max-iter", "100000000", "--checkpoint", str(ck)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ck.exists():  # the first checkpoint: the run is under way, its handler set
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    head, _, tail = err.partition("; the run's state is saved in ")
    assert re.fullmatch(r"gdkit minimize: interrupted by SIGINT at iteration \d+", head), err
    assert tail == (f"{str(ck)!r}. Resume it with the same command and --resume {ck}.\n")
