"""Evaluation metrics of a network: accuracy, each class's recall, saturation."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from gdkit.protocols import FloatArray

from .backprop import Backprop, _Views
from .data import IntArray

__all__ = ["MAX_RECALL", "Metrics"]

MAX_RECALL: Final = 32
"""Networks with at most this many output classes report each class's recall."""


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
            ``saturated``: the fraction of the neurons' activations on those
            inputs that are exactly 0 or 1, where σ'(z) = σ(z)(1 − σ(z)) is 0
            and no gradient flows back (a network driven there by too large
            an η no longer learns); and ``val_accuracy`` on the validation
            set, if given. Empty when the network has neither.
        """
        pv = self._views(v, self._param_views, "v")
        record: dict[str, float] = {}
        if self.eval_inputs is not None and self.eval_labels is not None:
            counts, flat = self._score(pv, self.eval_inputs, self.eval_labels)
            hits, total = int(np.trace(counts)), int(self.eval_labels.shape[0])
            record.update(accuracy=hits / total, correct=float(hits), total=float(total))
            if self.sizes[-1] <= MAX_RECALL:
                per_class = counts.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    recall = np.diag(counts) / per_class
                record.update({f"recall_{k}": float(r) for k, r in enumerate(recall)})
            record["saturated"] = flat / (total * sum(self.sizes[1:]))
        if self.val_inputs is not None and self.val_labels is not None:
            counts, _ = self._score(pv, self.val_inputs, self.val_labels)
            record["val_accuracy"] = float(np.trace(counts)) / self.val_labels.shape[0]
        return record

    def _score(self, pv: _Views, inputs: FloatArray, labels: IntArray
               ) -> tuple[npt.NDArray[np.int64], int]:
        """The confusion counts (true class × predicted class) on ``inputs``,
        and how many activations were exactly 0 or 1."""
        k = self.sizes[-1]
        counts = np.zeros((k, k), np.int64)
        flat = 0
        for i in range(0, inputs.shape[0], self.chunk_size):
            x = inputs[i:i + self.chunk_size]
            acts = self._buffers(x.shape[0]).a
            out = self._forward(pv, x, acts)
            pairs = labels[i:i + self.chunk_size] * k + np.argmax(out, axis=1)
            counts += np.bincount(pairs, minlength=k * k).reshape(k, k)
            flat += sum(int(np.count_nonzero((a == 0.0) | (a == 1.0))) for a in acts)
        return counts, flat
