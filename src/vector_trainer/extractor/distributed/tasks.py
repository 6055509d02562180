"""The bodies of the distributed engine's tasks, in plain NumPy (Ray only schedules them).

A *block* is ``(ids, vectors)``: global row numbers (int64) and their L2-normalised float32 rows.

1. :func:`block_statistics` (one task per block): how many of the block's points each cell would
   receive as candidates at each probe rank, and the calibration sample's true neighbours in it.
2. :func:`route_block` (one task per block): the block split into one :class:`RoutedPiece` per
   partition of cells, its queries and (once per partition) its candidate rows.
3. :func:`scan_partition` (one task per partition): every cell of the partition scanned
   (:func:`.cells.scan_cell`), with the per-log results and each cell's local steady picks
   (:func:`local_steady_picks`), the first round of the two-round selection of
   :mod:`.distributed_selection`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vector_trainer.extractor.distributed.cells import (
    CellScan,
    SamplePairs,
    positions_of,
    probe_order,
    sample_pairs,
    scan_cell,
)
from vector_trainer.extractor.selection import (
    FACILITY_NEIGHBOURS,
    VectorDedup,
    facility_weights,
    greedy_facility_location,
    represented_counts,
)

Block = tuple[np.ndarray, np.ndarray]
#: A cell offers this many times its proportional share of the steady picks to the second round.
LOCAL_OVERSAMPLE = 4
#: ... and at least this many.
LOCAL_PICKS_MIN = 2


@dataclass(frozen=True)
class BlockStatistics:
    """What :func:`block_statistics` measured on one block.

    Attributes:
        replicas: ``cells x max_probes``: points whose probe rank ``r`` is that cell.
        pairs: The calibration sample's true neighbours in the block.
    """

    replicas: np.ndarray
    pairs: SamplePairs


def block_statistics(
    block: Block,
    centroids: np.ndarray,
    max_probes: int,
    sample: Block,
    sample_cells: np.ndarray,
    threshold: float,
) -> BlockStatistics:
    """Replica counts by (cell, probe rank) and the sample's neighbour pairs of one block."""
    ids, X = block
    order = probe_order(X, centroids, max_probes)
    cells = centroids.shape[0]
    ranks = np.broadcast_to(np.arange(order.shape[1]), order.shape)
    replicas = np.bincount((order * order.shape[1] + ranks).ravel(), minlength=cells * order.shape[1])
    pairs = sample_pairs(X, ids, sample[1], sample[0], sample_cells, centroids, threshold)
    return BlockStatistics(replicas.reshape(cells, order.shape[1]), pairs)


@dataclass(frozen=True)
class RoutedPiece:
    """The rows of one block bound for one partition.

    Attributes:
        query_ids: Rows whose own cell is in the partition, and ``query_cells`` that cell.
        query_cells: See ``query_ids``.
        rows: Candidate rows (each once), with ``row_ids`` their global ids.
        row_ids: See ``rows``.
        link_row: For each (candidate, cell) link, the candidate's position in ``rows``.
        link_cell: The cell of each link.
    """

    query_ids: np.ndarray
    query_cells: np.ndarray
    rows: np.ndarray
    row_ids: np.ndarray
    link_row: np.ndarray
    link_cell: np.ndarray


def route_block(block: Block, centroids: np.ndarray, probes: int, partition_of_cell: np.ndarray) -> list[RoutedPiece]:
    """One :class:`RoutedPiece` per partition (``partition_of_cell`` maps cells to partitions)."""
    ids, X = block
    order = probe_order(X, centroids, probes)
    partitions = int(partition_of_cell.max()) + 1
    own_part = partition_of_cell[order[:, 0]]
    link_point = np.repeat(np.arange(len(ids)), order.shape[1])
    link_cell = order.ravel()
    link_part = partition_of_cell[link_cell]
    pieces = []
    for part in range(partitions):
        mine = link_part == part
        points, link_row = np.unique(link_point[mine], return_inverse=True)
        queries = np.flatnonzero(own_part == part)
        pieces.append(
            RoutedPiece(
                query_ids=ids[queries],
                query_cells=order[queries, 0],
                rows=np.ascontiguousarray(X[points]),
                row_ids=ids[points],
                link_row=link_row.astype(np.int64),
                link_cell=link_cell[mine],
            )
        )
    return pieces


@dataclass(frozen=True)
class LocalPicks:
    """A cell's own steady picks (first round of the distributed selection).

    Attributes:
        ids: Global ids of the picks, in pick order.
        region_sizes: Logs of the cell each pick represents best.
        vectors: The picks' rows.
        stats: ``density, neighbor_count, nearest_similarity`` of each pick (``m x 3``).
    """

    ids: np.ndarray
    region_sizes: np.ndarray
    vectors: np.ndarray
    stats: np.ndarray


