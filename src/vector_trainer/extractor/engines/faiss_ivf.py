"""Approximate density for large stores with a faiss inverted-file index (extra ``ann``).

:class:`FaissEngine` follows the exact engine's definitions (:mod:`.engines`) and keeps its
approximation to one source, stated and measured: an inverted-file index (``IndexIVFFlat``,
inner product) searches ``nprobe`` of its ``nlist`` cells, so a neighbour in an unsearched cell
is missed. Nothing else is cut:

* **No neighbour cap on density.** Each node's ``k`` nearest are searched first (they are the
  neighbour lists the selection reads). A node whose ``k``-th nearest is still a neighbour
  (``sim >= 1 - epsilon``) has more neighbours than ``k``; its density comes from a range search
  of the same cells, which returns all of them.
* **The probe count is chosen from the data.** A seeded sample of nodes is compared with every
  node exactly; ``nprobe`` doubles until the sample's neighbour-set recall reaches
  ``target_recall`` and at most ``max_off_share`` of the sample has a density more than
  ``density_tolerance`` off (or every cell is searched). The measured figures are returned
  with the result and written to the selection report. When the targets need more than
  ``max_probe_share`` of the cells (wide neighbourhoods), scanning them would cost more than
  exact search, and the exact engine computes the result instead, saying so.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vector_trainer.errors import MissingDependencyError
from vector_trainer.extractor.engines.base import DEFAULT_ANN_K, FAISS_TARGETS, DensityResult, effective_threshold
from vector_trainer.extractor.engines.exact.engine import ExactEngine

#: First probe count tried; doubled until the sample meets the targets.
DEFAULT_ANN_NPROBE = 16
#: Sampled nodes compared exactly with every node to measure the search.
DEFAULT_CALIBRATION_SAMPLE = 1000
#: faiss k-means wants at least this many training points per cell.
FAISS_POINTS_PER_CELL = 39
#: Queries per search call (range results are bounded by this many nodes' neighbours).
QUERY_BATCH = 2048


@dataclass(frozen=True)
class SearchQuality:
    """The search measured on the calibration sample.

    Attributes:
        nprobe: Cells searched per query.
        nlist: Cells in the index.
        recall: Neighbour-set recall (found neighbours / true neighbours) on the sample.
        off_share: Share of sampled nodes whose density is more than the tolerance off.
        sample: Sampled nodes.
        met: Whether the targets were met within the probe budget.
    """

    nprobe: int
    nlist: int
    recall: float
    off_share: float
    sample: int
    met: bool = True


class FaissEngine:
    """Approximate density with a faiss IVF index: uncapped density, measured recall.

    Args:
        k: Nearest neighbours kept per node (the neighbour lists).
        nprobe: First probe count; raised until the calibration targets are met.
        nlist: Number of cells; default ``4 * sqrt(n)``.
        train_sample: Rows used to train the coarse quantizer.
        calibration_sample: Nodes compared exactly with every node (0 skips calibration and
            uses ``nprobe`` as given).
        target_recall: Neighbour-set recall the sample must reach.
        density_tolerance: Relative density error counted as "off".
        max_off_share: Share of the sample whose density may be off.
        max_probe_share: Most of the cells the calibration may probe; when the targets need
            more, the exact engine computes the result instead (and the note says why).
        seed: Seed of the training and calibration samples.
    """

    name = "faiss-ivf"

    def __init__(
        self,
        k: int = DEFAULT_ANN_K,
        nprobe: int = DEFAULT_ANN_NPROBE,
        nlist: int | None = None,
        train_sample: int = 100_000,
        *,
        calibration_sample: int = DEFAULT_CALIBRATION_SAMPLE,
        target_recall: float = FAISS_TARGETS.recall,
        density_tolerance: float = FAISS_TARGETS.density_tolerance,
        max_off_share: float = FAISS_TARGETS.max_off_share,
        max_probe_share: float = FAISS_TARGETS.max_probe_share,
        seed: int = 0,
    ) -> None:
        try:
            import faiss
        except ImportError as exc:
            raise MissingDependencyError("faiss-cpu", "ann", "The ANN neighbour engine") from exc
        self._faiss = faiss
        self.k, self.nprobe, self.nlist, self.train_sample = k, nprobe, nlist, train_sample
        self.calibration_sample, self.target_recall = calibration_sample, target_recall
        self.density_tolerance, self.max_off_share, self.seed = density_tolerance, max_off_share, seed
        self.max_probe_share = max_probe_share
        self.quality: SearchQuality | None = None

    def _build(self, X: np.ndarray):
        faiss = self._faiss
        n, d = X.shape
        nlist = self.nlist or max(1, min(n // FAISS_POINTS_PER_CELL, int(4 * math.sqrt(n))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(self.seed)
        size = min(n, max(self.train_sample, FAISS_POINTS_PER_CELL * nlist))
        index.train(X if size >= n else X[np.sort(rng.choice(n, size, replace=False))])
        index.add(X)
        index.nprobe = min(self.nprobe, nlist)
        return index

    def _exact_instead(self, X: np.ndarray, threshold: float) -> DensityResult:
        """The exact engine's result, when the IVF search would need more than
        ``max_probe_share`` of its cells to meet the targets (wide neighbourhoods: scanning that
        many cells costs more than exact blocked products)."""
        q = self.quality
        assert q is not None, "the search quality is measured before the exact engine is chosen"
        exact = ExactEngine(knn=self.k).density(X, threshold)
        note = (
            f"exact: an IVF search of {q.nprobe}/{q.nlist} cells reached neighbour recall {q.recall:.4f} with "
            f"{q.off_share:.2%} of densities more than {self.density_tolerance:.0%} off on {q.sample} sampled logs, "
            f"short of {self.target_recall} / {self.max_off_share:.1%}; more cells would cost more than exact search"
        )
        return dataclasses.replace(exact, note=note)

    def _knn(self, index, X: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar other rows of each query: ``(similarities, indices)``, best
        first; missing entries are ``-inf``/``-1``."""
        take = min(self.k + 1, X.shape[0])
        sims, idx = index.search(np.ascontiguousarray(X[queries]), take)
        valid = (idx >= 0) & (idx != queries[:, None])
        sims = np.where(valid, sims, -np.inf).astype(np.float32)
        order = np.argsort(-sims, axis=1, kind="stable")[:, : self.k]
        return np.take_along_axis(sims, order, axis=1), np.take_along_axis(np.where(valid, idx, -1), order, axis=1)

    def _range(self, index, X: np.ndarray, queries: np.ndarray, t: np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Density and neighbour count of each query from a range search (no cap)."""
        lims, sims, idx = index.range_search(np.ascontiguousarray(X[queries]), float(t))
        owner = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
        keep = idx != queries[owner]
        density = np.bincount(owner[keep], weights=sims[keep].astype(np.float64), minlength=len(queries))
        return density, np.bincount(owner[keep], minlength=len(queries))

    def _node_density(self, index, X: np.ndarray, queries: np.ndarray, t: np.float32):
        """Lists, density and count of ``queries``: from the lists where they hold every
        neighbour, from a range search where the ``k``-th nearest is still a neighbour."""
        sims, idx = self._knn(index, X, queries)
        in_range = sims >= t
        density = np.where(in_range, sims, 0.0).sum(axis=1, dtype=np.float64)
        count = in_range.sum(axis=1).astype(np.int64)
        capped = np.flatnonzero(in_range[:, -1]) if sims.shape[1] else np.empty(0, dtype=np.int64)
        if capped.size:
            density[capped], count[capped] = self._range(index, X, queries[capped], t)
        return sims, idx, density, count

    def _calibrate(self, index, X: np.ndarray, t: np.float32) -> SearchQuality:
        n = X.shape[0]
        rng = np.random.default_rng(self.seed + 1)
        sample = np.sort(rng.choice(n, min(self.calibration_sample, n), replace=False))
        exact_count = np.empty(sample.size, dtype=np.int64)
        exact_density = np.empty(sample.size, dtype=np.float64)
        for q0 in range(0, sample.size, 256):
            chunk = sample[q0 : q0 + 256]
            sims = X[chunk] @ X.T
            sims[np.arange(chunk.size), chunk] = -np.inf
            edges = sims >= t
            exact_count[q0 : q0 + chunk.size] = edges.sum(axis=1)
            exact_density[q0 : q0 + chunk.size] = np.where(edges, sims, 0.0).sum(axis=1, dtype=np.float64)
        total = int(exact_count.sum())
        while True:
            # An IVF search returns exact similarities of the cells it probes, so it can only miss
            # neighbours: the recall is the neighbours found over the true ones (capped at 1 against
            # a pair on the threshold that faiss's rounding puts above it and BLAS's below).
            _, _, density, count = self._node_density(index, X, sample, t)
            recall = min(1.0, float(count.sum()) / total) if total else 1.0
            error = np.abs(density - exact_density) / np.maximum(exact_density, np.finfo(np.float64).tiny)
            off = float(np.mean((error > self.density_tolerance) & (exact_density > 0)))
            met = recall >= self.target_recall and off <= self.max_off_share
            too_wide = index.nprobe * 2 > self.max_probe_share * index.nlist
            if met or too_wide or index.nprobe >= index.nlist:
                return SearchQuality(int(index.nprobe), int(index.nlist), recall, off, int(sample.size), met)
            index.nprobe = min(index.nlist, index.nprobe * 2)

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str] = ()) -> DensityResult:
        n = X.shape[0]
        index = self._build(X)
        t = effective_threshold(threshold)
        if self.calibration_sample:
            self.quality = self._calibrate(index, X, t)
            if not self.quality.met:
                return self._exact_instead(X, threshold)
        width = min(self.k, max(n - 1, 1))
        density = np.zeros(n, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        knn_sims = np.full((n, width), -np.inf, dtype=np.float32)
        knn_index = np.full((n, width), -1, dtype=np.int64)
        for q0 in range(0, n, QUERY_BATCH):
            queries = np.arange(q0, min(n, q0 + QUERY_BATCH))
            sims, idx, density[queries], count[queries] = self._node_density(index, X, queries, t)
            knn_sims[queries], knn_index[queries] = sims[:, :width], idx[:, :width]
        nearest = np.where(np.isfinite(knn_sims[:, 0]), knn_sims[:, 0], -1.0).astype(np.float32)
        note = f"approximate: IVF search of {index.nprobe}/{index.nlist} cells, density uncapped (range search)"
        if self.quality is not None:
            q = self.quality
            note += (
                f"; measured on {q.sample} sampled logs against exact search: neighbour recall {q.recall:.4f}, "
                f"{q.off_share:.2%} of densities more than {self.density_tolerance:.0%} off"
            )
        return DensityResult(
            density, count, nearest, self.name, True, note, knn_similarity=knn_sims, knn_index=knn_index
        )
