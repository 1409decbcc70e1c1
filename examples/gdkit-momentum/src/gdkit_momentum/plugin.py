"""The plugin module gdkit loads (the ``gdkit.plugins`` entry point ``momentum``).

Each hook returns a mapping name → factory; gdkit calls the factory with the
keyword options a user gives (``gdkit.step_rule("momentum", beta=0.5)``,
``gdkit minimize logistic --step momentum --step-option beta=0.5``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gdkit

from .logistic import Logistic
from .momentum import Momentum


@gdkit.hookimpl
def gdkit_step_rules() -> dict[str, Callable[..., Any]]:
    return {"momentum": Momentum}


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Callable[..., Any]]:
    return {"logistic": Logistic}
