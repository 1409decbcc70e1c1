"""Building parts by name: objectives, gradient sources, step rules, transforms, step
sizes, costs.

Every builder looks the name up in the plugin registry and calls its factory
with keyword configuration. A step rule may also be spelled as a chain of
parts in the step-rule grammar (:mod:`gdkit.stepspec`),
``"momentum(beta=0.9),fixed(eta=0.5)"``: transforms first, one step size last.
``"auto"`` is the default gradient source and step rule, chosen from the run
(:func:`auto`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .compose import Chain, chain
from .errors import ConfigError, UnknownPluginError
from .protocols import (
    Cost,
    GradientSource,
    HasGradient,
    Objective,
    PureStepRule,
    StepRule,
    StepSize,
    Transform,
)
from .registry import Kind, check_part, get_registry
from .stepspec import parse_spec

__all__ = ["AUTO", "auto", "cost", "gradient_source", "objective", "parse_step", "resolve",
           "step_rule", "step_size", "transform"]

_SEP: Final = ","
AUTO: Final = "auto"
"""The default gradient source and step rule: chosen by the run (:func:`auto`)."""
AUTO_FULL_BATCH: Final = "lbfgs,wolfe"
AUTO_MINI_BATCH: Final = "fixed"


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
    """Build a step rule by name or from a step spec.

    ``name`` is a registered step rule, a step size (``step_rule("armijo",
    c=0.1)`` is ``chain(step_size("armijo", c=0.1))``), or a chain in the
    step-rule grammar, ``"momentum(beta=0.9),fixed(eta=0.5)"`` (see
    :func:`parse_step`). Keyword options may also be given as ``config``:
    ``{"momentum.beta": 0.9, "eta": 0.5}``, qualified by part, unqualified for
    the last part.

    >>> import gdkit
    >>> gdkit.step_rule("fixed", eta=3.0)
    chain(Fixed(eta=3.0, schedule=None))
    >>> gdkit.step_rule("momentum(beta=0.5),fixed(eta=0.2)")
    chain(Momentum(beta=0.5, nesterov=False), Fixed(eta=0.2, schedule=None))
    """
    if name == AUTO:
        raise ConfigError(f"step {AUTO!r} is chosen by a run (lbfgs,wolfe for full-batch "
                          "gradient descent, fixed for mini-batches): pass it to "
                          "gdkit.minimize, or name the step rule here.")
    reg = get_registry()
    if isinstance(name, str) and (name in reg.parts("step rule")
                                  or name in reg.conflicts("step rule")):
        prefix = name + "."
        opts = {k.removeprefix(prefix): v for k, v in config.items()}
        rule: StepRule = reg.create("step rule", name, **opts)
        return rule
    return parse_step(name, config)


def parse_step(spec: str, options: Mapping[str, Any] | None = None) -> Chain:
    """A chain from a step spec (the step-rule grammar) and further options.

    Parameters
    ----------
    spec : str
        Part names, transforms first and a step size last, each with its
        options in parentheses: ``"momentum(beta=0.9),armijo(c=1e-4)"``,
        ``"fixed(eta=0.5, schedule='step(every=10, gamma=0.5)')"``,
        ``"lbfgs,wolfe"``. The older ``"momentum,fixed:eta=0.2"`` (options
        after colons) is still read, for one release. The grammar is
        :mod:`gdkit.stepspec`'s; a malformed spec raises a
        :class:`~gdkit.errors.ConfigError` naming the piece and its position.
    options : mapping, optional
        ``"PART.KEY"`` → value configures the part named PART; an unqualified
        ``"KEY"`` configures the last part (the step size), as
        ``--step-option`` spells them. An option given twice is an error.

    Examples
    --------
    >>> import gdkit
    >>> gdkit.parse_step("momentum(beta=0.5),fixed(eta=0.2)")
    chain(Momentum(beta=0.5, nesterov=False), Fixed(eta=0.2, schedule=None))
    >>> gdkit.parse_step("momentum,fixed", {"momentum.beta": 0.5, "eta": 0.2})
    chain(Momentum(beta=0.5, nesterov=False), Fixed(eta=0.2, schedule=None))
    """
    parsed = parse_spec(spec)
    names = [p.name for p in parsed.parts]
    per_part = [dict(p.options) for p in parsed.parts]
    for key, value in [*parsed.legacy.items(), *(options or {}).items()]:
        i, opt = _target(spec, names, key)
        if opt in per_part[i]:
            raise ConfigError(f"step {spec!r}: the option {opt!r} of {names[i]!r} is given "
                              "twice; give it once.")
        per_part[i][opt] = value
    *heads, last = names
    transforms = []
    for i, n in enumerate(heads):
        if n in get_registry().parts("step size"):
            raise ConfigError(f"step {spec!r}: {n!r} is a step size, but only the last part "
                              "may be one; put transforms first and one step size last.")
        transforms.append(_part("transform", n, per_part[i]))
    if last in get_registry().parts("transform"):
        raise ConfigError(f"step {spec!r} ends with the transform {last!r}: the last part must "
                          "be a step size (fixed, armijo, ...), e.g. "
                          f"{_SEP.join([*names, 'fixed'])}.")
    return chain(*transforms, _part("step size", last, per_part[-1]))


def _target(spec: str, names: list[str], key: str) -> tuple[int, str]:
    """The part an option ``PART.KEY`` (or an unqualified ``KEY``: the last) configures."""
    part, dot, opt = key.rpartition(".")
    if not dot:
        return len(names) - 1, key
    hits = [i for i, n in enumerate(names) if n == part]
    if not hits:
        raise ConfigError(f"step option {key!r} names the part {part!r}, which is not in "
                          f"the chain {spec!r}; qualify options by one of: "
                          f"{', '.join(dict.fromkeys(names))}.")
    if len(hits) > 1:
        raise ConfigError(f"step option {key!r} is ambiguous: {part!r} appears "
                          f"{len(hits)} times in {spec!r}; write its options in parentheses "
                          f"after each, e.g. {part}(...).")
    return hits[0], opt


def _part(kind: Kind, name: str, options: dict[str, Any]) -> Any:
    """One part of a chain (an unknown step size's error names the whole step rules too)."""
    try:
        return get_registry().create(kind, name, **options)
    except UnknownPluginError as exc:
        rules = sorted(get_registry().parts("step rule"))
        if kind != "step size" or not rules:
            raise
        raise type(exc)(f"{exc} Step rules (used alone): {', '.join(rules)}.") from None


def auto(kind: Kind, *, objective: Any = None, mini_batch: bool = False) -> str:
    """The name ``"auto"`` stands for, the default of :func:`gdkit.minimize` and
    of the ``gdkit`` commands.

    A gradient source: ``"analytic"`` when the objective has its own gradient
    (:class:`~gdkit.protocols.HasGradient`, such as a callable given with a
    ∇C), else ``"central"`` differences, as :func:`scipy.optimize.minimize`
    differentiates a function given without one. A step rule: ``"lbfgs,wolfe"``
    (limited-memory BFGS with a strong Wolfe line search, scipy's default
    kind of method) for full-batch gradient descent, ``"fixed"`` (the book's
    stochastic gradient descent, η = 0.1 unless configured) for mini-batches.

    >>> import gdkit
    >>> gdkit.parts.auto("gradient source", objective=gdkit.objective("valley"))
    'analytic'
    >>> gdkit.parts.auto("step rule", mini_batch=True)
    'fixed'
    """
    if kind == "gradient source":
        return "analytic" if isinstance(objective, HasGradient) else "central"
    if kind == "step rule":
        return AUTO_MINI_BATCH if mini_batch else AUTO_FULL_BATCH
    raise ConfigError(f"{AUTO!r} names no {kind}; give its name.")


def resolve(kind: Kind, spec: Any, *, objective: Any = None, mini_batch: bool = False) -> Any:
    """The part of ``kind`` named or given by ``spec`` (a name, or an object
    checked against the protocol). ``"auto"`` is chosen by :func:`auto` from
    the run's ``objective`` and whether it takes ``mini_batch`` steps. A step
    size given as a step rule becomes its one-part chain."""
    if isinstance(spec, str) and spec == AUTO:
        spec = auto(kind, objective=objective, mini_batch=mini_batch)
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
