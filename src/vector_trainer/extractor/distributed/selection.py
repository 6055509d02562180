"""Steady and anomaly selection from a distributed scan, with driver memory bounded by the
candidates and cells (not by ``n x d``).

* **Steady: two-round facility location** (GreeDi, Mirzasoleiman et al. 2013). Round one runs in
  the scan tasks: each cell picks representatives by greedy facility location over its own logs
  (:func:`.cell_tasks.local_steady_picks`, :func:`.cell_tasks.local_budget` of them). Round two
  runs on the driver over the pooled picks, each weighted by the number of logs it represents
  best in its cell (a coreset): the same greedy, so a large region still gets a pick before a
  small one gets a second.
* **Anomalies**: the density cutoff is the ``anomaly_quantile`` of the partitions' densities
  (``np.quantile`` of them all when no partition holds more than :data:`QUANTILE_SAMPLE` logs, a
  weighted quantile of seeded samples otherwise); each partition offers the logs under the
  cutoff with the highest novelty bound (:func:`novelty_bound`: a scan only misses similar logs,
  and a missing entry counts as -1). The offers' lists are recomputed exactly against every log
  (one task per block), best bound first, and the driver takes the most novel by exact novelty
  that are not near-duplicates of a steady pick or of each other. When no unscored log's bound
  reaches the last pick's exact novelty, none could have ranked higher:
  ``GraphSummary.anomalies_exact`` then says the ranking is the exact novelty ranking of the
  logs under the cutoff. The cutoff itself comes from the scan's densities, lower bounds of the
  exact ones, so which logs are under it can differ from the single-machine graph at its edge.

Both skip near-duplicates by vector (``dedup_threshold``); identical texts embed identically, so
they are near-duplicates too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vector_trainer.extractor.distributed.cells import positions_of, scan_cell
from vector_trainer.extractor.distributed.engine import DistributedScan, RayEngine, ray_module
from vector_trainer.extractor.distributed.tasks import LocalPicks, PartitionResult
from vector_trainer.extractor.selection import (
    VectorDedup,
    facility_weights,
    greedy_facility_location,
    novelty_neighbours,
    novelty_of,
)

#: Densities sampled per partition to estimate the anomaly cutoff.
QUANTILE_SAMPLE = 20_000
#: Anomaly candidates each partition offers, as a multiple of ``top_k`` (dedup may refuse some).
ANOMALY_OVERSAMPLE = 4
#: One-row and blocked products of the same pair differ by up to about 1e-7 in float32: a bound
#: must beat the last pick by more than this to prove anything.
BOUND_MARGIN = 1e-6
#: Most pool neighbours a pooled pick can represent another through (second round).
POOL_NEIGHBOURS = 32


@dataclass(frozen=True)
class DistributedPick:
    """One selected log, by global row id, with the evidence for its selection."""

    row: int
    strategy: str
    density: float
    score: float
    neighbor_count: int
    nearest_similarity: float
    region_size: int


@dataclass(frozen=True)
class _PartitionSummary:
    picks: tuple[LocalPicks, ...]
    density_sample: np.ndarray
    size: int
    isolated: int


def _summarize(result: PartitionResult, seed: int) -> _PartitionSummary:
    density = result.scan.density
    if len(density) > QUANTILE_SAMPLE:
        density = np.random.default_rng(seed).choice(density, QUANTILE_SAMPLE, replace=False)
    isolated = int(np.count_nonzero(result.scan.neighbor_count == 0))
    return _PartitionSummary(result.picks, density, len(result.scan.ids), isolated)


@dataclass(frozen=True)
class GraphSummary:
    """What the driver knows of the whole graph after a distributed selection.

    Attributes:
        density_sample: Seeded sample of densities from every partition (weights in ``sizes``).
        sizes: Logs each partition's sample stands for.
        isolated: Logs with no neighbour.
        cutoff: The anomaly density cutoff.
        anomalies_exact: Whether the anomaly ranking is provably the exact novelty ranking of the logs
            under the cutoff.
    """

    density_sample: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]
    isolated: int
    cutoff: float
    anomalies_exact: bool


def novelty_bound(knn_similarity: np.ndarray, k: int) -> np.ndarray:
    """An upper bound of each log's exact novelty from a list that may miss entries: a list
    found in part holds each rank's similarity or less, and a missing entry counts as -1, the
    least a cosine can be; so the mean is at most the exact one."""
    near = knn_similarity[:, :k].astype(np.float64)
    found = np.where(np.isfinite(near), near, -1.0).sum(axis=1) - (k - near.shape[1])
    return 1.0 - found / k


def _anomaly_pool(result: PartitionResult, cutoff: float, take: int, novelty_k: int, *pieces) -> tuple:
    s = result.scan
    novelty = novelty_bound(s.knn_similarity, novelty_k)
    low = np.flatnonzero(s.density <= cutoff)
    best = low[np.lexsort((s.ids[low], -novelty[low]))[:take]]
    rows = np.concatenate([p.rows for p in pieces])
    vectors = rows[positions_of(s.ids[best], np.concatenate([p.row_ids for p in pieces]))]
    stats = np.column_stack((s.density[best], s.neighbor_count[best], s.nearest_similarity[best]))
    return s.ids[best], novelty[best], stats, vectors


def weighted_quantile(samples: Sequence[np.ndarray], sizes: Sequence[int], q: float) -> float:
    """The ``q`` quantile of the union the samples stand for (each sample weighted by its size);
    when no sample was thinned, ``np.quantile`` of them all, the rule of the in-memory path."""
    values = np.concatenate(samples)
    if all(len(sample) == size for sample, size in zip(samples, sizes, strict=True)):
        return float(np.quantile(values, q))
    weights = np.concatenate([np.full(len(s), size / max(len(s), 1)) for s, size in zip(samples, sizes, strict=True)])
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cumulative, q * cumulative[-1]), len(values) - 1)])


def select_distributed(
    engine: RayEngine,
    scan: DistributedScan,
    *,
    top_k: int,
    dedup_threshold: float,
    anomaly_quantile: float,
    n_total: int,
) -> tuple[list[DistributedPick], list[DistributedPick], GraphSummary]:
    """Steady picks, anomalies and the graph's summary from a scan made with a ``steady`` round."""
    ray = ray_module()
    summarize = ray.remote(_summarize)
    summaries: list[_PartitionSummary] = engine.gather(
        [summarize.remote(r, engine.seed + p) for p, r in enumerate(scan.results)], "summaries"
    )
    steady, steady_vectors = _steady(summaries, top_k, dedup_threshold)
    cutoff = weighted_quantile([s.density_sample for s in summaries], [s.size for s in summaries], anomaly_quantile)
    pool_task = ray.remote(num_returns=1)(_anomaly_pool)
    novelty_k = novelty_neighbours(n_total)
    offers = engine.gather(
        [
            pool_task.remote(r, cutoff, top_k * ANOMALY_OVERSAMPLE, novelty_k, *[piece[p] for piece in scan.routed])
            for p, r in enumerate(scan.results)
        ],
        "anomalies",
    )
    anomalies, complete = _rescored_anomalies(engine, scan, offers, steady, steady_vectors, top_k, dedup_threshold,
                                              novelty_k)  # fmt: skip
    graph = GraphSummary(
        tuple(s.density_sample for s in summaries),
        tuple(s.size for s in summaries),
        sum(s.isolated for s in summaries),
        cutoff,
        complete,
    )
    return steady, anomalies, graph


