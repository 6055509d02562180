"""Extraction on Ray from Parquet files, with no step holding every log on the driver.

:meth:`DensityBasedExtractor.extract <vector_trainer.extractor.core.DensityBasedExtractor.extract>`
takes this path when its engine is ``ray`` and its source is a
:class:`~vector_trainer.sources.columnar.ParquetLogs` directory. Tasks read the files
(:mod:`.cell_blocks`), ``epsilon="auto"`` is calibrated from per-block nearest similarities, the
scan and the two-round selection run in tasks (:mod:`.distributed_selection`), and only the
selected logs are read back in full. The written files are those of the in-memory path; the
report's density statistics come from a seeded sample of the densities and say so.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from vector_trainer._shared import vector_problem
from vector_trainer.chatml import render_input, render_output
from vector_trainer.config import ExtractorConfig
from vector_trainer.errors import EmptyDataError
from vector_trainer.extractor.distributed.engine import RayEngine
from vector_trainer.extractor.distributed.selection import DistributedPick, GraphSummary, select_distributed
from vector_trainer.extractor.distributed.tasks import SteadyRound
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.choice import make_engine
from vector_trainer.extractor.epsilon import EpsilonChoice
from vector_trainer.extractor.graph import (
    ExcludedLog,
    all_failed_error,
    common_dimension,
    exclusion_counts,
    strict_error,
)
from vector_trainer.extractor.output.projection import pca_projection
from vector_trainer.extractor.output.report import DensityStats, GraphFacts
from vector_trainer.sources.columnar import ParquetLogs, read_columns
from vector_trainer.types import STATUS_SUCCESS, GoldenCandidate, SelectionStrategy

#: Steps reported to ``on_progress`` by an extraction (either path).
EXTRACT_STEPS = 4


@dataclass(frozen=True)
class DistributedSelection:
    """What a distributed selection hands back to the extractor to write: the picks (their logs
    read back in full), the graph's facts for the report, and the radius it used."""

    candidates: list[GoldenCandidate]
    facts: GraphFacts
    epsilon: EpsilonChoice


def is_distributed(engine: Any, source: Any) -> bool:
    """Whether an extraction takes the file-reading Ray path (a Ray engine and a Parquet source)."""
    named_ray = engine == "ray" or isinstance(engine, RayEngine)
    return named_ray and isinstance(source, ParquetLogs)


def select_distributed_golden(
    source: ParquetLogs,
    engine: Any,
    settings: ExtractorConfig,
    function_name: str,
    report_progress: Callable[[int, int], None],
    task_progress: Callable[[str, int, int], None] | None = None,
) -> DistributedSelection:
    """Select a function's golden data on Ray (module docstring); ``task_progress`` is told of
    each completed Ray task, unless the engine has its own ``on_progress``.

    Args:
        source: The Parquet files the tasks read.
        engine: A :class:`RayEngine`, or ``"ray"`` for one made from ``settings``.
        settings: The extractor's settings.
        function_name: The function whose logs are selected.
        report_progress: Told ``(step, EXTRACT_STEPS)`` as the selection advances.
        task_progress: Told ``(stage, done, total)`` as each stage's Ray tasks complete.

    Raises:
        EmptyDataError: No logs, no successful logs, or no usable vectors.
        InputError: With ``strict``, for logs that cannot be graph nodes.
    """
    s = settings
    if not isinstance(engine, RayEngine):
        engine = make_engine("ray", 0, ray_address=s.ray_address, ray_cpus=s.ray_cpus)
        assert isinstance(engine, RayEngine)
    if engine.on_progress is None and task_progress is not None:
        engine = copy.copy(engine)  # the caller's engine keeps its own (absent) callback
        engine.on_progress = task_progress
    blocks, nodes, statuses = engine.read_files(source.vector_files(function_name))
    excluded = tuple(sorted((ExcludedLog(u, r) for f in nodes for u, r in f.excluded), key=lambda e: e.uuid))
    _check_nodes(function_name, blocks.n, statuses, excluded, s.strict)
    report_progress(1, EXTRACT_STEPS)
    epsilon = engine.choose_threshold(blocks, s.epsilon)
    scan = engine.scan(blocks, epsilon.threshold, steady=SteadyRound(s.top_k, s.min_cluster_size, s.dedup_threshold))
    steady, anomalies, graph = select_distributed(
        engine,
        scan,
        top_k=s.top_k,
        dedup_threshold=s.dedup_threshold,
        anomaly_quantile=s.anomaly_quantile,
        n_total=blocks.n,
    )
    report_progress(2, EXTRACT_STEPS)
    candidates = _candidates(source, function_name, steady + anomalies)
    ranking = "exact (every log that could rank higher was re-scored)" if graph.anomalies_exact else "approximate"
    note = (
        f"{scan.probes.note()}; anomaly ranking {ranking}; "
        f"report densities from a sample of {sum(map(len, graph.density_sample))} logs"
    )

    return DistributedSelection(candidates, _facts(function_name, note, statuses, excluded, blocks.n, graph), epsilon)


