""":func:`check_plugin`: the checks on every part a plugin or distribution supplies."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import UnknownPluginError
from ..registry import KINDS, PartInfo, Registry, _check_options, check_part, get_registry
from ._chain_parts import check_step_size, check_transform
from ._common import (
    BUILD,
    DEFAULT_MAX_EXAMPLES,
    CheckError,
    CheckSkippedWarning,
    PartReport,
    PluginReport,
)
from ._cost import check_cost
from ._gradient_source import check_gradient_source
from ._objective import check_objective
from ._step_rule import check_step_rule

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def plugin_parts(name: str, *, registry: Registry | None = None) -> list[PartInfo]:
    """Every part supplied by the plugin or distribution ``name``.

    ``name`` is a plugin's name (its entry-point name, as ``gdkit plugins``
    shows it, e.g. ``"step_sizes"``) or a distribution's (``"gdkit"``,
    ``"gdkit-momentum"``; ``-``, ``_`` and ``.`` are equivalent). Parts whose
    name another plugin also registers are included.

    Raises
    ------
    CheckError
        The plugin failed to load (check ``"load"``).
    UnknownPluginError
        No loaded plugin or distribution has that name.
    """
    reg = registry or get_registry()
    wanted = _normalize(name)
    found: list[PartInfo] = []
    for kind in KINDS:
        infos = list(reg.parts(kind).values())
        infos += [i for group in reg.conflicts(kind).values() for i in group]
        found += sorted((i for i in infos if i.plugin == name or _normalize(i.plugin) == wanted
                         or _normalize(i.distribution) == wanted), key=lambda i: i.name)
    if found:
        return found
    for failure in reg.failures:
        if wanted in (_normalize(failure.plugin), _normalize(failure.distribution)):
            raise CheckError(name, "load", failure.describe())
    known = sorted({i.plugin for k in KINDS for i in reg.parts(k).values()}
                   | {i.distribution for k in KINDS for i in reg.parts(k).values()})
    raise UnknownPluginError(f"no plugin or distribution named {name!r} supplies any part. "
                             f"Known: {', '.join(known)}. Is it installed (pip install "
                             "<your distribution>) in this environment, with a gdkit.plugins "
                             "entry point?")


def _build(info: PartInfo, options: Mapping[str, Any]) -> Any:
    _check_options(info, options)
    product = info.factory(**options)
    check_part(info.kind, product, f"the {info.kind} {info.name!r} built by {info.supplier}",
               "Fix the plugin's factory.")
    return product


def check_plugin(
    name: str,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Mapping[str, str] | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    database: str | os.PathLike[str] | ExampleDatabase | None = None,
    derandomize: bool = True,
    registry: Registry | None = None,
) -> PluginReport:
    """Run the checks on every part a registered plugin or distribution supplies.

    Parameters
    ----------
    name : str
        A plugin name (``gdkit plugins`` shows it: ``"step_sizes"``,
        ``"momentum"``) or a distribution name (``"gdkit-momentum"``).
    options : mapping, optional
        Part name → keyword options to build it with, for parts that need
        configuration (``{"mnist-network": {"data": "...", "n_train": 500}}``).
        Default: each factory is called without arguments.
    skip : mapping, optional
        Part name → reason, for parts that cannot be checked here (data not
        available, ...). Each skipped part is reported in the result and by a
        :class:`CheckSkippedWarning`; nothing is skipped silently.
    max_examples, database, derandomize
        Passed to each check (see :func:`check_objective`).
    registry : Registry, optional
        Default: the process-wide registry.

    Returns
    -------
    PluginReport

    Raises
    ------
    CheckError
        A part failed a check, or could not be built (check ``"build"``:
        pass ``options=`` or ``skip=`` for it). When several parts fail, one
        error lists them all.
    UnknownPluginError
        No plugin or distribution of that name.
    """
    infos = plugin_parts(name, registry=registry)
    names = {i.name for i in infos}
    for what, given in (("options", options or {}), ("skip", skip or {})):
        unknown = sorted(set(given) - names)
        if unknown:
            raise ValueError(f"{what}= names no part of {name!r}: {', '.join(unknown)}. Its "
                             f"parts: {', '.join(sorted(names))}.")
    reports: list[PartReport] = []
    skipped: list[tuple[str, str]] = []
    failures: list[CheckError] = []
    common: dict[str, Any] = {"max_examples": max_examples, "database": database,
                              "derandomize": derandomize}
    for info in infos:
        label = f"{info.kind} {info.name!r} ({info.supplier})"
        reason = (skip or {}).get(info.name)
        if reason is not None:
            skipped.append((label, reason))
            warnings.warn(f"gdkit.testing: skipped the {label}: {reason}",
                          CheckSkippedWarning, stacklevel=2)
            continue
        opts = dict((options or {}).get(info.name, {}))
        try:
            reports.append(_check_part(info, opts, label, common))
        except CheckError as exc:
            failures.append(exc)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise CheckError(name, "; ".join(f.check for f in failures),
                         f"{len(failures)} parts failed:\n"
                         + "\n".join(f"- {f}" for f in failures))
    return PluginReport(name, tuple(reports), tuple(skipped))


def _check_part(info: PartInfo, opts: dict[str, Any], label: str,
                common: dict[str, Any]) -> PartReport:
    def build() -> Any:
        try:
            return _build(info, opts)
        except Exception as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in opts.items()) or "no options"
            raise CheckError(label, BUILD, f"could not be built with {shown}: "
                             f"{type(exc).__name__}: {exc}. Pass options={{{info.name!r}: "
                             f"{{...}}}} to check_plugin, or skip={{{info.name!r}: 'why'}}"
                             ) from exc

    part = build()
    if info.kind == "objective":
        return check_objective(part, name=label, **common)
    if info.kind == "gradient source":
        return check_gradient_source(part, name=label, **common)
    if info.kind == "transform":
        return check_transform(build, name=label, **common)
    if info.kind == "step size":
        return check_step_size(build, name=label, **common)
    if info.kind == "cost":
        return check_cost(part, name=label, **common)
    return check_step_rule(build, name=label, **common)
