"""FR-1.3, FR-1.4: steady-state representatives and anomalies chosen from a graph analysis.

* **Steady state: facility location on the neighbour graph.** Picks ``S`` maximise
  ``F(S) = sum_i max_{j in S} w(i, j)``, how well every log is represented by its most similar
  pick, with ``w(i, i) = 1`` and ``w(i, j) = max(0, sim(i, j))`` for ``j`` among the
  :data:`FACILITY_NEIGHBOURS` most similar logs of ``i`` (0 otherwise). ``F`` is monotone
  submodular, so the greedy choice (lazy evaluation, Minoux 1978) is within ``1 - 1/e`` of the
  best. Its first pick is the log with the largest neighbour-list density; each later pick is
  the log whose neighbourhood is least represented so far, so every dense region gets a pick
  before a well-covered one gets a second. Only logs with at least ``min_cluster_size - 1``
  graph neighbours (``sim >= 1 - epsilon``) may be picked: a steady pick sits in a dense region.
* **Anomalies: low neighbour-list density.** ``novelty(i) = 1 - mean_{j in kNN(i)} sim(i, j)``
  over the ``k = min(64, sqrt(n))`` most similar logs, among logs whose graph density ``D(i)``
  is at most the ``anomaly_quantile`` of densities (FR-1.4: low density, SUCCESS). One close
  twin moves a mean over ``k`` neighbours by ``1/k``, so a near-duplicate cannot hide a new pattern
  the way it hides it from a nearest-neighbour score.
* Both lists skip identical (input, output) pairs and near-duplicates of earlier picks
  (``dedup_threshold``); ties are broken by uuid, so the same input gives the same output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from vector_trainer.chatml import render_input, render_output
from vector_trainer.extractor.engines.knn import DEFAULT_KNN
from vector_trainer.extractor.graph import GraphAnalysis
from vector_trainer.types import GoldenCandidate, SelectionStrategy

#: Neighbours of a log that a steady pick can represent it through (the graph's heaviest edges).
FACILITY_NEIGHBOURS = 32
#: Most neighbours averaged by the novelty score.
NOVELTY_NEIGHBOURS = DEFAULT_KNN
#: Gains closer than this are ties (broken by uuid order).
_GAIN_TOLERANCE = 1e-9


def select_steady(a: GraphAnalysis, top_k: int, dedup_threshold: float, min_cluster_size: int) -> list[GoldenCandidate]:
    """At most ``top_k`` representatives, in the order the greedy facility location picks them."""
    sims, index = a.neighbour_lists
    weights = facility_weights(sims[:, :FACILITY_NEIGHBOURS], index[:, :FACILITY_NEIGHBOURS])
    eligible = a.result.neighbor_count + 1 >= min_cluster_size
    picker = DedupPicker(a, dedup_threshold)

    def similarity_to(node: int) -> np.ndarray:
        return np.maximum(a.vectors @ a.vectors[node], 0.0)

    picks, gains = greedy_facility_location(
        weights, index[:, :FACILITY_NEIGHBOURS], eligible, top_k, picker.accept, similarity_to
    )
    sizes = represented_counts(weights, index[:, :FACILITY_NEIGHBOURS], picks)
    return [
        _candidate(a, node, SelectionStrategy.STEADY, gain, size)
        for node, gain, size in zip(picks, gains, sizes, strict=True)
    ]


def greedy_facility_location(
    weights: np.ndarray,
    index: np.ndarray,
    eligible: np.ndarray,
    budget: int,
    accept: Callable[[int], bool],
    similarity_to: Callable[[int], np.ndarray] | None = None,
    client_weight: np.ndarray | None = None,
) -> tuple[list[int], list[float]]:
    """Lazy greedy maximisation of ``sum_i max_{j in S} w(i, j)`` over sparse rows.

    Args:
        weights: ``w(i, index[i, c])`` for each client ``i`` (``n x k``, ``>= 0``).
        index: The facilities of each row (``-1`` for none).
        eligible: Which nodes may be picked.
        budget: Most picks.
        accept: Called on the best candidate; a refused node is never offered again.
        similarity_to: Every client's weight to a pick, when it can be computed (one product
            per pick). A pick then represents every client as well as it really does, not only
            the clients that list it, so a large diffuse region is not mistaken for an
            unrepresented one; gains are still read from the sparse rows.
        client_weight: How much each client counts (default 1 each): a client that stands for
            a region of logs (the distributed selection's second round) counts for its mass.

    Returns:
        The picks in order, and the gain of each when it was picked.
    """
    from vector_trainer.extractor import _greedy_kernel as kernel  # compiled on first use (numba)

    n = weights.shape[0]
    valid = index >= 0
    clients = np.repeat(np.arange(n), index.shape[1])[valid.ravel()]
    facilities = index.ravel()[valid.ravel()]
    served = weights.ravel()[valid.ravel()]
    order = kernel.by_facility(facilities, n)  # ties in list order
    clients, served, facilities = clients[order], served[order], facilities[order]
    bounds = np.searchsorted(facilities, np.arange(n + 1))
    cover = np.zeros(n, dtype=np.float64)
    mass = np.ones(n) if client_weight is None else np.asarray(client_weight, dtype=np.float64)

    initial = mass + np.bincount(facilities, weights=served * mass[clients], minlength=n)
    candidates = np.flatnonzero(eligible)
    bound_keys = -initial[candidates]
    first = np.lexsort((candidates, bound_keys))  # sorted: already a heap
    keys, nodes, size = np.ascontiguousarray(bound_keys[first]), candidates[first].astype(np.int64), candidates.size
    served = np.ascontiguousarray(served, dtype=np.float64)
    picks: list[int] = []
    gains: list[float] = []
    while len(picks) < budget:
        node, current, size = kernel.next_best(keys, nodes, size, bounds, clients, served, cover, mass, _GAIN_TOLERANCE)
        if node < 0:
            break
        if not accept(node):
            continue
        picks.append(node)
        gains.append(current)
        if similarity_to is not None:
            np.maximum(cover, similarity_to(node), out=cover)
        else:
            mine = slice(bounds[node], bounds[node + 1])
            np.maximum.at(cover, clients[mine], served[mine])
        cover[node] = 1.0
    return picks, gains


def represented_counts(weights: np.ndarray, index: np.ndarray, picks: Sequence[int]) -> list[int]:
    """How many logs each pick represents best (itself included): the size of its region."""
    if not picks:
        return []
    slot = np.full(weights.shape[0], -1, dtype=np.int64)
    slot[np.asarray(picks)] = np.arange(len(picks))
    through = np.where(index >= 0, slot[np.maximum(index, 0)], -1)
    score = np.where(through >= 0, weights, -1.0)
    best = np.argmax(score, axis=1)
    owner = np.where(score[np.arange(len(score)), best] > 0, through[np.arange(len(score)), best], -1)
    owner[np.asarray(picks)] = np.arange(len(picks))
    return np.bincount(owner[owner >= 0], minlength=len(picks)).tolist()


def novelty_neighbours(n: int) -> int:
    """Neighbours the novelty score averages over ``n`` logs: ``sqrt(n)``, the classic rate for
    k-nearest-neighbour density estimates (``k`` grows, ``k / n`` shrinks), at most
    :data:`NOVELTY_NEIGHBOURS`; so a small store is not scored against most of itself."""
    return max(1, min(NOVELTY_NEIGHBOURS, math.isqrt(n)))


def novelty_of(near: np.ndarray) -> np.ndarray:
    """``1 - mean`` of each row's similarities to its nearest logs (the finite entries of exact
    lists; 1 for a log with no other log): the anomaly score, on either path."""
    finite = np.isfinite(near)
    counts = np.maximum(finite.sum(axis=1), 1)
    return 1.0 - np.where(finite, near, 0.0).sum(axis=1, dtype=np.float64) / counts


def novelty_scores(a: GraphAnalysis) -> np.ndarray:
    """:func:`novelty_of` every node, over its ``k`` most similar logs (:func:`novelty_neighbours`)."""
    sims, _index = a.neighbour_lists
    return novelty_of(sims[:, : novelty_neighbours(len(sims))])


def select_anomalies(
    a: GraphAnalysis,
    steady: Sequence[GoldenCandidate],
    top_k: int,
    dedup_threshold: float,
    anomaly_quantile: float,
) -> list[GoldenCandidate]:
    """Low-density SUCCESS logs, most novel first, at most ``top_k`` (none of them a steady pick)."""
    density = a.result.density
    index_of = {uuid: i for i, uuid in enumerate(a.uuids)}
    steady_nodes = {index_of[c.uuid] for c in steady}
    cutoff = float(np.quantile(density, anomaly_quantile))
    novelty = novelty_scores(a)
    order = np.lexsort((np.asarray(a.uuids), -novelty))
    picker = DedupPicker(a, dedup_threshold)
    for node in steady_nodes:
        picker.accept(node)
    picks: list[GoldenCandidate] = []
    for raw_node in order:
        if len(picks) >= top_k:
            break
        node = int(raw_node)
        if density[node] > cutoff or node in steady_nodes:
            continue
        if picker.accept(node):
            picks.append(_candidate(a, node, SelectionStrategy.ANOMALY, float(novelty[node]), 1))
    return picks


def _candidate(
    a: GraphAnalysis, node: int, strategy: SelectionStrategy, score: float, region_size: int
) -> GoldenCandidate:
    res = a.result
    log = a.logs[node]  # built once: a table builds a log on each read
    return GoldenCandidate(
        uuid=log.uuid,
        strategy=strategy,
        density=float(res.density[node]),
        score=score,
        neighbor_count=int(res.neighbor_count[node]),
        nearest_similarity=float(res.nearest_similarity[node]),
        region_size=region_size,
        log=log,
    )


def facility_weights(similarity: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The facility-location weights of neighbour lists: each edge's similarity, clipped at 0;
    0 where a list has no entry (``index`` ``-1``)."""
    return np.where(index >= 0, np.maximum(similarity, 0.0), 0.0)


