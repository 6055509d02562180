"""Cells: the unit of work of the distributed engine (:mod:`.ray_engine`), in plain NumPy.

The vectors are partitioned into ``C`` cells by spherical k-means centroids trained on a sample.
Each point ``j`` ranks the centroids by similarity; its *probe cells* are its ``P`` best. The
point is a **query** of its best cell and a **candidate** of each of its probe cells, so a cell
``c`` is scanned as ``queries(c) x candidates(c)``:

* every query's result is computed in one place (no merge across tasks), and every pair
  ``(q, j)`` is compared when ``cell(q)`` is among ``j``'s probe cells, the inverted-file rule of
  faiss's IVF search seen from the other side, so the recall is the same;
* the work is about ``P / C`` of the exact pass, and a cell's task holds about ``P * n / C`` rows.

``P`` is chosen from the data (:func:`choose_probes`): a seeded sample of queries is compared
exactly with every point; for each true neighbour ``j`` of a sampled query, the rank of the
query's cell among ``j``'s centroids says at which ``P`` the pair is found, so one pass measures
the recall and density error of every ``P`` at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vector_trainer.extractor.engines.base import CELL_TARGETS, effective_threshold
from vector_trainer.extractor.engines.exact._fused import FusedPass, load_kernels
from vector_trainer.extractor.engines.knn import RunningTopK

#: Fewest mean points per cell (a cell's products stay BLAS-sized on small stores).
DEFAULT_CELL_SIZE = 256
#: k-means training points per cell (a sample of at most this many times ``C``).
TRAIN_POINTS_PER_CELL = 64
KMEANS_ITERATIONS = 20
#: Most probe cells per point (beside ``CELL_TARGETS.max_probe_share`` of the cells): the
#: statistics stage counts replicas per cell and probe rank.
MAX_PROBES = 64
#: Candidates compared per product in a cell's scan (bounds a task's memory).
SCAN_BLOCK = 8192
#: The first floor of a query's list is the ``k``-th best of this many times ``k`` candidates.
FLOOR_COLUMNS = 64


def cell_count(n: int, cell_size: int = DEFAULT_CELL_SIZE) -> int:
    """Cells for ``n`` points: ``sqrt(n)``, the inverted-file rule that keeps routing (``n x C``
    similarities) below the scan (``n x P n / C``), with at least ``cell_size`` points per cell."""
    return max(1, min(math.isqrt(n), n // cell_size))


def train_centroids(sample: np.ndarray, n_cells: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means centroids (unit rows, ``n_cells x d``) of L2-normalised ``sample`` rows,
    trained with faiss (extra ``ann``/``distributed``)."""
    import faiss

    n_cells = min(n_cells, sample.shape[0])
    kmeans = faiss.Kmeans(sample.shape[1], n_cells, niter=KMEANS_ITERATIONS, spherical=True, seed=seed)
    kmeans.cp.min_points_per_centroid = 1
    kmeans.cp.max_points_per_centroid = TRAIN_POINTS_PER_CELL * 4
    kmeans.train(np.ascontiguousarray(sample, dtype=np.float32))
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def probe_order(X: np.ndarray, centroids: np.ndarray, probes: int) -> np.ndarray:
    """Each row's ``probes`` most similar centroids, best first (``len(X) x probes``), by faiss's
    blocked brute-force search (an order of magnitude faster than a NumPy partition over
    thousands of centroids)."""
    import faiss

    probes = min(probes, centroids.shape[0])
    _, order = faiss.knn(np.ascontiguousarray(X), centroids, probes, metric=faiss.METRIC_INNER_PRODUCT)
    return order.astype(np.int64, copy=False)


@dataclass(frozen=True)
class SamplePairs:
    """True neighbours of sampled queries found in one block of points.

    Attributes:
        query: Position of the sampled query in the sample.
        similarity: The pair's similarity.
        rank: Rank of the query's cell among the neighbour's centroids (0 = its own cell):
            the pair is found with ``P`` probes when ``rank < P``.
    """

    query: np.ndarray
    similarity: np.ndarray
    rank: np.ndarray


def sample_pairs(
    block: np.ndarray,
    block_ids: np.ndarray,
    sample: np.ndarray,
    sample_ids: np.ndarray,
    sample_cells: np.ndarray,
    centroids: np.ndarray,
    threshold: float,
) -> SamplePairs:
    """The sampled queries' neighbours among ``block``'s rows, with the probe rank that finds each."""
    t = effective_threshold(threshold)
    sims = sample @ block.T
    sims[sample_ids[:, None] == block_ids[None, :]] = -np.inf
    query, col = np.nonzero(sims >= t)
    point_to_centroid = block[col] @ centroids.T
    own = point_to_centroid[np.arange(col.size), sample_cells[query]]
    rank = (point_to_centroid > own[:, None]).sum(axis=1)
    return SamplePairs(query, sims[query, col].astype(np.float64), rank)


