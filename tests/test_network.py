"""The sigmoid network objective (gdkit_plugins.network): backprop, layout, dtypes,
determinism, and a short real training on MNIST."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from gdkit_plugins.network import Network, one_hot
from gdkit_plugins.quadratic import quadratic_cost
from scipy.special import expit

import gdkit
from gdkit.errors import ConfigError, DataError, ShapeError
from gdkit.protocols import Evaluates, HasGradient, HasInitialPoint, Objective, Sampled

Array = npt.NDArray[Any]

MNIST_DIR = Path(os.environ.get(
    "GDKIT_TEST_MNIST", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))


def small_net(dtype: Any = np.float64, n: int = 7, sizes: tuple[int, ...] = (5, 4, 3),
              seed: int = 0, **kwargs: Any) -> Network:
    rng = np.random.default_rng(seed)
    x = rng.random((n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    return Network(sizes, x.astype(dtype), one_hot(labels, sizes[-1], dtype),
                   eval_inputs=x.astype(dtype), eval_labels=labels, **kwargs)


def rel_err(a: Array, b: Array) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def book_forward(net: Network, v: Array, x: Array) -> Array:
    """The book's feedforward, one input (a column) at a time: a' = σ(w a + b)."""
    ws, bs = net.unpack(v)
    rows = []
    for xi in x:
        a = xi.reshape(-1, 1)
        for w, b in zip(ws, bs, strict=True):
            a = expit(w @ a + b.reshape(-1, 1))
        rows.append(a.ravel())
    return np.array(rows)


def book_backprop(net: Network, v: Array, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
    """The book's network.py backprop, per example, averaged over the batch."""
    ws, bs = net.unpack(v)
    nabla_w = [np.zeros_like(w) for w in ws]
    nabla_b = [np.zeros_like(b) for b in bs]
    for xi, yi in zip(x, y, strict=True):
        activation = xi.reshape(-1, 1)
        activations = [activation]
        for w, b in zip(ws, bs, strict=True):
            activation = expit(w @ activation + b.reshape(-1, 1))
            activations.append(activation)
        delta = (activations[-1] - yi.reshape(-1, 1)) * activations[-1] * (1 - activations[-1])
        for layer in range(len(ws) - 1, -1, -1):
            nabla_b[layer] += delta.ravel()
            nabla_w[layer] += delta @ activations[layer].T
            if layer:
                a = activations[layer]
                delta = (ws[layer].T @ delta) * a * (1 - a)
    n = len(x)
    return [w / n for w in nabla_w], [b / n for b in nabla_b]


# -- the protocols ------------------------------------------------------------
def test_network_satisfies_the_protocols_and_is_registered() -> None:
    net = small_net()
    for proto in (Objective, HasGradient, Sampled, HasInitialPoint, Evaluates):
        assert isinstance(net, proto), proto
    assert net.dim == 5 * 4 + 4 + 4 * 3 + 3
    assert net.n_samples == 7
    built = gdkit.objective("network", sizes=[5, 4, 3], inputs=net.inputs, targets=net.targets)
    assert isinstance(built, Network) and built.dim == net.dim


def test_synthetic_network_is_seeded_and_learnable() -> None:
    a = gdkit.objective("network", sizes=[3, 6, 2], n_samples=40, seed=1)
    b = gdkit.objective("network", sizes=[3, 6, 2], n_samples=40, seed=1)
    assert isinstance(a, Network) and isinstance(b, Network)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.n_samples == 40 and a.evaluate(np.zeros(a.dim))["total"] == 40
    assert len(np.unique(a.targets.argmax(axis=1))) == 2
    res = gdkit.minimize(a, step=gdkit.step_rule("fixed", eta=3.0), batch_size=4, epochs=60,
                         seed=0)
    assert res.history.cost[-1] < res.history.cost[0]
    assert res.history.accuracy[-1] >= 0.8
    with pytest.raises(ConfigError, match="both inputs and targets"):
        gdkit.objective("network", inputs=np.zeros((2, 4)))


# -- backprop -----------------------------------------------------------------
@pytest.mark.parametrize("batch", [None, np.array([4, 0, 6]), np.array([2, 2, 5, 1])],
                         ids=["full", "mini-batch", "repeated-index"])
