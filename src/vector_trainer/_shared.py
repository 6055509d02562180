"""Small helpers every layer uses: the clock, file digests and the one rule for a usable vector."""

from __future__ import annotations

import gc
import hashlib
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import import_module
from typing import Any

import numpy as np

_DIGEST_CHUNK = 1 << 20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
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


def mapping_at(container: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``container[key]`` when it is an object, else an empty one (a field absent or of the wrong kind)."""
    value = container.get(key)
    return value if isinstance(value, Mapping) else {}


def vector_problem(vector: Any) -> str | None:
    """Why ``vector`` cannot be a graph node, or ``None`` when it is a usable embedding.

    Vectors are compared in float32, so the rule is about their float32 form: ``missing_vector``,
    ``malformed_vector`` (not a non-empty 1-d list of numbers), ``non_finite_vector`` (NaN, inf,
    or values whose float32 form or norm
    overflows, such as ``1e39``), ``zero_vector`` (all zeros, or so small
    that its float32 norm is 0, so it has no direction).
    """
    if vector is None:
        return "missing_vector"
    try:
        wide = np.asarray(vector, dtype=np.float64)
    except OverflowError:
        return "non_finite_vector"
    except (TypeError, ValueError):
        return "malformed_vector"
    return array_problem(wide)


def usable_rows(matrix: np.ndarray) -> np.ndarray:
    """Which rows of a 2-D block are usable embeddings: :func:`array_problem`'s rule, in bulk
    (a float32 squared norm above 0 and finite, so no NaN, no infinity, nothing beyond float32,
    no norm that underflows). The one home of the rule for every bulk check."""
    with np.errstate(all="ignore"):
        single = np.asarray(matrix).astype(np.float32, copy=False)
        square = np.einsum("ij,ij->i", single, single)
    return np.asarray((square > 0) & (square < np.inf))


def array_problem(wide: np.ndarray) -> str | None:
    """:func:`vector_problem` of a float64 array already converted."""
    if wide.ndim != 1 or wide.size == 0:
        return "malformed_vector"
    with np.errstate(all="ignore"):
        narrow = wide.astype(np.float32)
        square = float(np.dot(narrow, narrow))
    if 0.0 < square < math.inf:  # the usual case, in two passes; NaN, inf, overflow, underflow fail it
        return None
    if not np.isfinite(wide).all() or np.abs(wide).max() > _FLOAT32_MAX:
        return "non_finite_vector"
    narrow = wide.astype(np.float32)
    with np.errstate(over="ignore", under="ignore"):
        norm = float(np.sqrt(np.dot(narrow, narrow)))
    if not np.isfinite(norm):
        return "non_finite_vector"
    if norm == 0.0:
        return "zero_vector"
    return None


#: What :func:`vector_problem` reasons mean, for messages that tell the user the fix.
VECTOR_PROBLEM_HELP = {
    "missing_vector": "it has no vector",
    "malformed_vector": "it is not a non-empty list of numbers",
    "non_finite_vector": "it holds NaN, inf or a value beyond float32's range (|x| > 3.4e38); rescale it",
    "zero_vector": "it is all zeros or too small to normalise in float32; cosine similarity is undefined for it",
}


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports ``exports[name]`` on first access, so a
    package's public names are importable from it without loading every submodule up front."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - it becomes the module's __getattr__
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__


def lazy_dir(namespace: Mapping[str, Any], exports: Mapping[str, str]) -> Callable[[], list[str]]:
    """A module ``__dir__`` (PEP 562) listing the lazily loaded names beside the loaded ones, so
    ``dir()``, tab completion and "did you mean" suggestions see them."""

    def __dir__() -> list[str]:  # noqa: N807 - it becomes the module's __dir__
        return sorted(set(namespace) | set(exports))

    return __dir__


def chat_client(api_key: str | None, base_url: str | None, timeout_s: float, feature: str) -> Any:
    """An ``openai.OpenAI`` client for chat calls (one retry; a local server takes any key).

    Raises:
        MissingDependencyError: Naming ``feature`` and the extra to install.
    """
    from vector_trainer.errors import MissingDependencyError

    try:
        openai = import_module("openai")
    except ImportError as exc:
        raise MissingDependencyError("openai", "openai", feature) from exc
    return openai.OpenAI(api_key=api_key or "unused", base_url=base_url, timeout=timeout_s, max_retries=1)


@contextmanager
def bulk_reading() -> Iterator[None]:
    """No cyclic garbage collection while a source's rows become logs, restored afterwards.

    Reading 50,000 logs makes a few hundred thousand containers that live on (the logs, their
    inputs, the clients' own per-row vector lists), and every collection the allocations trigger
    traverses all of them again: about a third of the read. Reference counting still frees
    everything that is not a cycle; a cycle made meanwhile is collected afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
