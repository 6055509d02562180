"""FR-1.1, FR-1.2: a function's logs as a weighted graph and its densities.

The graph's nodes are a function's SUCCESS logs with a usable vector; the edge weight is cosine
similarity; ``N(i) = {j != i : sim(i, j) >= 1 - epsilon}`` and ``D(i) = sum_{j in N(i)} sim(i, j)``.
``epsilon`` is given, or calibrated from the data (``"auto"``, :func:`.knn.choose_epsilon`). The
same pass keeps each node's most similar other nodes (its row of the graph's heaviest edges),
which both selection strategies read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from vector_trainer._shared import bulk_reading, usable_rows, vector_problem
from vector_trainer.chatml import text_problem
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.extractor.engines.base import DensityResult, NeighborEngine, normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.knn import DEFAULT_KNN
from vector_trainer.extractor.epsilon import EpsilonChoice, choose_epsilon
from vector_trainer.extractor.separability import check_separable
from vector_trainer.types import STATUS_SUCCESS, DatasetManagerProtocol, ExecutionLog

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
    excluded: tuple[ExcludedLog, ...]
    status_counts: dict[str, int]
    total_logs: int
    epsilon: EpsilonChoice

    @property
    def threshold(self) -> float:
        """The similarity threshold ``1 - epsilon`` of the graph's edges."""
        return self.epsilon.threshold

    @property
    def neighbour_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """Each node's most similar other nodes: ``(similarities, indices)``, ``n x k``, best first."""
        assert self.result.knn_similarity is not None and self.result.knn_index is not None
        return self.result.knn_similarity, self.result.knn_index

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
    with bulk_reading():
        logs = list(manager.iter_executions(function_name, batch_size=page_size))
    statuses: Counter[str] = Counter(log.status for log in logs)
    if not logs:
        known = ", ".join(manager.list_functions()[:20]) or "none"
        raise EmptyDataError(f"no logs for function '{function_name}' in the source (functions with logs: {known})")
    success = [log for log in logs if log.status == STATUS_SUCCESS]
    if not success:
        raise all_failed_error(function_name, statuses)
    with bulk_reading():
        usable, excluded = _validate_vectors(success, strict)
    if not usable:
        raise EmptyDataError(
            f"none of the {len(success)} successful logs of '{function_name}' has a usable vector "
            f"({exclusion_counts(excluded)}). "
            "VectorWave writes vectors only with @vectorize(capture_return_value=True) and a vectorizer "
            "other than 'weaviate_module'; for the embedded store, re-import with an embedder."
        )
    return LoadedLogs(tuple(usable), tuple(excluded), dict(sorted(statuses.items())), len(logs))


def common_dimension(counts: Mapping[int, int]) -> int:
    """The graph's dimension: the most common among usable vectors (ties: the smaller; 0 for none)."""
    return min(counts, key=lambda d: (-counts[d], d)) if counts else 0


def all_failed_error(function_name: str, statuses: Mapping[str, int]) -> EmptyDataError:
    """The error for a function none of whose logs succeeded (the counts by status in it)."""
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    total = sum(statuses.values())
    return EmptyDataError(f"all {total} logs of '{function_name}' failed ({counts}); there is nothing to train on")


def exclusion_counts(excluded: Sequence[ExcludedLog]) -> str:
    """``missing_vector: 3, zero_vector: 1``: the exclusions counted by reason."""
    reasons = Counter(e.reason.split(":")[0] for e in excluded)
    return ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))


def strict_error(excluded: Sequence[ExcludedLog]) -> InputError:
    """``strict``'s error: how many logs cannot be graph nodes, the first of them and why."""
    shown = "; ".join(f"{e.uuid} ({e.reason})" for e in excluded[:MAX_UUIDS_IN_MESSAGE])
    return InputError(f"{len(excluded)} logs cannot be graph nodes: {shown}")


def _vector_reasons(logs: list[ExecutionLog]) -> list[str | None]:
    """:func:`vector_problem` of every log, checked in bulk for float32 arrays (the usual case)."""
    reasons: list[str | None] = [None] * len(logs)
    by_dim: dict[int, list[int]] = {}
    for i, log in enumerate(logs):
        vector = log.vector
        if isinstance(vector, np.ndarray) and vector.ndim == 1 and vector.dtype == np.float32 and vector.size:
            by_dim.setdefault(vector.size, []).append(i)
        else:
            reasons[i] = vector_problem(vector)
    for rows in by_dim.values():
        matrix = np.stack([np.asarray(logs[i].vector) for i in rows])
        for j in np.flatnonzero(~usable_rows(matrix)):
            reasons[rows[j]] = vector_problem(logs[rows[j]].vector)
    return reasons


def _validate_vectors(logs: list[ExecutionLog], strict: bool) -> tuple[list[ExecutionLog], list[ExcludedLog]]:
    excluded: list[ExcludedLog] = []
    candidates: list[ExecutionLog] = []
    for log, vector_reason in zip(logs, _vector_reasons(logs), strict=True):
        reason = vector_reason or text_problem(log.inputs, log.output)
        if reason:
            excluded.append(ExcludedLog(log.uuid, reason))
        else:
            candidates.append(log)
    dims = Counter(int(np.asarray(log.vector).shape[0]) for log in candidates)
    usable: list[ExecutionLog] = []
    if dims:
        expected = common_dimension(dims)
        for log in candidates:
            dim = int(np.asarray(log.vector).shape[0])
            if dim == expected:
                usable.append(log)
            else:
                excluded.append(ExcludedLog(log.uuid, f"dimension_mismatch: {dim}-d, expected {expected}-d"))
    if excluded and strict:
        raise strict_error(excluded)
    usable.sort(key=lambda log: log.uuid)
    excluded.sort(key=lambda e: e.uuid)
    return usable, excluded


def analyze_graph(
    function_name: str,
    loaded: LoadedLogs,
    engine: NeighborEngine,
    epsilon: float | str,
) -> GraphAnalysis:
    """Densities and neighbour lists of the loaded logs, with ``epsilon`` given or ``"auto"``.

    Raises:
        EmptyDataError: If the vectors cannot separate logs whose inputs differ
            (:func:`~vector_trainer.extractor.separability.check_separable`).
    """
    logs = loaded.usable
    X = normalize_rows(np.stack([np.asarray(log.vector, dtype=np.float32) for log in logs]))
    check_separable(function_name, logs, X)
    ids = [log.uuid for log in logs]
    choice = choose_epsilon(X, epsilon)
    result = engine.density(X, choice.threshold, ids)
    if result.knn_similarity is None:  # an engine that keeps no lists: one exact pass for them
        lists = ExactEngine(knn=DEFAULT_KNN).density(X, choice.threshold, ids)
        result = replace(result, knn_similarity=lists.knn_similarity, knn_index=lists.knn_index)
    return GraphAnalysis(
        function_name=function_name,
        logs=logs,
        vectors=X,
        result=result,
        excluded=loaded.excluded,
        status_counts=loaded.status_counts,
        total_logs=loaded.total,
        epsilon=choice,
    )
