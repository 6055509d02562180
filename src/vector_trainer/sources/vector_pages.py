"""A page of raw vectors turned into arrays in one vectorised pass (issue 31).

A log source that hands vectors over as Python lists (VectorWave's Weaviate objects, a LanceDB
page turned into rows) used to pay one ``np.asarray`` and one set of checks per log. Here a page
is converted at once: rows of the same length become one float64 block, checked in bulk for the
rules every source shares, and each usable row is handed on as a row of one float32 block, the
form the extractor's own bulk check takes without copying element by element:

* a missing vector, an empty one, and an all-zero finite one (how VectorWave Lite stores a row
  without a vector) are ``None``;
* a row that float32 cannot carry (non-finite, beyond float32's range, a norm that underflows)
  stays float64, so the extractor names what is wrong with it;
* anything else is converted alone; a value that is no list of numbers at all (text, complex
  numbers, ragged lists) is kept as it came, so the extractor excludes its log by uuid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vector_trainer._shared import usable_rows

#: Name of VectorWave's default named vector.
DEFAULT_VECTOR_NAME = "default"


def default_vector(raw: Any) -> Any:
    """The ``default`` entry of a named-vector mapping (the first one without it), else ``raw``."""
    if isinstance(raw, Mapping):
        return raw.get(DEFAULT_VECTOR_NAME, next(iter(raw.values()), None) if raw else None)
    return raw


def extract_vector(raw: Any) -> np.ndarray | None:
    """The ``default`` vector of one object as float64, or ``None`` if it has none (or only zeros,
    which is how VectorWave Lite stores a row without a vector)."""
    raw = default_vector(raw)
    if raw is None:
        return None
    vector = np.asarray(raw, dtype=np.float64)
    if vector.size == 0 or (np.all(np.isfinite(vector)) and not np.any(vector)):
        return None
    return vector


def block_vectors(block: np.ndarray) -> list[np.ndarray | None]:
    """Each row of a 2-D numeric block as a log's vector (see the module docstring); a row is
    usable by the rule every source shares (:func:`~vector_trainer._shared.usable_rows`)."""
    block = np.asarray(block, dtype=np.float64)
    if block.shape[1] == 0:
        return [None] * len(block)
    with np.errstate(over="ignore"):  # beyond float32: that row is unusable, and named so
        single = block.astype(np.float32)
    usable = usable_rows(single)
    empty = np.isfinite(block).all(axis=1) & ~block.any(axis=1)
    rows: list[np.ndarray | None] = list(single)
    for i in np.flatnonzero(~usable).tolist():
        rows[i] = None if empty[i] else block[i]
    return rows


def _alone(value: Any) -> Any:
    """One raw vector converted alone; one that is no list of numbers (text, complex numbers,
    ragged lists, an integer beyond float64) is kept as it came, so the extractor excludes its
    log by uuid as ``malformed_vector`` or ``non_finite_vector`` instead of failing the read."""
    try:
        return extract_vector(value)
    except (TypeError, ValueError, OverflowError):
        return value


def _flat(value: Any) -> bool:
    """Whether ``value`` looks like one flat vector (a list, tuple or 1-d array)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype != object
    return isinstance(value, (list, tuple)) and not any(isinstance(item, (list, tuple, dict)) for item in value[:1])


def page_vectors(raws: Sequence[Any]) -> list[Any]:
    """The vectors of a page of raw vectors (lists, arrays, named-vector mappings or ``None``):
    arrays, ``None`` for none, or the raw value of one that is not a vector (see :func:`_alone`)."""
    values = [default_vector(raw) for raw in raws]
    out: list[Any] = [None] * len(values)
    by_length: dict[int, list[int]] = {}
    for i, value in enumerate(values):
        if _flat(value):
            by_length.setdefault(len(value), []).append(i)
        elif value is not None:
            out[i] = _alone(value)
    for indices in by_length.values():
        try:
            block = np.asarray([values[i] for i in indices], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):  # not all numbers: each alone
            block = None
        if block is None or block.ndim != 2:
            for i in indices:
                out[i] = _alone(values[i])
            continue
        for i, vector in zip(indices, block_vectors(block), strict=True):
            out[i] = vector
    return out


def arrow_rows(column: Any) -> list[Any]:
    """The raw vectors of an Arrow vector column: rows of one array for LanceDB's fixed-size
    lists of numbers (no Python floats made), Python values otherwise."""
    import pyarrow as pa

    if pa.types.is_fixed_size_list(column.type) and column.null_count == 0 and len(column):
        values = column.flatten().to_numpy(zero_copy_only=False)
        if np.issubdtype(values.dtype, np.number):
            return list(values.reshape(len(column), column.type.list_size))
    return list(column.to_pylist())
