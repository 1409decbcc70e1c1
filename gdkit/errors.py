"""The exceptions gdkit raises, all under one base :class:`GdkitError`.

Every message says what happened, where, and what to do about it, in the
user's terms. Catch :class:`GdkitError` to catch anything gdkit raises on
purpose; a bare ``Exception`` escaping gdkit is a bug.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DivergenceError",
    "GdkitError",
    "Interrupted",
    "MissingExtraError",
    "PluginError",
    "PluginLoadWarning",
    "PrecisionLost",
    "ShapeError",
    "StaleLockWarning",
    "StepError",
    "UnknownPartError",
    "UnknownPluginError",
]


class GdkitError(Exception):
    """Base class of every error gdkit raises on purpose.

    Its message gives advice in Python's terms (``gradient='central'``), never
    a command-line flag: a ``gdkit`` command says the same in its own flags
    from ``setting`` and ``what`` (:func:`gdkit.command.worded`).

    Attributes
    ----------
    setting : str or None
        The setting the message's advice is about (``"eta"``, ``"gradient"``,
        ``"allow_config_change"``, ``"data"``), when it names one.
    what : str
        The message without what spells ``setting`` in Python's terms: what
        happened, around which a command words its own advice (the whole
        message when ``setting`` is None).
    """

    def __init__(self, *args: object, setting: str | None = None, what: str = "") -> None:
        super().__init__(*args)
        self.setting = setting
        self.what = what or (str(args[0]) if args else "")


class MissingExtraError(GdkitError, ImportError):
    """A feature needs an optional extra that is not installed; the message
    names it (``pip install 'gdkit[plot]'``)."""

    def __init__(self, feature: str, extra: str, package: str) -> None:
        super().__init__(f"{feature} needs {package}, which is not installed: "
                         f"pip install 'gdkit[{extra}]'.")
        self.extra = extra


class ConfigError(GdkitError, TypeError):
    """A part was given an option it does not take, or a value it cannot use.

    Also a :class:`TypeError` (or see :class:`ValueError` users), so code
    written against plain Python conventions still catches it.
    """


class UnknownPluginError(GdkitError, LookupError):
    """A part was asked for by a name no loaded plugin supplies."""


class UnknownPartError(UnknownPluginError, ConfigError):
    """A part was asked for by a name no plugin supplies, and no plugin of that
    name failed to load: a misspelling, so a usage error as well (the ``gdkit``
    command exits with 2, as for a malformed step spec or a bad option)."""


class PluginError(GdkitError):
    """A plugin is broken: it failed to load, it registers a name another
    plugin registers too, or its factory builds something that does not
    satisfy the protocol of the part it claims to be."""


class PluginLoadWarning(UserWarning):
    """A plugin module failed to import; every other plugin still loaded.

    Set ``GDKIT_STRICT_PLUGINS=1`` to turn this warning into a
    :class:`PluginError` (recommended in CI).
    """


class StaleLockWarning(UserWarning):
    """A lock left by a killed run was found and taken over (:func:`gdkit.files.claim`)."""


class ShapeError(GdkitError, ValueError):
    """An array has the wrong shape or dtype (typically a gradient that does
    not match the parameter vector v)."""


class DivergenceError(GdkitError, FloatingPointError):
    """The cost or the gradient became NaN or infinite during a run.

    Attributes
    ----------
    iteration : int
        The iteration at which the non-finite value appeared.
    last_finite_cost : float or None
        The last finite cost seen before it, if any.
    """

    def __init__(
        self, message: str, *, iteration: int, last_finite_cost: float | None,
        setting: str | None = None, what: str = "",
    ) -> None:
        super().__init__(message, setting=setting, what=what)
        self.iteration = iteration
        self.last_finite_cost = last_finite_cost


class StepError(GdkitError):
    """A step rule could not make progress (for example a line search that
    found no acceptable step). :func:`gdkit.minimize` turns it into an
    unsuccessful result with the rule's message rather than raising it."""


class PrecisionLost(StepError):
    """v can no longer move: every step the rule could take along its
    direction either leaves v unchanged bit for bit or is not a decrease that
    C's rounding can tell from noise.

    Raised by a step size (a line search) so that a run ends at once, with
    the ‖∇C‖ it reached in the message, rather than spending its remaining
    iterations on steps that change nothing (scipy's status 2, "precision
    loss"). A :class:`StepError`, so :func:`gdkit.minimize` ends the run
    unsuccessfully with this message.

    Attributes
    ----------
    grad_norm : float
        ‖∇C‖ at the point where v could not move (NaN when unknown).
    """

    def __init__(self, message: str, *, grad_norm: float = float("nan")) -> None:
        super().__init__(message)
        self.grad_norm = grad_norm


class DataError(GdkitError, OSError):
    """A data file is missing, truncated or corrupt.

    The message names the file, the problem and the expected format.
    """


class CheckpointError(GdkitError):
    """A checkpoint or saved-model file cannot be read or does not match the
    run it is asked to resume."""


class Interrupted(GdkitError):
    """A run stopped on SIGINT or SIGTERM after finishing its current span of
    steps (and writing a checkpoint, if it has one; a second signal stops at
    once with :class:`KeyboardInterrupt`).

    Attributes
    ----------
    signum : int
        The signal received.
    checkpoint : str
        The checkpoint written ("" for a run without one); resume from it with
        ``checkpoint=gdkit.Checkpointing(path, resume=True)``.
    epoch, iteration : int
        Where the run was.
    what : str
        What happened, without advice: a command adds its own (its flags).
    """

    def __init__(self, message: str, *, signum: int, checkpoint: str, epoch: int,
                 iteration: int, what: str = "") -> None:
        super().__init__(message, what=what)
        self.signum = signum
        self.checkpoint = checkpoint
        self.epoch = epoch
        self.iteration = iteration
