"""Small helpers every layer uses: the clock, file digests and the one rule for a usable vector."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from importlib import import_module
from typing import Any

import numpy as np

_DIGEST_CHUNK = 1 << 20
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def utc_now() -> str:
    """The current UTC time as ISO-8601 with seconds (``2026-11-21T10:42:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: control characters (ANSI escapes, NUL, bidi overrides)
    become ``?``, so a hostile log or function name cannot move the cursor or hide text."""
    return _CONTROL.sub("?", text)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_DIGEST_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def vector_problem(vector: Any) -> str | None:
    """Why ``vector`` cannot be a graph node (``missing_vector``, ``malformed_vector``,
    ``non_finite_vector``, ``zero_vector``), or ``None`` when it is a usable embedding."""
    if vector is None:
        return "missing_vector"
    try:
        array = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return "malformed_vector"
    if array.ndim != 1 or array.size == 0:
        return "malformed_vector"
    if not np.all(np.isfinite(array)):
        return "non_finite_vector"
    if not np.any(array):
        return "zero_vector"
    return None


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports ``exports[name]`` on first access, so a
    package's public names are importable from it without loading every submodule up front."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - it becomes the module's __getattr__
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__
