"""One plugin registry: pluggy + the ``gdkit.plugins`` entry-point group.

gdkit loads entry points itself, one at a time (pluggy's own loader stops at
the first failure and silently skips a duplicate name): a plugin that fails to
import becomes a :class:`~gdkit.errors.PluginLoadWarning` naming its
distribution while every other plugin still loads, and asking for one of its
parts later says it failed to load and why.

Environment switches
--------------------
``GDKIT_DISABLE_PLUGIN_AUTOLOAD=1``
    Load gdkit's own built-ins only (entry points of the ``gdkit``
    distribution), like pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``.
``GDKIT_STRICT_PLUGINS=1``
    A plugin that fails to load is a :class:`~gdkit.errors.PluginError`
    instead of a warning (recommended in CI).

Plugin code run while loading (the import and the hooks that supply parts)
is held at arm's length: whatever it raises, ``SystemExit``,
``KeyboardInterrupt`` and ``GeneratorExit`` included, becomes a load failure
naming the plugin (a real Ctrl-C still interrupts); what it prints goes to
standard error, so machine-readable output stays intact; and a plugin that
takes more than :data:`SLOW_LOAD_SECONDS` to load is named on standard error
with the way to skip it. ``os._exit`` cannot be caught in-process.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import inspect
import numbers
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, final

import pluggy

from . import hookspecs
from .errors import (
    ConfigError,
    PluginError,
    PluginLoadWarning,
    UnknownPartError,
    UnknownPluginError,
)
from .plugin_code import (
    SLOW_LOAD_SECONDS,
    _plugin_code,
    _PluginLeft,
    noting_sigint,
    raised_by_a_signal_handler,
)

__all__ = [
    "ALL_KINDS",
    "ENTRY_POINT_GROUP",
    "SLOW_LOAD_SECONDS",
    "Kind",
    "LoadFailure",
    "PartInfo",
    "Registry",
    "factory_name",
    "get_registry",
    "noting_sigint",
    "raised_by_a_signal_handler",
    "reset_registry",
]

ENTRY_POINT_GROUP: Final = "gdkit.plugins"
DISTRIBUTION: Final = "gdkit"

Kind = Literal["objective", "gradient source", "step rule", "transform", "step size", "cost",
               "command"]
KINDS: Final[tuple[Kind, ...]] = (
    "objective", "gradient source", "step rule", "transform", "step size", "cost")
"""The kinds of parts a run is built from."""
ALL_KINDS: Final[tuple[Kind, ...]] = (*KINDS, "command")
"""The parts and the ``gdkit`` tool's commands (``gdkit_commands``)."""

_HOOKS: Final[dict[Kind, str]] = {
    "objective": "gdkit_objectives",
    "gradient source": "gdkit_gradient_sources",
    "step rule": "gdkit_step_rules",
    "transform": "gdkit_transforms",
    "step size": "gdkit_step_sizes",
    "cost": "gdkit_costs",
    "command": "gdkit_commands",
}
# What each kind must have: the members of its protocol (gdkit.protocols).
REQUIRED: Final[dict[Kind, tuple[str, ...]]] = {
    "objective": ("dim", "cost"),
    "gradient source": ("gradient",),
    "step rule": ("step",),
    "transform": ("init", "update"),
    "step size": ("init", "move"),
    "cost": ("activate", "cost", "delta"),
    "command": ("configure", "run"),
}
PURE_STEP_RULE: Final = ("init", "update", "state_dict", "load_state")
"""What a pure step rule has instead of ``step`` (gdkit.protocols.PureStepRule)."""
_IN_CODE: Final = "(registered in code)"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


@final
@dataclass(frozen=True, slots=True)
class PartInfo:
    """One named part and who supplied it."""

    kind: Kind
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str
    version: str | None

    @property
    def supplier(self) -> str:
        """``plugin 'x' (distribution 'y 1.0')``, for messages."""
        dist = self.distribution + (f" {self.version}" if self.version else "")
        return f"plugin {self.plugin!r} (distribution {dist!r})"


@final
@dataclass(frozen=True, slots=True)
class LoadFailure:
    """A plugin that could not be loaded, and why."""

    plugin: str
    distribution: str
    version: str | None
    error: str

    def describe(self) -> str:
        dist = self.distribution + (f" {self.version}" if self.version else "")
        return f"plugin {self.plugin!r} from distribution {dist!r} failed to load: {self.error}"


