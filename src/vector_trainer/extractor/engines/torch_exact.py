"""Exact density and neighbour lists on torch: a GPU when there is one, torch's CPU otherwise.

The same graph as :class:`~.engines.ExactEngine` -- node ``i``'s neighbours are the other rows
with ``X_i . X_j >= t`` (the same float32 threshold tolerance), ``D(i)`` sums their similarities
(in float64), and each node keeps its ``knn`` most similar other nodes -- computed in tiles of
``row_block x column_block`` similarities: each tile's edges are summed and its best ``knn`` per
row merged into the rows' running lists (``torch.topk`` over the list and the tile). Device
memory is ``O(n * d + row_block * (column_block + knn))``: bounded by the blocks, not by ``n``
beyond the rows themselves. Every pair is computed from both sides (twice the flops of the CPU
engine's symmetric tiles), which keeps each tile's reductions along one axis.

Matrix products run in full float32 (TF32 off), so the figures agree with the CPU engine except
for pairs within rounding of the threshold and the order of equal similarities in a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vector_trainer.errors import ConfigError, MissingDependencyError
from vector_trainer.extractor.engines.base import DensityResult, effective_threshold
from vector_trainer.extractor.engines.knn import DEFAULT_KNN

#: Tile of similarities per step on a GPU (rows x columns, float32: 512 MiB) and on a CPU.
GPU_BLOCKS = (4096, 32_768)
CPU_BLOCKS = (1024, 8192)


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device (torch is imported only if installed)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class TorchEngine:
    """Exact density and ``knn`` lists with torch (see module docstring).

    Args:
        device: ``cuda``, ``cuda:1``, ``cpu`` ...; ``None`` for CUDA when available, else CPU.
        row_block: Rows per tile (default by device: :data:`GPU_BLOCKS`, :data:`CPU_BLOCKS`).
        column_block: Columns per tile.
        knn: Width of the neighbour lists; 0 computes density alone.
    """

    name = "torch"

    def __init__(
        self,
        device: str | None = None,
        *,
        row_block: int | None = None,
        column_block: int | None = None,
        knn: int = DEFAULT_KNN,
    ) -> None:
        for label, value in (("row_block", row_block), ("column_block", column_block)):
            if value is not None and value < 1:
                raise ConfigError(f"{label} must be >= 1, got {value}")
        if knn < 0:
            raise ConfigError(f"knn must be >= 0 (0: no neighbour lists), got {knn}")
        self.device, self.row_block, self.column_block, self.knn = device, row_block, column_block, knn

    def _torch(self) -> tuple[Any, Any]:
        try:
            import torch
        except ImportError as exc:
            raise MissingDependencyError("torch", "local", "The torch neighbour engine") from exc
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return torch, device

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str] = ()) -> DensityResult:
        torch, device = self._torch()
        rows_per, cols_per = GPU_BLOCKS if device.type == "cuda" else CPU_BLOCKS
        rows_per, cols_per = self.row_block or rows_per, self.column_block or cols_per
        n = X.shape[0]
        k = min(self.knn, max(n - 1, 1)) if self.knn else 0
        t = float(effective_threshold(threshold))
        density = np.zeros(n, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        nearest = np.full(n, -1.0, dtype=np.float32)
        sims = np.full((n, k), -np.inf, dtype=np.float32)
        index = np.full((n, k), -1, dtype=np.int64)
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False  # full float32 products, as on the CPU
        try:
            Xd = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
            for r0 in range(0, n, rows_per):
                out = self._row_block(torch, Xd, r0, min(n, r0 + rows_per), cols_per, t, k)
                density[r0 : r0 + len(out[0])], count[r0 : r0 + len(out[0])] = out[0], out[1]
                nearest[r0 : r0 + len(out[0])] = out[2]
                if k:
                    sims[r0 : r0 + len(out[0])], index[r0 : r0 + len(out[0])] = out[3], out[4]
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
        lists = {"knn_similarity": sims, "knn_index": index} if k else {}
        note = f"torch on {device}"
        return DensityResult(density, count, nearest, self.name, approximate=False, note=note, **lists)

    @staticmethod
    def _row_block(torch: Any, Xd: Any, r0: int, r1: int, cols_per: int, t: float, k: int) -> tuple[Any, ...]:
        """Density, count, nearest similarity and the ``k`` lists of rows ``r0:r1``."""
        n, rows = Xd.shape[0], r1 - r0
        device = Xd.device
        dens = torch.zeros(rows, dtype=torch.float64, device=device)
        cnt = torch.zeros(rows, dtype=torch.int64, device=device)
        best = torch.full((rows,), -torch.inf, device=device)
        top_s = torch.full((rows, k), -torch.inf, device=device)
        top_i = torch.full((rows, k), -1, dtype=torch.int64, device=device)
        own = torch.arange(r0, r1, device=device)
        query = Xd[r0:r1]
        for c0 in range(0, n, cols_per):
            c1 = min(n, c0 + cols_per)
            tile = query @ Xd[c0:c1].T
            inside = (own >= c0) & (own < c1)  # a node is never its own neighbour
            tile[inside.nonzero().squeeze(1), (own[inside] - c0)] = -torch.inf
            edge = tile >= t
            dens += torch.where(edge, tile, 0.0).sum(dim=1, dtype=torch.float64)
            cnt += edge.sum(dim=1)
            best = torch.maximum(best, tile.max(dim=1).values)
            if k:
                width = min(k, c1 - c0)
                s, i = torch.topk(tile, width, dim=1)
                merged_s, merged_i = torch.cat([top_s, s], dim=1), torch.cat([top_i, i + c0], dim=1)
                top_s, pick = torch.topk(merged_s, k, dim=1)
                top_i = torch.gather(merged_i, 1, pick)
        best = torch.where(torch.isfinite(best), best, torch.full_like(best, -1.0))
        top_i = torch.where(torch.isfinite(top_s), top_i, torch.full_like(top_i, -1))
        return (
            dens.cpu().numpy(),
            cnt.cpu().numpy(),
            best.cpu().numpy(),
            top_s.cpu().numpy(),
            top_i.cpu().numpy(),
        )
