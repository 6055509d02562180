"""Density through the source's own ``near_vector`` (FR-1.5): scores vectors against a store
without pulling every vector (no neighbour lists)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vector_trainer._shared import vector_problem
from vector_trainer.errors import InputError
from vector_trainer.extractor.engines.base import DEFAULT_ANN_K, THRESHOLD_TOLERANCE, DensityResult, normalize_rows
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog


class ManagerEngine:
    """Density through the dataset manager's ``near_vector`` (FR-1.5), one query per node.

    Use it to score logs against a large store without pulling every vector; ``ids`` must be
    the uuids of the rows so that a node is not counted as its own neighbour.

    Args:
        manager: The injected source.
        function_name: Function whose logs are searched.
        limit: Most neighbours retrieved per query (density sums at most this many).
    """

    name = "manager-near-vector"

    def __init__(self, manager: DatasetManagerProtocol, function_name: str, limit: int = DEFAULT_ANN_K) -> None:
        self.manager, self.function_name, self.limit = manager, function_name, limit

    def _hits(self, X: np.ndarray, threshold: float) -> list[list[tuple[str, float]]]:
        """Each row's hits: one batched call when the source has ``near_vectors`` (the embedded
        sources answer a batch with blocked matrix products), else one ``near_vector`` per row."""
        limit, floor = self.limit + 1, threshold - THRESHOLD_TOLERANCE
        batched = getattr(self.manager, "near_vectors", None)
        if batched is not None:
            answers = batched(self.function_name, X, limit=limit, min_similarity=floor)
        else:
            answers = [
                self.manager.near_vector(self.function_name, row.tolist(), limit=limit, min_similarity=floor)
                for row in X
            ]
        return [[(hit.uuid, hit.similarity) for hit in hits] for hits in answers]

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str]) -> DensityResult:
        n = X.shape[0]
        density = np.zeros(n, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        nearest = np.full(n, -1.0, dtype=np.float32)
        for row, row_hits in enumerate(self._hits(X, threshold)):
            hits = [(u, s) for u, s in row_hits if u != ids[row]][: self.limit]
            count[row] = len(hits)
            density[row] = sum(s for _, s in hits)
            if hits:
                nearest[row] = max(s for _, s in hits)
        note = f"through the store's near_vector; density sums at most {self.limit} neighbours per node"
        return DensityResult(density, count, nearest, self.name, approximate=True, note=note)

    def score(self, logs: Sequence[ExecutionLog], threshold: float) -> list[dict[str, Any]]:
        """Density of ``logs`` (with vectors) against the source's stored logs of the function:
        one ``{"uuid", "density", "neighbor_count", "nearest_similarity"}`` per log, in order.

        Raises:
            InputError: If a log has no usable vector.
        """
        for log in logs:
            problem = vector_problem(log.vector)
            if problem:
                raise InputError(f"log {log.uuid}: {problem}; only logs with a finite, non-zero vector can be scored")
        if not logs:
            return []
        X = normalize_rows(np.stack([np.asarray(log.vector, dtype=np.float32) for log in logs]))
        ids = [log.uuid for log in logs]
        result = self.density(X, threshold, ids)
        return [
            {
                "uuid": uuid,
                "density": float(result.density[i]),
                "neighbor_count": int(result.neighbor_count[i]),
                "nearest_similarity": float(result.nearest_similarity[i]),
            }
            for i, uuid in enumerate(ids)
        ]
