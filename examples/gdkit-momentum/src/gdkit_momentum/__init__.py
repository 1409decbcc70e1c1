"""gdkit-momentum: an example gdkit plugin.

It adds two parts to gdkit, found by name once the distribution is
installed:

- the step rule ``"momentum"`` (:class:`Momentum`): heavy-ball momentum;
- the objective ``"logistic"`` (:class:`Logistic`): logistic regression
  scored by the cross-entropy cost on a seeded synthetic data set.

Both use gdkit's public API only (:mod:`gdkit.protocols`,
:mod:`gdkit.errors`, :func:`gdkit.hookimpl`) and are checked with
:mod:`gdkit.testing` in this distribution's tests.
"""

from __future__ import annotations

from .logistic import Logistic
from .momentum import Momentum

__all__ = ["Logistic", "Momentum"]
