"""Each node's ``k`` most similar other nodes, collected during the density pass itself.

The exact density pass visits every unordered pair once, in symmetric tiles ``X_I X_J^T``
(``J > I``), after the diagonal tiles ``X_I X_I^T``, with the rows in an order that puts similar
rows in one block (:mod:`.exact._locality`). :class:`RunningTopK` rides along:

1. A diagonal tile seeds its rows' lists with their exact top ``k`` inside the block and sets
   each row's *floor* to the ``k``-th of them (``-inf`` while fewer than ``k``). The ``k``-th
   best of some columns is at most the ``k``-th best of all, so the floor is safe: no entry of
   the row's final list is below it.
2. An off-diagonal tile offers only the entries at or above the floor of their row (and,
   transposed, of their column); they are buffered as ``(row, column, similarity)`` triples and
   merged into the lists when the buffer is full, which raises the floors further.
3. A row whose final ``k``-th similarity is below its first floor would have lost an entry to
   the filter; :meth:`RunningTopK.incomplete_rows` names such rows (none with the floors above)
   and the engine recomputes them exactly, so the lists stay exact whatever floors are given.

Memory is ``O(n * k)`` and no pair is multiplied twice: the lists cost a filter over each tile,
and a row keeps only a few hundred candidates over the whole pass.
"""

from __future__ import annotations

import numpy as np

#: Width of the neighbour lists kept per node (the anomaly score and facility location read them).
DEFAULT_KNN = 64
#: Buffered candidates (in units of ``n * k``) before they are merged into the lists.
BUFFER_FACTOR = 2
#: Sort key spacing per row: similarities lie in [-1, 1], so ``1 - s`` lies in [0, 2] < 4.
_ROW_STRIDE = 4.0


class RunningTopK:
    """The ``k`` largest similarities (and their columns) of every row, fed tile by tile.

    Args:
        n: Number of rows (nodes).
        k: List width; rows with fewer than ``k`` other nodes keep ``-inf``/``-1`` padding.
    """

    def __init__(self, n: int, k: int) -> None:
        self.n, self.k = n, k
        self.similarity = np.full((n, k), -np.inf, dtype=np.float32)
        self.index = np.full((n, k), -1, dtype=np.int64)
        self.floor = np.full(n, -np.inf, dtype=np.float32)
        self.first_floor = np.full(n, -np.inf, dtype=np.float32)
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._sims: list[np.ndarray] = []
        self._pending = 0
        self._limit = max(BUFFER_FACTOR * n * k, 1)

    def seed(self, row0: int, tile: np.ndarray, col0: int, *, final: bool = True) -> None:
        """Exact top ``k`` of rows ``row0..`` from ``tile`` (self-similarities already ``-inf``).

        With ``final`` the rows are done and nothing further is offered to them; otherwise the
        tile is some of each row's columns, and the rows' floors become the ``k``-th best of
        them (a safe floor, module docstring).
        """
        width = tile.shape[1]
        take = min(self.k, width)
        if take < width:
            part = np.argpartition(-tile, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(width), tile.shape).copy()
        sims = np.take_along_axis(tile, part, axis=1)
        order = np.argsort(-sims, axis=1, kind="stable")
        rows = slice(row0, row0 + tile.shape[0])
        self.similarity[rows, :take] = np.take_along_axis(sims, order, axis=1)
        self.index[rows, :take] = np.take_along_axis(part, order, axis=1) + col0
        if final:
            self.floor[rows], self.first_floor[rows] = np.inf, -np.inf
            return
        self.seed_floors(row0, self.similarity[rows, self.k - 1])

    def seed_floors(self, row0: int, floors: np.ndarray) -> None:
        """Set the first floors of rows ``row0..``: the ``k``-th best similarity of each row in its
        diagonal tile. The compiled pass (:mod:`._tile_kernel`) sets them without filling the
        lists and buffers the tile's entries at or above them like any other tile's."""
        rows = slice(row0, row0 + floors.shape[0])
        self.floor[rows] = self.first_floor[rows] = floors

    def incomplete_rows(self) -> np.ndarray:
        """Rows whose list may miss an entry the floor filtered out (recompute them exactly)."""
        self.merge()
        return np.flatnonzero(self.similarity[:, self.k - 1] < self.first_floor)

    def offer(self, row0: int, col0: int, tile: np.ndarray) -> None:
        """Offer an off-diagonal tile to its rows and, transposed, to its columns."""
        width = tile.shape[1]
        flat = tile.ravel()
        hits = np.flatnonzero(tile >= self.floor[row0 : row0 + tile.shape[0], None])  # 5x faster than nonzero
        self._push(hits // width + row0, hits % width + col0, flat[hits])
        hits = np.flatnonzero(tile >= self.floor[None, col0 : col0 + width])
        self._push(hits % width + col0, hits // width + row0, flat[hits])

    def offer_rows(self, row0: int, col0: int, tile: np.ndarray) -> None:
        """Offer a tile to its rows only (its columns are not nodes of these lists)."""
        width = tile.shape[1]
        hits = np.flatnonzero(tile >= self.floor[row0 : row0 + tile.shape[0], None])
        self._push(hits // width + row0, hits % width + col0, tile.ravel()[hits])

    def _push(self, rows: np.ndarray, cols: np.ndarray, sims: np.ndarray) -> None:
        if rows.size:  # int32 halves the buffer; node counts stay far below 2**31
            self._rows.append(rows.astype(np.int32))
            self._cols.append(cols.astype(np.int32))
            self._sims.append(sims)
            self._pending += rows.size
        if self._pending > self._limit:
            self.merge()

    def merge(self) -> None:
        """Fold the buffered candidates into the lists and raise the floors."""
        if not self._pending:
            return
        rows, cols, sims = (np.concatenate(parts) for parts in (self._rows, self._cols, self._sims))
        self._rows, self._cols, self._sims, self._pending = [], [], [], 0
        k = self.k
        # The buffer's own top k per row: sort by (row, descending similarity), keep ranks < k.
        order = np.argsort(rows * _ROW_STRIDE + (1.0 - sims.astype(np.float64)))
        rows, cols, sims = rows[order], cols[order], sims[order]
        touched, starts = np.unique(rows, return_index=True)
        rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.append(starts, rows.size)))
        keep = rank < k
        slot = np.searchsorted(touched, rows[keep])
        fresh_sims = np.full((touched.size, k), -np.inf, dtype=np.float32)
        fresh_cols = np.full((touched.size, k), -1, dtype=np.int64)
        fresh_sims[slot, rank[keep]] = sims[keep]
        fresh_cols[slot, rank[keep]] = cols[keep]
        # Two sorted lists of width k per row: the best k of their union.
        both_sims = np.concatenate((self.similarity[touched], fresh_sims), axis=1)
        both_cols = np.concatenate((self.index[touched], fresh_cols), axis=1)
        best = np.argsort(-both_sims, axis=1, kind="stable")[:, :k]
        self.similarity[touched] = np.take_along_axis(both_sims, best, axis=1)
        self.index[touched] = np.take_along_axis(both_cols, best, axis=1)
        self.floor[touched] = np.maximum(self.first_floor[touched], self.similarity[touched, k - 1])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """``(similarity, index)``, each ``n x k``, best first; padding is ``-inf``/``-1``."""
        self.merge()
        self.index[~np.isfinite(self.similarity)] = -1
        return self.similarity, self.index
