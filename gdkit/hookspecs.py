"""What a gdkit plugin may implement (pluggy hook specifications).

A plugin is a module (or any object) with functions marked
``@gdkit.hookimpl`` whose names are those below, listed under the
``gdkit.plugins`` entry-point group of its distribution::

    [project.entry-points."gdkit.plugins"]
    momentum = "gdkit_momentum.plugin"

Part hooks return a mapping name → factory, where a factory is a class or a
callable taking keyword configuration and returning the part. No hook may
rely on the order in which plugins are called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pluggy

__all__ = ["hookimpl", "hookspec"]

PROJECT_NAME = "gdkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marker for gdkit's hook specifications."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker a plugin puts on its hook implementations."""

Factory = Callable[..., Any]


@hookspec
def gdkit_objectives() -> Mapping[str, Factory]:
    """Objectives this plugin supplies: name → factory of an Objective."""
    raise NotImplementedError


@hookspec
def gdkit_gradient_sources() -> Mapping[str, Factory]:
    """Gradient sources this plugin supplies: name → factory of a GradientSource."""
    raise NotImplementedError


@hookspec
def gdkit_step_rules() -> Mapping[str, Factory]:
    """Step rules this plugin supplies: name → factory of a StepRule."""
    raise NotImplementedError


@hookspec
def gdkit_transforms() -> Mapping[str, Factory]:
    """Transforms this plugin supplies: name → factory of a Transform (a
    direction d → a new direction, such as momentum)."""
    raise NotImplementedError


@hookspec
def gdkit_step_sizes() -> Mapping[str, Factory]:
    """Step sizes this plugin supplies: name → factory of a StepSize (η along
    the direction). A step size is also usable as a step rule by its name."""
    raise NotImplementedError


@hookspec
def gdkit_costs() -> Mapping[str, Factory]:
    """Costs this plugin supplies: name → factory of a :class:`~gdkit.protocols.Cost`
    (an output layer and the cost of its outputs against the targets, such
    as the quadratic cost of eq. 6), for objectives that take ``cost=``."""
    raise NotImplementedError


@hookspec
def gdkit_commands() -> Mapping[str, Factory]:
    """Subcommands of the ``gdkit`` tool this plugin supplies: name → factory of
    a :class:`gdkit.command.Command` (``configure(parser)`` and ``run(args)``).
    The shell's own ``plugins`` and ``minimize`` cannot be replaced."""
    raise NotImplementedError


@hookspec
def gdkit_advice() -> Mapping[str, Any]:
    """How a ``gdkit`` command words the advice of an error about a setting this
    plugin's parts take and every command spells alike (``--data DIR`` for the
    ``data`` of an objective that reads MNIST): setting → a text in which
    ``{what}`` is the error's :attr:`~gdkit.errors.GdkitError.what`, or a
    function of the error returning the whole line. A command's own table
    (its ``advice`` attribute) wins. Library errors name no flag; see
    :func:`gdkit.command.worded`."""
    raise NotImplementedError


@hookspec
def gdkit_run_start(run: Mapping[str, Any]) -> None:
    """A run of :func:`gdkit.minimize` starts. ``run`` describes it (parts,
    dimension, batch size, epochs, seed)."""


@hookspec
def gdkit_epoch_end(epoch: int, record: Mapping[str, float]) -> None:
    """A mini-batch epoch ended; ``record`` holds its cost, metrics and seconds."""


@hookspec
def gdkit_run_finish(result: Any) -> None:
    """A run ended with ``result`` (a :class:`gdkit.Result`)."""
