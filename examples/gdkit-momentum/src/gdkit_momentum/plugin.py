"""The plugin module gdkit loads (the ``gdkit.plugins`` entry point ``momentum``).

Each hook returns a mapping name → factory; gdkit calls the factory with the
keyword options a user gives (``gdkit.transform("rmsprop", rho=0.99)``,
``gdkit minimize logistic --step 'rmsprop(rho=0.99),fixed'``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gdkit

from .logistic import Logistic
from .rmsprop import RMSprop


@gdkit.hookimpl
def gdkit_transforms() -> dict[str, Callable[..., Any]]:
    return {"rmsprop": RMSprop}


@gdkit.hookimpl
def gdkit_objectives() -> dict[str, Callable[..., Any]]:
    return {"logistic": Logistic}
