"""gdkit-momentum: an example gdkit plugin.

It adds two parts to gdkit, found by name once the distribution is
installed:

- the transform ``"rmsprop"`` (:class:`RMSprop`): RMSprop's per-coordinate
  scaling of the direction, used in a chain before a step size
  (``"rmsprop,fixed"``);
- the objective ``"logistic"`` (:class:`Logistic`): logistic regression
  scored by the cross-entropy cost on a seeded synthetic data set.

(The distribution's name predates the built-in ``momentum`` transform, which
it used to supply; it is kept so that existing installs and entry points
keep working.)

Both use gdkit's public API only (:mod:`gdkit.protocols`,
:mod:`gdkit.validate`, :mod:`gdkit.errors`, :func:`gdkit.hookimpl`) and are
checked with :mod:`gdkit.testing` in this distribution's tests.
"""

from __future__ import annotations

from .logistic import Logistic
from .rmsprop import RMSprop, RMSpropState

__all__ = ["Logistic", "RMSprop", "RMSpropState"]
