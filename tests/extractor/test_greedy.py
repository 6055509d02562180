"""The lazy greedy's compiled loop (extractor/_greedy_kernel.py) picks what the heapq formulation of
Minoux's lazy evaluation picks, ties included, compiled or run as Python."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
import pytest

from vector_trainer.extractor import _greedy_kernel
from vector_trainer.extractor.selection import greedy_facility_location

TOLERANCE = 1e-9


def _reference(
    weights: np.ndarray, index: np.ndarray, eligible: np.ndarray, budget: int, accept: Callable[[int], bool]
) -> tuple[list[int], list[float]]:
    """The loop as it was written with heapq (sparse cover updates)."""
    n = weights.shape[0]
    cover = np.zeros(n)

    def gain(node: int) -> float:
        rows, cols = np.nonzero(index == node)
        missing = np.maximum(weights[rows, cols] - cover[rows], 0.0).sum()
        return float(missing + max(1.0 - cover[node], 0.0))

    initial = 1.0 + np.array([weights[index == node].sum() for node in range(n)])
    heap = [(-float(initial[node]), int(node)) for node in np.flatnonzero(eligible)]
    heapq.heapify(heap)
    picks: list[int] = []
    gains: list[float] = []
    while heap and len(picks) < budget:
        _, node = heapq.heappop(heap)
        current = gain(node)
        if heap and current < -heap[0][0] - TOLERANCE:
            heapq.heappush(heap, (-current, node))
            continue
        if current <= TOLERANCE or not accept(node):
            continue
        picks.append(node)
        gains.append(current)
        rows, cols = np.nonzero(index == node)
        np.maximum.at(cover, rows, weights[rows, cols])
        cover[node] = 1.0
    return picks, gains


def _graph(seed: int, n: int = 120, k: int = 6, levels: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    index = np.stack([rng.choice(np.delete(np.arange(n), i), k, replace=False) for i in range(n)])
    weights = rng.uniform(0.1, 0.9, size=(n, k))
    if levels:  # few distinct weights: many exact ties, broken by node
        weights = np.round(weights * levels) / levels
    index[rng.random((n, k)) < 0.1] = -1
    return np.where(index >= 0, weights, 0.0), index


@pytest.mark.parametrize(("seed", "levels"), [(0, 0), (1, 0), (2, 2), (3, 3)])
def test_the_compiled_loop_picks_what_heapq_picks(seed: int, levels: int) -> None:
    weights, index = _graph(seed, levels=levels)
    eligible = np.random.default_rng(seed).random(len(weights)) < 0.8
    refused = set(range(0, len(weights), 7))

    def accept(node: int) -> bool:
        return node not in refused

    picks, gains = greedy_facility_location(weights, index, eligible, 25, accept)
    expected_picks, expected_gains = _reference(weights, index, eligible, 25, accept)
    assert picks == expected_picks
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-12)


def test_the_same_code_runs_as_python_without_numba(monkeypatch) -> None:
    """Without numba the module's functions are the plain ones; they give the same picks."""
    pytest.importorskip("numba")
    for name in ("_before", "_sift_down", "_push", "_gain", "next_best", "by_facility"):
        monkeypatch.setattr(_greedy_kernel, name, getattr(_greedy_kernel, name).py_func)
    weights, index = _graph(5, levels=2)
    eligible = np.ones(len(weights), dtype=bool)
    picks, gains = greedy_facility_location(weights, index, eligible, 20, lambda _n: True)
    expected_picks, expected_gains = _reference(weights, index, eligible, 20, lambda _n: True)
    assert picks == expected_picks
    np.testing.assert_allclose(gains, expected_gains, rtol=1e-12)
