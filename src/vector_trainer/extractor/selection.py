"""FR-1.3, FR-1.4: steady-state representatives and anomalies chosen from a graph analysis.

* **Steady state**: every dense region is represented by its medoid before any region gets a
  second pick; extra picks go to larger regions, in proportion to size.
* **Anomalies**: SUCCESS logs outside every dense region whose density is at most the
  ``anomaly_quantile`` of densities, ranked by novelty ``(1 - nearest_similarity) / (1 + density)``.
* Both lists skip identical (input, output) pairs and near-duplicates (``dedup_threshold``);
  every tie is broken by uuid, so the same input gives the same output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vector_trainer.chatml import render_input, render_output
from vector_trainer.extractor.graph import GraphAnalysis
from vector_trainer.types import GoldenCandidate, SelectionStrategy


def select_steady(a: GraphAnalysis, top_k: int, dedup_threshold: float) -> list[GoldenCandidate]:
    """Representatives of the dense regions, at most ``top_k``, output in rounds."""
    res, ids = a.result, a.uuids
    regions = sorted(a.regions, key=lambda r: (-r.size, -float(res.density[r[0]]), ids[int(r[0])]))
    quotas = allocate(top_k, [r.size for r in regions])
    picker = DedupPicker(a, dedup_threshold)
    queues = [_region_queue(a, region) for region in regions]
    per_region: list[list[int]] = [[] for _ in regions]
    for chosen, quota, queue in zip(per_region, quotas, queues, strict=True):
        while len(chosen) < quota and queue:
            node = queue.pop(0)
            if picker.accept(node):
                chosen.append(node)
    # Slots a region could not fill (its members were duplicates) go to the other regions.
    while sum(map(len, per_region)) < top_k and any(queues):
        for chosen, queue in zip(per_region, queues, strict=True):
            while queue and sum(map(len, per_region)) < top_k:
                node = queue.pop(0)
                if picker.accept(node):
                    chosen.append(node)
                    break
    rounds = max(map(len, per_region), default=0)
    return [
        _candidate(a, chosen[r], SelectionStrategy.STEADY, float(res.density[chosen[r]]), int(region.size))
        for r in range(rounds)
        for region, chosen in zip(regions, per_region, strict=True)
        if r < len(chosen)
    ]


def select_anomalies(
    a: GraphAnalysis,
    steady: Sequence[GoldenCandidate],
    top_k: int,
    dedup_threshold: float,
    anomaly_quantile: float,
) -> list[GoldenCandidate]:
    """Low-density SUCCESS logs outside every region, most novel first, at most ``top_k``."""
    res = a.result
    index_of = {uuid: i for i, uuid in enumerate(a.uuids)}
    steady_uuids = {c.uuid for c in steady}
    cutoff = float(np.quantile(res.density, anomaly_quantile))
    in_region = np.zeros(len(a.logs), dtype=bool)
    for region in a.regions:
        in_region[region] = True
    novelty = (1.0 - np.clip(res.nearest_similarity, 0.0, 1.0)) / (1.0 + res.density)
    order = np.lexsort((np.asarray(a.uuids), -novelty))
    picker = DedupPicker(a, dedup_threshold)
    for c in steady:
        picker.accept(index_of[c.uuid])
    picks: list[GoldenCandidate] = []
    for raw_node in order:
        if len(picks) >= top_k:
            break
        node = int(raw_node)
        if in_region[node] or res.density[node] > cutoff or a.logs[node].uuid in steady_uuids:
            continue
        if picker.accept(node):
            picks.append(_candidate(a, node, SelectionStrategy.ANOMALY, float(novelty[node]), 0))
    return picks


def _candidate(
    a: GraphAnalysis, node: int, strategy: SelectionStrategy, score: float, region_size: int
) -> GoldenCandidate:
    res = a.result
    return GoldenCandidate(
        uuid=a.logs[node].uuid,
        strategy=strategy,
        density=float(res.density[node]),
        score=score,
        neighbor_count=int(res.neighbor_count[node]),
        nearest_similarity=float(res.nearest_similarity[node]),
        region_size=region_size,
        log=a.logs[node],
    )


def _region_queue(a: GraphAnalysis, region: np.ndarray) -> list[int]:
    rest = region[1:]
    ids = np.asarray([a.logs[int(i)].uuid for i in rest])
    order = np.lexsort((ids, -a.result.density[rest])) if rest.size else np.array([], dtype=np.int64)
    return [int(region[0]), *(int(rest[i]) for i in order)]


class DedupPicker:
    """Accepts nodes that are neither identical in content nor near-duplicates of earlier picks."""

    def __init__(self, a: GraphAnalysis, threshold: float) -> None:
        self._a = a
        self._threshold = np.float32(threshold)
        self._keys: set[tuple[str, str]] = set()
        self._chosen: list[int] = []

    def accept(self, node: int) -> bool:
        """Take ``node`` unless it repeats an earlier pick; returns whether it was taken."""
        log = self._a.logs[node]
        key = (render_input(log.inputs), render_output(log.output))
        if key in self._keys:
            return False
        if self._chosen:
            sims = self._a.vectors[self._chosen] @ self._a.vectors[node]
            if float(sims.max()) >= self._threshold:
                return False
        self._keys.add(key)
        self._chosen.append(node)
        return True


def allocate(k: int, sizes: Sequence[int]) -> list[int]:
    """Picks per region: one each (largest regions first) until ``k`` runs out, then the rest
    by largest remainder in proportion to size, never more than a region's size."""
    if not sizes:
        return []
    quotas = [1 if i < k else 0 for i in range(len(sizes))]
    remaining = k - sum(quotas)
    if remaining <= 0:
        return quotas
    capacity = [size - 1 for size in sizes]
    total = sum(capacity)
    if total == 0:
        return quotas
    shares = [remaining * c / total for c in capacity]
    extra = [min(c, math.floor(s)) for c, s in zip(capacity, shares, strict=True)]
    left = min(remaining, total) - sum(extra)
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(shares[i] - math.floor(shares[i])), i))
    for i in by_remainder:
        if left <= 0:
            break
        if extra[i] < capacity[i]:
            extra[i] += 1
            left -= 1
    return [q + e for q, e in zip(quotas, extra, strict=True)]
