"""The exact engine's per-tile work in compiled code (:mod:`._tile_kernel`, numba), when available.

:class:`FusedPass` binds the kernels to one density computation: after BLAS has computed a
tile, one call adds the tile's edge sums and offers its entries to the neighbour lists. It is
imported without numba; :func:`load_kernels` says whether the kernels can be used.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from vector_trainer.extractor.engines.exact.tiles import run_chunks
from vector_trainer.extractor.engines.knn import RunningTopK

#: Candidates buffered per node, in list widths, before the buffer is cut to its best ``k``.
LIST_BUFFER_FACTOR = 2
#: Chunks of rows per thread when the lists are finished (more than one evens out the threads).
FINISH_CHUNKS_PER_WORKER = 4


def load_kernels() -> ModuleType | None:
    """The compiled kernels (:mod:`._tile_kernel`), or ``None`` when numba is not installed."""
    try:
        from vector_trainer.extractor.engines.exact import _tile_kernel
    except ImportError:
        return None
    return _tile_kernel


class FusedPass:
    """The compiled per-tile pass (:mod:`._tile_kernel`) bound to one density computation."""

    def __init__(
        self, kernels: ModuleType, t: np.float32, density: np.ndarray, count: np.ndarray, top: RunningTopK | None
    ) -> None:
        self.kernels, self.t, self.density, self.count, self.top = kernels, t, density, count, top
        n, k = (top.n, top.k) if top is not None else (0, 0)
        self._buffers = (
            np.full((n, LIST_BUFFER_FACTOR * k), -np.inf, dtype=np.float32),
            np.full((n, LIST_BUFFER_FACTOR * k), -1, dtype=np.int32),
            np.zeros(n, dtype=np.int64),
        )
        self._floors = (top.floor, top.first_floor) if top is not None else (np.empty(0, np.float32),) * 2

    def diagonal(self, tile: np.ndarray, i0: int) -> None:
        """A diagonal tile (self-similarities ``-inf``): floors (at most each row's ``k``-th best
        in the tile), list candidates and row sums."""
        if self.top is not None:
            self.top.seed_floors(i0, self.kernels.kth_largest_floor(tile, self.top.k))
        self._run(tile, i0, i0, with_columns=False, diagonal=True)

    def off_diagonal(self, tile: np.ndarray, i0: int, j0: int) -> None:
        """A tile of rows ``i0..`` against other nodes ``j0..``: sums and candidates both ways."""
        self._run(tile, i0, j0, with_columns=True, diagonal=False)

    def rows_only(self, tile: np.ndarray, i0: int, j0: int) -> None:
        """A tile of rows ``i0..`` against columns ``j0..`` that are not rows of this pass
        (queries against candidates): the rows' sums and candidates only."""
        self._run(tile, i0, j0, with_columns=False, diagonal=False)

    def finish(self, workers: int = 1) -> None:
        """Each row's best buffered candidates become its list, best first, in chunks of rows
        spread over ``workers`` threads (the kernel releases the GIL; chunks share no row)."""
        top = self.top
        if top is None:
            return
        size = max(1, -(-top.n // (FINISH_CHUNKS_PER_WORKER * workers)))

        def chunk(c: int) -> None:
            rows = slice(c * size, min(top.n, (c + 1) * size))
            buffers = (buffer[rows] for buffer in self._buffers)
            self.kernels.finish_lists(*buffers, top.similarity[rows], top.index[rows])

        run_chunks(-(-top.n // size), chunk, workers)

    def _run(self, tile: np.ndarray, row0: int, col0: int, *, with_columns: bool, diagonal: bool) -> None:
        k = self.top.k if self.top is not None else 0
        self.kernels.tile_pass(
            tile, self.t, row0, col0, with_columns, diagonal, self.density, self.count, *self._buffers, *self._floors, k
        )
