"""Armijo's line search on the compiled path: the numpy path's decisions, to rounding.

The kernel takes the steps whose trials it can decide by the decrease of C
alone and hands each other step (a trial within rounding of C, no trial
accepted, the patience run out) to the numpy path, which takes it with its
own tests and errors.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit import loop
from gdkit.errors import Interrupted

from .test_compiled import needs_numba, sparse_network, train

pytestmark = needs_numba


def armijo(**options: Any) -> Any:
    return gdkit.step_rule("armijo", **options)


@pytest.mark.parametrize(("n", "steps"), [(205, 500), (2400, 501)],
                         ids=["one-step-spans", "two-step-spans"])
def test_500_steps_make_the_numpy_paths_decisions(n: int, steps: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=n)
    fast = train(net, armijo(), compiled=True, monkeypatch=monkeypatch, max_iter=steps)
    slow = train(net, armijo(), compiled=False, monkeypatch=monkeypatch, max_iter=steps)
    assert fast.nit == slow.nit == steps and fast.status == slow.status
    # The same trials accepted at every step: the same counts and the same last η.
    assert (fast.nfev, fast.ngev) == (slow.nfev, slow.ngev)
    assert fast.nfev > 2 * steps  # C(v) and at least one trial a step, counted
    np.testing.assert_array_equal(fast.history["eta"], slow.history["eta"])
    assert np.max(np.abs(fast.x - slow.x)) <= 1e-12 * np.max(np.abs(slow.x))
    assert np.max(np.abs(fast.jac - slow.jac)) <= 1e-12 * np.max(np.abs(slow.jac))
    np.testing.assert_allclose(fast.history["cost"], slow.history["cost"], rtol=1e-12)


def test_float32_searches_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(dtype="float32")
    fast = train(net, armijo(), compiled=True, monkeypatch=monkeypatch, max_iter=200)
    slow = train(net, armijo(), compiled=False, monkeypatch=monkeypatch, max_iter=200)
    assert fast.x.dtype == slow.x.dtype == np.float32
    assert fast.nfev == slow.nfev
    assert np.max(np.abs(fast.x - slow.x)) <= 3e-5 * np.max(np.abs(slow.x))


def test_a_step_no_trial_passes_is_the_numpy_paths_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # One trial a step and η doubling from step to step: the first trial that
    # fails ends the run. The kernel hands that step over and the numpy path
    # ends the run with its StepError, after the kernel's steps before it.
    net = sparse_network()
    rule = {"max_backtracks": 1, "eta0": 0.01}
    fast = train(net, armijo(**rule), compiled=True, monkeypatch=monkeypatch)
    slow = train(net, armijo(**rule), compiled=False, monkeypatch=monkeypatch)
    assert not fast.success and fast.nit > 3
    assert f"at iteration {fast.nit}: armijo: no step among 1 trials" in fast.message
    assert (fast.message, fast.status, fast.nit) == (slow.message, slow.status, slow.nit)
    assert np.max(np.abs(fast.x - slow.x)) <= 1e-12 * np.max(np.abs(slow.x))


def test_handed_over_steps_continue_the_same_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # A rounding band wide enough to hand most steps over: the run alternates
    # between the kernel and the numpy path, each starting from the other's
    # v and Armijo state, and makes the numpy path's decisions throughout.
    from gdkit_plugins.step_sizes import armijo as form  # the compiled form's band only
    monkeypatch.setattr(form, "_ROUNDING_ULPS", 1e14)  # |ΔC| < 0.022·C: 11 steps of 300
    handed = []
    numpy_span = loop.MiniBatch._numpy_span

    def counted(self: Any, state: Any, perm: Any, todo: range) -> Any:
        handed.append(len(todo))
        return numpy_span(self, state, perm, todo)

    monkeypatch.setattr(loop.MiniBatch, "_numpy_span", counted)
    net = sparse_network(n=2400)
    fast = train(net, armijo(), compiled=True, monkeypatch=monkeypatch, max_iter=300)
    assert handed and set(handed) == {1} and 0 < len(handed) < 300  # both paths stepped
    monkeypatch.setattr(form, "_ROUNDING_ULPS", 100)
    slow = train(net, armijo(), compiled=False, monkeypatch=monkeypatch, max_iter=300)
    assert fast.nit == slow.nit == 300 and fast.nfev == slow.nfev
    np.testing.assert_array_equal(fast.history["eta"], slow.history["eta"])
    assert np.max(np.abs(fast.x - slow.x)) <= 1e-12 * np.max(np.abs(slow.x))


def test_the_same_seed_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network()
    a = train(net, armijo(), compiled=True, monkeypatch=monkeypatch)
    b = train(net, armijo(), compiled=True, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(a.x, b.x)


def test_a_signal_mid_epoch_saves_the_search_and_resume_is_bit_for_bit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2000)  # 200 steps an epoch, in spans of 2
    straight = train(net, armijo(), compiled=True, monkeypatch=monkeypatch, epochs=3,
                     max_iter=None)
    ck = tmp_path / "ck.npz"

    def progress(epoch: int, done: int, total: int) -> None:
        if epoch == 2 and done == 60:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="in epoch 2, after mini-batch 62 "):
        train(net, armijo(), compiled=True, monkeypatch=monkeypatch, epochs=3, max_iter=None,
              checkpoint=ck, observers=[SimpleNamespace(on_progress=progress)])
    resumed = gdkit.minimize(net, step=armijo(), batch_size=10, epochs=3, seed=3,
                             checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert resumed.compiled and resumed.nit == straight.nit == 600
    np.testing.assert_array_equal(resumed.x, straight.x)
    np.testing.assert_array_equal(resumed.history["eta"], straight.history["eta"])


@pytest.mark.parametrize("first", [False, True], ids=["numpy-then-compiled",
                                                      "compiled-then-numpy"])
def test_a_checkpoint_carries_the_search_from_one_path_to_the_other(
        first: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2400)
    ck = tmp_path / "ck.npz"
    train(net, armijo(), compiled=first, monkeypatch=monkeypatch, epochs=1, max_iter=None,
          checkpoint=ck)
    monkeypatch.setenv("GDKIT_NO_COMPILE", "1" if first else "0")
    resumed = gdkit.minimize(net, step=armijo(), batch_size=10, epochs=2, seed=3,
                             checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert resumed.compiled is not first
    straight = train(net, armijo(), compiled=False, monkeypatch=monkeypatch, epochs=2,
                     max_iter=None)
    assert resumed.nit == straight.nit == 480
    np.testing.assert_array_equal(resumed.history["eta"], straight.history["eta"])
    assert np.max(np.abs(resumed.x - straight.x)) <= 1e-12 * np.max(np.abs(straight.x))


def test_the_books_network_on_mnist_makes_the_same_500_decisions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_train_cli import MNIST_DIR
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    net = gdkit.objective("mnist-network", data=str(MNIST_DIR))
    fast, slow = (train(net, armijo(), compiled=c, monkeypatch=monkeypatch, epochs=1,
                        max_iter=500, seed=0) for c in (True, False))
    assert fast.nfev == slow.nfev and fast.history["eta"] == slow.history["eta"]
    # measured 1.7e-11 (2026-12-08): rounding in the sums' order, compounded
    assert np.max(np.abs(fast.x - slow.x)) <= 1e-10 * np.max(np.abs(slow.x))
