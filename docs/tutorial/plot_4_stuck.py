"""
4. A stuck neuron, and the book's cures as parts
=================================================

The chapter's second experiment widens the hidden layer to 100 neurons, and
the book reports 96.59%. Run it from gdkit's seed 0 and it stalls near 87%:
one digit is never recognised at all. gdkit takes exactly the book's steps;
the cause is the start. With every weight drawn from N(0, 1), an output
neuron can begin saturated at the wrong value, where the quadratic cost's
output error (a − y)σ'(z) (BP1) all but vanishes, so its weights barely move
and it never wins for its digit. Nielsen cures this two chapters later with
the cross-entropy cost, whose output error is a − y with no σ'(z), and
weights started at N(0, 1/n_in), which keeps the sigmoids out of saturation.
In gdkit both are parts: ``cost="cross-entropy"`` and ``init="scaled"``.

This page runs both networks for the first 10 of the book's 30 epochs when
the documentation is built (about 40 seconds). ``benchmarks/accuracy.py``
runs all 30 epochs at seeds 0, 1 and 2 (the README's results table and the
benchmarks page, rendered from its results): at the book's defaults a digit
stays stuck at some seeds, and with the cures and η = 0.5 every digit is
learned.
"""

# %%
# The book's network, and its recall per digit
# --------------------------------------------
# ``mnist-network`` scores each epoch on the test images, per digit too
# (``recall_0`` ... ``recall_9``: the fraction of each digit's images the
# network gets right), and on the 10,000 validation images.
import os

import numpy as np

import gdkit
import gdkit.plot

data = os.environ.get("GDKIT_TEST_MNIST") or os.environ.get("GDKIT_DATA")
EPOCHS = 10


def train(**parts: str) -> gdkit.Result:
    net = gdkit.objective("mnist-network", data=data, sizes=(784, 100, 10), **parts)
    eta = 0.5 if parts else 3.0  # the book's η for each cost
    res = gdkit.minimize(net, step=gdkit.step_rule("fixed", eta=eta), batch_size=10,
                         epochs=EPOCHS, seed=0)
    recall = np.array([res.history[f"recall_{k}"][-1] for k in range(10)])
    print(f"{net!r}, η = {eta}")
    print(f"  test accuracy after {EPOCHS} epochs: {100 * res.history['accuracy'][-1]:.2f}%")
    print("  recall per digit (%):", np.round(100 * recall, 1).tolist())
    return res


stuck = train()

# %%
# One digit's recall is (almost) zero: its output neuron is stuck. The record
# also says why: ``saturated_k`` is the share of digit k's test images on which
# its output neuron sits near 0, the wrong value, with σ'(z) < 0.01. ``gdkit
# train`` warns once a neuron has been stuck for 10 epochs in a row, and a run
# that ends so exits with status 3, naming the digit, what was measured and
# the cures.
print("  saturated on its own digit (%):",
      np.round(100 * np.array([stuck.history[f"saturated_{k}"][-1] for k in range(10)]),
               1).tolist())
#
# The cures
# ---------
cured = train(cost="cross-entropy", init="scaled")

# %%
# The learning curves side by side: the stuck network's accuracy levels off
# about one digit's share (roughly 10%) below the cured one's. (The training
# costs are different functions, quadratic and cross-entropy: compare each
# curve's fall, not their heights.)
curve_fig = gdkit.plot.curves([stuck, cured],
                              labels=["quadratic cost, N(0, 1) start, η = 3.0",
                                      "cross-entropy, scaled start, η = 0.5"])