@dataclass(frozen=True)
class ProbeChoice:
    """The probe count and what the sample measured at it.

    Attributes:
        probes: Probe cells per point.
        cells: Cells in all.
        recall: Neighbour-set recall on the sample (found neighbours / true neighbours).
        density_error: Mean relative density error of sampled queries with neighbours.
        off_share: Share of sampled queries with neighbours whose density is more than the
            tolerance off.
        sample: Sampled queries.
        met: Whether the targets were met within the probe budget.
    """

    probes: int
    cells: int
    recall: float
    density_error: float
    off_share: float
    sample: int
    met: bool

    def note(self) -> str:
        """The approximation and its measured quality, in words (for the selection report)."""
        text = (
            f"approximate: {self.cells} k-means cells, each log compared with the logs of its {self.probes} nearest "
            f"cells; measured on {self.sample} sampled logs against exact search: neighbour recall {self.recall:.4f}, "
            f"mean density error {self.density_error:.2%}, {self.off_share:.2%} of densities more than 1% off"
        )
        return text if self.met else text + " (short of the targets within the probe budget)"


def probe_budget(cells: int, max_probe_share: float = CELL_TARGETS.max_probe_share) -> int:
    """Most probe cells per point: ``max_probe_share`` of the cells, at most :data:`MAX_PROBES`."""
    return max(1, min(cells, MAX_PROBES, math.ceil(max_probe_share * cells)))


def choose_probes(
    pairs: SamplePairs,
    sample_size: int,
    cells: int,
    *,
    target_recall: float = CELL_TARGETS.recall,
    density_tolerance: float = CELL_TARGETS.density_tolerance,
    max_off_share: float = CELL_TARGETS.max_off_share,
    max_probe_share: float = CELL_TARGETS.max_probe_share,
) -> ProbeChoice:
    """The smallest probe count whose sampled recall and density error meet the targets (or the
    largest allowed, ``met=False``)."""
    budget = probe_budget(cells, max_probe_share)
    exact = np.bincount(pairs.query, weights=pairs.similarity, minlength=sample_size)
    has = exact > 0
    total = pairs.query.size
    choice = None
    for probes in range(1, budget + 1):
        found = pairs.rank < probes
        recall = float(found.sum()) / total if total else 1.0
        approx = np.bincount(pairs.query[found], weights=pairs.similarity[found], minlength=sample_size)
        error = np.abs(approx - exact)[has] / exact[has]
        mean_error = float(error.mean()) if error.size else 0.0
        off = float((error > density_tolerance).mean()) if error.size else 0.0
        met = recall >= target_recall and off <= max_off_share
        choice = ProbeChoice(probes, cells, recall, mean_error, off, sample_size, met)
        if met:
            break
    assert choice is not None
    return choice


@dataclass(frozen=True)
class CellScan:
    """Per-query results of one cell's scan (global ids; lists best first, ``-inf``/``-1`` padded)."""

    ids: np.ndarray
    density: np.ndarray
    neighbor_count: np.ndarray
    nearest_similarity: np.ndarray
    knn_similarity: np.ndarray
    knn_index: np.ndarray


def scan_cell(
    queries: np.ndarray,
    query_ids: np.ndarray,
    candidates: np.ndarray,
    candidate_ids: np.ndarray,
    threshold: float,
    k: int,
) -> CellScan:
    """Density, neighbour count, nearest similarity and ``k`` most similar candidates of each
    query (a query is never its own neighbour), in products of at most :data:`SCAN_BLOCK`
    columns, each read once by the compiled pass (:mod:`._fused`) when numba is installed."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    t = effective_threshold(threshold)
    m = queries.shape[0]
    density = np.zeros(m, dtype=np.float64)
    count = np.zeros(m, dtype=np.int64)
    top = RunningTopK(m, k)
    kernels = load_kernels()
    fused = FusedPass(kernels, t, density, count, top) if kernels is not None else None
    own = positions_of(query_ids, candidate_ids)
    for c0 in range(0, candidates.shape[0], SCAN_BLOCK):
        sims = queries @ candidates[c0 : c0 + SCAN_BLOCK].T
        inside = np.flatnonzero((own >= c0) & (own < c0 + sims.shape[1]))
        sims[inside, own[inside] - c0] = -np.inf
        if c0 == 0:  # the k-th best of some columns is at most the k-th best of all: a safe floor
            head = sims[:, : FLOOR_COLUMNS * k]
            top.seed_floors(0, _kth_largest(head, min(k, head.shape[1])))
        if fused is not None:
            fused.rows_only(sims, 0, c0)
            continue
        edges = sims >= t
        count += edges.sum(axis=1)
        density += np.where(edges, sims, 0.0).sum(axis=1, dtype=np.float64)
        top.offer_rows(0, c0, sims)
    if fused is not None:
        fused.finish()
    best_sims, best_pos = top.result()
    best_ids = np.where(best_pos >= 0, candidate_ids[np.maximum(best_pos, 0)], -1)
    nearest = np.where(np.isfinite(best_sims[:, 0]), best_sims[:, 0], -1.0).astype(np.float32)
    return CellScan(query_ids, density, count, nearest, best_sims, best_ids)


def _kth_largest(tile: np.ndarray, r: int) -> np.ndarray:
    return np.partition(tile, tile.shape[1] - r, axis=1)[:, tile.shape[1] - r]


def positions_of(query_ids: np.ndarray, candidate_ids: np.ndarray) -> np.ndarray:
    """Where each query sits among the candidates (``-1`` where it is not one)."""
    if not len(candidate_ids):
        return np.full(len(query_ids), -1, dtype=np.int64)
    sorter = np.argsort(candidate_ids, kind="stable")
    at = np.minimum(np.searchsorted(candidate_ids, query_ids, sorter=sorter), len(candidate_ids) - 1)
    pos = sorter[at]
    return np.where(candidate_ids[pos] == query_ids, pos, -1)
