"""What a resumed ``gdkit train`` run takes from its checkpoint: the command line it
was started with (``run_info["train"]``), checked as the command line's own flags are.

Flags given explicitly must agree with the checkpoint's unless
``--allow-config-change``; the rest are taken from it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Final

from gdkit.checkpoint import load_checkpoint
from gdkit.errors import CheckpointError, ConfigError
from gdkit.validate import choice, integer, number

from .network import INITS

__all__ = ["ADDED", "CONFIG", "flag", "jsonable", "take_resumed_config"]

# The options that define the run; a checkpoint stores them, and a resume
# takes them from there (explicit flags must agree).
CONFIG: Final = ("sizes", "epochs", "batch_size", "eta", "step", "step_option", "seed", "data",
                 "dtype", "n_train", "cost", "init", "validate", "early_stop")
ADDED: Final[dict[str, Any]] = {"cost": "quadratic", "init": "normal", "validate": True,
                                "early_stop": None}
"""Settings newer than some checkpoints, and what a run without them did."""


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def take_resumed_config(args: argparse.Namespace) -> None:
    """Take the run's configuration from the checkpoint ``args.resume``."""
    ck = load_checkpoint(args.resume)
    stored = ck.extra.get("train")
    if isinstance(stored, dict):
        stored = {**ADDED, **stored}  # a checkpoint from before those settings
    if not isinstance(stored, dict) or not set(CONFIG) <= set(stored):
        raise CheckpointError(
            f"checkpoint {args.resume!r} was not written by gdkit train (it holds no train "
            "command line); resume it from Python with gdkit.minimize(..., "
            "checkpoint=gdkit.Checkpointing(PATH, resume=True)).")
    _check_stored(args.resume, stored)
    explicit: set[str] = getattr(args, "explicit", set())
    diffs = [f"{flag(k)}: checkpoint {stored[k]!r}, command line {getattr(args, k)!r}"
             for k in CONFIG if k in explicit and jsonable(getattr(args, k)) != stored[k]]
    if diffs and not args.allow_config_change:
        raise CheckpointError(
            f"cannot resume from {args.resume!r} with other settings ({'; '.join(diffs)}). "
            "Drop those flags to continue the run as it was, or pass --allow-config-change.")
    for k in CONFIG:
        if k not in explicit or not args.allow_config_change:
            setattr(args, k, stored[k])


def _check_stored(path: str, stored: dict[str, Any]) -> None:
    """The train settings a checkpoint holds pass the command line's own checks."""
    try:
        for key in ("epochs", "batch_size"):
            integer("checkpoint", key, stored[key], minimum=1)
        integer("checkpoint", "seed", stored["seed"], minimum=0)
        if not isinstance(stored["sizes"], list) or len(stored["sizes"]) < 2:
            raise ConfigError(f"sizes must be a list of layer sizes, got {stored['sizes']!r}.")
        for size in stored["sizes"]:
            integer("checkpoint", "sizes", size, minimum=1)
        if stored["eta"] is not None:
            number("checkpoint", "eta", stored["eta"], low=0.0)
        if stored["n_train"] is not None:
            integer("checkpoint", "n_train", stored["n_train"], minimum=1)
        choice("checkpoint", "dtype", stored["dtype"], ("float64", "float32"))
        choice("checkpoint", "init", stored["init"], INITS)
        if not isinstance(stored["validate"], bool):
            raise ConfigError(f"validate must be true or false, got {stored['validate']!r}.")
        if stored["early_stop"] is not None:
            integer("checkpoint", "early_stop", stored["early_stop"], minimum=1)
        if not isinstance(stored["step_option"], (list, type(None))):
            raise ConfigError(f"step_option must be a list of texts, got "
                              f"{stored['step_option']!r}.")
        texts = [stored["step"], stored["cost"], *(stored["step_option"] or [])]
        if stored["data"] is not None:
            texts.append(stored["data"])
        if not all(isinstance(t, str) for t in texts) or not isinstance(
                stored["step_option"], (list, type(None))):
            raise ConfigError("step, step_option and data must be text.")
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {path!r} holds a damaged train setting ({exc}) Use "
                              "an earlier copy, or start afresh.") from None


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))
