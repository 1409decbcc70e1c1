"""The one grammar of a step rule written as text, and of an option's value.

A step rule is a chain of parts, transforms first and one step size last,
each part a name with optional keyword options in parentheses::

    momentum(beta=0.9),armijo(c=1e-4)
    fixed(eta=0.5, schedule="step(every=10, gamma=0.5)")
    fixed(eta=0.5, schedule=warmup(steps=100) then cosine(steps=5000))

``gdkit.step_rule``, ``gdkit.parse_step``, ``minimize(step=...)``, and the
``--step`` of ``gdkit minimize``, ``gdkit train`` and ``gdkit plot valley``
all read it with :func:`parse_spec`. A value is read as a Python literal
(a number, ``True``/``False`` or ``true``/``false``, ``None``, a quoted
string, a tuple); ``inf`` and ``nan`` are numbers; any other text is a
string, so a schedule may be written quoted or not (its parentheses must
balance). The older spellings stay for one release as aliases: options
after colons (``momentum,fixed:eta=0.05:momentum.beta=0.9``, as ``gdkit plot
valley`` took them) and ``--step-option PART.KEY=VALUE``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from .errors import ConfigError

__all__ = ["MAX_NESTING", "PartSpec", "StepSpec", "format_spec", "parse_spec", "read_value"]

MAX_NESTING: Final = 16
"""The deepest nesting of tuples, lists and dicts an option value may have."""
_TOO_DEEP: Final = object()
_NAME = re.compile(r"[A-Za-z_][\w-]*")
_KEY = re.compile(r"[A-Za-z_][\w.-]*")
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_GRAMMAR: Final = ("write PART or PART(key=value, ...), parts separated by commas, "
                   "e.g. momentum(beta=0.9),armijo(c=1e-4)")


class PartSpec(NamedTuple):
    """One part of a step spec: its registered name and its options."""

    name: str
    options: dict[str, Any]


class StepSpec(NamedTuple):
    """A parsed step spec: its parts in order, and the options given after
    colons (the older ``PARTS:KEY=VALUE`` spelling), keyed as ``--step-option``
    keys them (``PART.KEY``, or ``KEY`` for the last part)."""

    parts: list[PartSpec]
    legacy: dict[str, Any]


def read_value(raw: str, key: str = "value") -> Any:
    """An option's value from its text: a Python literal, ``true``/``false``
    as booleans, ``inf``/``nan`` as floats, and any other text as a string.

    >>> read_value("0.5"), read_value("true"), read_value("cosine(steps=10)")
    (0.5, True, 'cosine(steps=10)')
    """
    text = raw.strip()
    try:
        value: Any = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError) as exc:
        too_deep = isinstance(exc, SyntaxError) and "too many nested" in str(exc)
        value = _TOO_DEEP if too_deep else _word(text)
    except (RecursionError, MemoryError):  # Python's parser gave up: nested too deep
        value = _TOO_DEEP
    if value is _TOO_DEEP or _depth(value) > MAX_NESTING:
        shown = repr(text) if len(text) <= 30 else repr(text[:27] + "...")
        raise ConfigError(f"option {key!r}: its value is nested more than {MAX_NESTING} "
                          f"levels deep ({shown}); no part takes that. Give a number, a "
                          "string or a short tuple.")
    return value


def _word(text: str) -> Any:
    """A bare word: a boolean, a float spelled inf or nan, else the text itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        return float(text)
    return text


def _depth(value: Any, level: int = 0) -> int:
    """How deeply ``value``'s containers nest (0 for a number or string)."""
    if level > MAX_NESTING or not isinstance(value, (tuple, list, set, frozenset, dict)):
        return level
    items = list(value.values()) if isinstance(value, dict) else list(value)
    return max((_depth(v, level + 1) for v in items), default=level + 1)


