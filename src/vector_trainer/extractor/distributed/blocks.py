"""Blocks of the distributed engine read inside its tasks, from the Parquet layout of
:mod:`vector_trainer.sources.columnar` (one file per task), and the per-block part of
``epsilon="auto"``.

A file's graph nodes are its SUCCESS rows whose vector has the function's dimension and is finite
and non-zero, the rule :func:`.graph.load_logs` applies in memory; the others are reported as
excluded with the same reasons.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vector_trainer._shared import usable_rows, vector_problem
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.sources.columnar import read_columns, read_vectors
from vector_trainer.types import STATUS_SUCCESS

#: Rows of a file read at a time when profiling it.
_COLUMNS = ["uuid", "status", "vector"]


@dataclass(frozen=True)
class FileProfile:
    """A file's statuses and the vector dimensions of its SUCCESS rows."""

    statuses: Counter
    dimensions: Counter


def profile_file(path: Path) -> FileProfile:
    """Count a file's statuses and the dimensions of its SUCCESS rows' usable vectors (finite,
    not zero: the rows :func:`.graph.load_logs` would keep), so both paths agree on the dimension."""
    statuses = read_columns(path, ["status"]).column("status").to_pylist()
    success = np.asarray([s == STATUS_SUCCESS for s in statuses], dtype=bool)
    _, lengths = read_vectors(path, 0)
    dimensions: Counter = Counter()
    for dim in np.unique(lengths[success & (lengths > 0)]).tolist():
        matrix, _ = read_vectors(path, dim)
        rows = success & (lengths == dim)
        dimensions[dim] = int(np.count_nonzero(usable_rows(matrix) & rows))
    return FileProfile(Counter(statuses), +dimensions)


@dataclass(frozen=True)
class FileNodes:
    """What :func:`read_file_block` kept and left out of one file."""

    kept: int
    excluded: tuple[tuple[str, str], ...]


def read_file_block(path: Path, first_row: int, dim: int) -> tuple[tuple[np.ndarray, np.ndarray], FileNodes]:
    """The file's graph nodes as a block ``(global row ids, normalised vectors)``, and the uuids
    and reasons of the SUCCESS rows left out."""
    table = read_columns(path, ["uuid", "status"])
    success = np.asarray([s == STATUS_SUCCESS for s in table.column("status").to_pylist()], dtype=bool)
    matrix, lengths = read_vectors(path, dim)
    present, right_size = lengths >= 0, lengths == dim
    usable = right_size & usable_rows(matrix)
    keep = success & usable
    uuids = table.column("uuid").to_pylist()
    excluded = []
    for row in np.flatnonzero(success & ~keep):
        if not present[row]:
            reason = "missing_vector"
        elif not right_size[row]:
            reason = f"dimension_mismatch: {lengths[row]}-d, expected {dim}-d"
        else:
            reason = vector_problem(matrix[row]) or "unusable_vector"
        excluded.append((uuids[row], reason))
    rows = np.flatnonzero(keep)
    block = (rows.astype(np.int64) + first_row, normalize_rows(matrix[rows]))
    return block, FileNodes(int(rows.size), tuple(excluded))


def sample_kth(block: tuple[np.ndarray, np.ndarray], sample: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """Each sampled row's ``k`` largest similarities to the block's rows (itself excluded),
    ``sample x k``, ``-inf`` padded: merged over blocks, the ``k``-th is what
    :func:`.knn.choose_epsilon` reads."""
    ids, X = block
    sims = sample[1] @ X.T
    sims[sample[0][:, None] == ids[None, :]] = -np.inf
    width = sims.shape[1]
    if width < k:
        return np.concatenate((sims, np.full((len(sims), k - width), -np.inf, dtype=np.float32)), axis=1)
    return np.partition(sims, width - k, axis=1)[:, width - k :]
