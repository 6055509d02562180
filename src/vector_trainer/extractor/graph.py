"""FR-1.1, FR-1.2: a function's logs as a weighted graph and its densities.

The graph's nodes are a function's SUCCESS logs with a usable vector; the edge weight is cosine
similarity; ``N(i) = {j != i : sim(i, j) >= 1 - epsilon}`` and ``D(i) = sum_{j in N(i)} sim(i, j)``.
``epsilon`` is given, or calibrated from the data (``"auto"``, :func:`.knn.choose_epsilon`). The
same pass keeps each node's most similar other nodes (its row of the graph's heaviest edges),
which both selection strategies read.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from vector_trainer._shared import bulk_reading
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.extractor.engines.base import DensityResult, NeighborEngine, normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.knn import DEFAULT_KNN
from vector_trainer.extractor.epsilon import EpsilonChoice, choose_epsilon
from vector_trainer.extractor.separability import check_separable
from vector_trainer.sources.pages import LogPage, LogTable, log_pages
from vector_trainer.types import STATUS_SUCCESS, DatasetManagerProtocol

MAX_UUIDS_IN_MESSAGE = 10


@dataclass(frozen=True)
class ExcludedLog:
    """A log left out of the graph, and why (``missing_vector``, ``non_finite_vector`` ...)."""

    uuid: str
    reason: str


@dataclass(frozen=True)
class LoadedLogs:
    """A function's logs split into graph nodes and exclusions.

    Attributes:
        usable: The graph's nodes in uuid order, each log built when it is read.
        vectors: Their vectors (float32, as the source gave them), one row per node.
        excluded: The successful logs left out, and why.
        status_counts: Logs by status.
        total: All logs read.
    """

    usable: LogTable
    vectors: np.ndarray = field(repr=False)
    excluded: tuple[ExcludedLog, ...]
    status_counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class GraphAnalysis:
    """Everything computed once per function and reused by both selection strategies."""

    function_name: str
    logs: LogTable
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
    def uuids(self) -> tuple[str, ...]:
        """uuids of the graph's nodes, in node order."""
        return self.logs.uuids


def load_logs(
    manager: DatasetManagerProtocol, function_name: str, *, page_size: int, strict: bool = False
) -> LoadedLogs:
    """Read a function's logs and keep the SUCCESS ones with a usable vector of the common dimension
    and an input and output that JSON can carry (no NaN or infinity).

    The source's pages (:mod:`~vector_trainer.sources.pages`) are checked a block at a time; a
    log is built only when it is read from the result.

    Raises:
        EmptyDataError: No logs, no successful logs, or no usable vectors (saying which and why).
        InputError: With ``strict``, for the first logs that cannot be graph nodes.
    """
    with bulk_reading():
        pages = list(log_pages(manager, function_name, page_size))
        statuses: Counter[str] = Counter(itertools.chain.from_iterable(page.statuses for page in pages))
        total = sum(statuses.values())
        if not total:
            known = ", ".join(manager.list_functions()[:20]) or "none"
            raise EmptyDataError(f"no logs for function '{function_name}' in the source (functions with logs: {known})")
        if not statuses[STATUS_SUCCESS]:
            raise all_failed_error(function_name, statuses)
        nodes, excluded = _graph_nodes(pages, strict)
    if not len(nodes.usable):
        raise EmptyDataError(
            f"none of the {statuses[STATUS_SUCCESS]} successful logs of '{function_name}' has a usable vector "
            f"({exclusion_counts(excluded)}). "
            "VectorWave writes vectors only with @vectorize(capture_return_value=True) and a vectorizer "
            "other than 'weaviate_module'; for the embedded store, re-import with an embedder."
        )
    return LoadedLogs(nodes.usable, nodes.vectors, tuple(excluded), dict(sorted(statuses.items())), total)


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


@dataclass(frozen=True)
class _Nodes:
    usable: LogTable
    vectors: np.ndarray


def _graph_nodes(pages: Sequence[LogPage], strict: bool) -> tuple[_Nodes, list[ExcludedLog]]:
    """The successful rows with a usable vector of the common length and a renderable input and
    output, in uuid order with their vectors, and the others' exclusions (sorted by uuid).

    Raises:
        InputError: With ``strict``, if any successful row cannot be a node.
    """
    unusable: list[tuple[int, int, str]] = []  # (page, row, reason), in reading order
    candidates: dict[int, list[tuple[int, np.ndarray]]] = {}  # length -> (page, rows)
    for p, page in enumerate(pages):
        success = np.fromiter((s == STATUS_SUCCESS for s in page.statuses), dtype=bool, count=len(page))
        problems = page.vectors.reasons
        unusable.extend((p, row, reason) for row, reason in problems.items() if success[row])
        for length in page.vectors.blocks:
            rows = page.vectors.rows_of(length)
            rows = rows[success[rows]]
            text = [(row, page.render_problem(row)) for row in rows.tolist()]
            bad = [(row, reason) for row, reason in text if reason]
            if bad:
                unusable.extend((p, row, reason) for row, reason in bad)
                rows = np.setdiff1d(rows, [row for row, _ in bad])
            candidates.setdefault(length, []).append((p, rows))
    unusable.sort(key=lambda entry: entry[:2])
    excluded = [ExcludedLog(pages[p].uuids[row], reason) for p, row, reason in unusable]
    counts = {length: sum(len(rows) for _, rows in parts) for length, parts in candidates.items()}
    expected = common_dimension({length: count for length, count in counts.items() if count})
    mismatched = sorted(
        (p, row, length)
        for length, parts in candidates.items()
        if length != expected
        for p, rows in parts
        for row in rows.tolist()
    )  # in reading order, as strict's message names the first
    excluded.extend(
        ExcludedLog(pages[p].uuids[row], f"dimension_mismatch: {length}-d, expected {expected}-d")
        for p, row, length in mismatched
    )
    if excluded and strict:
        raise strict_error(excluded)
    excluded.sort(key=lambda e: e.uuid)
    return _nodes(pages, candidates.get(expected, [])), excluded


def _nodes(pages: Sequence[LogPage], parts: Sequence[tuple[int, np.ndarray]]) -> _Nodes:
    """The chosen rows of each page as a table in uuid order, with their vectors (each page's
    block copied once, straight to its rows' places)."""
    parts = [(p, rows) for p, rows in parts if len(rows)]
    page_of = np.concatenate([np.full(len(rows), p, dtype=np.int64) for p, rows in parts] or [np.zeros(0, np.int64)])
    row_of = np.concatenate([rows for _, rows in parts] or [np.zeros(0, np.int64)])
    uuids = [pages[p].uuids[row] for p, row in zip(page_of.tolist(), row_of.tolist(), strict=True)]
    order = np.asarray(sorted(range(len(uuids)), key=uuids.__getitem__), dtype=np.int64)
    place = np.empty_like(order)
    place[order] = np.arange(len(order))
    length = int(pages[parts[0][0]].vectors.lengths[parts[0][1][0]]) if parts else 0
    matrix = np.empty((len(order), length), dtype=np.float32)
    start = 0
    for p, rows in parts:
        matrix[place[start : start + len(rows)]] = pages[p].vectors.block_of(rows)
        start += len(rows)
    return _Nodes(LogTable(pages, page_of[order], row_of[order], [uuids[i] for i in order.tolist()]), matrix)


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
    X = normalize_rows(loaded.vectors)
    check_separable(function_name, logs, X)
    ids = logs.uuids
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
