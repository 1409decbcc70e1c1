"""Contract checks a plugin author runs on their own plugin.

gdkit's loop trusts every part it composes to keep a few promises: shapes and
dtypes, no mutation of its arguments, the same numbers for the same input,
finite values, a gradient that is the gradient of the cost, a step that does
not climb (eq. 9). These functions test those promises the way
scikit-learn's ``check_estimator`` tests an estimator, using hypothesis to
search for a counterexample and shrink it to a minimal one::

    from gdkit.testing import check_plugin

    def test_my_plugin():
        check_plugin("gdkit-momentum")   # every part of the distribution

A failing check raises :class:`CheckError`, an :class:`AssertionError`
naming the part, the check and the (shrunk) counterexample. A passing one
returns a report of what was checked and what did not apply.

hypothesis is needed (``pip install gdkit[test]``) and is imported only when
a check runs. The checks use their own hypothesis settings: no deadline, a
single failure reported as an :class:`AssertionError`
(``report_multiple_bugs=False``), derandomized (the same examples on every
run) and no example database, so nothing is written into your project's
``.hypothesis/`` unless you pass ``database=``.
"""

# The check names and limits (``X as X``: re-exported for type checkers, but
# not part of ``import *``).
from ._chain_parts import check_step_size, check_transform
from ._common import ACCURACY as ACCURACY
from ._common import BUILD as BUILD
from ._common import COMPLEX_STEP as COMPLEX_STEP
from ._common import DEFAULT_MAX_EXAMPLES as DEFAULT_MAX_EXAMPLES
from ._common import DESCENT as DESCENT
from ._common import DETERMINISM as DETERMINISM
from ._common import DTYPES as DTYPES
from ._common import EVALUATE as EVALUATE
from ._common import FINITE as FINITE
from ._common import FULL_BATCH_LIMIT as FULL_BATCH_LIMIT
from ._common import GRADIENT as GRADIENT
from ._common import (
    GRADIENT_SOURCE_CHECKS,
    OBJECTIVE_CHECKS,
    STEP_RULE_CHECKS,
    STEP_SIZE_CHECKS,
    TRANSFORM_CHECKS,
    CheckError,
    CheckSkippedWarning,
    PartReport,
    PluginReport,
)
from ._common import IN_PLACE as IN_PLACE
from ._common import INITIAL_POINT as INITIAL_POINT
from ._common import MINI_BATCH as MINI_BATCH
from ._common import PROGRESS as PROGRESS
from ._common import PROTOCOL as PROTOCOL
from ._common import PURITY as PURITY
from ._common import SMALL_DIM as SMALL_DIM
from ._common import STATE as STATE
from ._common import ZERO_GRADIENT as ZERO_GRADIENT
from ._cost import CostModel, check_cost
from ._gradient_source import check_gradient_source
from ._objective import check_objective
from ._plugin import check_plugin, plugin_parts
from ._references import reference_objectives
from ._step_rule import check_step_rule

__all__ = [
    "GRADIENT_SOURCE_CHECKS",
    "OBJECTIVE_CHECKS",
    "STEP_RULE_CHECKS",
    "STEP_SIZE_CHECKS",
    "TRANSFORM_CHECKS",
    "CheckError",
    "CheckSkippedWarning",
    "CostModel",
    "PartReport",
    "PluginReport",
    "check_cost",
    "check_gradient_source",
    "check_objective",
    "check_plugin",
    "check_step_rule",
    "check_step_size",
    "check_transform",
    "plugin_parts",
    "reference_objectives",
]
