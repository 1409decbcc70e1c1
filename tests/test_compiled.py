"""The compiled path (gdkit[fast]): the same numbers as the numpy path, faster.

Each comparison runs the same call twice, once with ``GDKIT_NO_COMPILE=1``
(the numpy path) and once without (compiled where the parts allow it).
"""

from __future__ import annotations

import importlib.util
import math
import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import gdkit
from gdkit.errors import DivergenceError, Interrupted

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="the fast extra (numba) is not installed")


def sparse_network(n: int = 205, dtype: str = "float64", cost: str = "quadratic",
                   sizes: tuple[int, ...] = (30, 12, 8, 5), **options: Any) -> Any:
    """A network on inputs that are 60% exact zeros, like MNIST's pixels."""
    rng = np.random.default_rng(7)
    x = rng.random((n, sizes[0]))
    x[x < 0.6] = 0.0
    labels = np.argmax((x - 0.2) @ rng.standard_normal((sizes[0], sizes[-1])), axis=1)
    return gdkit.objective("network", sizes=sizes, inputs=x, targets=labels, dtype=dtype,
                           cost=cost, **options)


def train(net: Any, step: Any, *, compiled: bool, monkeypatch: pytest.MonkeyPatch,
          **kw: Any) -> gdkit.Result:
    monkeypatch.setenv("GDKIT_NO_COMPILE", "0" if compiled else "1")
    v0 = net.initial_point(np.random.default_rng(0))
    options: dict[str, Any] = {"batch_size": 10, "epochs": 30, "max_iter": 500, "seed": 3}
    options.update(kw)
    res = gdkit.minimize(net, v0, step=step, **options)
    assert res.compiled is compiled
    return res


RULES = {
    "fixed": lambda: gdkit.step_rule("fixed", eta=2.0),
    "schedule": lambda: gdkit.step_rule("fixed", eta=3.0,
                                        schedule="warmup(steps=50) then cosine(steps=500)"),
    "momentum": lambda: gdkit.chain(gdkit.transform("momentum", beta=0.8),
                                    gdkit.step_size("fixed", eta=0.3)),
    "nesterov": lambda: gdkit.chain(gdkit.transform("momentum", beta=0.8, nesterov=True),
                                    gdkit.step_size("fixed", eta=0.3)),
}


@needs_numba
@pytest.mark.parametrize(("n", "steps"), [(205, 500), (2400, 501)],
                         ids=["one-step-spans", "two-step-spans"])
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy"])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_500_steps_agree_with_the_numpy_path_to_1e_12(rule: str, cost: str, n: int, steps: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # 205 inputs: 21 mini-batches an epoch, the last of 5, one step a span; 2400: 240
    # mini-batches in spans of 2, and max_iter ends inside a span.
    net = sparse_network(n=n, cost=cost)
    fast = train(net, RULES[rule](), compiled=True, monkeypatch=monkeypatch, max_iter=steps)
    slow = train(net, RULES[rule](), compiled=False, monkeypatch=monkeypatch, max_iter=steps)
    assert fast.nit == slow.nit == steps and fast.status == slow.status  # max_iter, mid-epoch
    assert np.max(np.abs(fast.x - slow.x)) <= 1e-12 * np.max(np.abs(slow.x))
    # jac, the gradient at the last point, magnifies x's differences: 1.5e-12 measured
    # (cross-entropy, every step but the run's last fused, 2026-12-08)
    assert np.max(np.abs(fast.jac - slow.jac)) <= 1e-11 * np.max(np.abs(slow.jac)) + 1e-300
    np.testing.assert_allclose(fast.history["cost"], slow.history["cost"], rtol=1e-12)
    assert not np.array_equal(fast.x, net.initial_point(np.random.default_rng(0)))


@needs_numba
def test_float32_stays_within_float32s_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(dtype="float32")
    fast = train(net, RULES["fixed"](), compiled=True, monkeypatch=monkeypatch)
    slow = train(net, RULES["fixed"](), compiled=False, monkeypatch=monkeypatch)
    assert fast.x.dtype == slow.x.dtype == np.float32
    # Rounding differences of one ulp (6e-8) per operation, compounded over 500 steps:
    # measured 3.5e-7 relative (2026-12-02); the bound leaves a factor 85.
    assert np.max(np.abs(fast.x - slow.x)) <= 3e-5 * np.max(np.abs(slow.x))


@needs_numba
def test_max_iter_0_takes_no_step_on_either_path(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2400)
    fast = train(net, RULES["fixed"](), compiled=True, monkeypatch=monkeypatch, max_iter=0)
    slow = train(net, RULES["fixed"](), compiled=False, monkeypatch=monkeypatch, max_iter=0)
    assert fast.nit == slow.nit == 0
    assert fast.x.tobytes() == slow.x.tobytes()


@needs_numba
@pytest.mark.parametrize("first", [False, True], ids=["numpy-then-compiled",
                                                      "compiled-then-numpy"])