class _Reader:
    """A cursor over one spec, raising errors that name the spec and a position."""

    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def fail(self, what: str, at: int | None = None) -> ConfigError:
        pos = self.at if at is None else at
        near = self.text[pos:pos + 12] or "the end"
        return ConfigError(f"step {self.text!r}: {what} at character {pos + 1} "
                           f"({near!r}); {_GRAMMAR}.")

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def peek(self) -> str:
        self.skip()
        return self.text[self.at:self.at + 1]

    def match(self, pattern: re.Pattern[str], what: str) -> str:
        self.skip()
        m = pattern.match(self.text, self.at)
        if m is None:
            raise self.fail(f"expected {what}")
        self.at = m.end()
        return m.group()

    def value(self, stops: str) -> str:
        """Raw text up to the next ``stops`` character outside brackets and quotes."""
        start, opened = self.at, []
        while self.at < len(self.text):
            ch = self.text[self.at]
            if ch in "'\"":
                end = self.text.find(ch, self.at + 1)
                if end < 0:
                    raise self.fail(f"unclosed quote {ch}")
                self.at = end
            elif ch in _CLOSE:
                opened.append((_CLOSE[ch], self.at))
            elif opened and ch == opened[-1][0]:
                opened.pop()
            elif ch in ")]}" or (not opened and ch in stops):
                break
            self.at += 1
        if opened:
            raise self.fail(f"unclosed {self.text[opened[-1][1]]!r}", opened[-1][1])
        if not self.text[start:self.at].strip():
            raise self.fail("expected a value")
        return self.text[start:self.at]


def _options(r: _Reader, part: str) -> dict[str, Any]:
    """The ``key=value, ...)`` after a part's opening parenthesis."""
    options: dict[str, Any] = {}
    opened = r.at - 1
    if r.peek() == ")":
        r.at += 1
        return options
    while True:
        r.skip()
        at = r.at
        key = r.match(_NAME, f"an option name of {part!r}")
        if r.peek() != "=":
            raise r.fail(f"expected '=' after the option {key!r} of {part!r}")
        r.at += 1
        if key in options:
            raise r.fail(f"{part!r} is given {key!r} twice", at)
        options[key] = read_value(r.value(",)"), f"{part}.{key}")
        close = r.peek()
        r.at += 1
        if close == ")":
            return options
        if not close:
            raise r.fail(f"the '(' of {part!r} is never closed", opened)
        if close != ",":
            raise r.fail(f"expected ',' or ')' in the options of {part!r}", r.at - 1)


def parse_spec(text: str) -> StepSpec:
    """The parts and options of a step spec (see the module's docstring).

    >>> parse_spec("momentum(beta=0.9),armijo").parts
    [PartSpec(name='momentum', options={'beta': 0.9}), PartSpec(name='armijo', options={})]

    Raises
    ------
    ConfigError
        For malformed text, naming the piece and its position (1-based).
    """
    if not isinstance(text, str):
        raise ConfigError(f"a step spec is text, got {type(text).__name__} {text!r}"[:160] + ".")
    r, parts = _Reader(text), []
    while True:
        if r.peek() in (",", ""):
            raise r.fail("empty part name")
        name = r.match(_NAME, "a part name")
        options = {}
        if r.peek() == "(":
            r.at += 1
            options = _options(r, name)
        parts.append(PartSpec(name, options))
        nxt = r.peek()
        if nxt != ",":
            break
        r.at += 1
    legacy: dict[str, Any] = {}
    while r.peek() == ":":  # the older PARTS:KEY=VALUE spelling
        r.at += 1
        key = r.match(_KEY, "an option KEY=VALUE after ':'")
        if r.peek() != "=":
            raise r.fail(f"expected '=' after {key!r}")
        r.at += 1
        legacy[key] = read_value(r.value(":"), key)
    if r.peek():
        raise r.fail("unexpected text")
    return StepSpec(parts, legacy)


def format_spec(parts: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The text :func:`parse_spec` reads back as ``parts``: the inverse of parsing.

    >>> format_spec([("momentum", {"beta": 0.5}), ("fixed", {"eta": 0.1})])
    'momentum(beta=0.5),fixed(eta=0.1)'
    """
    return ",".join(name + (f"({', '.join(f'{k}={_text(v)}' for k, v in opts.items())})"
                            if opts else "") for name, opts in parts)


def _text(value: Any) -> str:
    """A value as :func:`read_value` reads it back (inf as an overflowing literal)."""
    if isinstance(value, float) and math.isinf(value):
        return "-1e999" if value < 0 else "1e999"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return repr(value)
