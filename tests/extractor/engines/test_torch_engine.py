"""Issue 31: the torch engine (CUDA when present) computes what the CPU exact engine computes:
the same densities, counts and neighbour lists, here on torch's CPU device with small tiles."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_modules
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine


def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, d))
    return normalize_rows(centres[rng.integers(0, 12, n)] + 0.6 * rng.normal(size=(n, d)))


@pytest.mark.parametrize(("n", "knn"), [(1500, 16), (40, 64), (1, 8)])
def test_the_torch_engine_equals_the_exact_engine(n: int, knn: int) -> None:
    require_modules(("torch",), "pip install torch==2.13.0")
    from vector_trainer.extractor.engines.torch_exact import TorchEngine

    X = _clustered(n, 24)
    cpu = ExactEngine(block=300, knn=knn, fused=False).density(X, 0.7)
    gpu = TorchEngine("cpu", row_block=256, column_block=700, knn=knn).density(X, 0.7)
    assert gpu.engine == "torch" and not gpu.approximate
    np.testing.assert_array_equal(gpu.neighbor_count, cpu.neighbor_count)
    np.testing.assert_allclose(gpu.density, cpu.density, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(gpu.nearest_similarity, cpu.nearest_similarity, atol=1e-6)
    assert gpu.knn_similarity.shape == cpu.knn_similarity.shape
    np.testing.assert_allclose(gpu.knn_similarity, cpu.knn_similarity, atol=1e-6)
    distinct = np.all(np.diff(cpu.knn_similarity, axis=1) < -1e-6, axis=1)  # rows without near-ties
    np.testing.assert_array_equal(gpu.knn_index[distinct], cpu.knn_index[distinct])
    assert not np.any(gpu.knn_index == np.arange(n)[:, None])  # never its own neighbour


def test_density_alone_and_bad_blocks() -> None:
    require_modules(("torch",), "pip install torch==2.13.0")
    from vector_trainer.errors import ConfigError
    from vector_trainer.extractor.engines.torch_exact import TorchEngine

    X = _clustered(300, 8, seed=1)
    alone = TorchEngine("cpu", knn=0).density(X, 0.5)
    assert alone.knn_similarity is None
    np.testing.assert_array_equal(alone.neighbor_count, ExactEngine(knn=0).density(X, 0.5).neighbor_count)
    with pytest.raises(ConfigError, match="row_block must be >= 1"):
        TorchEngine(row_block=0)