def test_backprop_matches_central_differences(batch: Array | None) -> None:
    net = small_net()
    v = net.initial_point(np.random.default_rng(1))
    g = net.gradient(v, batch)
    fd = gdkit.gradient_source("central").gradient(net, v, batch)
    assert rel_err(g, fd) < 1e-6
    # And on a random direction u: ∇C·u against (C(v + hu) − C(v − hu)) / 2h.
    u = np.random.default_rng(2).standard_normal(net.dim)
    h = 1e-5
    slope = (net.cost(v + h * u, batch) - net.cost(v - h * u, batch)) / (2 * h)
    assert abs(g @ u - slope) <= 1e-6 * abs(slope)


def test_backprop_matches_the_books_per_example_algorithm() -> None:
    net = small_net(sizes=(6, 5, 4, 3), n=9)
    v = net.initial_point(np.random.default_rng(3))
    batch = np.array([8, 1, 3, 3, 0])
    out = np.full(net.dim, np.nan)
    assert net.gradient(v, batch, out) is out
    gw, gb = net.unpack(out)
    bw, bb = book_backprop(net, v, net.inputs[batch], net.targets[batch])
    for mine, book in zip([*gw, *gb], [*bw, *bb], strict=True):
        np.testing.assert_allclose(mine, book, rtol=1e-12, atol=1e-15)


def test_chunked_passes_equal_single_passes() -> None:
    whole = small_net(n=11)
    chunked = small_net(n=11, chunk_size=3)
    v = whole.initial_point(np.random.default_rng(4))
    for batch in (None, np.arange(11)[::-1].copy()):
        np.testing.assert_allclose(chunked.gradient(v, batch), whole.gradient(v, batch),
                                   rtol=1e-12, atol=1e-16)
        assert chunked.cost(v, batch) == pytest.approx(whole.cost(v, batch), rel=1e-13)
    assert chunked.evaluate(v) == whole.evaluate(v)


def test_cost_is_eq_6_of_an_independent_forward_pass() -> None:
    net = small_net()
    v = net.initial_point(np.random.default_rng(5))
    a = book_forward(net, v, net.inputs)
    assert net.cost(v) == pytest.approx(quadratic_cost(a, net.targets), rel=1e-13)
    batch = np.array([6, 2])
    assert net.cost(v, batch) == pytest.approx(
        quadratic_cost(a[batch], net.targets[batch]), rel=1e-13)
    # eq. (6) by hand: 1/(2n) Σ ‖y − a‖².
    assert net.cost(v) == pytest.approx(
        np.sum((net.targets - a) ** 2) / (2 * net.n_samples), rel=1e-13)


# -- the flat vector and its views --------------------------------------------
def test_views_alias_v_and_the_gradient_has_the_same_layout() -> None:
    net = small_net()
    v = np.zeros(net.dim)
    ws, bs = net.unpack(v)
    assert [w.shape for w in ws] == [(4, 5), (3, 4)]
    assert [b.shape for b in bs] == [(4,), (3,)]
    v[:] = np.arange(net.dim)
    # Layout: w¹ row-major, then b¹, then w², then b².
    assert ws[0][1, 2] == 1 * 5 + 2
    assert bs[0][0] == 20 and ws[1][0, 0] == 24 and bs[1][2] == net.dim - 1
    ws[1][2, 3] = -7.0  # writes through to v
    assert v[24 + 2 * 4 + 3] == -7.0
    assert net.pack(ws, bs).tolist() == v.tolist()

    # The gradient: bump one weight and one bias and compare with its slot.
    v2 = net.initial_point(np.random.default_rng(6))
    g = net.gradient(v2)
    gw, gb = net.unpack(g)
    h = 1e-6
    for target, slot in ((net.unpack(v2)[0][1], gw[1]), (net.unpack(v2)[1][0], gb[0])):
        idx = (2, 1) if target.ndim == 2 else (3,)
        old = target[idx]
        target[idx] = old + h
        up = net.cost(v2)
        target[idx] = old - h
        down = net.cost(v2)
        target[idx] = old
        assert slot[idx] == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_a_moved_v_is_seen_by_cached_views() -> None:
    net = small_net()
    v = net.initial_point(np.random.default_rng(7))
    c0 = net.cost(v)
    v *= 0.5  # in place, as a step rule does
    assert net.cost(v) != c0
    assert net.cost(v) == net.cost(v.copy())


