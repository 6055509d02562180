"""FR-1: density-based golden-data selection over the cosine-similarity graph of logs.

The graph's nodes are a function's SUCCESS logs with a usable vector; the edge weight is cosine
similarity; ``N(i) = {j != i : sim(i, j) >= 1 - epsilon}`` and ``D(i) = sum_{j in N(i)} sim(i, j)``.

* **Steady state** -- a greedy cover of the graph in decreasing density: the densest uncovered
  node and its uncovered neighbours form a *region*; regions smaller than ``min_cluster_size``
  are not steady. Each region is represented by its medoid (the member with the largest summed
  similarity to the other members: a real log, never a synthetic centroid). Every region gets a
  representative before any region gets a second; extra picks go to larger regions.
* **Anomalies** -- SUCCESS logs outside every dense region whose density is at most the
  ``anomaly_quantile`` of densities,
  ranked by novelty ``(1 - nearest_similarity) / (1 + density)``, so that the many logs with
  no neighbour at all are ordered by how far they are from everything else.
* Both lists skip identical (input, output) pairs and near-duplicates (``dedup_threshold``);
  every tie is broken by uuid, so the same input gives the same output.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer.chatml import (
    DEFAULT_SYSTEM_PROMPT,
    MIN_TRAINING_EXAMPLES,
    build_example,
    check_example,
    render_input,
    render_output,
)
from vector_trainer.errors import ConfigError, EmptyDataError, InputError
from vector_trainer.fileio import atomic_write_json, atomic_write_jsonl
from vector_trainer.neighbors import (
    DEFAULT_ANN_K,
    DEFAULT_ANN_THRESHOLD,
    DensityResult,
    ManagerEngine,
    NeighborEngine,
    make_engine,
    normalize_rows,
)
from vector_trainer.sources import as_dataset_manager
from vector_trainer.types import (
    STATUS_SUCCESS,
    ExecutionLog,
    GoldenCandidate,
    SelectionStrategy,
)

DEFAULT_EPSILON = 0.3
DEFAULT_TOP_K = 50
DEFAULT_MIN_CLUSTER_SIZE = 3
DEFAULT_DEDUP_THRESHOLD = 0.98
DEFAULT_ANOMALY_QUANTILE = 0.25
DEFAULT_PAGE_SIZE = 500
NEIGHBOR_BATCH = 64
HISTOGRAM_BINS = 20
MAX_UUIDS_IN_MESSAGE = 10


@dataclass(frozen=True)
class ExcludedLog:
    """A log left out of the graph, and why (``missing_vector``, ``non_finite_vector`` ...)."""

    uuid: str
    reason: str


@dataclass(frozen=True)
class GraphAnalysis:
    """Everything computed once per function and reused by both selection strategies."""

    function_name: str
    logs: tuple[ExecutionLog, ...]
    vectors: np.ndarray = field(repr=False)
    result: DensityResult = field(repr=False)
    regions: tuple[np.ndarray, ...] = field(repr=False)
    excluded: tuple[ExcludedLog, ...]
    status_counts: dict[str, int]
    total_logs: int

    @property
    def uuids(self) -> list[str]:
        """uuids of the graph's nodes, in node order."""
        return [log.uuid for log in self.logs]


@dataclass(frozen=True)
class ExtractionResult:
    """The outcome of :meth:`DensityBasedExtractor.extract`."""

    function_name: str
    candidates: tuple[GoldenCandidate, ...]
    train_path: Path
    validation_path: Path | None
    report_path: Path
    report: dict[str, Any]

    @property
    def n_examples(self) -> int:
        """Examples written (train plus validation)."""
        return int(self.report["examples"]["written"])


