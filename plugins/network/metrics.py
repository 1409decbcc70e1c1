"""Evaluation metrics of a network: accuracy, each class's recall, saturation."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gdkit.protocols import FloatArray

from .backprop import Backprop, _Views
from .data import IntArray

__all__ = ["FLAT_SLOPE", "MAX_RECALL", "Metrics"]

MAX_RECALL: Final = 32
"""Networks with at most this many output classes report each class's recall
and each output neuron's saturation."""
FLAT_SLOPE: Final = 0.01
"""Where σ'(z) = a(1 − a) is below this (4% of its largest value, 1/4 at z = 0),
a sigmoid is saturated: a gradient carrying σ'(z) all but vanishes."""
_LOW: Final = float((1.0 - np.sqrt(1.0 - 4.0 * FLAT_SLOPE)) / 2.0)
"""a(1 − a) < FLAT_SLOPE with a below 1/2 exactly when a < this (0.0102, z < −4.6)."""


class Metrics(Backprop):
    """Scores the evaluation and validation sets (:meth:`evaluate`)."""

    def evaluate(self, v: FloatArray) -> dict[str, float]:
        """Classification of the evaluation inputs: the most active output neuron.

        Returns
        -------
        dict
            ``accuracy`` (fraction correct), ``correct`` and ``total``
            (counts, as floats); ``recall_0``, ``recall_1``, ... (for up to
            :data:`MAX_RECALL` classes): the fraction of each class's inputs
            classified as that class, NaN for a class with no inputs (a
            recall near 0 is an output neuron that never wins: a stuck one);
            ``saturated_0``, ``saturated_1``, ... (as many): the fraction of
            each class's inputs on which its own output neuron is saturated at
            the wrong value, near 0 where its target is 1 (σ'(z) = a(1 − a)
            below :data:`FLAT_SLOPE`): there the quadratic cost's gradient
            (a − y)σ'(z) (BP1) all but vanishes. Near 1 for a neuron stuck
            that way, near 0 for a trained one (or for one stuck yet learning
            lowly, its σ' healthy); NaN for a class with no inputs;
            ``saturated``: the fraction of the neurons' activations on those
            inputs that are exactly 0 or 1, where σ'(z) = σ(z)(1 − σ(z)) is 0
            and no gradient flows back (a network driven there by too large
            an η no longer learns); and ``val_accuracy`` on the validation
            set, if given. Empty when the network has neither.
        """
        pv = self._views(v, self._param_views, "v")
        record: dict[str, float] = {}
        if self.eval_inputs is not None and self.eval_labels is not None:
            counts, flat, low = self._score(pv, self.eval_inputs, self.eval_labels)
            hits, total = int(np.trace(counts)), int(self.eval_labels.shape[0])
            record.update(accuracy=hits / total, correct=float(hits), total=float(total))
            if self.sizes[-1] <= MAX_RECALL:
                per_class = counts.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    recall = np.diag(counts) / per_class
                    wrong = low / per_class
                record.update({f"recall_{k}": float(r) for k, r in enumerate(recall)})
                record.update({f"saturated_{k}": float(w) for k, w in enumerate(wrong)})
            record["saturated"] = flat / (total * sum(self.sizes[1:]))
        if self.val_inputs is not None and self.val_labels is not None:
            counts, _, _ = self._score(pv, self.val_inputs, self.val_labels)
            record["val_accuracy"] = float(np.trace(counts)) / self.val_labels.shape[0]
        return record

    def _score(self, pv: _Views, inputs: FloatArray, labels: IntArray
               ) -> tuple[npt.NDArray[np.int64], int, npt.NDArray[np.int64]]:
        """The confusion counts (true class × predicted class) on ``inputs``,
        how many activations were exactly 0 or 1, and for each class on how
        many of its inputs its own output neuron was saturated near 0 (read
        off the same forward pass: one gathered column a chunk)."""
        k = self.sizes[-1]
        counts = np.zeros((k, k), np.int64)
        low = np.zeros(k, np.int64)
        flat = 0
        for i in range(0, inputs.shape[0], self.chunk_size):
            x = inputs[i:i + self.chunk_size]
            acts = self._buffers(x.shape[0]).a
            out = self._forward(pv, x, acts)
            true = labels[i:i + self.chunk_size]
            pairs = true * k + np.argmax(out, axis=1)
            counts += np.bincount(pairs, minlength=k * k).reshape(k, k)
            flat += sum(int(np.count_nonzero((a == 0.0) | (a == 1.0))) for a in acts)
            own = np.take_along_axis(out, true[:, None], axis=1)[:, 0]  # aᴸ of the true class
            low += np.bincount(true[own < _LOW], minlength=k)
        return counts, flat, low