def test_a_checkpoint_carries_momentum_from_one_path_to_the_other(
        first: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2400)
    ck = tmp_path / "ck.npz"
    train(net, RULES["nesterov"](), compiled=first, monkeypatch=monkeypatch, epochs=1,
          max_iter=None, checkpoint=ck)
    monkeypatch.setenv("GDKIT_NO_COMPILE", "1" if first else "0")
    resumed = gdkit.minimize(net, step=RULES["nesterov"](), batch_size=10, epochs=3, seed=3,
                             checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert resumed.compiled is not first
    straight = train(net, RULES["nesterov"](), compiled=False, monkeypatch=monkeypatch,
                     epochs=3, max_iter=None)
    assert resumed.nit == straight.nit == 720
    assert np.max(np.abs(resumed.x - straight.x)) <= 1e-12 * np.max(np.abs(straight.x))


@needs_numba
def test_the_same_seed_gives_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network()
    a = train(net, RULES["momentum"](), compiled=True, monkeypatch=monkeypatch)
    b = train(net, RULES["momentum"](), compiled=True, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(a.x, b.x)


@needs_numba
def test_a_signal_mid_epoch_saves_and_resume_is_bit_for_bit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2000)  # 200 steps an epoch, in spans of 2
    straight = train(net, RULES["momentum"](), compiled=True, monkeypatch=monkeypatch,
                     epochs=3, max_iter=None)
    ck = tmp_path / "ck.npz"

    def progress(epoch: int, done: int, total: int) -> None:
        if epoch == 2 and done == 60:
            os.kill(os.getpid(), signal.SIGINT)

    # Seen after the next span of two steps: the run stops at a span's end.
    with pytest.raises(Interrupted, match="in epoch 2, after mini-batch 62 "):
        train(net, RULES["momentum"](), compiled=True, monkeypatch=monkeypatch, epochs=3,
              max_iter=None, checkpoint=ck, observers=[SimpleNamespace(on_progress=progress)])
    resumed = gdkit.minimize(net, step=RULES["momentum"](), batch_size=10, epochs=3, seed=3,
                             checkpoint=gdkit.Checkpointing(None, resume=ck))
    assert resumed.compiled and resumed.nit == straight.nit == 600
    np.testing.assert_array_equal(resumed.x, straight.x)


@needs_numba
def test_divergence_is_caught_at_the_same_step(monkeypatch: pytest.MonkeyPatch) -> None:
    net = sparse_network(n=2400)  # the failing step, 101, inside a span of two
    steps = {}
    for compiled in (True, False):
        blow_up = gdkit.step_rule("fixed", eta=1.0,
                                  schedule=lambda step, epoch: math.inf if step >= 100 else 1)
        with np.errstate(all="ignore"), pytest.raises(DivergenceError) as info:
            train(net, blow_up, compiled=compiled, monkeypatch=monkeypatch)
        steps[compiled] = str(info.value)
    assert steps[True] == steps[False]
    assert steps[True].startswith("the gradient became nan at iteration 101 ")


@pytest.mark.parametrize(("why", "options"), [
    ("switched off", {"env": "1"}),
    ("another gradient source", {"gradient": "central"}),
    ("a step size it has no form for", {"step": "normalized"}),
    ("armijo after a transform", {"step": "momentum(beta=0.5),armijo"}),
    ("armijo with another cost", {"step": "armijo", "cost": "cross-entropy"}),
    ("a transform it has no form for", {"step": "clip,fixed"}),
    ("a cost it has no kernel for", {"cost": "log-likelihood"}),
    ("no extra", {"numba": None}),
    ("a mini-batch larger than the network's chunks", {"chunk_size": 4}),
    ("a subclass of the network", {"subclass": True}),
])
def test_everything_else_runs_on_the_numpy_path(why: str, options: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDKIT_NO_COMPILE", options.get("env", "0"))
    if "numba" in options:
        monkeypatch.setitem(sys.modules, "numba", None)
    net = sparse_network(cost=options.get("cost", "quadratic"),
                         chunk_size=options.get("chunk_size", 5000))
    if options.get("subclass"):
        net.__class__ = type("MyNetwork", (type(net),), {})  # may override a step's math
    res = gdkit.minimize(net, step=options.get("step", "fixed"),
                         gradient=options.get("gradient", "analytic"), batch_size=10,
                         epochs=1, seed=0)
    assert res.compiled is False and res.nit == 21


def test_full_batch_runs_are_never_compiled() -> None:
    res = gdkit.minimize(sparse_network(), max_iter=3)
    assert "compiled" not in res


@needs_numba
def test_the_books_network_on_mnist_agrees_for_500_steps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_train_cli import MNIST_DIR
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    net = gdkit.objective("mnist-network", data=str(MNIST_DIR))
    runs = [train(net, gdkit.step_rule("fixed", eta=3.0), compiled=c, monkeypatch=monkeypatch,
                  epochs=1, max_iter=500, seed=0) for c in (True, False)]
    fast, slow = (r.x for r in runs)
    assert np.max(np.abs(fast - slow)) <= 1e-12 * np.max(np.abs(slow))  # measured 2.8e-15
