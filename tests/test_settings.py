"""minimize's twelve parameters: checkpoint settings as one object, run options as
another, progress as an observer, jac folded into gradient, and the old keywords
refused with one line naming the new spelling."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import ConfigError
from gdkit.settings import MOVED


def test_minimize_takes_at_most_twelve_parameters() -> None:
    assert len(inspect.signature(gdkit.minimize).parameters) <= 12


@pytest.mark.parametrize(("key", "value", "says"), [
    ("jac", lambda v: 2 * v, "gradient=jac"),
    ("callback", print, "observers=[callback]"),
    ("progress", print, "on_progress(epoch, done, total)"),
    ("dtype", "float32", "options=gdkit.RunOptions(dtype=...)"),
    ("threads", 1, "options=gdkit.RunOptions(threads=...)"),
    ("handle_signals", False, "options=gdkit.RunOptions(handle_signals=...)"),
    ("checkpoint_every", 5, "gdkit.Checkpointing(path, every=...)"),
    ("resume", "run.npz", "checkpoint=gdkit.Checkpointing(path, resume=True)"),
    ("allow_config_change", True, "allow_config_change=True)"),
    ("run_info", {"a": 1}, "gdkit.Checkpointing(path, run_info=...)"),
])
def test_a_moved_keyword_is_one_line_naming_its_new_spelling(key: str, value: Any,
                                                             says: str) -> None:
    with pytest.raises(ConfigError) as info:
        gdkit.minimize("valley", [1.0, 1.0], **{key: value})
    message = str(info.value)
    assert message.startswith(f"minimize: {key}= moved: ") and "\n" not in message
    assert says in message
    assert isinstance(info.value, TypeError)  # code catching Python's TypeError still does
    assert set(MOVED) == {"jac", "callback", "progress", "dtype", "threads", "handle_signals",
                          "checkpoint_every", "resume", "allow_config_change", "run_info"}


def test_an_unknown_keyword_is_still_pythons_error() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'stepp'"):
        gdkit.minimize("valley", [1.0, 1.0], stepp="armijo")  # type: ignore[call-arg]


def test_a_path_is_checkpointing_with_the_defaults(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    gdkit.minimize("valley", [1.0, 1.0], step="armijo", max_iter=7, checkpoint=a)
    gdkit.minimize("valley", [1.0, 1.0], step="armijo", max_iter=7,
                   checkpoint=gdkit.Checkpointing(b))
    ca, cb = gdkit.checkpoint.load_checkpoint(a), gdkit.checkpoint.load_checkpoint(b)
    assert ca.v.tobytes() == cb.v.tobytes() and ca.iteration == cb.iteration == 7


@pytest.mark.parametrize("batch_size", [None, 5])
def test_resume_true_continues_the_path_bit_for_bit_and_keeps_saving(
        tmp_path: Path, batch_size: int | None) -> None:
    q = gdkit.objective("quadratic", n_samples=40, seed=2)
    bounds: dict[str, Any] = ({"max_iter": 40} if batch_size is None
                              else {"batch_size": batch_size, "epochs": 4})
    half: dict[str, Any] = ({"max_iter": 20} if batch_size is None
                            else {"batch_size": batch_size, "epochs": 2})
    step = gdkit.step_rule("fixed", eta=0.05)
    full = gdkit.minimize(q, step=step, seed=3, gtol=0, **bounds)
    path = tmp_path / "run.npz"
    gdkit.minimize(q, step=step, seed=3, gtol=0, checkpoint=gdkit.Checkpointing(path, every=20),
                   **half)
    rest = gdkit.minimize(q, step=step, seed=3, gtol=0,
                          checkpoint=gdkit.Checkpointing(path, every=20, resume=True), **bounds)
    assert rest.x.tobytes() == full.x.tobytes() and rest.nit == full.nit
    assert gdkit.checkpoint.load_checkpoint(path).iteration == full.nit  # saved there again


def test_resume_from_another_file_saves_to_the_path(tmp_path: Path) -> None:
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    # a fixed step, far from converged after 9 steps (lbfgs, the default, is done in 7)
    gdkit.minimize("valley", [1.0, 1.0], step="fixed", max_iter=5, checkpoint=first)
    gdkit.minimize("valley", step="fixed", max_iter=9,
                   checkpoint=gdkit.Checkpointing(second, resume=first))
    assert gdkit.checkpoint.load_checkpoint(first).iteration == 5
    assert gdkit.checkpoint.load_checkpoint(second).iteration == 9


@pytest.mark.parametrize(("make", "says"), [
    (lambda: gdkit.Checkpointing(None, resume=True), "resume=True continues the run saved in "
                                                     "path, but path is None"),
    (lambda: gdkit.Checkpointing("x.npz", every=0), "every must be an integer >= 1"),
    (lambda: gdkit.Checkpointing(b"x.npz"), "path must be a path"),
    (lambda: gdkit.Checkpointing("x.npz", resume=3), "resume must be a path"),
    (lambda: gdkit.Checkpointing("x.npz", allow_config_change="yes"),
     "allow_config_change must be True or False"),
    (lambda: gdkit.RunOptions(dtype="int32"), "dtype must be a floating dtype"),
    (lambda: gdkit.RunOptions(threads=0), "threads must be an integer >= 1, 'auto' or None"),
    (lambda: gdkit.RunOptions(handle_signals=1), "handle_signals must be True or False"),
])
def test_settings_are_checked_when_made(make: Any, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_run_options_reach_the_run() -> None:
    res = gdkit.minimize("valley", [1.5, -1.0], step="armijo",
                         options=gdkit.RunOptions(dtype="float32", threads=None,
                                                  handle_signals=False))
    assert res.x.dtype == np.float32 and res.success


def test_on_progress_is_an_observer_method_seen_each_span() -> None:
    seen: list[tuple[int, int, int]] = []
    net = gdkit.objective("quadratic", n_samples=1000, seed=1)
    gdkit.minimize(net, batch_size=5, epochs=2, seed=0,
                   observers=[SimpleNamespace(on_progress=lambda *a: seen.append(a))])
    total = 200  # mini-batches an epoch, in spans of 2 (1%)
    assert [s for s in seen if s[0] == 1] == [(1, d, total) for d in range(2, total + 1, 2)]
    assert seen[-1] == (2, total, total)


def test_a_gradient_function_is_a_callable_objectives_jac() -> None:
    calls = []

    def jac(v: np.ndarray) -> np.ndarray:
        calls.append(1)
        return 2 * v

    res = gdkit.minimize(lambda v: float(v @ v), [3.0, 4.0], gradient=jac, step="armijo")
    assert res.success and calls
    with pytest.raises(ConfigError, match="is for a callable objective"):
        gdkit.minimize("valley", [1.0, 1.0], gradient=jac)


def test_a_gradient_source_class_is_not_taken_for_a_gradient_function() -> None:
    source = type(gdkit.gradient_source("central"))
    with pytest.raises(ConfigError, match="gradient source"):
        gdkit.minimize(lambda v: float(v @ v), [3.0, 4.0], gradient=source)


def test_one_callback_alone_is_accepted_as_observers() -> None:
    xs: list[np.ndarray] = []
    res = gdkit.minimize("valley", [1.0, 1.0], max_iter=3, observers=xs.append)
    assert len(xs) == res.nit == 3
