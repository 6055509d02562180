"""The selection report: a typed value that the pipeline, the monitor and the dashboard read,
written beside the training file as ``<stem>.report.json`` (its JSON layout is :meth:`to_json`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from vector_trainer.chatml import MIN_TRAINING_EXAMPLES
from vector_trainer.extractor.graph import ExcludedLog, GraphAnalysis
from vector_trainer.types import GoldenCandidate, SelectionStrategy

HISTOGRAM_BINS = 20
_DIGITS = 6


@dataclass(frozen=True)
class SelectedExample:
    """One written example: which log, which split, and why it was picked."""

    candidate: GoldenCandidate
    split: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        c = self.candidate
        return {
            "uuid": c.uuid,
            "split": self.split,
            "strategy": c.strategy.value,
            "density": round(c.density, _DIGITS),
            "score": round(c.score, _DIGITS),
            "neighbor_count": c.neighbor_count,
            "nearest_similarity": round(c.nearest_similarity, _DIGITS),
            "region_size": c.region_size,
        }


@dataclass(frozen=True)
class DensityStats:
    """The distribution of ``D(i)`` over the graph."""

    minimum: float
    median: float
    maximum: float
    histogram_counts: tuple[int, ...]
    histogram_edges: tuple[float, ...]

    @classmethod
    def of(cls, density: np.ndarray) -> DensityStats:
        """Statistics of a density array."""
        counts, edges = np.histogram(density, bins=HISTOGRAM_BINS)
        return cls(
            float(density.min()),
            float(np.median(density)),
            float(density.max()),
            tuple(int(c) for c in counts),
            tuple(round(float(e), _DIGITS) for e in edges),
        )

    def summary(self) -> dict[str, float]:
        """Minimum, median and maximum."""
        return {"min": self.minimum, "median": self.median, "max": self.maximum}


@dataclass(frozen=True)
class ExtractionReport:
    """Why each example was picked, what was left out, and the graph's statistics."""

    function_name: str
    parameters: Mapping[str, Any]
    engine: str
    engine_approximate: bool
    engine_note: str
    logs_total: int
    logs_by_status: Mapping[str, int]
    excluded: tuple[ExcludedLog, ...]
    in_graph: int
    regions: int
    region_sizes: tuple[int, ...]
    isolated_nodes: int
    density: DensityStats
    selected: tuple[SelectedExample, ...]
    rejected: tuple[Mapping[str, Any], ...]
    golden_registration: Mapping[str, int] | None
    warnings: tuple[str, ...]

    @property
    def written(self) -> int:
        """Examples written (train plus validation)."""
        return len(self.selected)

    def count(self, *, split: str | None = None, strategy: SelectionStrategy | None = None) -> int:
        """Examples of one split and/or strategy."""
        return sum(
            1
            for s in self.selected
            if (split is None or s.split == split) and (strategy is None or s.candidate.strategy is strategy)
        )

    def to_json(self) -> dict[str, Any]:
        """The report as written to ``<stem>.report.json``."""
        return {
            "function_name": self.function_name,
            "parameters": dict(self.parameters),
            "engine": {"name": self.engine, "approximate": self.engine_approximate, "note": self.engine_note},
            "logs": {
                "total": self.logs_total,
                "by_status": dict(self.logs_by_status),
                "in_graph": self.in_graph,
                "excluded": [{"uuid": e.uuid, "reason": e.reason} for e in self.excluded],
            },
            "graph": {
                "regions": self.regions,
                "region_sizes": list(self.region_sizes),
                "isolated_nodes": self.isolated_nodes,
                "density": {
                    **self.density.summary(),
                    "histogram": {
                        "counts": list(self.density.histogram_counts),
                        "edges": list(self.density.histogram_edges),
                    },
                },
            },
            "examples": {
                "written": self.written,
                "train": self.count(split="train"),
                "validation": self.count(split="validation"),
                "steady": self.count(strategy=SelectionStrategy.STEADY),
                "anomaly": self.count(strategy=SelectionStrategy.ANOMALY),
                "rejected": [dict(r) for r in self.rejected],
            },
            "selected": [s.to_json() for s in self.selected],
            "golden_registration": dict(self.golden_registration) if self.golden_registration is not None else None,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class GraphFacts:
    """What a report says of the graph, whichever path computed it.

    Attributes:
        function_name: The function.
        engine: Name of the engine that computed the densities.
        approximate: Whether they are approximate.
        note: How, in words.
        logs_total: Logs read, by status in ``logs_by_status``.
        logs_by_status: See ``logs_total``.
        excluded: Logs left out of the graph, and why.
        in_graph: Graph nodes.
        isolated_nodes: Nodes with no neighbour.
        density: The densities' statistics.
    """

    function_name: str
    engine: str
    approximate: bool
    note: str
    logs_total: int
    logs_by_status: Mapping[str, int]
    excluded: tuple[ExcludedLog, ...]
    in_graph: int
    isolated_nodes: int
    density: DensityStats

    @classmethod
    def of(cls, a: GraphAnalysis) -> GraphFacts:
        """The facts of an in-memory analysis."""
        res = a.result
        return cls(
            function_name=a.function_name,
            engine=res.engine,
            approximate=res.approximate,
            note=res.note,
            logs_total=a.total_logs,
            logs_by_status=a.status_counts,
            excluded=a.excluded,
            in_graph=len(a.logs),
            isolated_nodes=int(np.count_nonzero(res.neighbor_count == 0)),
            density=DensityStats.of(res.density),
        )


def build_report(
    graph: GraphFacts,
    parameters: Mapping[str, Any],
    selected: list[SelectedExample],
    rejected: list[dict[str, Any]],
    warnings: Mapping[str, int],
    registered: Mapping[str, int] | None,
) -> ExtractionReport:
    """Assemble the report of one extraction."""
    steady_sizes = [e.candidate.region_size for e in selected if e.candidate.strategy is SelectionStrategy.STEADY]
    return ExtractionReport(
        function_name=graph.function_name,
        parameters=MappingProxyType(dict(parameters)),
        engine=graph.engine,
        engine_approximate=graph.approximate,
        engine_note=graph.note,
        logs_total=graph.logs_total,
        logs_by_status=MappingProxyType(dict(graph.logs_by_status)),
        excluded=graph.excluded,
        in_graph=graph.in_graph,
        regions=len(steady_sizes),
        region_sizes=tuple(sorted(steady_sizes, reverse=True)),
        isolated_nodes=graph.isolated_nodes,
        density=graph.density,
        selected=tuple(selected),
        rejected=tuple(MappingProxyType(r) for r in rejected),
        golden_registration=MappingProxyType(dict(registered)) if registered is not None else None,
        warnings=_report_warnings(selected, warnings),
    )


def _report_warnings(selected: list[SelectedExample], warnings: Mapping[str, int]) -> tuple[str, ...]:
    """The report's warnings: the format checks' counts, and too few examples to train on."""
    found = [f"{count} examples: {message}" for message, count in sorted(warnings.items())]
    if len(selected) < MIN_TRAINING_EXAMPLES:
        found.append(f"only {len(selected)} examples; OpenAI fine-tuning needs at least {MIN_TRAINING_EXAMPLES}")
    return tuple(found)
