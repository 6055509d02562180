"""The exact engine: NumPy BLAS over symmetric tiles of the cosine-similarity graph.

Each tile ``X_I X_J^T`` (``J >= I``) is computed once and reduced along both axes, so the work is
half of ``X X^T`` and memory is ``O(n*d + block^2 + n*k)``; the ``n x n`` matrix never exists.
The same pass keeps each node's ``k`` most similar other nodes, exactly
(:mod:`~vector_trainer.extractor.engines.knn`). With numba installed, each tile is read once by a
compiled kernel (:mod:`._fused`): edge sums and list candidates together, a tile per core
(:mod:`.tiles`), so the kernel's time is spread over the cores too.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import numpy as np

from vector_trainer.errors import ConfigError
from vector_trainer.extractor.engines.base import DEFAULT_BLOCK, DensityResult, effective_threshold, similarities_to_all
from vector_trainer.extractor.engines.exact._fused import FusedPass, load_kernels
from vector_trainer.extractor.engines.exact._locality import locality_order
from vector_trainer.extractor.engines.exact.tiles import blas_threads, run_tiles, single_threaded_blas, tile_order
from vector_trainer.extractor.engines.knn import DEFAULT_KNN, RunningTopK

#: ``fused=None`` uses the compiled per-tile pass (numba) from this many nodes. Loading the cached
#: kernels costs about a second (compiling them, once per install, about 15 s); below this size
#: the NumPy reductions cost about as much.
FUSED_MIN_NODES = 25_000


def _accumulate(
    tile: np.ndarray, t: np.float32, density: np.ndarray, count: np.ndarray, i0: int, j0: int | None
) -> None:
    """Add a tile's edges (similarity >= t) to the densities of its rows and, for an
    off-diagonal tile (``j0`` given), of its columns. The tile is overwritten."""
    mask = tile >= t
    if j0 is None:  # a diagonal tile: a node is never its own neighbour, whatever the threshold
        np.fill_diagonal(mask, False)
    np.multiply(tile, mask, out=tile)
    rows = slice(i0, i0 + tile.shape[0])
    count[rows] += np.count_nonzero(mask, axis=1)
    density[rows] += tile.sum(axis=1, dtype=np.float64)
    if j0 is not None:
        cols = slice(j0, j0 + tile.shape[1])
        count[cols] += np.count_nonzero(mask, axis=0)
        density[cols] += tile.sum(axis=0, dtype=np.float64)


def _gram(A: np.ndarray) -> np.ndarray:
    """``A @ A.T`` as a general matrix product: on a 2048-row tile OpenBLAS's GEMM is about
    twice as fast as the SYRK path NumPy takes for ``A @ A.T``, though SYRK does half the flops."""
    return A @ A.T.copy()


class ExactEngine:
    """Exact density with blocked, symmetric BLAS products (see module docstring), and each
    node's ``knn`` most similar other nodes collected in the same pass (:mod:`.knn`).

    Args:
        block: Tile edge; memory beyond ``X`` is about ``2 * block^2 * 4`` bytes plus the lists.
        knn: Width of the neighbour lists; 0 computes density alone (no lists).
        seed: Seed of the row order (the lists are exact whatever it is).
        fused: Read each tile in one compiled pass (numba, :mod:`._fused`): ``True``, ``False``
            (NumPy reductions), or ``None`` for compiled from :data:`FUSED_MIN_NODES` nodes when
            numba is installed. Both give the same figures (sums in a different order).
        workers: Threads for the compiled path's tiles (:mod:`.tiles`), each with one BLAS
            thread; ``None`` for as many as BLAS runs. The figures do not depend on it.
    """

    name = "exact"

    def __init__(
        self,
        block: int = DEFAULT_BLOCK,
        knn: int = DEFAULT_KNN,
        seed: int = 0,
        *,
        fused: bool | None = None,
        workers: int | None = None,
    ) -> None:
        if block < 1:
            raise ConfigError(f"block must be >= 1, got {block}")
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        if knn < 0:
            raise ConfigError(f"knn must be >= 0 (0: no neighbour lists), got {knn}")
        self.block, self.knn, self.seed, self.fused, self.workers = block, knn, seed, fused, workers

    def _kernels(self, n: int) -> ModuleType | None:
        if self.fused is False or (self.fused is None and n < FUSED_MIN_NODES):
            return None
        return load_kernels()

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str] = ()) -> DensityResult:
        X = np.ascontiguousarray(X, dtype=np.float32)  # the kernels' type (float16 or float64 rows too)
        n = X.shape[0]
        b = self.block
        order = locality_order(X, b, self.seed)  # similar rows in one block: tight first floors
        Xp = X[order]
        t = effective_threshold(threshold)
        density = np.zeros(n, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        kernels = self._kernels(n)
        top = RunningTopK(n, min(self.knn, max(n - 1, 1))) if self.knn else None
        fused = FusedPass(kernels, t, density, count, top) if kernels is not None else None
        nearest = np.full(n, -np.inf, dtype=np.float32)

        def tile(i: int, j: int) -> None:  # blocks i <= j; the diagonal tiles come first
            i0, j0 = i * b, j * b
            if i == j:
                self._diagonal_tile(Xp, i0, t, density, count, nearest, top, fused)
            else:
                self._off_diagonal_tile(Xp, i0, j0, t, density, count, nearest, top, fused)

        n_blocks = -(-n // b)
        workers = self._workers(fused, n_blocks)
        with single_threaded_blas(workers):
            run_tiles([(i, i) for i in range(n_blocks)] + tile_order(n_blocks), tile, workers)
        if fused is not None:
            fused.finish(workers)
        back = np.empty_like(order)
        back[order] = np.arange(n)
        if top is None:
            nearest[~np.isfinite(nearest)] = -1.0
            return DensityResult(density[back], count[back], nearest[back], self.name, approximate=False)
        self._recompute(Xp, top, top.incomplete_rows())
        sims, index = top.result()
        nearest = np.where(np.isfinite(sims[:, 0]), sims[:, 0], -1.0).astype(np.float32)
        return DensityResult(
            density[back],
            count[back],
            nearest[back],
            self.name,
            approximate=False,
            knn_similarity=sims[back],
            knn_index=np.where(index[back] >= 0, order[np.maximum(index[back], 0)], -1),
        )

    def _workers(self, fused: FusedPass | None, n_blocks: int) -> int:
        """Threads for the tiles: one per BLAS thread on the compiled path (:mod:`.tiles`)."""
        if fused is None or n_blocks < 2:
            return 1  # the NumPy reductions are multi-threaded BLAS calls of their own
        return self.workers if self.workers is not None else blas_threads()

    def _diagonal_tile(
        self, Xp: np.ndarray, i0: int, t: np.float32, density: np.ndarray, count: np.ndarray,
        nearest: np.ndarray, top: RunningTopK | None, fused: FusedPass | None,
    ) -> None:  # fmt: skip
        n = Xp.shape[0]
        i1 = min(n, i0 + self.block)
        tile = _gram(Xp[i0:i1])
        np.fill_diagonal(tile, -np.inf)
        if top is None:
            np.maximum(nearest[i0:i1], tile.max(axis=1), out=nearest[i0:i1])
        if fused is not None:
            fused.diagonal(tile, i0)
            return
        if top is not None:
            top.seed(i0, tile, i0, final=False)
        np.fill_diagonal(tile, 0.0)
        _accumulate(tile, t, density, count, i0, None)

    def _off_diagonal_tile(
        self, Xp: np.ndarray, i0: int, j0: int, t: np.float32, density: np.ndarray, count: np.ndarray,
        nearest: np.ndarray, top: RunningTopK | None, fused: FusedPass | None,
    ) -> None:  # fmt: skip
        i1, j1 = min(Xp.shape[0], i0 + self.block), min(Xp.shape[0], j0 + self.block)
        tile = Xp[i0:i1] @ Xp[j0:j1].T
        if top is None:
            np.maximum(nearest[i0:i1], tile.max(axis=1), out=nearest[i0:i1])
            np.maximum(nearest[j0:j1], tile.max(axis=0), out=nearest[j0:j1])
        if fused is not None:
            fused.off_diagonal(tile, i0, j0)
            return
        if top is not None:
            top.offer(i0, j0, tile)
        _accumulate(tile, t, density, count, i0, j0)

    @staticmethod
    def _recompute(X: np.ndarray, top: RunningTopK, rows: np.ndarray) -> None:
        """Exact lists for ``rows`` (the few the floor filter may have shortened)."""
        for chunk, sims in similarities_to_all(X, rows):
            for offset, row in enumerate(chunk):
                top.seed(int(row), sims[offset : offset + 1], 0)
