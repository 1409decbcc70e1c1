"""Building parts by name: objectives, gradient sources, step rules, transforms, step
sizes, costs.

Every builder looks the name up in the plugin registry and calls its factory
with keyword configuration. A step rule may also be spelled as a chain of
parts, ``"momentum,fixed"``: transforms first, one step size last, with
options ``"momentum.beta"`` for one part and an unqualified key for the last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .compose import Chain, chain
from .errors import ConfigError, UnknownPluginError
from .protocols import (
    Cost,
    GradientSource,
    Objective,
    PureStepRule,
    StepRule,
    StepSize,
    Transform,
)
from .registry import Kind, check_part, get_registry

__all__ = ["cost", "gradient_source", "objective", "parse_step", "resolve", "step_rule",
           "step_size", "transform"]

_SEP: Final = ","


def objective(name: str, /, **config: Any) -> Objective:
    """Build the registered objective ``name`` with keyword configuration.

    >>> import gdkit
    >>> gdkit.objective("rosenbrock", dim=3).dim
    3
    """
    obj: Objective = get_registry().create("objective", name, **config)
    return obj


def gradient_source(name: str, /, **config: Any) -> GradientSource:
    """Build the registered gradient source ``name`` (``"analytic"``,
    ``"forward"``, ``"central"``, ``"complex-step"``, ...)."""
    src: GradientSource = get_registry().create("gradient source", name, **config)
    return src


def transform(name: str, /, **config: Any) -> Transform:
    """Build the registered transform ``name``: ``transform("momentum", beta=0.9)``."""
    t: Transform = get_registry().create("transform", name, **config)
    return t


def step_size(name: str, /, **config: Any) -> StepSize:
    """Build the registered step size ``name``: ``step_size("fixed", eta=3.0)``."""
    s: StepSize = get_registry().create("step size", name, **config)
    return s


def cost(name: str, /, **config: Any) -> Cost:
    """Build the registered cost ``name`` (``"quadratic"``, ``"cross-entropy"``,
    ``"log-likelihood"``), for an objective's ``cost=`` option."""
    c: Cost = get_registry().create("cost", name, **config)
    return c


def step_rule(name: str, /, **config: Any) -> StepRule | PureStepRule:
    """Build a step rule by name.

    ``name`` is a registered step rule, a step size (``step_rule("armijo",
    c=0.1)`` is ``chain(step_size("armijo", c=0.1))``), or a chain spelled
    ``"momentum,fixed"`` (then options are ``{"momentum.beta": 0.9, "eta":
    0.5}``: qualified by part, unqualified for the last part; see
    :func:`parse_step`).

    >>> import gdkit
    >>> gdkit.step_rule("fixed", eta=3.0)
    chain(Fixed(eta=3.0, schedule=None))
    """
    reg = get_registry()
    if _SEP not in name and (name in reg.parts("step rule") or name in reg.conflicts("step rule")):
        prefix = name + "."
        opts = {k.removeprefix(prefix): v for k, v in config.items()}
        rule: StepRule = reg.create("step rule", name, **opts)
        return rule
    return parse_step(name, config)


def parse_step(spec: str, options: Mapping[str, Any] | None = None) -> Chain:
    """A chain from a comma-separated spec and its options.

    Parameters
    ----------
    spec : str
        Part names, transforms first and a step size last:
        ``"momentum,fixed"``, ``"clip,armijo"``, ``"fixed"``.
    options : mapping, optional
        ``"PART.KEY"`` → value configures the part named PART; an unqualified
        ``"KEY"`` configures the last part (the step size), so
        ``{"eta0": 1.0}`` still means the step size's ``eta0``.

    Examples
    --------
    >>> import gdkit
    >>> gdkit.parse_step("momentum,fixed", {"momentum.beta": 0.5, "eta": 0.2})
    chain(Momentum(beta=0.5, nesterov=False), Fixed(eta=0.2, schedule=None))
    """
    names = [n.strip() for n in spec.split(_SEP)]
    if not all(names):
        raise ConfigError(f"step {spec!r}: empty part name; write the parts separated by "
                          "commas, transforms first and a step size last, e.g. momentum,fixed.")
    per_part: list[dict[str, Any]] = [{} for _ in names]
    for key, value in (options or {}).items():
        part, dot, opt = key.rpartition(".")
        if not dot:
            per_part[-1][key] = value
            continue
        hits = [i for i, n in enumerate(names) if n == part]
        if not hits:
            raise ConfigError(f"step option {key!r} names the part {part!r}, which is not in "
                              f"the chain {spec!r}; qualify options by one of: "
                              f"{', '.join(dict.fromkeys(names))}.")
        if len(hits) > 1:
            raise ConfigError(f"step option {key!r} is ambiguous: {part!r} appears "
                              f"{len(hits)} times in {spec!r}.")
        per_part[hits[0]][opt] = value
    *heads, last = names
    transforms = []
    for i, n in enumerate(heads):
        if n in get_registry().parts("step size"):
            raise ConfigError(f"step {spec!r}: {n!r} is a step size, but only the last part "
                              "may be one; put transforms first and one step size last.")
        transforms.append(transform(n, **per_part[i]))
    if last in get_registry().parts("transform"):
        raise ConfigError(f"step {spec!r} ends with the transform {last!r}: the last part must "
                          "be a step size (fixed, armijo, ...), e.g. "
                          f"{_SEP.join([*names, 'fixed'])}.")
    try:
        size = step_size(last, **per_part[-1])
    except UnknownPluginError as exc:
        rules = sorted(get_registry().parts("step rule"))
        extra = f" Step rules (used alone): {', '.join(rules)}." if rules else ""
        raise UnknownPluginError(str(exc) + extra) from None
    return chain(*transforms, size)


def resolve(kind: Kind, spec: Any) -> Any:
    """The part of ``kind`` named or given by ``spec`` (a name, or an object
    checked against the protocol). A step size given as a step rule becomes
    its one-part chain."""
    if kind == "step rule":
        if isinstance(spec, str):
            return step_rule(spec)
        if not hasattr(spec, "step") and isinstance(spec, StepSize):
            return chain(spec)
    elif isinstance(spec, str):
        return get_registry().create(kind, spec)
    check_part(kind, spec, f"the {kind} you passed",
               f"Pass a registered {kind} name or an object with those members.")
    return spec