@dataclass
class _Catalogue:
    parts: dict[Kind, dict[str, PartInfo]] = field(default_factory=dict)
    conflicts: dict[Kind, dict[str, list[PartInfo]]] = field(default_factory=dict)


class Registry:
    """The parts (objectives, gradient sources, step rules, transforms and step
    sizes) and the ``gdkit`` tool's commands known to gdkit.

    Parameters
    ----------
    autoload : bool, optional
        Load every distribution's ``gdkit.plugins`` entry points. Default: true
        unless ``GDKIT_DISABLE_PLUGIN_AUTOLOAD`` is set, in which case only
        gdkit's own built-ins load.
    strict : bool, optional
        Raise :class:`~gdkit.errors.PluginError` when a plugin fails to load
        instead of warning. Default: ``GDKIT_STRICT_PLUGINS``.
    """

    def __init__(self, *, autoload: bool | None = None, strict: bool | None = None) -> None:
        self.autoload = (
            not _env_flag("GDKIT_DISABLE_PLUGIN_AUTOLOAD") if autoload is None else autoload
        )
        self.strict = _env_flag("GDKIT_STRICT_PLUGINS") if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[LoadFailure] = []
        self._origin: dict[str, tuple[str, str | None]] = {}
        self._catalogue: _Catalogue | None = None
        self._loaded = False

    # -- loading ---------------------------------------------------------
    def load_entry_points(self) -> None:
        """Load the ``gdkit.plugins`` entry points, one at a time (idempotent)."""
        if self._loaded:
            return
        self._loaded = True
        seen: set[tuple[str, str, str]] = set()
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            dist_name = dist.metadata["Name"] if dist is not None else "(unknown)"
            version = dist.version if dist is not None else None
            key = (_normalize(dist_name), ep.name, ep.value)
            if key in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(key)
            if not self.autoload and _normalize(dist_name) != DISTRIBUTION:
                continue
            try:
                with _plugin_code(ep.name, dist_name, version,
                                  watch=_normalize(dist_name) != DISTRIBUTION):
                    plugin = ep.load()
            except _PluginLeft as left:  # any import failure is reported
                self._fail(ep.name, dist_name, version, left.reason)
                continue
            try:
                self.register(plugin, ep.name, distribution=dist_name, version=version)
            except PluginError as exc:
                self._fail(ep.name, dist_name, version, str(exc))

    def register(
        self,
        plugin: object,
        name: str | None = None,
        *,
        distribution: str = _IN_CODE,
        version: str | None = None,
    ) -> str:
        """Register a plugin object (usually a module with hook implementations).

        Returns the name it is registered under. Use this to add parts from
        your own code without packaging them.
        """
        if self.pm.is_registered(plugin):
            return self.pm.get_name(plugin) or ""
        base = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        unique, i = base, 1
        while self.pm.has_plugin(unique):
            i += 1
            unique = f"{base}#{i}"
        try:
            self.pm.register(plugin, unique)
            self.pm.check_pending()  # a hook name with no specification: a typo
        except pluggy.PluginValidationError as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginError(
                f"plugin {base!r} (distribution {distribution!r}) has an invalid hook: {exc}. "
                "Hook names must be those in gdkit.hookspecs."
            ) from exc
        self._origin[unique] = (distribution, version)
        self._catalogue = None
        return unique

    def unregister(self, name: str) -> None:
        """Remove a registered plugin by the name :meth:`register` returned."""
        self.pm.unregister(name=name)
        self._origin.pop(name, None)
        self._catalogue = None

    def _fail(self, plugin: str, dist: str, version: str | None, error: str) -> None:
        failure = LoadFailure(plugin, dist, version, error)
        self.failures.append(failure)
        if self.strict:
            raise PluginError(
                failure.describe() + ". Fix or uninstall it (GDKIT_STRICT_PLUGINS is set)."
            )
        warnings.warn(
            failure.describe()
            + "; every other plugin still loaded. Fix or uninstall it; set "
            "GDKIT_STRICT_PLUGINS=1 to make this an error.",
            PluginLoadWarning,
            stacklevel=3,
        )

    # -- the catalogue ---------------------------------------------------
    def _build(self) -> _Catalogue:
        self.load_entry_points()
        if self._catalogue is not None:
            return self._catalogue
        cat = _Catalogue()
        for kind in ALL_KINDS:
            parts: dict[str, PartInfo] = {}
            conflicts: dict[str, list[PartInfo]] = {}
            caller = getattr(self.pm.hook, _HOOKS[kind])
            for impl in caller.get_hookimpls():
                dist, version = self._origin.get(impl.plugin_name, (_IN_CODE, None))
                try:
                    with _plugin_code(impl.plugin_name, dist, version,
                                      watch=_normalize(dist) != DISTRIBUTION):
                        supplied = impl.function()
                        items = list(supplied.items()) if isinstance(supplied, Mapping) else None
                except _PluginLeft as left:  # reported as a load failure
                    how = left.reason if left.reason.startswith("called") else (
                        f"raised {left.reason}")
                    self._fail(impl.plugin_name, dist, version, f"its hook {_HOOKS[kind]}() {how}")
                    continue
                if items is None or not all(isinstance(k, str) and callable(f) for k, f in items):
                    self._fail(impl.plugin_name, dist, version,
                               f"its hook {_HOOKS[kind]}() must return a mapping "
                               f"name -> factory, got {type(supplied).__name__}")
                    continue
                for pname, factory in items:
                    info = PartInfo(kind, pname, factory, impl.plugin_name, dist, version)
                    if pname in conflicts:
                        conflicts[pname].append(info)
                    elif pname in parts:
                        conflicts[pname] = [parts.pop(pname), info]
                    else:
                        parts[pname] = info
            cat.parts[kind] = parts
            cat.conflicts[kind] = conflicts
        _shared_names(cat, "step rule", "step size")
        self._catalogue = cat
        return cat

    def parts(self, kind: Kind) -> dict[str, PartInfo]:
        """Every usable part of ``kind``, by name (conflicting names excluded)."""
        return dict(self._build().parts[kind])

    def conflicts(self, kind: Kind) -> dict[str, list[PartInfo]]:
        """Names of ``kind`` supplied by more than one plugin."""
        return {k: list(v) for k, v in self._build().conflicts[kind].items()}

    def lookup(self, kind: Kind, name: str) -> PartInfo:
        """The part of ``kind`` called ``name``.

        Raises
        ------
        PluginError
            If two plugins supply that name.
        UnknownPluginError
            If no loaded plugin supplies it; the message lists the known names,
            the nearest match and any plugin that failed to load. It is an
            :class:`~gdkit.errors.UnknownPartError` (a usage error too) unless
            the name is that of a plugin that failed to load.
        """
        cat = self._build()
        if name in cat.conflicts[kind]:
            who = " and ".join(p.supplier for p in cat.conflicts[kind][name])
            raise PluginError(
                f"the {kind} name {name!r} is registered twice, by {who}. "
                "Uninstall one of the two distributions, or ask its author to rename the part."
            )
        try:
            return cat.parts[kind][name]
        except KeyError:
            pass
        known = sorted(cat.parts[kind])
        msg = f"no {kind} named {name!r}."
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            msg += f" Did you mean {close[0]!r}?"
        msg += f" Known {kind}s: {', '.join(known) or '(none)'}."
        own = [f for f in self.failures if f.plugin == name]
        others = [f for f in self.failures if f.plugin != name]
        if own:
            msg = f"no {kind} named {name!r}: " + own[0].describe() + "."
        elif others:
            msg += " Note: " + "; ".join(f.describe() for f in others) + "."
        if not self.autoload:
            msg += " (GDKIT_DISABLE_PLUGIN_AUTOLOAD is set: only gdkit's built-ins are loaded.)"
        # A misspelled name is a usage error (exit 2); the name of a plugin that failed
        # to load is not: that installation is broken.
        raise (UnknownPluginError if own else UnknownPartError)(msg)

    def supplier_of(self, exc: BaseException) -> str | None:
        """Which plugin raised ``exc``: the innermost frame of its traceback in
        a registered plugin's module or package, as ``plugin 'x'
        (distribution 'y 1.0')``; None if no plugin code is on the traceback."""
        found = self.culprit(exc)
        if found is None:
            return None
        plugin, dist, version = found
        shown = dist + (f" {version}" if version else "")
        return f"plugin {plugin!r} (distribution {shown!r})"

    def culprit(self, exc: BaseException) -> tuple[str, str, str | None] | None:
        """(plugin, distribution, version) of the innermost frame of ``exc``'s
        traceback in a registered plugin's code; None if there is none."""
        owners: dict[str, set[tuple[str, str, str | None]]] = {}
        cat = self._build()
        infos = [i for k in ALL_KINDS for i in cat.parts[k].values()]
        for name, plugin in self.pm.list_name_plugin():
            dist, version = self._origin.get(name, (_IN_CODE, None))
            modules = {getattr(plugin, "__name__", None)} | {
                factory_module(i.factory) for i in infos if i.plugin == name}
            for module in filter(None, modules):
                for prefix in {module, module.split(".")[0]}:
                    owners.setdefault(prefix, set()).add((name, dist, version))
        tb, frames = exc.__traceback__, []
        while tb is not None:
            frames.append(str(tb.tb_frame.f_globals.get("__name__", "")))
            tb = tb.tb_next
        for module in reversed(frames):
            for prefix in (module, module.split(".")[0]):
                found = owners.get(prefix, set())
                if len(found) == 1:
                    return next(iter(found))
        return None

    def create(self, kind: Kind, name: str, /, **config: Any) -> Any:
        """Build the part ``name`` of ``kind`` with keyword configuration."""
        info = self.lookup(kind, name)
        _check_options(info, config)
        product = info.factory(**config)
        what = f"the {kind} {name!r} built by {info.supplier}"
        check_part(kind, product, what, "Fix the plugin's factory, or report it to its author.")
        if kind == "objective":
            check_sizes(product, what)
        return product