def test_book_initial_point_is_standard_normal_in_the_networks_dtype() -> None:
    for dtype in (np.float64, np.float32):
        net = small_net(dtype, sizes=(50, 40, 10))
        v = net.initial_point(np.random.default_rng(8))
        assert v.dtype == dtype and v.shape == (net.dim,)
        assert abs(float(v.mean())) < 0.05 and abs(float(v.std()) - 1) < 0.05
        np.testing.assert_array_equal(v, net.initial_point(np.random.default_rng(8)))


# -- dtypes --------------------------------------------------------------------
def test_float32_network_runs_in_float32() -> None:
    net = small_net(np.float32)
    assert net.inputs.dtype == np.float32 and net.targets.dtype == np.float32
    v = net.initial_point(np.random.default_rng(9))
    g = net.gradient(v, np.array([0, 1, 2]))
    assert g.dtype == np.float32
    ref = small_net(np.float64)
    g64 = ref.gradient(v.astype(np.float64), np.array([0, 1, 2]))
    assert rel_err(g.astype(np.float64), g64) < 1e-5
    a = book_forward(net, v, net.inputs)
    assert a.dtype == np.float32
    assert net.cost(v) == pytest.approx(quadratic_cost(a, net.targets), rel=1e-6)
    res = gdkit.minimize(net, step=gdkit.step_rule("fixed", eta=3.0), batch_size=2, epochs=2,
                         seed=0)
    assert res.x.dtype == np.float32 and res.jac.dtype == np.float32


def test_a_v_of_another_dtype_or_length_is_a_clear_error() -> None:
    net = small_net(np.float32)
    with pytest.raises(ShapeError, match="float32 array of length 39"):
        net.cost(np.zeros(net.dim))  # float64
    with pytest.raises(ShapeError, match="length 39"):
        net.gradient(np.zeros(net.dim + 1, np.float32))
    with pytest.raises(ShapeError, match="out must be"):
        net.gradient(np.zeros(net.dim, np.float32), out=np.zeros(net.dim))
    with pytest.raises(ShapeError, match="empty batch"):
        net.gradient(np.zeros(net.dim, np.float32), np.array([], dtype=np.intp))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"sizes": [5]}, ConfigError, "at least two"),
    ({"sizes": [5, 0, 3]}, ConfigError, "at least two integers >= 1"),
    ({"dtype": "float16"}, ConfigError, "float64' or 'float32"),
    ({"chunk_size": 0}, ConfigError, "chunk_size"),
    ({"inputs": np.zeros((7, 4))}, ShapeError, r"\(n, 5\)"),
    ({"targets": np.zeros((6, 3))}, ShapeError, r"\(7, 3\)"),
    ({"targets": np.full(7, 3)}, ShapeError, r"0\.\.2"),
    ({"eval_labels": None}, ConfigError, "both"),
    ({"eval_labels": np.full(2, 9)}, ShapeError, "0..2"),
])
def test_bad_construction_is_a_clear_error(kwargs: dict[str, Any], error: type[Exception],
                                           match: str) -> None:
    args: dict[str, Any] = {"sizes": [5, 4, 3], "inputs": np.zeros((7, 5)),
                            "targets": np.zeros((7, 3)), "eval_inputs": np.zeros((2, 5)),
                            "eval_labels": np.array([0, 2])}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        Network(**args)


# -- evaluation and the loop ---------------------------------------------------
def test_evaluate_counts_the_most_active_output_neuron() -> None:
    net = small_net(n=40, sizes=(5, 6, 4))
    v = net.initial_point(np.random.default_rng(10))
    assert net.eval_labels is not None
    predicted = book_forward(net, v, net.inputs).argmax(axis=1)
    expected = int(np.sum(predicted == net.eval_labels))
    recall = {f"recall_{k}": float(np.mean(predicted[net.eval_labels == k] == k))
              for k in range(4)}
    out = book_forward(net, v, net.inputs)
    own = out[np.arange(40), net.eval_labels]  # each input's own output neuron
    wrong = {f"saturated_{k}": float(np.mean(own[net.eval_labels == k] * (1 - own[
        net.eval_labels == k]) < 0.01)) for k in range(4)}
    assert net.evaluate(v) == {"accuracy": expected / 40, "correct": expected, "total": 40.0,
                               **recall, **wrong, "saturated": 0.0}
    assert 0 < sum(r == 0 for r in recall.values()) < 4  # this start has a stuck output neuron
    no_eval = Network([5, 6, 4], net.inputs, net.targets)
    assert no_eval.evaluate(v) == {}