def _steady(
    summaries: list[_PartitionSummary], top_k: int, dedup_threshold: float
) -> tuple[list[DistributedPick], np.ndarray]:
    picks = [p for s in summaries for p in s.picks if len(p.ids)]
    if not picks:
        return [], np.empty((0, 0), dtype=np.float32)
    ids = np.concatenate([p.ids for p in picks])
    sizes = np.concatenate([p.region_sizes for p in picks])
    vectors = np.concatenate([p.vectors for p in picks])
    stats = np.concatenate([p.stats for p in picks])
    positions = np.arange(len(ids))  # each pooled pick's most similar other pooled picks
    lists = scan_cell(vectors, positions, vectors, positions, 1.0, POOL_NEIGHBOURS)
    index = lists.knn_index
    weights = facility_weights(lists.knn_similarity, index)
    dedup = VectorDedup(dedup_threshold, vectors.shape[1])

    def similarity_to(node: int) -> np.ndarray:
        return np.maximum(vectors @ vectors[node], 0.0)

    chosen, gains = greedy_facility_location(
        weights,
        index,
        np.ones(len(ids), bool),
        top_k,
        lambda node: dedup.accept(vectors[node]),
        similarity_to,
        sizes.astype(np.float64),
    )
    owner = np.argmax(vectors @ vectors[chosen].T, axis=1) if chosen else np.empty(0, dtype=np.int64)
    regions = np.bincount(owner, weights=sizes, minlength=len(chosen)).astype(np.int64)
    steady = [
        DistributedPick(int(ids[c]), "steady", float(stats[c, 0]), g, int(stats[c, 1]), float(stats[c, 2]), int(r))
        for c, g, r in zip(chosen, gains, regions, strict=True)
    ]
    return steady, vectors[chosen]


