"""What every neighbour engine shares: the interface, its result and the threshold rule.

For L2-normalised rows ``X``, node ``i``'s neighbours are ``N(i) = {j != i : X_i . X_j >= t}``
with ``t = 1 - epsilon``, and its density is ``D(i) = sum_{j in N(i)} X_i . X_j``.

The engines (each in its own module of this package):

* :class:`~.exact.engine.ExactEngine` -- NumPy BLAS over symmetric tiles, compiled per-tile
  kernels where numba is installed, and each node's ``k`` most similar other nodes, exactly.
* :class:`~.torch_exact.TorchEngine` -- the same graph on torch (a GPU when there is one).
* :class:`~.faiss_ivf.FaissEngine` -- an inverted-file index (faiss, extra ``ann``) for large ``n``.
* :class:`~.source.ManagerEngine` -- the source's own ``near_vector`` (FR-1.5).
* :class:`~vector_trainer.extractor.distributed.engine.RayEngine` -- cells scanned in Ray tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: Similarities are float32; a pair sitting exactly on the threshold must not flip with rounding.
THRESHOLD_TOLERANCE = 1e-6
#: Rows per block of a blocked product (the exact engine's tiles, the loop trigger's scan).
DEFAULT_BLOCK = 2048
#: Neighbours asked of an approximate engine or a source per node.
DEFAULT_ANN_K = 64
#: Query rows per product of :func:`similarities_to_all` (memory: this many rows of ``n``).
DEFAULT_QUERY_BLOCK = 256


@dataclass(frozen=True)
class DensityResult:
    """Per-node density, neighbour count and similarity of the nearest other node.

    Attributes:
        density: ``D(i)``, float64.
        neighbor_count: ``|N(i)|``.
        nearest_similarity: ``max_{j != i} sim(i, j)``; ``-1`` for a graph of one node.
        engine: Name of the engine that computed it.
        approximate: Whether the figures are approximate.
        note: How they are approximate, in words.
        knn_similarity: Each node's most similar other nodes' similarities (``n x k``, best
            first, ``-inf`` padding), when the engine collects them.
        knn_index: Their node indices (``-1`` padding).
    """

    density: np.ndarray
    neighbor_count: np.ndarray
    nearest_similarity: np.ndarray
    engine: str
    approximate: bool
    note: str = ""
    knn_similarity: np.ndarray | None = field(default=None, repr=False)
    knn_index: np.ndarray | None = field(default=None, repr=False)


class NeighborEngine(Protocol):
    """Computes densities (and neighbour lists) of L2-normalised float32 rows."""

    name: str

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str]) -> DensityResult:
        """Density of every row of ``X`` (``ids`` are the rows' log uuids); an engine may also
        return each row's most similar other rows (``knn_similarity``/``knn_index``)."""
        ...


@dataclass(frozen=True)
class SearchTargets:
    """What an approximate neighbour search must reach on a sample of logs compared exactly
    with every log, before its probe count (cells searched per log) is accepted.

    Attributes:
        recall: Neighbour-set recall (true neighbours found / true neighbours).
        density_tolerance: A log's density is *off* when its relative error exceeds this.
        max_off_share: Share of the sampled logs whose density may be off.
        max_probe_share: Most of the cells a log may probe (past it, exact search is cheaper).
    """

    recall: float
    density_tolerance: float
    max_off_share: float
    max_probe_share: float

    def met(self, recall: float, off_share: float) -> bool:
        """Whether a measured recall and share of off densities reach the targets."""
        return recall >= self.recall and off_share <= self.max_off_share


#: The faiss engine's densities are a run's final figures for every log (the anomaly ranking
#: reads them), so it asks for more, and falls back to the exact engine when wide
#: neighbourhoods would need more than a sixteenth of its cells.
FAISS_TARGETS = SearchTargets(recall=0.995, density_tolerance=0.01, max_off_share=0.005, max_probe_share=1 / 16)
#: The Ray cells' lists feed the first steady round, whose picks the second round re-weighs, and
#: their anomaly ranking is re-scored exactly (proven complete), so less is needed there.
CELL_TARGETS = SearchTargets(recall=0.98, density_tolerance=0.01, max_off_share=0.02, max_probe_share=0.25)


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as contiguous float32 (zero rows stay zero)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


def effective_threshold(threshold: float) -> np.float32:
    """The float32 threshold that keeps a pair sitting exactly on ``threshold`` a neighbour."""
    return np.float32(threshold - THRESHOLD_TOLERANCE)


def similarities_to_all(
    X: np.ndarray, rows: np.ndarray, block: int = DEFAULT_QUERY_BLOCK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(chunk, sims)`` for blocks of ``rows``: the chunk's similarities to every row of ``X``,
    a row's similarity to itself set to ``-inf`` (a node is never its own neighbour). Memory is
    ``block x n``, whatever ``len(rows)``."""
    for r0 in range(0, rows.size, block):
        chunk = rows[r0 : r0 + block]
        yield chunk, similarities_of(X, chunk)


def similarities_of(X: np.ndarray, chunk: np.ndarray) -> np.ndarray:
    """Rows ``chunk``'s similarities to every row of ``X``, each to itself ``-inf``."""
    sims = X[chunk] @ X.T
    sims[np.arange(chunk.size), chunk] = -np.inf
    return sims