class VectorDedup:
    """Accepts vectors that are not near-duplicates (similarity ``>= threshold``) of the ones it
    accepted before, or was given as ``seen``: the selection's dedup by vector, where the logs'
    texts are not at hand (the distributed rounds)."""

    def __init__(self, threshold: float, dim: int, seen: np.ndarray | None = None) -> None:
        self._threshold = np.float32(threshold)
        empty = seen is None or not len(seen)
        self._chosen = np.empty((0, dim), dtype=np.float32) if empty else np.ascontiguousarray(seen, dtype=np.float32)

    def accept(self, vector: np.ndarray) -> bool:
        """Take ``vector`` unless it repeats an earlier one; returns whether it was taken."""
        if self._chosen.size and float((self._chosen @ vector).max()) >= self._threshold:
            return False
        self._chosen = np.vstack((self._chosen, vector))
        return True


class DedupPicker:
    """Accepts nodes that are neither identical in content nor near-duplicates (by vector,
    :class:`VectorDedup`) of earlier picks."""

    def __init__(self, a: GraphAnalysis, threshold: float) -> None:
        self._a = a
        self._keys: set[tuple[str, str]] = set()
        self._vectors = VectorDedup(threshold, a.vectors.shape[1])

    def accept(self, node: int) -> bool:
        """Take ``node`` unless it repeats an earlier pick; returns whether it was taken."""
        log = self._a.logs[node]
        key = (render_input(log.inputs), render_output(log.output))
        if key in self._keys or not self._vectors.accept(self._a.vectors[node]):
            return False
        self._keys.add(key)
        return True
