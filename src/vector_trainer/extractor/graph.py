"""FR-1.1, FR-1.2: a function's logs as a weighted graph, its densities and its dense regions.

The graph's nodes are a function's SUCCESS logs with a usable vector; the edge weight is cosine
similarity; ``N(i) = {j != i : sim(i, j) >= 1 - epsilon}`` and ``D(i) = sum_{j in N(i)} sim(i, j)``.
Regions come from a greedy cover in decreasing density: the densest uncovered node and its
uncovered neighbours form a region when they number at least ``min_cluster_size``; each region
is ordered medoid first (the member with the largest summed similarity to the others).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vector_trainer._shared import vector_problem
from vector_trainer.chatml import text_problem
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.extractor.engines import DensityResult, NeighborEngine, normalize_rows
from vector_trainer.types import STATUS_SUCCESS, DatasetManagerProtocol, ExecutionLog

#: Nodes whose neighbour sets are fetched per call while building regions.
NEIGHBOR_BATCH = 64
MAX_UUIDS_IN_MESSAGE = 10


@dataclass(frozen=True)
class ExcludedLog:
    """A log left out of the graph, and why (``missing_vector``, ``non_finite_vector`` ...)."""

    uuid: str
    reason: str


@dataclass(frozen=True)
class LoadedLogs:
    """A function's logs split into graph nodes and exclusions."""

    usable: tuple[ExecutionLog, ...]
    excluded: tuple[ExcludedLog, ...]
    status_counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class GraphAnalysis:
    """Everything computed once per function and reused by both selection strategies."""

    function_name: str
    logs: tuple[ExecutionLog, ...]
    vectors: np.ndarray = field(repr=False)
    result: DensityResult = field(repr=False)
    regions: tuple[np.ndarray, ...] = field(repr=False)
    excluded: tuple[ExcludedLog, ...]
    status_counts: dict[str, int]
    total_logs: int
    threshold: float = 0.7

    @property
    def uuids(self) -> list[str]:
        """uuids of the graph's nodes, in node order."""
        return [log.uuid for log in self.logs]


def load_logs(
    manager: DatasetManagerProtocol, function_name: str, *, page_size: int, strict: bool = False
) -> LoadedLogs:
    """Read a function's logs and keep the SUCCESS ones with a usable vector of the common dimension
    and an input and output that JSON can carry (no NaN or infinity).

    Raises:
        EmptyDataError: No logs, no successful logs, or no usable vectors (saying which and why).
        InputError: With ``strict``, for the first logs that cannot be graph nodes.
    """
    logs = list(manager.iter_executions(function_name, batch_size=page_size))
    statuses: Counter[str] = Counter(log.status for log in logs)
    if not logs:
        known = ", ".join(manager.list_functions()[:20]) or "none"
        raise EmptyDataError(f"no logs for function '{function_name}' in the source (functions with logs: {known})")
    success = [log for log in logs if log.status == STATUS_SUCCESS]
    if not success:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        raise EmptyDataError(
            f"all {len(logs)} logs of '{function_name}' failed ({counts}); there is nothing to train on"
        )
    usable, excluded = _validate_vectors(success, strict)
    if not usable:
        reasons = Counter(e.reason.split(":")[0] for e in excluded)
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        raise EmptyDataError(
            f"none of the {len(success)} successful logs of '{function_name}' has a usable vector ({detail}). "
            "VectorWave writes vectors only with @vectorize(capture_return_value=True) and a vectorizer "
            "other than 'weaviate_module'; for the embedded store, re-import with an embedder."
        )
    return LoadedLogs(tuple(usable), tuple(excluded), dict(sorted(statuses.items())), len(logs))


def _validate_vectors(logs: list[ExecutionLog], strict: bool) -> tuple[list[ExecutionLog], list[ExcludedLog]]:
    excluded: list[ExcludedLog] = []
    candidates: list[ExecutionLog] = []
    for log in logs:
        reason = vector_problem(log.vector) or text_problem(log.inputs, log.output)
        if reason:
            excluded.append(ExcludedLog(log.uuid, reason))
        else:
            candidates.append(log)
    dims = Counter(int(np.asarray(log.vector).shape[0]) for log in candidates)
    usable: list[ExecutionLog] = []
    if dims:
        expected = min(dims, key=lambda d: (-dims[d], d))
        for log in candidates:
            dim = int(np.asarray(log.vector).shape[0])
            if dim == expected:
                usable.append(log)
            else:
                excluded.append(ExcludedLog(log.uuid, f"dimension_mismatch: {dim}-d, expected {expected}-d"))
    if excluded and strict:
        shown = "; ".join(f"{e.uuid} ({e.reason})" for e in excluded[:MAX_UUIDS_IN_MESSAGE])
        raise InputError(f"{len(excluded)} logs cannot be graph nodes: {shown}")
    usable.sort(key=lambda log: log.uuid)
    excluded.sort(key=lambda e: e.uuid)
    return usable, excluded


def analyze_graph(
    function_name: str,
    loaded: LoadedLogs,
    engine: NeighborEngine,
    threshold: float,
    min_cluster_size: int,
) -> GraphAnalysis:
    """Densities and dense regions of the loaded logs."""
    logs = loaded.usable
    X = normalize_rows(np.stack([np.asarray(log.vector, dtype=np.float32) for log in logs]))
    ids = [log.uuid for log in logs]
    result = engine.density(X, threshold, ids)
    regions = greedy_cover(X, result, ids, engine, threshold, min_cluster_size)
    return GraphAnalysis(
        function_name=function_name,
        logs=logs,
        vectors=X,
        result=result,
        regions=tuple(regions),
        excluded=loaded.excluded,
        status_counts=loaded.status_counts,
        total_logs=loaded.total,
        threshold=threshold,
    )


def greedy_cover(
    X: np.ndarray,
    result: DensityResult,
    ids: Sequence[str],
    engine: NeighborEngine,
    threshold: float,
    min_cluster_size: int,
) -> list[np.ndarray]:
    """Greedy cover in decreasing density; returns regions as index arrays, medoid first."""
    n = X.shape[0]
    order = np.lexsort((np.asarray(ids), -result.density))
    eligible = order[result.neighbor_count[order] + 1 >= min_cluster_size]
    covered = np.zeros(n, dtype=bool)
    regions: list[np.ndarray] = []
    for start in range(0, len(eligible), NEIGHBOR_BATCH):
        batch = np.asarray([i for i in eligible[start : start + NEIGHBOR_BATCH] if not covered[i]], dtype=np.int64)
        if batch.size == 0:
            continue
        for node, neighbours in zip(batch, engine.neighbors(X, batch, threshold, ids), strict=True):
            if covered[node]:
                continue
            members = np.concatenate(([node], neighbours[~covered[neighbours]])).astype(np.int64)
            if members.size < min_cluster_size:
                continue
            covered[members] = True
            regions.append(medoid_first(X, members, ids))
    return regions


def medoid_first(X: np.ndarray, members: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """``members`` reordered so the medoid (max summed similarity to the region) comes first."""
    block = X[members]
    affinity = block @ block.sum(axis=0)
    member_ids = np.asarray([ids[int(i)] for i in members])
    best = int(np.lexsort((member_ids, -affinity))[0])
    return np.concatenate(([members[best]], np.delete(members, best)))
