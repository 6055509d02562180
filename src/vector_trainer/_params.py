"""Declared parameter constraints, checked the same way by the TOML loader and the constructors.

A settings dataclass in :mod:`vector_trainer.config` declares each parameter once, with
:func:`param`: its default and its constraints (in the spirit of scikit-learn's
``_parameter_constraints``). :func:`check_values` validates a mapping of values against such a
class and raises one :class:`~vector_trainer.errors.ConfigError` that names the key::

    extractor.epsilon: must be in (0, 1] or 'auto', got 1.5
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vector_trainer.errors import ConfigError

_BRACKETS = {"both": "[]", "left": "[)", "right": "(]", "neither": "()"}


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``closed`` says which ends belong to it (``both``, ``left``, ``right``, ``neither``)."""

    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a finite number inside the range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        low_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        high_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return low_ok and high_ok

    def describe(self) -> str:
        """``in (0, 1]``, ``>= 1`` and the like."""
        opening, closing = _BRACKETS[self.closed][0], _BRACKETS[self.closed][1]
        if self.high is None:
            return f"{'>=' if opening == '[' else '>'} {_number(self.low)}"
        if self.low is None:
            return f"{'<=' if closing == ']' else '<'} {_number(self.high)}"
        return f"in {opening}{_number(self.low)}, {_number(self.high)}{closing}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values."""

    options: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is one of the options."""
        return any(value == option and type(value) is type(option) for option in self.options)

    def describe(self) -> str:
        """``one of 'a', 'b'`` (or just ``'a'`` for a single option)."""
        if len(self.options) == 1:
            return repr(self.options[0])
        return "one of " + ", ".join(repr(o) for o in self.options)


@dataclass(frozen=True)
class NonEmpty:
    """A non-blank string."""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is a string with a non-space character."""
        return isinstance(value, str) and bool(value.strip())

    def describe(self) -> str:
        """``a non-empty string``."""
        return "a non-empty string"


Constraint = Interval | OneOf | NonEmpty


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class FrozenMapping(Mapping[str, Any]):
    """An immutable, hashable mapping: the default of a settings field that is a table (a dict
    cannot be a dataclass default, and a default must never be shared mutable state)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


def param(default: Any, *constraints: Constraint, doc: str = "") -> Any:
    """A dataclass field with a default and the constraints its value must meet (any one of them).

    ``None`` is accepted where the field's annotation allows it, whatever the constraints.
    """
    return dataclasses.field(default=default, metadata={"constraints": constraints, "doc": doc})


def _type_accepts(annotation: Any, value: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_accepts(arg, value) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return not args or all(_type_accepts(args[0], v) for v in value)
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, collections.abc.Mapping):
            return False
        key_type, value_type = typing.get_args(annotation) or (Any, Any)
        return all(_type_accepts(key_type, k) and _type_accepts(value_type, v) for k, v in value.items())
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin in (list, tuple):
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    if origin in (dict, collections.abc.Mapping):
        return f"a table of name = value pairs, each value {_type_name(typing.get_args(annotation)[1])}"
    names = {float: "a number", int: "an integer", str: "a string", bool: "true or false", type(None): "none"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def check_value(settings: type, section: str, key: str, value: Any) -> None:
    """Check one value against the field ``key`` of the settings dataclass ``settings``.

    Raises:
        ConfigError: ``section.key: must be ..., got ...``.
    """
    fields = {f.name: f for f in dataclasses.fields(settings)}
    if key not in fields:
        raise ConfigError(f"unknown key '{section}.{key}' (known: {', '.join(sorted(fields))})")
    annotation = typing.get_type_hints(settings)[key]
    if not _type_accepts(annotation, value):
        raise ConfigError(f"{section}.{key}: must be {_type_name(annotation)}, got {value!r}")
    constraints: tuple[Constraint, ...] = fields[key].metadata.get("constraints", ())
    if value is None or not constraints or any(c.accepts(value) for c in constraints):
        return
    wanted = " or ".join(c.describe() for c in constraints)
    raise ConfigError(f"{section}.{key}: must be {wanted}, got {value!r}")


def check_values(settings: type, section: str, values: Mapping[str, Any]) -> None:
    """Check every value of ``values`` (see :func:`check_value`)."""
    for key, value in values.items():
        check_value(settings, section, key, value)


def build_settings(settings: type, section: str, values: Mapping[str, Any]) -> Any:
    """Validate ``values`` and build the settings dataclass from them (missing keys keep defaults)."""
    check_values(settings, section, values)
    return settings(**values)


def options_of(settings: type, key: str) -> list[Any]:
    """The values a ``OneOf`` field accepts (for CLI ``choices``), in declared order."""
    field = next(f for f in dataclasses.fields(settings) if f.name == key)
    return [o for c in field.metadata.get("constraints", ()) if isinstance(c, OneOf) for o in c.options]


def parameter_docs(settings: type) -> dict[str, str]:
    """``key -> one-line description`` of a settings dataclass, for help texts."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(settings)}
