"""Pictures of gradient descent: the valley and the ball, learning curves, a confusion matrix.

Everything here draws on a new :class:`matplotlib.figure.Figure` (no pyplot,
no global state, so it works headless and beside an interactive session) and
returns it; :func:`save` writes one to PNG, SVG or PDF, chosen by the file's
extension. matplotlib is the optional extra ``gdkit[plot]``: importing this
module does not import it, and drawing without it raises
:class:`~gdkit.errors.MissingExtraError` naming the extra. Pictures of one
model's data (MNIST's 28×28 digits, a hidden neuron's weights) live with
that model's plugin.

>>> import gdkit, gdkit.plot
>>> runs = [gdkit.plot.trace("valley", [1.5, -1.0], step=gdkit.step_rule("fixed", eta=eta),
...                         label=f"η = {eta}", max_iter=30) for eta in (0.1, 0.9)]
>>> [round(float(t.costs[-1]), 4) for t in runs]
[0.0033, 0.0039]
>>> fig = gdkit.plot.valley("valley", runs)      # the seed's ball rolling down the valley
"""

from __future__ import annotations

from .classifier import confusion
from .curves import curves, read_log
from .figure import save
from .valley import Trace, trace, valley
from .watch import CurvePicture

__all__ = ["CurvePicture", "Trace", "confusion", "curves", "read_log", "save", "trace",
           "valley"]