def test_saturated_counts_the_activations_stuck_at_0_or_1() -> None:
    net = small_net(n=40, sizes=(5, 6, 4))
    v = net.initial_point(np.random.default_rng(10))
    _, biases = net.unpack(v)
    biases[0][:3] = 1e3  # 3 of the 6 hidden neurons at exactly 1 for every input
    biases[1][:] = -1e3  # every output at exactly 0
    assert net.evaluate(v)["saturated"] == (3 + 4) / (6 + 4)


def test_saturated_k_is_the_share_of_a_digits_inputs_its_output_sits_near_0_on() -> None:
    net = small_net(n=40, sizes=(5, 6, 4), chunk_size=7)  # chunks: the counts add up
    v = net.initial_point(np.random.default_rng(10))
    weights, biases = net.unpack(v)
    weights[1][:] = 0.0
    biases[1][:] = [-4.5, -4.7, 4.7, 0.0]  # σ'(z) = 0.0109, 0.0089 (at 0), 0.0089 (at 1), 1/4
    record = net.evaluate(v)
    labels = net.eval_labels
    assert labels is not None and set(labels.tolist()) == {0, 1, 2, 3}
    # Only neuron 1 sits near 0, the wrong value for its own inputs: near 1 (neuron 2) is
    # saturated at the right value, and 4.5 is not yet saturated.
    assert [record[f"saturated_{k}"] for k in range(4)] == [0.0, 1.0, 0.0, 0.0]
    no_class_3 = Network((5, 6, 4), net.inputs, net.targets, eval_inputs=net.inputs[:3],
                         eval_labels=np.array([0, 1, 1]))
    assert np.isnan(no_class_3.evaluate(v)["saturated_3"])


def test_same_seed_same_numbers_bit_for_bit() -> None:
    def run(seed: int) -> gdkit.Result:
        net = small_net(n=60, sizes=(5, 8, 3))
        return gdkit.minimize(net, step=gdkit.step_rule("fixed", eta=3.0), batch_size=7,
                              epochs=4, seed=seed)

    a, b, c = run(11), run(11), run(12)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.history.rows == 4
    for key in ("cost", "accuracy", "correct", "total"):
        np.testing.assert_array_equal(a.history[key], b.history[key])
    assert not np.array_equal(a.x, c.x)


# -- MNIST ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_net() -> Network:
    if not MNIST_DIR.is_dir():
        pytest.fail(f"the MNIST test data is missing: {MNIST_DIR} (set GDKIT_TEST_MNIST)")
    net = gdkit.objective("mnist-network", data=str(MNIST_DIR))
    assert isinstance(net, Network)
    return net


def test_mnist_network_is_the_books_network(mnist_net: Network) -> None:
    net = mnist_net
    assert net.sizes == (784, 30, 10) and net.dim == 784 * 30 + 30 + 30 * 10 + 10
    assert net.n_samples == 50_000 and net.inputs.dtype == np.float64
    assert net.eval_inputs is not None and net.eval_inputs.shape == (10_000, 784)
    assert not net.inputs.flags.owndata  # a view of the loaded images, not a copy
    assert net.targets.shape == (50_000, 10) and np.all(net.targets.sum(axis=1) == 1)


def test_one_epoch_on_mnist_reaches_85_percent(mnist_net: Network) -> None:
    res = gdkit.minimize(mnist_net, step=gdkit.step_rule("fixed", eta=3.0), batch_size=10,
                         epochs=1, seed=0)
    assert res.success
    assert res.history.total[0] == 10_000
    assert res.history.accuracy[0] > 0.85, res.history.accuracy


def test_mnist_network_options() -> None:
    net = gdkit.objective("mnist-network", data=str(MNIST_DIR), sizes=[784, 12, 10],
                          dtype="float32", n_train=1000)
    assert isinstance(net, Network)
    assert net.n_samples == 1000 and net.sizes == (784, 12, 10)
    assert net.inputs.dtype == np.float32 and net.initial_point(
        np.random.default_rng(0)).dtype == np.float32
    with pytest.raises(ConfigError, match="start with 784"):
        gdkit.objective("mnist-network", data=str(MNIST_DIR), sizes=[784, 30, 9])
    with pytest.raises(ConfigError, match="n_train"):
        gdkit.objective("mnist-network", data=str(MNIST_DIR), n_train=0)
    with pytest.raises(DataError, match="nonexistent"):
        gdkit.objective("mnist-network", data="/nonexistent/mnist")
