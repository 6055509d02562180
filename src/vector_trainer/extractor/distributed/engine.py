"""Density and neighbour lists on Ray (extra ``distributed``): cells scanned in parallel tasks.

:class:`RayEngine` implements :class:`~.engines.NeighborEngine` over the cell scheme of
:mod:`.cells`; the task bodies are :mod:`.cell_tasks`. One run:

1. **Centroids**: a seeded sample of rows is pulled to the driver and clustered (spherical
   k-means, ``sqrt(n)`` cells of at least ``cell_size`` logs); a second sample calibrates.
2. **Statistics** (one task per block): replica counts per (cell, probe rank) and the sample's
   true neighbours with the probe rank that finds each; the driver picks the probe count
   (:func:`.cells.choose_probes`) and groups the cells into partitions of equal estimated work.
3. **Routing** (one task per block): each block split into one piece per partition.
4. **Scan** (one task per partition): per-log density, neighbour count, nearest similarity and
   ``k`` most similar candidates, and each cell's local steady picks.

The driver holds the samples, ``cells x probes`` counts, and what it asks back; blocks and pieces
live in Ray's object store (spilled to disk past its memory). With no address it starts a local
Ray (``num_cpus``, no dashboard); ``address`` or ``RAY_ADDRESS`` joins a cluster.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vector_trainer.errors import ConfigError, MissingDependencyError, VectorTrainerError, redact
from vector_trainer.extractor.distributed import blocks as cell_blocks
from vector_trainer.extractor.distributed import tasks as cell_tasks
from vector_trainer.extractor.distributed.cells import (
    DEFAULT_CELL_SIZE,
    TRAIN_POINTS_PER_CELL,
    ProbeChoice,
    SamplePairs,
    cell_count,
    choose_probes,
    probe_budget,
    probe_order,
    train_centroids,
)
from vector_trainer.extractor.engines.base import CELL_TARGETS, DensityResult
from vector_trainer.extractor.engines.knn import DEFAULT_KNN
from vector_trainer.extractor.epsilon import (
    AUTO_NEIGHBOURS,
    AUTO_SAMPLE,
    EpsilonChoice,
    choose_epsilon,
    epsilon_from_kth,
)
from vector_trainer.extractor.graph import common_dimension
from vector_trainer.sources.columnar import VectorFile

#: Rows per block put into the object store by :meth:`RayEngine.density`.
DEFAULT_BLOCK_ROWS = 32_768
DEFAULT_CALIBRATION_SAMPLE = 1000
#: Seconds to wait for a cluster's address to answer before giving up.
CONNECT_TIMEOUT_S = 10.0
#: Scan partitions per CPU of the cluster (more than one keeps every CPU busy to the end).
PARTITIONS_PER_CPU = 4
Progress = Callable[[str, int, int], None]


def ray_module() -> Any:
    """The ``ray`` package, or a :class:`MissingDependencyError` naming the extra."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "distributed", "The Ray neighbour engine") from exc
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start a local one with
    ``num_cpus`` CPUs and no dashboard; an already connected driver is reused.

    Raises:
        ConfigError: For an address that is not ``host:port``, ``ray://host:port`` or ``auto``.
        VectorTrainerError: When the cluster cannot be reached (checked within
            :data:`CONNECT_TIMEOUT_S`, where Ray itself would retry for minutes).
    """
    ray = ray_module()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        return ray
    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise VectorTrainerError(redact(f"cannot join the Ray cluster at {address}: {exc}")) from None
    return ray


def _check_reachable(address: str) -> None:
    if address in {"auto", "local"}:  # Ray's own discovery, which answers at once
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"extractor.ray_address: expected host:port, ray://host:port or auto, got {redact(repr(address))} "
            "(from --ray-address, ray_address or RAY_ADDRESS)"
        )
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reached = redact(f"cannot reach the Ray cluster at {address} ({exc})")
        raise VectorTrainerError(
            f"{reached}; check --ray-address or RAY_ADDRESS, or leave both unset for a local Ray"
        ) from None


@dataclass(frozen=True)
class BlockSet:
    """Blocks of ``(ids, vectors)`` in the object store, and their sizes."""

    refs: tuple[Any, ...]
    sizes: tuple[int, ...]
    dim: int

    @property
    def n(self) -> int:
        """Rows in all."""
        return sum(self.sizes)


@dataclass(frozen=True)
class DistributedScan:
    """What :meth:`RayEngine.scan` leaves: partition results in the object store, and the plan."""

    results: tuple[Any, ...]
    routed: tuple[tuple[Any, ...], ...]
    blocks: BlockSet
    centroids: np.ndarray
    probes: ProbeChoice


def _take_rows(block: cell_tasks.Block, positions: np.ndarray) -> cell_tasks.Block:
    ids, X = block
    return ids[positions], X[positions]


def _route(block: cell_tasks.Block, centroids: np.ndarray, probes: int, partition_of_cell: np.ndarray) -> Any:
    pieces = cell_tasks.route_block(block, centroids, probes, partition_of_cell)
    return tuple(pieces) if len(pieces) > 1 else pieces[0]


def _scan(
    threshold: float, k: int, steady: cell_tasks.SteadyRound | None, total: int, *pieces: cell_tasks.RoutedPiece
) -> Any:
    return cell_tasks.scan_partition(pieces, threshold, k, steady, total)


def balance_cells(work: np.ndarray, partitions: int) -> np.ndarray:
    """Cells assigned to partitions, heaviest first onto the least loaded (LPT scheduling)."""
    load = np.zeros(partitions)
    partition_of_cell = np.zeros(len(work), dtype=np.int64)
    for cell in np.argsort(-work, kind="stable"):
        target = int(np.argmin(load))
        partition_of_cell[cell] = target
        load[target] += work[cell]
    return partition_of_cell


class RayEngine:
    """Approximate density over Ray tasks (see module docstring); recall measured on a sample.

    Args:
        address: Ray cluster address (``ray://...`` or ``auto``); default ``RAY_ADDRESS`` or a
            local Ray.
        num_cpus: CPUs of the local Ray (default: all).
        cell_size: Fewest mean points per cell.
        knn: Width of the neighbour lists.
        calibration_sample: Queries compared exactly with every point to choose the probe count.
        target_recall: Neighbour-set recall the sample must reach.
        max_probe_share: Most probe cells per point, as a share of the cells.
        partitions: Scan tasks (default: :data:`PARTITIONS_PER_CPU` per CPU of the cluster).
        block_rows: Rows per block when :meth:`density` puts an in-memory matrix into Ray.
        seed: Seed of the samples and the k-means.
        on_progress: Called with ``(stage, done, total)`` as tasks complete.
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        cell_size: int = DEFAULT_CELL_SIZE,
        knn: int = DEFAULT_KNN,
        calibration_sample: int = DEFAULT_CALIBRATION_SAMPLE,
        target_recall: float = CELL_TARGETS.recall,
        max_probe_share: float = CELL_TARGETS.max_probe_share,
        partitions: int | None = None,
        block_rows: int = DEFAULT_BLOCK_ROWS,
        seed: int = 0,
        on_progress: Progress | None = None,
    ) -> None:
        sizes = (
            ("cell_size", cell_size),
            ("knn", knn),
            ("block_rows", block_rows),
            ("calibration_sample", calibration_sample),
        )
        for label, value in sizes:
            if value < 1:
                raise ConfigError(f"{label} must be >= 1, got {value}")
        if not 0 < max_probe_share <= 1:
            raise ConfigError(f"max_probe_share must be in (0, 1], got {max_probe_share}")
        ray_module()
        self.address, self.num_cpus, self.cell_size, self.knn = address, num_cpus, cell_size, knn
        self.calibration_sample, self.target_recall, self.max_probe_share = (
            calibration_sample,
            target_recall,
            max_probe_share,
        )
        self.partitions, self.block_rows, self.seed = partitions, block_rows, seed
        self.on_progress = on_progress
        self.last_scan: DistributedScan | None = None

    # -- the NeighborEngine interface ------------------------------------------------------------

    def density(self, X: np.ndarray, threshold: float, ids: Sequence[str] = ()) -> DensityResult:
        n = X.shape[0]
        scan = self.scan(self.put_blocks(X), threshold)
        density = np.zeros(n, dtype=np.float64)
        count = np.zeros(n, dtype=np.int64)
        nearest = np.full(n, -1.0, dtype=np.float32)
        knn_sims = np.full((n, self.knn), -np.inf, dtype=np.float32)
        knn_index = np.full((n, self.knn), -1, dtype=np.int64)
        for result in self.gather(scan.results, "collect"):
            s = result.scan
            density[s.ids], count[s.ids], nearest[s.ids] = s.density, s.neighbor_count, s.nearest_similarity
            knn_sims[s.ids], knn_index[s.ids] = s.knn_similarity, s.knn_index
        note = f"{scan.probes.note()}, in {len(scan.results)} Ray tasks"
        return DensityResult(
            density, count, nearest, self.name, True, note, knn_similarity=knn_sims, knn_index=knn_index
        )

    # -- blocks ----------------------------------------------------------------------------------

    def put_blocks(self, X: np.ndarray) -> BlockSet:
        """An in-memory matrix of L2-normalised rows put into the object store in blocks."""
        ray = connect(self.address, self.num_cpus)
        n = X.shape[0]
        starts = range(0, n, self.block_rows)
        refs = tuple(ray.put((np.arange(s, min(n, s + self.block_rows)), X[s : s + self.block_rows])) for s in starts)
        return BlockSet(refs, tuple(min(self.block_rows, n - s) for s in starts), X.shape[1])

    def read_files(self, files: Sequence[VectorFile]) -> tuple[BlockSet, list[cell_blocks.FileNodes], Counter]:
        """Read Parquet files in tasks (one per file): the blocks of their graph nodes, what each
        file left out, and the statuses of all rows. The dimension is the most common one of the
        SUCCESS rows' usable vectors (:func:`.graph.common_dimension`), as in memory."""
        ray = connect(self.address, self.num_cpus)
        profiles = self.gather([ray.remote(cell_blocks.profile_file).remote(f.path) for f in files], "profile")
        statuses: Counter = sum((p.statuses for p in profiles), Counter())
        dims: Counter = sum((p.dimensions for p in profiles), Counter())
        dim = common_dimension(dims)
        read = ray.remote(num_returns=2)(cell_blocks.read_file_block)
        pairs = [read.remote(f.path, f.first_row, dim) for f in files]
        nodes = self.gather([meta for _, meta in pairs], "read")
        kept = [(ref, meta.kept) for (ref, _), meta in zip(pairs, nodes, strict=True) if meta.kept]
        return BlockSet(tuple(r for r, _ in kept), tuple(k for _, k in kept), dim), nodes, statuses

    def choose_threshold(self, blocks: BlockSet, requested: float | str) -> EpsilonChoice:
        """:func:`.knn.choose_epsilon` over blocks: the sample's ``k`` nearest are merged from
        one task per block, so the rule and its figures are the in-memory ones."""
        if requested != "auto":
            return choose_epsilon(np.empty((0, blocks.dim), np.float32), requested)
        k = min(AUTO_NEIGHBOURS, blocks.n - 1)
        if k < 1:
            return choose_epsilon(np.zeros((1, blocks.dim), np.float32), "auto")
        sample = self._sample(blocks, min(AUTO_SAMPLE, blocks.n), seed=0)
        return epsilon_from_kth(self.nearest_similarities(blocks, sample, k, stage="epsilon")[:, k - 1], k)

    # -- the distributed pass --------------------------------------------------------------------

    def scan(
        self, blocks: BlockSet, threshold: float, *, steady: cell_tasks.SteadyRound | None = None
    ) -> DistributedScan:
        """Run the four stages over ``blocks``; the partition results stay in the object store."""
        ray = connect(self.address, self.num_cpus)
        cells = min(cell_count(blocks.n, self.cell_size), blocks.n)
        train = self._sample(blocks, min(blocks.n, TRAIN_POINTS_PER_CELL * cells), self.seed)
        centroids = train_centroids(train[1], cells, self.seed)
        cells = centroids.shape[0]
        sample = self._sample(blocks, min(blocks.n, self.calibration_sample), self.seed + 1)
        sample_cells = probe_order(sample[1], centroids, 1)[:, 0]
        max_probes = probe_budget(cells, self.max_probe_share)
        stats_task = ray.remote(cell_tasks.block_statistics)
        stats = self.gather(
            [stats_task.remote(b, centroids, max_probes, sample, sample_cells, threshold) for b in blocks.refs],
            "statistics",
        )
        pairs = SamplePairs(
            *(np.concatenate([getattr(s.pairs, f) for s in stats]) for f in SamplePairs.__dataclass_fields__)
        )
        choice = choose_probes(
            pairs, len(sample[0]), cells, target_recall=self.target_recall, max_probe_share=self.max_probe_share
        )
        replicas = sum(s.replicas for s in stats)
        work = replicas[:, 0].astype(np.float64) * replicas[:, : choice.probes].sum(axis=1)
        partitions = min(cells, self.partitions or PARTITIONS_PER_CPU * int(ray.cluster_resources().get("CPU", 1)))
        partition_of_cell = balance_cells(work, partitions)
        route_task = ray.remote(num_returns=partitions)(_route)
        routed = [route_task.remote(b, centroids, choice.probes, partition_of_cell) for b in blocks.refs]
        routed = [r if isinstance(r, list) else [r] for r in routed]
        scan_task = ray.remote(_scan)
        results = tuple(
            scan_task.remote(threshold, self.knn, steady, blocks.n, *[r[p] for r in routed]) for p in range(partitions)
        )
        self._wait(results, "scan")
        self.last_scan = DistributedScan(results, tuple(map(tuple, routed)), blocks, centroids, choice)
        return self.last_scan

    def nearest_similarities(
        self, blocks: BlockSet, rows: cell_tasks.Block, k: int, *, stage: str = "exact lists"
    ) -> np.ndarray:
        """Exact ``k`` largest similarities of a few rows to every other row (one task per block,
        merged on the driver): ``len(rows) x k``, best first, ``-inf`` padded."""
        ray = connect(self.address, self.num_cpus)
        task = ray.remote(cell_blocks.sample_kth)
        tops = np.concatenate(self.gather([task.remote(b, rows, k) for b in blocks.refs], stage), axis=1)
        width = min(k, tops.shape[1])
        best = np.partition(tops, tops.shape[1] - width, axis=1)[:, tops.shape[1] - width :]
        return -np.sort(-best, axis=1)

    def _sample(self, blocks: BlockSet, size: int, seed: int) -> cell_tasks.Block:
        """A seeded uniform sample of rows, pulled to the driver (``(ids, vectors)``)."""
        ray = ray_module()
        chosen = np.sort(np.random.default_rng(seed).choice(blocks.n, size, replace=False))
        bounds = np.cumsum((0, *blocks.sizes))
        take = ray.remote(_take_rows)
        parts = []
        for b, ref in enumerate(blocks.refs):
            inside = chosen[(chosen >= bounds[b]) & (chosen < bounds[b + 1])] - bounds[b]
            if inside.size:
                parts.append(take.remote(ref, inside))
        got = ray.get(parts)
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])

    def _wait(self, refs: Sequence[Any], stage: str) -> None:
        ray = ray_module()
        pending, total = list(refs), len(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=1)
            if self.on_progress is not None:
                self.on_progress(stage, total - len(pending), total)

    def gather(self, refs: Sequence[Any], stage: str) -> list[Any]:
        """The tasks' results; a task's own error is raised as itself when it is ours (an
        ``InputError`` naming a file), otherwise as a :class:`VectorTrainerError` naming the stage."""
        ray = ray_module()
        self._wait(refs, stage)
        try:
            return ray.get(list(refs))
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, VectorTrainerError):
                raise cause from None
            detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]
            raise VectorTrainerError(f"a Ray task of the '{stage}' stage failed: {detail}") from None
