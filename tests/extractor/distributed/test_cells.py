"""The distributed engine's cell scheme in plain NumPy: scans, probe choice, routing, two-round selection."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import clustered, require_modules
from vector_trainer.extractor.distributed import cells
from vector_trainer.extractor.distributed.cells import SamplePairs, choose_probes, probe_order, sample_pairs, scan_cell
from vector_trainer.extractor.distributed.selection import weighted_quantile
from vector_trainer.extractor.distributed.tasks import SteadyRound, route_block, scan_partition
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.selection import greedy_facility_location


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    X, _ = clustered([300, 200, 120, 80, 40], dim=24, spread=0.25, seed=3)
    return normalize_rows(X)


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy"])
def test_a_cell_scan_against_every_row_is_the_exact_engine(vectors, monkeypatch, compiled) -> None:
    if not compiled:
        monkeypatch.setattr(cells, "load_kernels", lambda: None)
    monkeypatch.setattr(cells, "SCAN_BLOCK", 97)  # many blocks, ragged last one
    exact = ExactEngine(fused=False).density(vectors, 0.8)
    ids = np.arange(len(vectors))
    rows = ids[::3]
    scan = scan_cell(vectors[rows], rows, vectors, ids, 0.8, 16)
    np.testing.assert_allclose(scan.density, exact.density[rows], rtol=1e-5)
    np.testing.assert_array_equal(scan.neighbor_count, exact.neighbor_count[rows])
    np.testing.assert_allclose(scan.nearest_similarity, exact.nearest_similarity[rows], atol=1e-6)
    np.testing.assert_allclose(scan.knn_similarity, exact.knn_similarity[rows, :16], atol=1e-6)


def test_a_query_is_not_its_own_neighbour_and_short_lists_are_padded() -> None:
    X = normalize_rows(np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32))
    scan = scan_cell(X[:1], np.array([7]), X, np.array([7, 8, 9]), 0.9, 4)
    assert scan.neighbor_count.tolist() == [1]
    assert scan.knn_index[0].tolist() == [8, 9, -1, -1]
    assert np.isneginf(scan.knn_similarity[0, 2:]).all()


def test_the_probe_count_is_the_smallest_that_meets_the_recall_target() -> None:
    # Ten sampled queries, ten neighbours each: rank r of pair j is j % 4 (found from r + 1 probes).
    query = np.repeat(np.arange(10), 10)
    pairs = SamplePairs(query, np.full(100, 0.9), np.tile(np.arange(10) % 4, 10))
    choice = choose_probes(pairs, 10, 40, target_recall=0.75, max_off_share=1.0)
    assert (choice.probes, choice.met) == (3, True)
    assert choice.recall == pytest.approx(0.8)
    short = choose_probes(pairs, 10, 8, target_recall=0.99, max_probe_share=0.25)
    assert (short.probes, short.met) == (2, False)
    assert "short of the targets" in short.note()


def test_sample_pairs_give_the_rank_that_finds_each_neighbour(vectors) -> None:
    centroids = vectors[[0, 300, 500, 620]]
    ids = np.arange(len(vectors))
    sample_rows = ids[::50]
    sample_cells = probe_order(vectors[sample_rows], centroids, 1)[:, 0]
    pairs = sample_pairs(vectors, ids, vectors[sample_rows], sample_rows, sample_cells, centroids, 0.8)
    exact = ExactEngine(fused=False).density(vectors, 0.8)
    assert np.bincount(pairs.query, minlength=len(sample_rows)).tolist() == exact.neighbor_count[sample_rows].tolist()
    # With every cell probed each pair is found; the rank is where the query's cell sits among the neighbour's.
    order = probe_order(vectors, centroids, 4)
    neighbour = np.nonzero(vectors[sample_rows] @ vectors.T >= 0.8 - 1e-6)
    neighbour = neighbour[1][sample_rows[neighbour[0]] != neighbour[1]]
    expected = [
        int(np.flatnonzero(order[j] == sample_cells[q])[0]) for q, j in zip(pairs.query, neighbour, strict=True)
    ]
    assert pairs.rank.tolist() == expected


def test_routing_with_every_cell_probed_scans_every_pair(vectors) -> None:
    require_modules(("faiss",), "pip install -e '.[distributed]'")
    centroids = cells.train_centroids(vectors, 6, seed=0)
    ids = np.arange(len(vectors))
    partition_of_cell = np.arange(len(centroids)) % 2
    routed = [route_block((ids[s : s + 250], vectors[s : s + 250]), centroids, 6, partition_of_cell)
              for s in range(0, len(ids), 250)]  # fmt: skip
    results = [scan_partition([r[p] for r in routed], 0.8, 16, SteadyRound(5, 3, 0.98), len(ids)) for p in range(2)]
    density = np.zeros(len(ids))
    for result in results:
        density[result.scan.ids] = result.scan.density
    exact = ExactEngine(fused=False).density(vectors, 0.8)
    np.testing.assert_allclose(density, exact.density, rtol=1e-5)
    for result in results:  # local picks are eligible, at most the budget per cell
        for picks in result.picks:
            assert len(picks.ids) <= 5
            if len(picks.ids) > 1:  # no near-duplicate offers within a cell
                sims = picks.vectors @ picks.vectors.T
                assert (sims[~np.eye(len(sims), dtype=bool)] < 0.98).all()
            at = np.searchsorted(ids, picks.ids)
            assert (exact.neighbor_count[at] + 1 >= 3).all()


def test_client_weights_make_the_heavier_region_the_first_pick() -> None:
    # Two facilities, each listing the other; a weight of 5 on client 1 makes it the better pick.
    weights = np.array([[0.5], [0.5]])
    index = np.array([[1], [0]])
    unweighted, _ = greedy_facility_location(weights, index, np.ones(2, bool), 1, lambda _n: True)
    weighted, gains = greedy_facility_location(
        weights, index, np.ones(2, bool), 1, lambda _n: True, client_weight=np.array([1.0, 5.0])
    )
    assert unweighted == [0]
    assert weighted == [1]
    assert gains == [pytest.approx(5.0 + 0.5)]


def test_weighted_quantile_weights_each_sample_by_the_logs_it_stands_for() -> None:
    # 10 samples standing for 1000 logs of value 1.0 outweigh 10 samples standing for 10 logs of 0.0.
    assert weighted_quantile([np.zeros(10), np.ones(10)], [10, 1000], 0.25) == 1.0
    assert weighted_quantile([np.zeros(10), np.ones(10)], [1000, 10], 0.25) == 0.0


class _ExactLists:
    """The one engine call the anomaly re-scoring makes, computed in memory."""

    def __init__(self, X: np.ndarray) -> None:
        self.X, self.calls = X, 0

    def nearest_similarities(self, _blocks, rows, k: int) -> np.ndarray:
        self.calls += 1
        sims = rows[1] @ self.X.T
        sims[np.arange(len(rows[0])), rows[0]] = -np.inf
        return -np.sort(-sims, axis=1)[:, :k]


def test_rescored_anomalies_are_the_exact_ranking_when_the_bounds_prove_it(vectors) -> None:
    from types import SimpleNamespace

    from vector_trainer.extractor.distributed.selection import ANOMALY_OVERSAMPLE, _rescored_anomalies

    k, top_k = 8, 5
    engine = _ExactLists(vectors)
    exact = 1.0 - engine.nearest_similarities(None, (np.arange(len(vectors)), vectors), k).mean(axis=1)
    bound = exact + np.random.default_rng(0).uniform(0, 0.05, len(vectors))  # a scan's novelty: an upper bound
    offers = []
    for part in (np.arange(0, 370), np.arange(370, len(vectors))):
        best = part[np.argsort(-bound[part], kind="stable")[: top_k * ANOMALY_OVERSAMPLE]]
        offers.append((best, bound[best], np.zeros((len(best), 3)), vectors[best]))
    picks, complete = _rescored_anomalies(engine, SimpleNamespace(blocks=None), offers, [], np.empty((0, 0)), top_k,
                                          1.0, k)  # fmt: skip
    assert complete
    assert [p.row for p in picks] == np.argsort(-exact, kind="stable")[:top_k].tolist()
    assert [p.score for p in picks] == pytest.approx(np.sort(exact)[::-1][:top_k])
    # Bounds too loose to prove anything: the picks are still the best scored, and say they are not proven.
    loose = [(ids, np.full(len(ids), 2.0), stats, vecs) for ids, _, stats, vecs in offers]
    _, proven = _rescored_anomalies(engine, SimpleNamespace(blocks=None), loose, [], np.empty((0, 0)), top_k, 1.0, k)
    assert not proven
