"""Nielsen's sigmoid network as a gdkit objective, trained by backpropagation.

A feedforward network of sigmoid neurons with layer sizes ``sizes`` (the
book's ``[784, 30, 10]`` for MNIST) maps an input x to the output

    a⁰ = x,   aˡ = σ(zˡ),   zˡ = wˡ aˡ⁻¹ + bˡ   (l = 1, …, L),   σ(z) = 1 / (1 + e⁻ᶻ),

and is scored by the quadratic cost of eq. (6),

    C(w, b) = 1/(2n) Σₓ ‖y(x) − aᴸ(x)‖²,

which :func:`gdkit_plugins.quadratic.quadratic_cost` computes. The output
layer and its cost are a swappable part (``cost=``, a registered
:class:`~gdkit.protocols.Cost`: ``"quadratic"``, ``"cross-entropy"``,
``"log-likelihood"``), and so is the start (``init="normal"``, the book's
N(0, 1), or ``"scaled"``, weights N(0, 1/nₗ₋₁): chapter 3's cures). Every weight
and bias is one coordinate of the parameter vector v, so gradient descent on
C is eq. (16)-(17), wₖ → wₖ − η ∂C/∂wₖ and bₗ → bₗ − η ∂C/∂bₗ, and mini-batch
SGD is eq. (18)-(20): ∇C estimated by the mean of ∇Cₓ over a random
mini-batch of m inputs. :func:`gdkit.minimize` runs that loop;
:class:`Network` supplies C, ∇C (by backpropagation over a whole mini-batch
at once), the book's random start and the test accuracy.

The parameters live in ONE flat vector v; each layer's weight matrix wˡ
(shape ``(sizes[l], sizes[l-1])``, row-major) followed by its biases bˡ
(shape ``(sizes[l],)``), layer after layer. :meth:`Network.unpack` returns
views of a given v with that layout, so a step rule moving v moves every
weight and bias with one vectorized operation, and the gradient is written
through the same views into the caller's buffer.

Registered objectives: ``"network"`` (:func:`network`: a :class:`Network`
on arrays you give, or a small seeded synthetic problem) and
``"mnist-network"`` (:func:`mnist_network`: MNIST via
:func:`gdkit_plugins.mnist.load_mnist`, evaluated on the 10,000 test
images).

The package is cut by job: :mod:`.data` (numpy or lazy data holding),
:mod:`.backprop` (cost and gradient on numpy arrays), :mod:`.metrics`
(``evaluate``), :mod:`.traced` (the autodiff adapter), :mod:`.compiled` (the
compiled hook), :mod:`.model` (:class:`Network` assembled from them, with the
shard adapter), :mod:`.objectives` (the registered factories) and
:mod:`.save` (model files). Everything is importable from here, but for
:mod:`.images`: MNIST's pictures (``gdkit[plot]``), imported when drawn.
"""

from __future__ import annotations

from typing import Any

import gdkit

from ..mnist.advice import command_line_words
from .data import DEFAULT_CHUNK, one_hot
from .metrics import MAX_RECALL
from .model import INITS, Network
from .objectives import MNIST_SIZES, mnist_network, network
from .save import LAYOUT, SAVE_KIND, save_network

__all__ = ["DEFAULT_CHUNK", "INITS", "LAYOUT", "MAX_RECALL", "MNIST_SIZES", "SAVE_KIND", "Network",
           "mnist_network", "network", "one_hot", "save_network"]


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Any]:
    return {"network": network, "mnist-network": mnist_network}


@gdkit.hookimpl
def gdkit_advice() -> dict[str, Any]:
    """How every command that reads MNIST (``--data DIR``, ``--download``) words a
    missing or damaged data set's advice."""
    return {"data": lambda exc: command_line_words(str(exc))}