def _rescored_anomalies(
    engine: RayEngine,
    scan: DistributedScan,
    offers: list[tuple],
    steady: list[DistributedPick],
    steady_vectors: np.ndarray,
    top_k: int,
    dedup_threshold: float,
    novelty_k: int,
) -> tuple[list[DistributedPick], bool]:
    """Re-score the offers exactly, best bound first, until no unscored log can outrank the
    last pick: an offer's bound is its scan novelty, a log a partition did not offer is bounded
    by that partition's last offer. Returns the picks and whether that proof was reached."""
    pool = _Pool.of(offers)
    truncated = [o[1][-1] for o in offers if len(o[0]) >= top_k * ANOMALY_OVERSAMPLE]
    bound_left = max(truncated, default=-np.inf)
    bounds = np.concatenate([o[1] for o in offers])
    order = np.lexsort((pool.ids, -bounds))
    exact = np.full(len(pool.ids), -np.inf)
    scored, batch = 0, max(top_k * ANOMALY_OVERSAMPLE, 1)
    rows = {p.row for p in steady}
    while True:
        todo = order[scored : scored + batch]
        sims = engine.nearest_similarities(scan.blocks, (pool.ids[todo], pool.vectors[todo]), novelty_k)
        exact[todo] = novelty_of(sims)
        scored += len(todo)
        batch *= 2  # a proof not reached at once: fewer passes over every block
        done = order[:scored]
        picks = _anomalies(pool.subset(done), exact[done], steady_vectors, rows, top_k, dedup_threshold)
        unscored = max(float(bounds[order[scored]]) if scored < len(order) else -np.inf, bound_left)
        full = len(picks) == top_k
        if full and picks[-1].score > unscored + BOUND_MARGIN:
            return picks, True
        if scored >= len(order):  # every offer scored: exact if no partition held more back
            return picks, not truncated


@dataclass(frozen=True)
class _Pool:
    ids: np.ndarray
    stats: np.ndarray
    vectors: np.ndarray

    @classmethod
    def of(cls, offers: list[tuple]) -> _Pool:
        return cls(*(np.concatenate([o[i] for o in offers]) for i in (0, 2, 3)))

    def subset(self, rows: np.ndarray) -> _Pool:
        return _Pool(self.ids[rows], self.stats[rows], self.vectors[rows])


def _anomalies(
    pool: _Pool,
    novelty: np.ndarray,
    steady_vectors: np.ndarray,
    steady_rows: set[int],
    top_k: int,
    dedup_threshold: float,
) -> list[DistributedPick]:
    dedup = VectorDedup(dedup_threshold, pool.vectors.shape[1], seen=steady_vectors)
    picks: list[DistributedPick] = []
    for c in np.lexsort((pool.ids, -novelty)):
        if len(picks) >= top_k:
            break
        if int(pool.ids[c]) in steady_rows or not dedup.accept(pool.vectors[c]):
            continue
        stats = pool.stats[c]
        picks.append(
            DistributedPick(
                int(pool.ids[c]), "anomaly", float(stats[0]), float(novelty[c]), int(stats[1]), float(stats[2]), 1
            )
        )
    return picks
