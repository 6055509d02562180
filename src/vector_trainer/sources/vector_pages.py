"""A page of raw vectors turned into arrays in one vectorised pass (issue 31).

A log source that hands vectors over as Python lists (VectorWave's Weaviate objects), as rows of
an Arrow column (a LanceDB page) or as arrays used to pay one ``np.asarray`` and one set of checks
per log. Here a page is converted at once into :class:`PageVectors`: the usable vectors of each
length as one float32 block, checked in bulk for the rules every source shares
(:func:`~vector_trainer._shared.usable_rows`), and the rest one by one:

* a missing vector, an empty one, and an all-zero finite one (how VectorWave Lite stores a row
  without a vector) are ``None``;
* a row that float32 cannot carry (non-finite, beyond float32's range, a norm that underflows)
  stays float64, so the extractor names what is wrong with it;
* anything else is converted alone; a value that is no list of numbers at all (text, complex
  numbers, ragged lists) is kept as it came, so the extractor excludes its log by uuid.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vector_trainer._shared import usable_rows, vector_problem

#: Name of VectorWave's default named vector.
DEFAULT_VECTOR_NAME = "default"


@dataclass(frozen=True)
class PageVectors:
    """The vectors of a page of logs: usable ones in one float32 block per length, the rest kept
    one by one with what is wrong with them.

    Attributes:
        blocks: By length, the page's usable vectors of that length as one float32 matrix, in
            row order.
        lengths: Each row's vector length when it is usable, else 0.
        slots: Each usable row's position in its length's block.
        others: The rows without a usable vector: ``None`` (none), a float64 array (one float32
            cannot carry) or the value as it came (no list of numbers).
        reasons: Why each of ``others`` is no usable vector
            (:func:`~vector_trainer._shared.vector_problem`).
    """

    blocks: Mapping[int, np.ndarray]
    lengths: np.ndarray = field(repr=False)
    slots: np.ndarray = field(repr=False)
    others: Mapping[int, Any] = field(repr=False)
    reasons: Mapping[int, str] = field(repr=False)

    def __len__(self) -> int:
        return len(self.lengths)

    def value(self, row: int) -> Any:
        """Row ``row``'s vector as its log holds it: a float32 row of its block when usable."""
        length = int(self.lengths[row])
        return self.blocks[length][self.slots[row]] if length else self.others.get(row)

    def values(self) -> list[Any]:
        """:meth:`value` of every row."""
        return [self.value(row) for row in range(len(self))]

    def rows_of(self, length: int) -> np.ndarray:
        """The rows whose vector is usable and ``length`` long, in the order of their block."""
        return np.flatnonzero(self.lengths == length)

    def block_of(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows``, all usable and of one length, as one float32 matrix."""
        return self.blocks[int(self.lengths[rows[0]])][self.slots[rows]]


class _Collector:
    """Assembles a :class:`PageVectors` from blocks and loose values."""

    def __init__(self, size: int) -> None:
        self._rows: dict[int, list[np.ndarray]] = {}
        self._parts: dict[int, list[np.ndarray]] = {}
        self.others: dict[int, Any] = {}
        self.reasons: dict[int, str] = {}
        self.size = size

    def unusable(self, row: int, value: Any, reason: str) -> None:
        """A row without a usable vector: its value as a log holds it, and why."""
        self.others[row] = value
        self.reasons[row] = reason

    def usable(self, rows: np.ndarray, block: np.ndarray) -> None:
        """Rows known usable, and their float32 vectors."""
        if len(rows):
            self._rows.setdefault(block.shape[1], []).append(rows)
            self._parts.setdefault(block.shape[1], []).append(block)

    def block(
        self, rows: np.ndarray, block: np.ndarray, originals: Sequence[Any] | None = None, *, zeros_missing: bool = True
    ) -> None:
        """A 2-D numeric block of rows: usable rows kept as float32, the rest as float64 (or,
        given ``originals``, as they came); with ``zeros_missing``, an empty or all-zero row is
        ``None`` (VectorWave Lite's row without a vector)."""
        if block.shape[1] == 0 and zeros_missing:
            for row in rows.tolist():
                self.unusable(row, None, "missing_vector")
            return
        with np.errstate(over="ignore"):  # beyond float32: that row is unusable, and named so
            single = block if block.dtype == np.float32 else block.astype(np.float32)
        ok = usable_rows(single)
        self.usable(rows[ok], single[ok])
        if ok.all():
            return
        wide = np.asarray(block, dtype=np.float64)
        empty = np.asarray(np.isfinite(wide).all(axis=1) & ~wide.any(axis=1))
        for i in np.flatnonzero(~ok).tolist():  # the bulk check flags; the one rule decides
            kept = originals[i] if originals is not None else (None if empty[i] and zeros_missing else wide[i])
            reason = vector_problem(kept)
            if reason is None:  # at float32's edge, where the two sums round apart
                self.usable(rows[i : i + 1], single[i : i + 1])
            else:
                self.unusable(int(rows[i]), kept, reason)

    def loose(self, row: int, value: Any) -> None:
        """One value: usable vectors join their length's block, the rest are kept as they are."""
        reason = vector_problem(value)
        if reason is None:
            vector = np.asarray(value, dtype=np.float32)
            self.usable(np.array([row]), vector[None, :])
        else:
            self.unusable(row, value, reason)

    def done(self) -> PageVectors:
        lengths = np.zeros(self.size, dtype=np.int64)
        slots = np.zeros(self.size, dtype=np.int64)
        blocks: dict[int, np.ndarray] = {}
        for length, parts in self._parts.items():
            rows = np.concatenate(self._rows[length])
            matrix = np.concatenate(parts) if len(parts) > 1 else parts[0]
            if len(parts) > 1:  # a row added alone at float32's edge: back to row order
                order = np.argsort(rows, kind="stable")
                rows, matrix = rows[order], matrix[order]
            lengths[rows] = length
            slots[rows] = np.arange(len(rows))
            blocks[length] = np.ascontiguousarray(matrix, dtype=np.float32)
        return PageVectors(blocks, lengths, slots, self.others, self.reasons)


def default_vector(raw: Any) -> Any:
    """The ``default`` entry of a named-vector mapping (the first one without it), else ``raw``."""
    if type(raw) is dict or isinstance(raw, Mapping):  # a dict told before the slower ABC check
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
    if type(value) is list:  # the usual case, told before the slower checks
        return not value or not isinstance(value[0], (list, tuple, dict))
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype != object
    return isinstance(value, (list, tuple)) and not any(isinstance(item, (list, tuple, dict)) for item in value[:1])


def _numeric_block(rows: list[Any], length: int) -> np.ndarray | None:
    """Rows of ``length`` numbers as one float64 block (read as one stream of numbers, a quarter
    faster than ``np.asarray`` on nested lists), or ``None`` if they are not all numbers."""
    try:
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * length)
    except (TypeError, ValueError, OverflowError):
        return None
    return flat.reshape(len(rows), length)


def page_vectors(raws: Sequence[Any]) -> PageVectors:
    """The vectors of a page of raw vectors (lists, arrays, named-vector mappings or ``None``),
    rows of the same length converted and checked in one pass (see the module docstring)."""
    values = [default_vector(raw) for raw in raws]
    collector = _Collector(len(values))
    by_length: dict[int, list[int]] = {}
    for i, value in enumerate(values):
        if _flat(value):
            by_length.setdefault(len(value), []).append(i)
        else:
            collector.loose(i, _alone(value) if value is not None else None)
    for length, indices in by_length.items():
        block = _numeric_block([values[i] for i in indices], length)
        if block is None:
            for i in indices:
                collector.loose(i, _alone(values[i]))
            continue
        collector.block(np.asarray(indices, dtype=np.int64), block)
    return collector.done()


def block_vectors(block: np.ndarray) -> PageVectors:
    """A page whose vectors are the rows of one 2-D numeric block (see the module docstring)."""
    collector = _Collector(len(block))
    collector.block(np.arange(len(block)), np.asarray(block))
    return collector.done()


def log_vectors(vectors: Sequence[Any]) -> PageVectors:
    """A page of logs' own vectors (``ExecutionLog.vector``), each kept as the log holds it:
    float32 arrays are checked in bulk, anything else alone; a usable vector joins its block as
    float32, an unusable one stays as it came."""
    collector = _Collector(len(vectors))
    by_length: dict[int, list[int]] = {}
    for i, vector in enumerate(vectors):
        if isinstance(vector, np.ndarray) and vector.ndim == 1 and vector.dtype == np.float32 and vector.size:
            by_length.setdefault(vector.size, []).append(i)
        else:
            collector.loose(i, vector)
    for indices in by_length.values():
        block = np.stack([vectors[i] for i in indices])
        collector.block(np.asarray(indices, dtype=np.int64), block, [vectors[i] for i in indices])
    return collector.done()


def blob_vectors(blobs: Sequence[bytes | None]) -> PageVectors:
    """The vectors of a page of little-endian float32 blobs (the embedded store's column), the
    blobs of each length read as one block. An all-zero vector stays a vector (``zero_vector``);
    ``None`` is no vector; a blob that is no whole number of floats is kept as it came."""
    collector = _Collector(len(blobs))
    by_size: dict[int, tuple[list[int], list[bytes]]] = {}
    for i, blob in enumerate(blobs):
        if blob is None or len(blob) % 4:
            collector.loose(i, blob)
        else:
            indices, parts = by_size.setdefault(len(blob), ([], []))
            indices.append(i)
            parts.append(blob)
    for size, (indices, parts) in by_size.items():
        block = np.frombuffer(b"".join(parts), dtype="<f4").reshape(len(indices), size // 4)
        collector.block(np.asarray(indices, dtype=np.int64), block, zeros_missing=False)
    return collector.done()


def arrow_vectors(column: Any) -> PageVectors:
    """The vectors of an Arrow vector column: a LanceDB fixed-size list of numbers becomes one
    block without making a Python float; any other column is converted value by value."""
    import pyarrow as pa

    if pa.types.is_fixed_size_list(column.type) and column.null_count == 0 and len(column):
        values = column.flatten().to_numpy(zero_copy_only=False)
        if np.issubdtype(values.dtype, np.number):
            return block_vectors(values.reshape(len(column), column.type.list_size))
    return page_vectors(column.to_pylist())
