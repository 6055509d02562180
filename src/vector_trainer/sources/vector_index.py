"""Exact cosine search over one function's vectors, held as a normalised in-memory matrix.

The embedded sources (:class:`~.store.SQLiteLogStore`, :class:`~.memory.InMemoryLogs`) build
one :class:`VectorIndex` per function and keep it until their logs change, so a batch of
queries costs blocked matrix products instead of a read of every vector per query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from vector_trainer._shared import usable_rows, vector_problem
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.types import ExecutionLog, NeighborHit

#: Queries answered per matrix product by :meth:`VectorIndex.search_many` (memory: this many
#: rows of similarities to every stored vector).
QUERY_BLOCK = 256


class VectorIndex:
    """Normalised rows and their uuids; ties in similarity are broken by storage order.

    Args:
        uuids: One uuid per row.
        matrix: The vectors, ``len(uuids) x d`` (any float dtype; rows of norm 0 never match).
    """

    def __init__(self, uuids: Sequence[str], matrix: np.ndarray) -> None:
        self.uuids = list(uuids)
        matrix = np.asarray(matrix, dtype=np.float32).reshape(len(self.uuids), -1)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
        self._usable = usable_rows(matrix)
        self.dim = matrix.shape[1]

    @classmethod
    def from_logs(cls, function_name: str, logs: Iterable[ExecutionLog]) -> VectorIndex:
        """The index of the logs that carry a vector (the others are not searched).

        Raises:
            EmptyDataError: If none does.
        """
        kept = [log for log in logs if log.vector is not None]
        if not kept:
            raise EmptyDataError(f"function '{function_name}' has no logs with vectors to search")
        return cls([log.uuid for log in kept], np.stack([np.asarray(log.vector) for log in kept]))

    def __len__(self) -> int:
        return len(self.uuids)

    def _queries(self, vectors: np.ndarray) -> np.ndarray:
        queries = np.asarray(vectors, dtype=np.float32)
        if queries.ndim != 2:
            raise InputError(f"queries must be a 2-d array, one query per row; got shape {queries.shape}")
        if queries.shape[1] != self.dim:
            raise InputError(f"query vector has shape {queries.shape[1:]}, the store holds {self.dim}-d vectors")
        for row, query in enumerate(queries):
            problem = vector_problem(query)
            if problem:
                raise InputError(f"query vector {row} is unusable ({problem}); it must be finite and non-zero")
        return queries / np.linalg.norm(queries, axis=1, keepdims=True)

    def search_many(self, vectors: np.ndarray, *, limit: int, min_similarity: float = -1.0) -> list[list[NeighborHit]]:
        """For each row of ``vectors``, the ``limit`` most similar rows with similarity
        ``>= min_similarity``, best first; one matrix product per block of queries.

        Raises:
            InputError: If a query has the wrong dimension or is not finite and non-zero.
        """
        queries = self._queries(vectors)
        take = max(0, min(limit, len(self.uuids)))
        results: list[list[NeighborHit]] = []
        for q0 in range(0, len(queries), QUERY_BLOCK):
            sims = queries[q0 : q0 + QUERY_BLOCK] @ self._unit.T
            sims[:, ~self._usable] = -np.inf
            if take == 0:
                results.extend([] for _ in range(len(sims)))
                continue
            n = sims.shape[1]
            # The `take`-th best per row; every entry at or above it, ordered by (-similarity,
            # row), so a tie at the cut keeps storage order as a full sort would.
            cut = np.partition(sims, n - take, axis=1)[:, n - take]
            for row_sims, kth in zip(sims, cut, strict=True):
                candidates = np.flatnonzero(row_sims >= kth)
                order = candidates[np.lexsort((candidates, -row_sims[candidates]))][:take]
                hits = [NeighborHit(self.uuids[i], float(row_sims[i])) for i in order if row_sims[i] >= min_similarity]
                results.append(hits)
        return results
