"""FR-1: :class:`DensityBasedExtractor`, the extractor's public face.

It reads a function's logs through the injected source, builds the similarity graph
(:mod:`~vector_trainer.extractor.graph`), selects steady-state and anomaly examples
(:mod:`~vector_trainer.extractor.selection`) and writes them as ChatML JSONL with a sidecar
report (:mod:`~vector_trainer.extractor.output.report`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from vector_trainer import _layout
from vector_trainer._params import check_values
from vector_trainer.chatml import template_fields
from vector_trainer.config import ExtractorConfig
from vector_trainer.errors import ConfigError, EmptyDataError
from vector_trainer.extractor.distributed.driver import (
    EXTRACT_STEPS,
    is_distributed,
    sampled_outputs,
    sampled_projection,
    select_distributed_golden,
)
from vector_trainer.extractor.engines.base import DEFAULT_ANN_K, NeighborEngine
from vector_trainer.extractor.engines.choice import make_engine
from vector_trainer.extractor.engines.source import ManagerEngine
from vector_trainer.extractor.epsilon import EpsilonChoice
from vector_trainer.extractor.graph import GraphAnalysis, analyze_graph, load_logs
from vector_trainer.extractor.output.examples import build_examples, log_example, register_picks, split_examples
from vector_trainer.extractor.output.projection import DEFAULT_MAX_POINTS, pca_projection
from vector_trainer.extractor.output.report import ExtractionReport, GraphFacts, SelectedExample, build_report
from vector_trainer.extractor.selection import select_anomalies, select_steady
from vector_trainer.fileio import atomic_write_json, atomic_write_jsonl
from vector_trainer.sources.detect import as_dataset_manager
from vector_trainer.types import ExecutionLog, GoldenCandidate

if TYPE_CHECKING:
    from vector_trainer.sources.columnar import ParquetLogs

_D = ExtractorConfig
#: Where :meth:`DensityBasedExtractor.extract_golden_data` writes when no path is given.
DEFAULT_GOLDEN_DIR = "golden_data"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


@dataclass(frozen=True)
class ExtractionResult:
    """The outcome of :meth:`DensityBasedExtractor.extract`."""

    function_name: str
    candidates: tuple[GoldenCandidate, ...]
    train_path: Path
    validation_path: Path | None
    report_path: Path
    report: ExtractionReport

    @property
    def n_examples(self) -> int:
        """Examples written (train plus validation)."""
        return self.report.written


class DensityBasedExtractor:
    """Selects golden data from a function's logs (FR-1.1 .. FR-1.6).

    Args:
        dataset_manager: Any log source: our :class:`~vector_trainer.sources.SQLiteLogStore`, a
            VectorWave ``VectorWaveDatasetManager`` (0.2.x or 1.x), or an object satisfying
            :class:`~vector_trainer.types.DatasetManagerProtocol`.
        epsilon: Neighbourhood radius in cosine distance; neighbours have ``sim >= 1 - epsilon``.
            ``"auto"`` (the default) calibrates it per function so that the median log has 10
            neighbours (:func:`~vector_trainer.extractor.epsilon.choose_epsilon`).
        top_k: Most picks per strategy.
        min_cluster_size: A steady pick has at least this many logs within ``epsilon`` (itself included).
        dedup_threshold: Similarity at or above which two picks are near-duplicates.
        anomaly_quantile: Density quantile under which successful logs are anomaly candidates.
        engine: ``auto``, ``exact``, ``faiss``, ``ray`` (extra ``distributed``; with a
            :class:`~vector_trainer.sources.columnar.ParquetLogs` source the logs are read and
            selected in Ray tasks, :mod:`~vector_trainer.extractor.distributed.driver`), or a
            :class:`~vector_trainer.extractor.engines.base.NeighborEngine`.
        ann_threshold: ``auto`` switches to the ANN engine above this many nodes.
        ray_address: Engine ``ray``: the cluster to join (default ``RAY_ADDRESS``, else a local Ray).
        ray_cpus: Engine ``ray``: CPUs of a local Ray (0: all).
        system_prompt: System message of every exported example (empty: none).
        system_prompts: Per function name, its own system message instead of ``system_prompt``.
        prompt_templates: Per function name, how its user message is written from the log's
            named inputs (``"Customer: {question}\nProduct: {product}"``), so the model learns the
            prompt the app really sends; without one, a single input is its value and several
            are ``name: value`` lines.
        validation_fraction: Share of examples written to a validation file (0 disables).
        strict: Raise on the first bad log instead of excluding and reporting it.
        page_size: Page size when reading logs from the source.

    Raises:
        ConfigError: For a value out of its declared range (``extractor.epsilon: must be ...``).
    """

    def __init__(
        self,
        dataset_manager: Any,
        epsilon: float | str = _D.epsilon,
        top_k: int = _D.top_k,
        *,
        min_cluster_size: int = _D.min_cluster_size,
        dedup_threshold: float = _D.dedup_threshold,
        anomaly_quantile: float = _D.anomaly_quantile,
        engine: str | NeighborEngine = _D.engine,
        ann_threshold: int = _D.ann_threshold,
        ray_address: str = _D.ray_address,
        ray_cpus: int = _D.ray_cpus,
        system_prompt: str = _D.system_prompt,
        system_prompts: Mapping[str, str] = _D.system_prompts,
        prompt_templates: Mapping[str, str] = _D.prompt_templates,
        validation_fraction: float = _D.validation_fraction,
        strict: bool = _D.strict,
        page_size: int = _D.page_size,
    ) -> None:
        self.settings = ExtractorConfig(
            epsilon=epsilon,
            top_k=top_k,
            min_cluster_size=min_cluster_size,
            dedup_threshold=dedup_threshold,
            anomaly_quantile=anomaly_quantile,
            engine=engine if isinstance(engine, str) else getattr(engine, "name", "custom"),
            ann_threshold=ann_threshold,
            ray_address=ray_address,
            ray_cpus=ray_cpus,
            system_prompt=system_prompt,
            system_prompts=system_prompts,
            prompt_templates=prompt_templates,
            validation_fraction=validation_fraction,
            strict=strict,
            page_size=page_size,
        )
        values = vars(self.settings) if isinstance(engine, str) else {**vars(self.settings), "engine": "auto"}
        check_values(ExtractorConfig, "extractor", values)
        for function_name, template in prompt_templates.items():
            try:
                template_fields(template)
            except ValueError as exc:
                raise ConfigError(f"extractor.prompt_templates.{function_name}: {exc}") from None
        self.dataset_manager = as_dataset_manager(dataset_manager)
        self.engine = engine
        self._cache: dict[str, GraphAnalysis] = {}

    @classmethod
    def from_config(cls, dataset_manager: Any, config: ExtractorConfig) -> DensityBasedExtractor:
        """An extractor with the ``[extractor]`` settings of a configuration."""
        return cls(dataset_manager, **vars(config))

    def threshold_for(self, function_name: str) -> float:
        """The similarity threshold ``1 - epsilon`` used for a function's graph (with
        ``epsilon="auto"`` it comes from the function's analysis, computed once and cached)."""
        if self.settings.epsilon == "auto":
            return self.analyze(function_name).threshold
        return 1.0 - float(self.settings.epsilon)

    def refresh(self, function_name: str | None = None) -> None:
        """Forget cached analyses (all, or one function's) so the next call re-reads the source."""
        if function_name is None:
            self._cache.clear()
        else:
            self._cache.pop(function_name, None)

    def _engine_for(self, n: int) -> NeighborEngine:
        if isinstance(self.engine, str):
            s = self.settings
            return make_engine(self.engine, n, ann_threshold=s.ann_threshold, ray_address=s.ray_address,
                               ray_cpus=s.ray_cpus)  # fmt: skip
        return self.engine

    def analyze(self, function_name: str) -> GraphAnalysis:
        """Load the function's logs and compute density and regions (cached per function).

        Raises:
            EmptyDataError: No logs, no successful logs, or no usable vectors.
        """
        cached = self._cache.get(function_name)
        if cached is not None:
            return cached
        s = self.settings
        loaded = load_logs(self.dataset_manager, function_name, page_size=s.page_size, strict=s.strict)
        engine = self._engine_for(len(loaded.usable))
        analysis = analyze_graph(function_name, loaded, engine, s.epsilon)
        self._cache[function_name] = analysis
        return analysis

    # -- selection ---------------------------------------------------------------------------

    def select_steady_state(self, function_name: str) -> list[GoldenCandidate]:
        """Representatives of the dense regions, at most ``top_k`` (FR-1.3), chosen by greedy
        facility location on the neighbour graph (:mod:`~vector_trainer.extractor.selection`):
        each pick represents the logs least represented so far, so every dense region gets a
        pick before a well-covered one gets a second.
        """
        s = self.settings
        return select_steady(self.analyze(function_name), s.top_k, s.dedup_threshold, s.min_cluster_size)

    def select_anomalies(
        self, function_name: str, steady: Sequence[GoldenCandidate] | None = None
    ) -> list[GoldenCandidate]:
        """Low-density SUCCESS logs (new patterns), most novel first, at most ``top_k`` (FR-1.4).

        Args:
            function_name: The function whose logs are selected.
            steady: Its steady picks, if already made (no anomaly repeats one); selected if omitted.
        """
        s = self.settings
        a = self.analyze(function_name)
        if steady is None:
            steady = self.select_steady_state(function_name)
        return select_anomalies(a, steady, s.top_k, s.dedup_threshold, s.anomaly_quantile)

    # -- export ------------------------------------------------------------------------------

    def system_prompt_for(self, function_name: str) -> str:
        """The system message of a function's examples (its own, or the shared one)."""
        return self.settings.system_prompts.get(function_name, self.settings.system_prompt)

    def to_example(self, log: ExecutionLog) -> dict[str, Any]:
        """The ChatML example of a log (:func:`~vector_trainer.extractor.output.examples.log_example`
        with the function's system prompt and prompt template).

        Raises:
            InputError: If the log's input or output holds NaN or an infinity, lacks an input
                its function's template uses, or is a malformed conversation.
        """
        template = self.settings.prompt_templates.get(log.function_name)
        return log_example(log, self.system_prompt_for(log.function_name), template)

    def extract(
        self,
        function_name: str,
        output_path: str | os.PathLike[str],
        *,
        register_golden: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
        on_task_progress: Callable[[str, int, int], None] | None = None,
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
            on_task_progress: Engine ``ray`` on Parquet: called with ``(stage, done, total)`` as
                each stage's Ray tasks complete.

        Raises:
            EmptyDataError: If the function has no usable logs or no example survives.
        """
        report_progress = on_progress or (lambda _step, _total: None)
        report_progress(0, EXTRACT_STEPS)
        if is_distributed(self.engine, self.dataset_manager):
            source = cast("ParquetLogs", self.dataset_manager)
            picked = select_distributed_golden(
                source, self.engine, self.settings, function_name, report_progress, on_task_progress
            )
            candidates, facts = picked.candidates, picked.facts
            parameters = {**self.report_parameters(function_name, picked.epsilon), "engine": "ray"}
        else:
            analysis = self.analyze(function_name)
            report_progress(1, EXTRACT_STEPS)
            steady = self.select_steady_state(function_name)
            candidates = steady + self.select_anomalies(function_name, steady)
            report_progress(2, EXTRACT_STEPS)
            facts, parameters = GraphFacts.of(analysis), self.report_parameters(function_name, analysis.epsilon)
        return self.write_selection(
            function_name, candidates, Path(output_path), register_golden, facts, parameters, report_progress
        )

    def write_selection(
        self,
        function_name: str,
        candidates: Sequence[GoldenCandidate],
        out: Path,
        register_golden: bool,
        facts: GraphFacts,
        parameters: Mapping[str, Any],
        report_progress: Callable[[int, int], None],
    ) -> ExtractionResult:
        """Write the selected logs as examples (train and validation) and the report, atomically.

        ``facts`` and ``parameters`` are the graph's facts and the settings used, for the report.

        Raises:
            EmptyDataError: If no example survives the format checks.
        """
        examples, rejected, warnings = build_examples(candidates, self.to_example)
        if not examples:
            raise EmptyDataError(
                f"no valid training example for '{function_name}': {len(candidates)} logs selected, "
                f"{len(rejected)} rejected by the format checks (see their reasons in the report)"
            )
        train, validation = split_examples(examples, self.settings.validation_fraction)
        validation_path = _layout.validation_path(out) if validation else None
        report_path = _layout.report_path(out)
        registered = register_picks(self.dataset_manager, train + validation) if register_golden else None
        selected = [SelectedExample(c, "train") for c, _ in train]
        selected += [SelectedExample(c, "validation") for c, _ in validation]
        written = build_report(facts, dict(parameters), selected, rejected, warnings, registered)
        atomic_write_jsonl(out, [ex for _, ex in train])
        if validation_path is not None:
            atomic_write_jsonl(validation_path, [ex for _, ex in validation])
        atomic_write_json(report_path, written.to_json())
        report_progress(EXTRACT_STEPS, EXTRACT_STEPS)
        return ExtractionResult(
            function_name=function_name,
            candidates=tuple(c for c, _ in train + validation),
            train_path=out,
            validation_path=validation_path,
            report_path=report_path,
            report=written,
        )

    def vector_space(self, function_name: str) -> str:
        """What made the function's vectors: the embedder and view (``hashing-bow-384@history:1000``)
        where the source records it, else ``"stored by the source"``."""
        lookup = getattr(self.dataset_manager, "vector_space", None)
        space = lookup(function_name) if callable(lookup) else None
        return str(space[0]) if space else "stored by the source"

    def report_parameters(self, function_name: str, epsilon: EpsilonChoice) -> dict[str, Any]:
        """The settings an extraction of ``function_name`` used, as its report records them."""
        s = self.settings
        return {
            "epsilon": epsilon.epsilon,
            "epsilon_requested": epsilon.requested,
            "epsilon_rule": epsilon.rule,
            "similarity_threshold": round(epsilon.threshold, 6),
            "top_k": s.top_k,
            "min_cluster_size": s.min_cluster_size,
            "dedup_threshold": s.dedup_threshold,
            "anomaly_quantile": s.anomaly_quantile,
            "system_prompt": self.system_prompt_for(function_name),
            "prompt_template": s.prompt_templates.get(function_name),
            "vector_space": self.vector_space(function_name),
            "validation_fraction": s.validation_fraction,
        }

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
        engine = ManagerEngine(self.dataset_manager, function_name, limit)
        return engine.score(logs, self.threshold_for(function_name))

    def projection(
        self, function_name: str, labels: Mapping[str, str], max_points: int = DEFAULT_MAX_POINTS
    ) -> dict[str, Any]:
        """2-D PCA of the function's graph for the dashboard (see :func:`pca_projection`)."""
        if is_distributed(self.engine, self.dataset_manager):
            return sampled_projection(cast("ParquetLogs", self.dataset_manager), function_name, labels, max_points)
        analysis = self.analyze(function_name)
        return pca_projection(analysis.vectors, analysis.uuids, labels, max_points=max_points)

    def success_outputs(self, function_name: str, limit: int) -> list[Any]:
        """Outputs of the function's SUCCESS logs (on the distributed path, of a seeded sample of
        ``limit`` logs; in memory, all of them)."""
        if is_distributed(self.engine, self.dataset_manager):
            return sampled_outputs(cast("ParquetLogs", self.dataset_manager), function_name, limit)
        return [log.output for log in self.analyze(function_name).logs]

    def extract_golden_data(
        self, function_name: str, output_path: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> Path:
        """Select and write golden data; returns the training JSONL path (FR-1.6).

        ``output_path`` defaults to ``./golden_data/<function_name>.jsonl`` (the seed API's); a name
        that is not a plain file name (``../x``) becomes its safe :func:`~._layout.function_dirname`.
        """
        plain = _PLAIN_NAME.fullmatch(function_name) and ".." not in function_name
        stem = function_name if plain else _layout.function_dirname(function_name)
        path = Path(output_path) if output_path is not None else Path(DEFAULT_GOLDEN_DIR) / f"{stem}.jsonl"
        return self.extract(function_name, path, **kwargs).train_path