class DensityBasedExtractor:
    """Selects golden data from a function's logs (FR-1.1 .. FR-1.6).

    Args:
        dataset_manager: Any log source: our :class:`~vector_trainer.store.SQLiteLogStore`, a
            VectorWave ``VectorWaveDatasetManager`` (0.2.x or 1.x), or an object satisfying
            :class:`~vector_trainer.types.DatasetManagerProtocol`.
        epsilon: Neighbourhood radius in cosine distance; neighbours have ``sim >= 1 - epsilon``.
        top_k: Most picks per strategy.
        min_cluster_size: Smallest region (node plus uncovered neighbours) counted as steady.
        dedup_threshold: Similarity at or above which two picks are near-duplicates.
        anomaly_quantile: Density quantile under which successful logs are anomaly candidates.
        engine: ``auto``, ``exact``, ``faiss``, or a :class:`~vector_trainer.neighbors.NeighborEngine`.
        ann_threshold: ``auto`` switches to the ANN engine above this many nodes.
        system_prompt: System message of every exported example (empty: none).
        validation_fraction: Share of examples written to a validation file (0 disables).
        strict: Raise on the first bad log instead of excluding and reporting it.
        page_size: Page size when reading logs from the source.
    """

    def __init__(
        self,
        dataset_manager: Any,
        epsilon: float = DEFAULT_EPSILON,
        top_k: int = DEFAULT_TOP_K,
        *,
        min_cluster_size: int = DEFAULT_MIN_CLUSTER_SIZE,
        dedup_threshold: float = DEFAULT_DEDUP_THRESHOLD,
        anomaly_quantile: float = DEFAULT_ANOMALY_QUANTILE,
        engine: str | NeighborEngine = "auto",
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        validation_fraction: float = 0.0,
        strict: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        _check_range("epsilon", epsilon, 0.0, 1.0, low_open=True)
        _check_range("dedup_threshold", dedup_threshold, 0.0, 1.0, low_open=True)
        _check_range("anomaly_quantile", anomaly_quantile, 0.0, 1.0)
        _check_range("validation_fraction", validation_fraction, 0.0, 0.5)
        if top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {top_k}")
        if min_cluster_size < 2:
            raise ConfigError(f"min_cluster_size must be >= 2, got {min_cluster_size}")
        if page_size < 1:
            raise ConfigError(f"page_size must be >= 1, got {page_size}")
        self.dataset_manager = as_dataset_manager(dataset_manager)
        self.epsilon = epsilon
        self.top_k = top_k
        self.min_cluster_size = min_cluster_size
        self.dedup_threshold = dedup_threshold
        self.anomaly_quantile = anomaly_quantile
        self.engine = engine
        self.ann_threshold = ann_threshold
        self.system_prompt = system_prompt
        self.validation_fraction = validation_fraction
        self.strict = strict
        self.page_size = page_size
        self._cache: dict[str, GraphAnalysis] = {}

    @property
    def threshold(self) -> float:
        """The similarity threshold ``1 - epsilon``."""
        return 1.0 - self.epsilon

    def refresh(self, function_name: str | None = None) -> None:
        """Forget cached analyses (all, or one function's) so the next call re-reads the source."""
        if function_name is None:
            self._cache.clear()
        else:
            self._cache.pop(function_name, None)

    # -- loading and the graph ---------------------------------------------------------------

    def _engine_for(self, n: int) -> NeighborEngine:
        if isinstance(self.engine, str):
            return make_engine(self.engine, n, ann_threshold=self.ann_threshold)
        return self.engine

    def _load(self, function_name: str) -> tuple[list[ExecutionLog], list[ExcludedLog], Counter[str], int]:
        logs = list(self.dataset_manager.iter_executions(function_name, batch_size=self.page_size))
        statuses: Counter[str] = Counter(log.status for log in logs)
        if not logs:
            known = ", ".join(self.dataset_manager.list_functions()[:20]) or "none"
            raise EmptyDataError(f"no logs for function '{function_name}' in the source (functions with logs: {known})")
        success = [log for log in logs if log.status == STATUS_SUCCESS]
        if not success:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
            raise EmptyDataError(
                f"all {len(logs)} logs of '{function_name}' failed ({counts}); there is nothing to train on"
            )
        usable, excluded = self._validate_vectors(success)
        if not usable:
            reasons = Counter(e.reason.split(":")[0] for e in excluded)
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
            raise EmptyDataError(
                f"none of the {len(success)} successful logs of '{function_name}' has a usable vector ({detail}). "
                "VectorWave writes vectors only with @vectorize(capture_return_value=True) and a vectorizer "
                "other than 'weaviate_module'; for the embedded store, re-import with an embedder."
            )
        return usable, excluded, statuses, len(logs)

    def _validate_vectors(self, logs: list[ExecutionLog]) -> tuple[list[ExecutionLog], list[ExcludedLog]]:
        excluded: list[ExcludedLog] = []
        candidates: list[ExecutionLog] = []
        for log in logs:
            reason = _vector_problem(log.vector)
            if reason:
                excluded.append(ExcludedLog(log.uuid, reason))
            else:
                candidates.append(log)
        dims = Counter(int(np.asarray(log.vector).shape[0]) for log in candidates)
        usable: list[ExecutionLog] = []
        if dims:
            expected = min(dims, key=lambda d: (-dims[d], d))
            for log in candidates:
                dim = int(np.asarray(log.vector).shape[0])
                if dim == expected:
                    usable.append(log)
                else:
                    excluded.append(ExcludedLog(log.uuid, f"dimension_mismatch: {dim}-d, expected {expected}-d"))
        if excluded and self.strict:
            shown = "; ".join(f"{e.uuid} ({e.reason})" for e in excluded[:MAX_UUIDS_IN_MESSAGE])
            raise InputError(f"{len(excluded)} logs have unusable vectors: {shown}")
        usable.sort(key=lambda log: log.uuid)
        excluded.sort(key=lambda e: e.uuid)
        return usable, excluded

    def analyze(self, function_name: str) -> GraphAnalysis:
        """Load the function's logs and compute density and regions (cached per function).

        Raises:
            EmptyDataError: No logs, no successful logs, or no usable vectors.
        """
        cached = self._cache.get(function_name)
        if cached is not None:
            return cached
        logs, excluded, statuses, total = self._load(function_name)
        X = normalize_rows(np.stack([np.asarray(log.vector, dtype=np.float32) for log in logs]))
        ids = [log.uuid for log in logs]
        engine = self._engine_for(len(logs))
        result = engine.density(X, self.threshold, ids)
        regions = self._cover(X, result, ids, engine)
        analysis = GraphAnalysis(
            function_name=function_name,
            logs=tuple(logs),
            vectors=X,
            result=result,
            regions=tuple(regions),
            excluded=tuple(excluded),
            status_counts=dict(sorted(statuses.items())),
            total_logs=total,
        )
        self._cache[function_name] = analysis
        return analysis

    def _cover(
        self, X: np.ndarray, result: DensityResult, ids: Sequence[str], engine: NeighborEngine
    ) -> list[np.ndarray]:
        """Greedy cover in decreasing density; returns regions as index arrays, medoid first."""
        n = X.shape[0]
        order = np.lexsort((np.asarray(ids), -result.density))
        eligible = order[result.neighbor_count[order] + 1 >= self.min_cluster_size]
        covered = np.zeros(n, dtype=bool)
        regions: list[np.ndarray] = []
        for start in range(0, len(eligible), NEIGHBOR_BATCH):
            batch = np.asarray(
                [i for i in eligible[start : start + NEIGHBOR_BATCH] if not covered[i]],
                dtype=np.int64,
            )
            if batch.size == 0:
                continue
            for node, neighbours in zip(batch, engine.neighbors(X, batch, self.threshold, ids), strict=True):
                if covered[node]:
                    continue
                members = np.concatenate(([node], neighbours[~covered[neighbours]])).astype(np.int64)
                if members.size < self.min_cluster_size:
                    continue
                covered[members] = True
                regions.append(_medoid_first(X, members, ids))
        return regions

    # -- selection ---------------------------------------------------------------------------

    def select_steady_state(self, function_name: str) -> list[GoldenCandidate]:
        """Representatives of the dense regions, at most ``top_k`` (FR-1.3).

        Every region of at least ``min_cluster_size`` logs gets its medoid before any region
        gets a second pick; further picks go to regions in proportion to their size.
        """
        a = self.analyze(function_name)
        res, ids = a.result, a.uuids
        regions = sorted(a.regions, key=lambda r: (-r.size, -float(res.density[r[0]]), ids[int(r[0])]))
        quotas = _allocate(self.top_k, [r.size for r in regions])
        picker = _DedupPicker(a, self.dedup_threshold)
        queues = [self._region_queue(a, region) for region in regions]
        per_region: list[list[int]] = [[] for _ in regions]
        for chosen, quota, queue in zip(per_region, quotas, queues, strict=True):
            while len(chosen) < quota and queue:
                node = queue.pop(0)
                if picker.accept(node):
                    chosen.append(node)
        # Slots a region could not fill (its members were duplicates) go to the other regions.
        while sum(map(len, per_region)) < self.top_k and any(queues):
            for chosen, queue in zip(per_region, queues, strict=True):
                while queue and sum(map(len, per_region)) < self.top_k:
                    node = queue.pop(0)
                    if picker.accept(node):
                        chosen.append(node)
                        break
        # Output in rounds: every region's representative, then every region's second pick ...
        rounds = max(map(len, per_region), default=0)
        return [
            self._steady_candidate(a, chosen[r], int(region.size))
            for r in range(rounds)
            for region, chosen in zip(regions, per_region, strict=True)
            if r < len(chosen)
        ]

    @staticmethod
    def _region_queue(a: GraphAnalysis, region: np.ndarray) -> list[int]:
        rest = region[1:]
        ids = np.asarray([a.logs[int(i)].uuid for i in rest])
        order = np.lexsort((ids, -a.result.density[rest])) if rest.size else np.array([], dtype=np.int64)
        return [int(region[0]), *(int(rest[i]) for i in order)]

    @staticmethod
    def _steady_candidate(a: GraphAnalysis, node: int, region_size: int) -> GoldenCandidate:
        res = a.result
        return GoldenCandidate(
            uuid=a.logs[node].uuid,
            strategy=SelectionStrategy.STEADY,
            density=float(res.density[node]),
            score=float(res.density[node]),
            neighbor_count=int(res.neighbor_count[node]),
            nearest_similarity=float(res.nearest_similarity[node]),
            region_size=int(region_size),
            log=a.logs[node],
        )

    def select_anomalies(self, function_name: str) -> list[GoldenCandidate]:
        """Low-density SUCCESS logs (new patterns), most novel first, at most ``top_k`` (FR-1.4).

        Candidates belong to no dense region and have density at most the ``anomaly_quantile``
        of all densities; they are ranked by ``(1 - max(nearest_similarity, 0)) / (1 + density)``.
        """
        a = self.analyze(function_name)
        res = a.result
        steady_picks = self.select_steady_state(function_name)
        steady = {c.uuid for c in steady_picks}
        index_of = {uuid: i for i, uuid in enumerate(a.uuids)}
        cutoff = float(np.quantile(res.density, self.anomaly_quantile))
        in_region = np.zeros(len(a.logs), dtype=bool)
        for region in a.regions:
            in_region[region] = True
        novelty = (1.0 - np.clip(res.nearest_similarity, 0.0, 1.0)) / (1.0 + res.density)
        ids = np.asarray(a.uuids)
        order = np.lexsort((ids, -novelty))
        picker = _DedupPicker(a, self.dedup_threshold)
        for c in steady_picks:
            picker.accept(index_of[c.uuid])
        picks: list[GoldenCandidate] = []
        for raw_node in order:
            if len(picks) >= self.top_k:
                break
            node = int(raw_node)
            if in_region[node] or res.density[node] > cutoff or a.logs[node].uuid in steady:
                continue
            if not picker.accept(node):
                continue
            picks.append(
                GoldenCandidate(
                    uuid=a.logs[node].uuid,
                    strategy=SelectionStrategy.ANOMALY,
                    density=float(res.density[node]),
                    score=float(novelty[node]),
                    neighbor_count=int(res.neighbor_count[node]),
                    nearest_similarity=float(res.nearest_similarity[node]),
                    log=a.logs[node],
                )
            )
        return picks

    # -- export ------------------------------------------------------------------------------

    def to_example(self, log: ExecutionLog) -> dict[str, Any]:
        """The ChatML example of a log: its real input as the user turn, its decoded output as
        the assistant turn."""
        return build_example(self.system_prompt, render_input(log.inputs), render_output(log.output))

    def extract(
        self,
        function_name: str,
        output_path: str | os.PathLike[str],
        *,
        register_golden: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ExtractionResult:
        """Select golden data and write it as ChatML JSONL with a sidecar report.

        Files (all written atomically): ``output_path`` (training examples), optionally
        ``<stem>.validation.jsonl``, and ``<stem>.report.json`` with the selection metadata
        (uuid, strategy, density, score), exclusions and statistics.

        Args:
            function_name: The function whose logs are selected.
            output_path: Destination of the training JSONL.
            register_golden: Also register each selected log as golden data in the source.
            on_progress: Called with ``(step, total)`` as the selection advances.

        Raises:
            EmptyDataError: If the function has no usable logs or no example survives.
        """
        total_steps = 4
        report_progress = on_progress or (lambda _step, _total: None)
        report_progress(0, total_steps)
        analysis = self.analyze(function_name)
        report_progress(1, total_steps)
        candidates = self.select_steady_state(function_name) + self.select_anomalies(function_name)
        report_progress(2, total_steps)
        examples: list[tuple[GoldenCandidate, dict[str, Any]]] = []
        rejected: list[dict[str, Any]] = []
        warnings: Counter[str] = Counter()
        for cand in candidates:
            assert cand.log is not None
            example = self.to_example(cand.log)
            issues = check_example(example)
            errors = [i.message for i in issues if i.severity == "error"]
            if errors:
                rejected.append({"uuid": cand.uuid, "reasons": errors})
                continue
            warnings.update(i.message for i in issues)
            examples.append((cand, example))
        if not examples:
            raise EmptyDataError(
                f"no valid training example for '{function_name}': {len(candidates)} logs selected, "
                f"{len(rejected)} rejected by the format checks (see their reasons in the report)"
            )
        train, validation = self._split(examples)
        out = Path(output_path)
        validation_path = out.with_name(f"{out.stem}.validation.jsonl") if validation else None
        report_path = out.with_name(f"{out.stem}.report.json")
        registered = self._register(train + validation) if register_golden else None
        report = self._report(analysis, train, validation, rejected, warnings, registered)
        atomic_write_jsonl(out, [ex for _, ex in train])
        if validation_path is not None:
            atomic_write_jsonl(validation_path, [ex for _, ex in validation])
        atomic_write_json(report_path, report)
        report_progress(total_steps, total_steps)
        return ExtractionResult(
            function_name=function_name,
            candidates=tuple(c for c, _ in train + validation),
            train_path=out,
            validation_path=validation_path,
            report_path=report_path,
            report=report,
        )

    def score_logs(
        self, function_name: str, logs: Sequence[ExecutionLog], *, limit: int = DEFAULT_ANN_K
    ) -> list[dict[str, Any]]:
        """Density of new logs against the stored ones, through the source's ``near_vector``
        (FR-1.5): nothing but the neighbours is fetched, so it suits large stores and streams.

        Args:
            function_name: The function whose stored logs are the reference graph.
            logs: New logs with vectors (a log already in the store is not its own neighbour).
            limit: Most neighbours retrieved per log (density sums at most this many).

        Returns:
            One ``{"uuid", "density", "neighbor_count", "nearest_similarity"}`` per log, in order.

        Raises:
            InputError: If a log has no usable vector.
        """
        for log in logs:
            problem = _vector_problem(log.vector)
            if problem:
                raise InputError(f"log {log.uuid}: {problem}; only logs with a finite, non-zero vector can be scored")
        if not logs:
            return []
        X = normalize_rows(np.stack([np.asarray(log.vector, dtype=np.float32) for log in logs]))
        ids = [log.uuid for log in logs]
        result = ManagerEngine(self.dataset_manager, function_name, limit).density(X, self.threshold, ids)
        return [
            {
                "uuid": uuid,
                "density": float(result.density[i]),
                "neighbor_count": int(result.neighbor_count[i]),
                "nearest_similarity": float(result.nearest_similarity[i]),
            }
            for i, uuid in enumerate(ids)
        ]

    def projection(self, function_name: str, labels: Mapping[str, str], max_points: int = 5000) -> dict[str, Any]:
        """2-D PCA of the function's graph for the dashboard (see :func:`pca_projection`)."""
        analysis = self.analyze(function_name)
        return pca_projection(analysis.vectors, analysis.uuids, labels, max_points=max_points)

    def extract_golden_data(
        self, function_name: str, output_path: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> Path:
        """Select and write golden data; returns the training JSONL path (FR-1.6).

        ``output_path`` defaults to ``golden_data/<function_name>.jsonl``.
        """
        path = Path(output_path) if output_path is not None else Path("golden_data") / f"{function_name}.jsonl"
        return self.extract(function_name, path, **kwargs).train_path

    def _split(
        self, examples: list[tuple[GoldenCandidate, dict[str, Any]]]
    ) -> tuple[list[tuple[GoldenCandidate, dict[str, Any]]], list[tuple[GoldenCandidate, dict[str, Any]]]]:
        if self.validation_fraction <= 0 or len(examples) < 2:
            return examples, []
        n_val = max(1, math.floor(len(examples) * self.validation_fraction))
        ranked = sorted(examples, key=lambda item: hashlib.sha256(item[0].uuid.encode()).hexdigest())
        held_out = {c.uuid for c, _ in ranked[:n_val]}
        return (
            [item for item in examples if item[0].uuid not in held_out],
            [item for item in examples if item[0].uuid in held_out],
        )

    def _register(self, picked: list[tuple[GoldenCandidate, dict[str, Any]]]) -> dict[str, int]:
        written = skipped = 0
        for cand, _ in picked:
            note = f"vectortrainer {cand.strategy.value}: density={cand.density:.4f} score={cand.score:.4f}"
            if self.dataset_manager.register_as_golden(cand.uuid, note=note, tags=[cand.strategy.value]):
                written += 1
            else:
                skipped += 1
        return {"written": written, "already_registered": skipped}

    def _report(
        self,
        a: GraphAnalysis,
        train: list[tuple[GoldenCandidate, dict[str, Any]]],
        validation: list[tuple[GoldenCandidate, dict[str, Any]]],
        rejected: list[dict[str, Any]],
        warnings: Counter[str],
        registered: dict[str, int] | None,
    ) -> dict[str, Any]:
        res = a.result
        hist, edges = np.histogram(res.density, bins=HISTOGRAM_BINS)
        selected = [
            {
                "uuid": c.uuid,
                "split": split,
                "strategy": c.strategy.value,
                "density": round(c.density, 6),
                "score": round(c.score, 6),
                "neighbor_count": c.neighbor_count,
                "nearest_similarity": round(c.nearest_similarity, 6),
                "region_size": c.region_size,
            }
            for split, items in (("train", train), ("validation", validation))
            for c, _ in items
        ]
        n_written = len(train) + len(validation)
        report_warnings = [f"{count} examples: {message}" for message, count in sorted(warnings.items())]
        if n_written < MIN_TRAINING_EXAMPLES:
            report_warnings.append(
                f"only {n_written} examples; OpenAI fine-tuning needs at least {MIN_TRAINING_EXAMPLES}"
            )
        return {
            "function_name": a.function_name,
            "parameters": {
                "epsilon": self.epsilon,
                "similarity_threshold": self.threshold,
                "top_k": self.top_k,
                "min_cluster_size": self.min_cluster_size,
                "dedup_threshold": self.dedup_threshold,
                "anomaly_quantile": self.anomaly_quantile,
                "system_prompt": self.system_prompt,
                "validation_fraction": self.validation_fraction,
            },
            "engine": {"name": res.engine, "approximate": res.approximate, "note": res.note},
            "logs": {
                "total": a.total_logs,
                "by_status": a.status_counts,
                "in_graph": len(a.logs),
                "excluded": [{"uuid": e.uuid, "reason": e.reason} for e in a.excluded],
            },
            "graph": {
                "regions": len(a.regions),
                "region_sizes": sorted((int(r.size) for r in a.regions), reverse=True),
                "isolated_nodes": int(np.count_nonzero(res.neighbor_count == 0)),
                "density": {
                    "min": float(res.density.min()),
                    "median": float(np.median(res.density)),
                    "max": float(res.density.max()),
                    "histogram": {
                        "counts": hist.tolist(),
                        "edges": [round(float(e), 6) for e in edges],
                    },
                },
            },
            "examples": {
                "written": n_written,
                "train": len(train),
                "validation": len(validation),
                "steady": sum(1 for s in selected if s["strategy"] == SelectionStrategy.STEADY.value),
                "anomaly": sum(1 for s in selected if s["strategy"] == SelectionStrategy.ANOMALY.value),
                "rejected": rejected,
            },
            "selected": selected,
            "golden_registration": registered,
            "warnings": report_warnings,
        }


def pca_projection(
    X: np.ndarray, ids: Sequence[str], labels: Mapping[str, str], *, max_points: int = 5000, seed: int = 0
) -> dict[str, Any]:
    """2-D PCA of the rows of ``X`` for plotting: every labelled row plus a seeded sample of the
    rest (at most ``max_points`` in all).

    Returns:
        ``{"points": [{"uuid", "x", "y", "label"}...], "explained_variance_ratio": [r1, r2],
        "n_total": n, "n_shown": m}``; unlabelled rows are ``"unselected"``.
    """
    n = X.shape[0]
    labelled = [i for i, uuid in enumerate(ids) if uuid in labels]
    others = np.setdiff1d(np.arange(n), labelled)
    room = max(0, max_points - len(labelled))
    if len(others) > room:
        others = np.sort(np.random.default_rng(seed).choice(others, room, replace=False))
    rows = np.concatenate([np.asarray(labelled, dtype=np.int64), others.astype(np.int64)])
    sample = X[rows].astype(np.float64)
    centered = sample - sample.mean(axis=0)
    if len(rows) < 2 or not np.any(centered):
        coords = np.zeros((len(rows), 2))
        ratio = [0.0, 0.0]
    else:
        _, singular, vt = np.linalg.svd(centered, full_matrices=False)
        components = vt[:2]
        coords = centered @ components.T
        if coords.shape[1] < 2:
            coords = np.hstack([coords, np.zeros((len(rows), 2 - coords.shape[1]))])
        variance = singular**2
        ratio = [float(v) for v in (variance[:2] / variance.sum())] + [0.0] * max(0, 2 - len(variance))
    points = [
        {"uuid": ids[r], "x": round(float(x), 6), "y": round(float(y), 6), "label": labels.get(ids[r], "unselected")}
        for r, (x, y) in zip(rows, coords, strict=True)
    ]
    return {"points": points, "explained_variance_ratio": ratio, "n_total": n, "n_shown": len(rows)}


class _DedupPicker:
    """Accepts nodes that are neither identical in content nor near-duplicates of earlier picks."""

    def __init__(self, a: GraphAnalysis, threshold: float) -> None:
        self._a = a
        self._threshold = np.float32(threshold)
        self._keys: set[tuple[str, str]] = set()
        self._chosen: list[int] = []

    def accept(self, node: int) -> bool:
        log = self._a.logs[node]
        key = (render_input(log.inputs), render_output(log.output))
        if key in self._keys:
            return False
        if self._chosen:
            sims = self._a.vectors[self._chosen] @ self._a.vectors[node]
            if float(sims.max()) >= self._threshold:
                return False
        self._keys.add(key)
        self._chosen.append(node)
        return True


def _vector_problem(vector: Any) -> str | None:
    if vector is None:
        return "missing_vector"
    try:
        array = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError):
        return "malformed_vector"
    if array.ndim != 1 or array.size == 0:
        return "malformed_vector"
    if not np.all(np.isfinite(array)):
        return "non_finite_vector"
    if not np.any(array):
        return "zero_vector"
    return None


def _medoid_first(X: np.ndarray, members: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """``members`` reordered so the medoid (max summed similarity to the region) comes first."""
    block = X[members]
    affinity = block @ block.sum(axis=0)
    member_ids = np.asarray([ids[int(i)] for i in members])
    best = int(np.lexsort((member_ids, -affinity))[0])
    return np.concatenate(([members[best]], np.delete(members, best)))


def _allocate(k: int, sizes: Sequence[int]) -> list[int]:
    """Picks per region: one each (largest regions first) until ``k`` runs out, then the rest
    by largest remainder in proportion to size, never more than a region's size."""
    if not sizes:
        return []
    quotas = [1 if i < k else 0 for i in range(len(sizes))]
    remaining = k - sum(quotas)
    if remaining <= 0:
        return quotas
    capacity = [size - 1 for size in sizes]
    total = sum(capacity)
    if total == 0:
        return quotas
    shares = [remaining * c / total for c in capacity]
    extra = [min(c, math.floor(s)) for c, s in zip(capacity, shares, strict=True)]
    left = min(remaining, total) - sum(extra)
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(shares[i] - math.floor(shares[i])), i))
    for i in by_remainder:
        if left <= 0:
            break
        if extra[i] < capacity[i]:
            extra[i] += 1
            left -= 1
    return [q + e for q, e in zip(quotas, extra, strict=True)]


def _check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{low}, {high}], got {value}")