@dataclass(frozen=True)
class PartitionResult:
    """A partition's per-log results, its cells' local steady picks, and what the task did.

    Attributes:
        scan: Per-query results.
        picks: Each cell's local steady picks.
        received_rows: Candidate rows the task received (the bytes moved to it, in rows).
        pairs: Similarities it computed.
        seconds: Its wall time.
    """

    scan: CellScan
    picks: tuple[LocalPicks, ...]
    received_rows: int = 0
    pairs: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class SteadyRound:
    """The first selection round's settings: the run's ``top_k``, ``min_cluster_size`` and
    ``dedup_threshold`` (a cell offers no near-duplicate of its own earlier offers)."""

    top_k: int
    min_cluster_size: int
    dedup_threshold: float


def local_steady_picks(queries: np.ndarray, scan: CellScan, budget: int, steady: SteadyRound) -> LocalPicks:
    """Greedy facility location inside one cell: clients and facilities are the cell's own
    queries, weighted by their heaviest edges (as :func:`.selection.select_steady` does on the
    whole graph), so each cell offers its ``budget`` best representatives."""
    lists = scan.knn_index[:, :FACILITY_NEIGHBOURS]
    index = positions_of(lists.ravel(), scan.ids).reshape(lists.shape)  # -1: a neighbour of another cell
    weights = facility_weights(scan.knn_similarity[:, :FACILITY_NEIGHBOURS], index)
    eligible = scan.neighbor_count + 1 >= steady.min_cluster_size
    dedup = VectorDedup(steady.dedup_threshold, queries.shape[1])

    def accept(node: int) -> bool:
        return dedup.accept(queries[node])

    def similarity_to(node: int) -> np.ndarray:
        return np.maximum(queries @ queries[node], 0.0)

    picks, _gains = greedy_facility_location(weights, index, eligible, budget, accept, similarity_to)
    sizes = represented_counts(weights, index, picks)
    nodes = np.asarray(picks, dtype=np.int64)
    stats = np.column_stack((scan.density[nodes], scan.neighbor_count[nodes], scan.nearest_similarity[nodes]))
    return LocalPicks(scan.ids[nodes], np.asarray(sizes, dtype=np.int64), queries[nodes], stats)


def local_budget(top_k: int, cell_logs: int, total_logs: int) -> int:
    """Steady picks a cell offers the second round: :data:`LOCAL_OVERSAMPLE` times its share of
    ``top_k`` (a cell of 1% of the logs would get about 1% of the picks from one greedy pass over
    the whole graph), at least :data:`LOCAL_PICKS_MIN`, at most ``top_k``; so the pool on the
    driver grows with the cells, not with ``cells x top_k``."""
    share = math.ceil(LOCAL_OVERSAMPLE * top_k * cell_logs / max(total_logs, 1))
    return min(top_k, max(LOCAL_PICKS_MIN, share))


def scan_partition(
    pieces: Sequence[RoutedPiece],
    threshold: float,
    k: int,
    steady: SteadyRound | None = None,
    total_logs: int = 0,
) -> PartitionResult:
    """Scan every cell of a partition: its queries against the candidates linked to it; with a
    ``steady`` round, each cell's local steady picks too."""
    start = time.perf_counter()
    rows = np.concatenate([p.rows for p in pieces])
    row_ids = np.concatenate([p.row_ids for p in pieces])
    offsets = np.cumsum([0] + [len(p.rows) for p in pieces[:-1]])
    link_row = np.concatenate([p.link_row + off for p, off in zip(pieces, offsets, strict=True)])
    link_cell = np.concatenate([p.link_cell for p in pieces])
    query_ids = np.concatenate([p.query_ids for p in pieces])
    query_cells = np.concatenate([p.query_cells for p in pieces])
    query_rows = positions_of(query_ids, row_ids)  # a query is always a candidate of its own cell
    scans: list[CellScan] = []
    picks: list[LocalPicks] = []
    pairs = 0
    for cell in np.unique(query_cells):
        mine = np.flatnonzero(query_cells == cell)
        linked = link_row[link_cell == cell]
        pairs += len(mine) * len(linked)
        queries = rows[query_rows[mine]]
        scan = scan_cell(queries, query_ids[mine], rows[linked], row_ids[linked], threshold, k)
        scans.append(scan)
        if steady is not None:
            budget = local_budget(steady.top_k, len(mine), total_logs or len(query_ids))
            picks.append(local_steady_picks(queries, scan, budget, steady))
    seconds = time.perf_counter() - start
    return PartitionResult(_concat_scans(scans, k), tuple(picks), len(rows), pairs, seconds)


def _concat_scans(scans: list[CellScan], k: int) -> CellScan:
    if not scans:
        empty = np.empty(0)
        return CellScan(
            empty.astype(np.int64),
            empty,
            empty.astype(np.int64),
            empty.astype(np.float32),
            np.empty((0, k), np.float32),
            np.empty((0, k), np.int64),
        )
    return CellScan(*(np.concatenate([getattr(s, f) for s in scans]) for f in CellScan.__dataclass_fields__))