def factory_module(factory: Callable[..., Any]) -> str:
    """The module a factory comes from (a class, a function or a callable instance)."""
    return str(getattr(factory, "__module__", None) or type(factory).__module__)


def factory_name(factory: Callable[..., Any]) -> str:
    """``module.qualname`` of a factory; a callable instance is named by its class."""
    name = getattr(factory, "__qualname__", None) or f"{type(factory).__qualname__}()"
    return f"{factory_module(factory)}.{name}"


def _shared_names(cat: _Catalogue, a: Kind, b: Kind) -> None:
    """Kinds ``a`` and ``b`` share one namespace (``--step NAME`` means either):
    a name in both is a conflict in both."""
    for name in set(cat.parts[a]) & set(cat.parts[b]):
        pa, pb = cat.parts[a].pop(name), cat.parts[b].pop(name)
        cat.conflicts[a][name] = [pa, pb]
        cat.conflicts[b][name] = [pb, pa]


def _normalize(dist: str) -> str:
    return dist.lower().replace("_", "-").replace(".", "-")


def _check_options(info: PartInfo, config: Mapping[str, Any]) -> None:
    try:
        sig = inspect.signature(info.factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    params = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    accepted = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise ConfigError(
            f"the {info.kind} {info.name!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted) or '(no options)'}."
        )


def check_part(kind: Kind, obj: object, what: str, hint: str) -> None:
    """Raise :class:`PluginError` unless ``obj`` has every member of ``kind``'s protocol
    (:class:`ConfigError` for a part's class given where an object is wanted)."""
    if isinstance(obj, type) and kind != "command":
        raise ConfigError(f"{what} is the class {obj.__name__}, not a {kind} object: make one, "
                          f"{obj.__name__}(...), or pass a registered name.")
    missing = [m for m in REQUIRED[kind] if not hasattr(obj, m)]
    if missing and kind == "step rule" and all(hasattr(obj, m) for m in PURE_STEP_RULE):
        return  # a pure step rule (init/update), as every chain is
    if missing:
        raise PluginError(
            f"{what} is a {type(obj).__name__} without {', '.join(missing)}, so it is not a "
            f"{kind} (see {'gdkit.command' if kind == 'command' else 'gdkit.protocols'}). {hint}"
        )


def check_sizes(obj: object, what: str) -> None:
    """Raise :class:`PluginError` unless an objective's ``dim`` (and its
    ``n_samples``, if it has one) is a whole number >= 1."""
    for attr in ("dim", "n_samples"):
        if attr == "n_samples" and not hasattr(obj, attr):
            continue
        value = getattr(obj, attr)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise PluginError(
                f"{what} has {attr} = {value!r}; an objective's {attr} must be a whole number "
                ">= 1. This is a bug in that plugin: fix its objective, or report it to its "
                "author.")


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, created (and entry points loaded) on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry()
    return _REGISTRY


def reset_registry() -> None:
    """Forget the process-wide registry; the next use reloads the entry points
    (call after installing a plugin at run time, or between tests)."""
    global _REGISTRY
    _REGISTRY = None