def _check_nodes(
    function_name: str, in_graph: int, statuses: Counter, excluded: tuple[ExcludedLog, ...], strict: bool
) -> None:
    total = sum(statuses.values())
    if not total:
        raise EmptyDataError(f"no logs for function '{function_name}' in the Parquet files")
    if not statuses.get(STATUS_SUCCESS):
        raise all_failed_error(function_name, statuses)
    if excluded and strict:
        raise strict_error(excluded)
    if not in_graph:
        raise EmptyDataError(
            f"none of the successful logs of '{function_name}' has a usable vector ({exclusion_counts(excluded)}); "
            "export logs with vectors ('vectortrainer export-logs' writes the store's vectors)"
        )


def _candidates(source: ParquetLogs, function_name: str, picks: list[DistributedPick]) -> list[GoldenCandidate]:
    """The picks with their logs read back, identical (input, output) repeats dropped."""
    logs = source.logs_at(function_name, [p.row for p in picks])
    seen: set[tuple[str, str]] = set()
    candidates = []
    for pick, log in zip(picks, logs, strict=True):
        key = (render_input(log.inputs), render_output(log.output))
        if key in seen:
            continue
        seen.add(key)
        strategy = SelectionStrategy.STEADY if pick.strategy == "steady" else SelectionStrategy.ANOMALY
        candidates.append(
            GoldenCandidate(
                uuid=log.uuid,
                strategy=strategy,
                density=pick.density,
                score=pick.score,
                neighbor_count=pick.neighbor_count,
                nearest_similarity=pick.nearest_similarity,
                region_size=pick.region_size,
                log=log,
            )
        )
    return candidates


def _facts(
    function_name: str,
    note: str,
    statuses: Counter,
    excluded: tuple[ExcludedLog, ...],
    in_graph: int,
    graph: GraphSummary,
) -> GraphFacts:
    return GraphFacts(
        function_name=function_name,
        engine="ray",
        approximate=True,
        note=note,
        logs_total=sum(statuses.values()),
        logs_by_status=dict(sorted(statuses.items())),
        excluded=excluded,
        in_graph=in_graph,
        isolated_nodes=graph.isolated,
        density=DensityStats.of(np.concatenate(graph.density_sample)),
    )


def sample_rows(source: ParquetLogs, function_name: str, size: int, seed: int = 0) -> np.ndarray:
    """A seeded uniform sample of a function's row numbers (all of them when there are fewer)."""
    total = sum(f.rows for f in source.vector_files(function_name))
    return np.sort(np.random.default_rng(seed).choice(total, min(size, total), replace=False))


def sampled_projection(
    source: ParquetLogs, function_name: str, labels: Mapping[str, str], max_points: int
) -> dict[str, Any]:
    """:func:`.projection.pca_projection` of the labelled logs and a seeded sample of the rest,
    read row by row from the files (never every vector)."""
    rows = []
    for vector_file in source.vector_files(function_name):
        uuids = read_columns(vector_file.path, ["uuid"]).column(0).to_pylist()
        rows += [vector_file.first_row + i for i, uuid in enumerate(uuids) if uuid in labels]
    labelled = set(rows)
    others = [r for r in sample_rows(source, function_name, max_points + len(rows)).tolist() if r not in labelled]
    picked = rows + others[: max(0, max_points - len(rows))]  # the selected logs are always shown
    logs = [log for log in source.logs_at(function_name, picked) if log.is_success and log.vector is not None]
    logs = [log for log in logs if vector_problem(log.vector) is None]  # graph nodes only
    chosen = [log for log in logs if log.uuid in labels] or logs  # the selected logs have the graph's dimension
    dims = Counter(len(np.asarray(log.vector)) for log in chosen)
    dim = common_dimension(dims)
    logs = [log for log in logs if len(np.asarray(log.vector)) == dim]
    X = (
        normalize_rows(np.stack([np.asarray(log.vector) for log in logs]))
        if logs
        else np.zeros((0, max(dim, 1)), np.float32)
    )
    projection = pca_projection(X, [log.uuid for log in logs], labels, max_points=max_points)
    return {**projection, "n_total": sum(f.rows for f in source.vector_files(function_name))}


def sampled_outputs(source: ParquetLogs, function_name: str, limit: int) -> list[Any]:
    """The outputs of a seeded sample of the function's SUCCESS logs (at most ``limit`` read)."""
    logs = source.logs_at(function_name, sample_rows(source, function_name, limit).tolist())
    return [log.output for log in logs if log.status == STATUS_SUCCESS]
