"""The contract every neighbour engine keeps (issue 29): on the same vectors, the exact graph
(densities, counts, nearest similarities, 64-nearest lists) computed by brute force here, or,
for an engine that says its figures are approximate, the note saying how, and figures close to
the exact ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from conftest import clustered, make_log
from vector_trainer.extractor.engines.base import DensityResult, normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.source import ManagerEngine
from vector_trainer.sources.memory import InMemoryLogs

THRESHOLD = 0.8
K = 8


def _vectors() -> np.ndarray:
    X, _ = clustered([150, 100, 80, 40, 30], dim=16, spread=0.35, seed=21)
    return normalize_rows(X)


def _torch() -> Any:
    pytest.importorskip("torch")
    from vector_trainer.extractor.engines.torch_exact import TorchEngine

    return TorchEngine(knn=K, row_block=64, column_block=96, device="cpu")


def _faiss() -> Any:
    pytest.importorskip("faiss")
    from vector_trainer.extractor.engines.faiss_ivf import FaissEngine

    return FaissEngine(k=K)


def _manager() -> Any:
    X = _vectors()
    source = InMemoryLogs([make_log(i, X[i]) for i in range(len(X))])
    return ManagerEngine(source, "fn", limit=len(X))


ENGINES: dict[str, Callable[[], Any]] = {
    "exact, numpy pass": lambda: ExactEngine(block=64, knn=K, fused=False),
    "exact, compiled pass": lambda: ExactEngine(block=64, knn=K, fused=True),
    "torch on its CPU device": _torch,
    "faiss IVF": _faiss,
    "the source's near_vector": _manager,
}


def _brute_force(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sims = (X.astype(np.float64) @ X.T.astype(np.float64)).astype(np.float32)
    np.fill_diagonal(sims, -np.inf)
    edges = sims >= THRESHOLD
    density = np.where(edges, sims, 0).sum(axis=1)
    nearest = np.sort(sims, axis=1)[:, ::-1][:, :K]
    return density, edges.sum(axis=1), sims.max(axis=1), nearest


@pytest.fixture(params=list(ENGINES))
def result(request) -> DensityResult:
    X = _vectors()
    return ENGINES[request.param]().density(X, THRESHOLD, [make_log(i, None).uuid for i in range(len(X))])


def test_every_engine_computes_the_graph_or_says_how_it_approximates(result: DensityResult) -> None:
    density, count, nearest, lists = _brute_force(_vectors())
    assert result.engine and len(result.density) == len(density)
    assert result.density.dtype == np.float64
    if result.approximate:
        assert result.note, "an approximate result says how it is approximate"
        assert np.mean(result.neighbor_count == count) >= 0.9
        return
    np.testing.assert_array_equal(result.neighbor_count, count)
    np.testing.assert_allclose(result.density, density, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(result.nearest_similarity, nearest, atol=1e-5)
    if result.knn_similarity is not None:  # an engine that keeps lists keeps the exact ones, best first
        width = min(K, result.knn_similarity.shape[1])
        np.testing.assert_allclose(result.knn_similarity[:, :width], lists[:, :width], atol=1e-5)
        sims = _vectors() @ _vectors().T
        rows = np.arange(len(sims))[:, None]
        np.testing.assert_allclose(sims[rows, result.knn_index[:, :width]], lists[:, :width], atol=1e-5)
