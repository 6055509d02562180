"""FR-3.3: the orchestrator. Extract -> synthesize -> train (-> gate), each stage's result
recorded in the run directory (its layout: :mod:`vector_trainer._layout`), resumable.

With an ``evaluator`` or a ``promotion_policy`` the run is gated (FR-8): part of the feedback is
held out of learning, and a last stage evaluates the run's hook and trained model against the
function's live ones (under ``live_dir``) and promotes only what is better.

The uploaded file id and the job id are written to ``state.json`` the moment they exist.
Running again on the same directory with the same training file reuses them: nothing is
uploaded or paid for twice; the existing job is polled instead.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer._layout import (
    COST_FILENAME,
    EVALUATION_FILENAME,
    GOLDEN_FILENAME,
    PROJECTION_FILENAME,
    RULES_FILENAME,
)
from vector_trainer._params import check_values
from vector_trainer._shared import utc_now
from vector_trainer.chatml import render_value
from vector_trainer.config import PipelineConfig, RunConfig
from vector_trainer.errors import ConfigError
from vector_trainer.extractor.core import DensityBasedExtractor
from vector_trainer.fileio import atomic_write_json
from vector_trainer.gate.evaluate import ModelEvaluator, feedback_examples, validation_examples
from vector_trainer.gate.policy import PromotionPolicy
from vector_trainer.gate.promote import Promoter
from vector_trainer.pipeline.corrections import correct_training_data
from vector_trainer.pipeline.monitor import PipelineMonitor
from vector_trainer.pipeline.paid_jobs import JobLedger, ensure_job, kept_training_input
from vector_trainer.pipeline.results import (
    ExtractResult,
    GateResult,
    RunSummary,
    SkippedStage,
    StageResult,
    SynthesizeResult,
    TrainResult,
)
from vector_trainer.pipeline.rundir import RunDirectory, TrainingInput
from vector_trainer.synthesizer.damage import KNOWN_GOOD_SAMPLE, sample_known_good
from vector_trainer.synthesizer.hook import HookScriptGenerator
from vector_trainer.synthesizer.rules import RuleSetSynthesizer
from vector_trainer.training.base import TERMINAL_STATUSES, BaseTrainer
from vector_trainer.training.costguard import check_budget, check_context
from vector_trainer.types import FeedbackPair, SelectionStrategy

_D = PipelineConfig


class TrainingPipeline:
    """Runs the three stages for one function (FR-3.3).

    Args:
        extractor: Selects golden data (not needed for :meth:`train`).
        synthesizer: Turns feedback into rules (not needed for :meth:`train`).
        trainer: Fine-tuning backend; a ``dry_run`` trainer only validates and prices.
        monitor: Receives progress events (e.g. :class:`~vector_trainer.dashboard.CLIDashboard`).
        hook_generator: Writes the hook; default :class:`HookScriptGenerator`.
        register_golden: Register selected logs as golden data in the source.
        poll_interval_s: Seconds between status polls when waiting.
        evaluator: Gates the run (see the module docstring); default settings when only a
            ``promotion_policy`` is given.
        promotion_policy: When a candidate replaces the live one; default settings when only an
            ``evaluator`` is given.
        live_dir: Root of the functions' live hooks and model registries
            (``<live_dir>/<function dir>/hook`` and ``.../models``) for gated runs.
        sleep: Injected sleep (tests).

    Example:
        >>> pipeline = TrainingPipeline(
        ...     extractor, synthesizer, trainer,
        ...     evaluator=ModelEvaluator(), promotion_policy=PromotionPolicy(margin=0.02),
        ... )  # doctest: +SKIP
        >>> summary = pipeline.run("your_function", feedback_pairs, "./output")  # doctest: +SKIP
        >>> summary.gate.model.decision.reason  # doctest: +SKIP
    """

    def __init__(
        self,
        extractor: DensityBasedExtractor | None,
        synthesizer: RuleSetSynthesizer | None,
        trainer: BaseTrainer,
        monitor: PipelineMonitor | None = None,
        hook_generator: HookScriptGenerator | None = None,
        *,
        register_golden: bool = _D.register_golden,
        poll_interval_s: float = _D.poll_interval_s,
        evaluator: ModelEvaluator | None = None,
        promotion_policy: PromotionPolicy | None = None,
        live_dir: str | os.PathLike[str] = _D.live_dir,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_values(_D, "pipeline", {"register_golden": register_golden, "poll_interval_s": poll_interval_s})
        self.extractor = extractor
        self.synthesizer = synthesizer
        self.trainer = trainer
        self.monitor = monitor
        self.hook_generator = hook_generator or HookScriptGenerator()
        self.register_golden = register_golden
        self.poll_interval_s = poll_interval_s
        gated = evaluator is not None or promotion_policy is not None
        self.evaluator = evaluator or (ModelEvaluator() if gated else None)
        self.promotion_policy = promotion_policy or (PromotionPolicy() if gated else None)
        self.live_dir = Path(live_dir)
        self._sleep = sleep

    def run(
        self,
        function_name: str,
        feedback_pairs: Sequence[FeedbackPair] = (),
        output_dir: str | os.PathLike[str] = RunConfig.out,
        *,
        wait: bool = False,
    ) -> RunSummary:
        """Run every stage and return the summary (also written to ``summary.json``).

        A gated pipeline learns from the feedback pairs not held out, then runs the ``gate``
        stage: its result (``summary.gate``; ``evaluation.json`` too) holds the hook's and the
        model's evaluation and decision.

        Raises:
            ConfigError: If the pipeline has no extractor or synthesizer, or the trainer lacks a setting.
            PipelineError: Naming the failed stage; the summary records the failure and the run
                directory keeps everything done so far.
        """
        if self.extractor is None or self.synthesizer is None:
            raise ConfigError("TrainingPipeline.run needs an extractor and a synthesizer; use train() for a file")
        if getattr(self.trainer, "hyperparameters", {}).get("method", "sft") != "sft":
            raise ConfigError(
                "trainer.method: a run trains on chat examples (method 'sft'); train a run's preferences.jsonl "
                "with 'vectortrainer train <run>/preferences.jsonl --trainer local-lora --method dpo'"
            )
        self.trainer.check_ready()
        run = RunDirectory(Path(output_dir), function_name, self.monitor)
        inputs: dict[str, TrainingInput] = {}
        learn, held_out = self.evaluator.split(feedback_pairs) if self.evaluator else (list(feedback_pairs), [])
        kept = kept_training_input(run)
        if kept is None:
            run.stage("extract", lambda: self._extract(function_name, run, inputs))
        else:  # paying for this golden set has begun: the resumed run trains on it, new logs wait
            inputs["train"], paid = kept
            run.stage("extract", lambda: dataclasses.replace(paid, kept="the golden set already paid for"))
        synthesized = run.stage("synthesize", lambda: self._synthesize(function_name, learn, run, inputs, kept is None))
        trained = run.stage("train", lambda: self._train(inputs["train"], run, wait))
        if self.evaluator is not None:
            run.stage("gate", lambda: self._gate(function_name, run, inputs["train"], synthesized, trained, held_out))
        return run.finish()

    def ledger(self, function_name: str) -> JobLedger:
        """The paid jobs of one function across runs (in its live directory, beside the registry)."""
        return JobLedger(self.live_dir / _layout.function_dirname(function_name))

    def promoter(self, function_name: str) -> Promoter:
        """The gate of one function's live hook and model registry (a gated pipeline only).

        Raises:
            ConfigError: If the pipeline has no evaluator.
        """
        if self.evaluator is None or self.promotion_policy is None:
            raise ConfigError("this pipeline is not gated: pass an evaluator or a promotion_policy")
        home = self.live_dir / _layout.function_dirname(function_name)
        return Promoter(
            home, self.evaluator, self.promotion_policy, endpoint=self.trainer.serving_endpoint(), sleep=self._sleep
        )

    def train(
        self,
        jsonl_path: str | os.PathLike[str],
        output_dir: str | os.PathLike[str],
        *,
        validation_path: str | os.PathLike[str] | None = None,
        wait: bool = False,
    ) -> RunSummary:
        """Run only the training stage on an existing chat JSONL file, resumable like :meth:`run`.

        Raises:
            PipelineError: If the stage fails.
        """
        self.trainer.check_ready()
        path = Path(jsonl_path)
        n_examples = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        inputs = TrainingInput(path, Path(validation_path) if validation_path else None, n_examples)
        run = RunDirectory(Path(output_dir), path.stem, self.monitor)
        run.stage("train", lambda: self._train(inputs, run, wait))
        return run.finish()

    # -- stages -----------------------------------------------------------------------------

    def _extract(self, function_name: str, run: RunDirectory, out: dict[str, TrainingInput]) -> ExtractResult:
        assert self.extractor is not None
        hub = run.hub
        result = self.extractor.extract(
            function_name,
            run.path(GOLDEN_FILENAME),
            register_golden=self.register_golden,
            on_progress=lambda current, total: hub.progress("extract", current, total),
            on_task_progress=lambda stage, done, total: hub.progress(f"extract: {stage} tasks", done, total),
        )
        out["train"] = TrainingInput(result.train_path, result.validation_path, result.n_examples)
        labels = {c.uuid: c.strategy.value for c in result.candidates}
        atomic_write_json(run.path(PROJECTION_FILENAME), self.extractor.projection(function_name, labels))
        report = result.report
        for warning in report.warnings:
            hub.log(warning, "warning")
        excluded = len(report.excluded)
        if excluded:
            hub.log(f"{excluded} logs excluded: unusable vector or NaN (uuids in {result.report_path.name})", "warning")
        extracted = ExtractResult(
            examples=report.written,
            steady=report.count(strategy=SelectionStrategy.STEADY),
            anomaly=report.count(strategy=SelectionStrategy.ANOMALY),
            regions=report.regions,
            density=report.density.summary(),
            logs=report.logs_total,
            excluded=excluded,
            engine=report.engine,
            train_path=str(result.train_path),
            validation_path=str(result.validation_path) if result.validation_path else None,
            report_path=str(result.report_path),
            golden_registration=dict(report.golden_registration) if report.golden_registration else None,
        )
        run.state["extract"] = extracted.to_dict()  # what a resumed run trains on
        return extracted

    def known_good(self, function_name: str) -> list[str]:
        """The function's SUCCESS outputs: text nobody complained about (the damage check's reference)."""
        assert self.extractor is not None
        outputs = self.extractor.success_outputs(function_name, KNOWN_GOOD_SAMPLE)
        return [render_value(output) for output in outputs]

    def _gate(
        self,
        function_name: str,
        run: RunDirectory,
        inputs: TrainingInput,
        synthesized: StageResult,
        trained: TrainResult,
        held_out: Sequence[FeedbackPair],
    ) -> GateResult:
        assert self.evaluator is not None
        promoter = self.promoter(function_name)
        hub = run.hub
        known_good = sample_known_good(self.known_good(function_name))
        if isinstance(synthesized, SynthesizeResult):
            hook = promoter.gate_hook(
                synthesized.hook_path, synthesized.rules, held_out, known_good, absent=synthesized.hook_not_activated
            )
        else:
            hook = promoter.gate_hook(None, 0, held_out, known_good, absent=getattr(synthesized, "reason", None))
        hub.log(f"hook: {hook.decision.reason}")
        examples = validation_examples(inputs.validation_path) if inputs.validation_path else []
        assert self.extractor is not None
        examples += feedback_examples(
            held_out,
            self.extractor.system_prompt_for(function_name),
            self.extractor.settings.prompt_templates.get(function_name),
        )
        model = promoter.gate_model(
            None if trained.mode == "dry_run" else trained.trained_model,
            provider=self.trainer.name,
            base_model=str(self.trainer.describe().get("model") or ""),
            examples=examples,
            run_dir=run.dir,
            job_id=trained.job_id or "",
            untrained="dry run: nothing was trained" if trained.mode == "dry_run" else "no trained model yet",
        )
        hub.log(f"model: {model.decision.reason}", "info" if model.decision.promote else "warning")
        report = {"function_name": function_name, "at": utc_now(), "hook": hook.to_dict(), "model": model.to_dict()}
        atomic_write_json(run.path(EVALUATION_FILENAME), report)
        return GateResult(
            hook,
            model,
            held_out_pairs=len(held_out),
            examples=len(examples),
            live_dir=str(promoter.home.resolve()),
            evaluation_path=str(run.path(EVALUATION_FILENAME)),
        )

    def _synthesize(
        self,
        function_name: str,
        pairs: Sequence[FeedbackPair],
        run: RunDirectory,
        inputs: dict[str, TrainingInput],
        correct: bool,
    ) -> SynthesizeResult | SkippedStage:
        assert self.synthesizer is not None
        if not pairs:
            return SkippedStage("no feedback pairs given")
        hub = run.hub
        hub.progress("synthesize", 0, 2)
        synthesis = self.synthesizer.synthesize(pairs, known_good=self.known_good(function_name))
        hub.progress("synthesize", 1, 2)
        for conflict in synthesis.conflicts:
            hub.log(f"conflict ({conflict.kind}): kept {conflict.kept}, dropped {conflict.dropped}: {conflict.reason}")
        hook = self.hook_generator.generate(
            synthesis.rules,
            run.path(os.path.join(_layout.HOOK_DIRNAME, _layout.HOOK_FILENAME)),
            feedback_pairs=synthesis.consistent_pairs(pairs),
            metadata={"rules": len(synthesis.rules), "feedback_pairs": len(pairs)},
            extra_instructions=synthesis.instructions,
        )
        for item in hook.dropped:
            hub.log(f"rule {item.rule_id} left out: it {item.reason}", "warning")
        if hook.not_activated:
            hub.log(f"hook not activated: {hook.not_activated}", "warning")
        active_path = hook.path if hook.activated else None
        # Written only once the hook is active, so rules.json always describes the active hook.
        atomic_write_json(run.path(RULES_FILENAME), synthesis.to_dict())
        corrections = None
        if correct:  # nothing paid for yet: train on what the hook makes of the data, and on the fixes
            assert self.extractor is not None
            inputs["train"], corrections = correct_training_data(
                inputs["train"], active_path, pairs, self.extractor.system_prompt_for(function_name),
                self.extractor.settings.prompt_templates.get(function_name), run.dir,
            )  # fmt: skip
            hub.log(
                f"training data: {corrections['replies_corrected']} golden replies corrected by the hook, "
                f"{corrections['feedback_examples']} feedback examples added"
            )
        hub.progress("synthesize", 2, 2)
        return SynthesizeResult(
            corrections=corrections,
            rules=hook.rule_count,
            inactive_rules=len(synthesis.inactive),
            conflicts=len(synthesis.conflicts),
            pruned=len(synthesis.pruned),
            damage_checked_against=synthesis.known_good,
            demoted_or_dropped=len(synthesis.damage),
            llm=synthesis.llm,
            rules_path=str(run.path(RULES_FILENAME)),
            hook_path=str(active_path) if active_path else None,
            hook_not_activated=hook.not_activated,
            hook_version=hook.version.version_id if hook.version else None,
            self_test=hook.self_test,
            overruled_pairs=tuple(sorted(synthesis.overruled)),
            left_out=tuple(hook.dropped),
        )

    def _train(self, inputs: TrainingInput, run: RunDirectory, wait: bool) -> TrainResult:
        trainer, hub = self.trainer, run.hub
        estimate = trainer.estimate(inputs.train_path)
        cost = estimate.to_dict() if estimate else None
        if estimate is not None:
            atomic_write_json(run.path(COST_FILENAME), cost)
            if not estimate.exact:
                hub.log(estimate.note.split(";")[0], "warning")
            check_context(estimate, str(inputs.train_path))
            check_budget(estimate, getattr(trainer, "max_budget_usd", None))
        if trainer.dry_run:
            plan = {
                **trainer.describe(),
                "training_file": str(inputs.train_path),
                "validation_file": str(inputs.validation_path) if inputs.validation_path else None,
                "examples": inputs.n_examples,
            }
            hub.log(f"DRY RUN (no API key): would submit {inputs.n_examples} examples to {plan.get('model')}")
            run.state["training"] = {"mode": "dry_run", "would_submit": plan}
            run.persist()
            return TrainResult("dry_run", "not_submitted", cost, would_submit=plan)
        ledger = self.ledger(run.state.get("function_name", "")) if self.evaluator is not None else None
        job_id = ensure_job(trainer, inputs, run, ledger)
        status = trainer.get_status(job_id)
        run.state["training"]["status"] = status["status"]
        run.persist()
        if wait:
            status = self._wait(job_id, run)
        if ledger is not None:
            ledger.record({"job_id": job_id, "status": status["status"]})
        if status["status"] == "succeeded":
            outcome = trainer.get_result(job_id)
            model = outcome.get("fine_tuned_model")
            artifacts = {k: v for k, v in outcome.items() if k in ("adapter_dir", "loss_curve", "result_files")}
            run.state["training"]["fine_tuned_model"] = model
            run.persist()
            return TrainResult("submitted", status["status"], cost, job_id, model, artifacts)
        if status["status"] in ("failed", "cancelled"):
            trainer.get_result(job_id)  # raises TrainerError with the job's error
        return TrainResult("submitted", status["status"], cost, job_id)

    def _wait(self, job_id: str, run: RunDirectory) -> dict[str, Any]:
        seen_steps: set[Any] = set()
        said = None
        while True:
            status = self.trainer.get_status(job_id)
            run.state["training"]["status"] = status["status"]
            run.persist()
            for row in self.trainer.metrics(job_id):
                if row.get("step") not in seen_steps:
                    seen_steps.add(row.get("step"))
                    run.hub.metrics("train", row)
            if status["status"] in TERMINAL_STATUSES:
                return status
            if status["status"] != said:  # one line per change, not one per poll
                run.hub.log(f"job {job_id}: {status['status']}")
                said = status["status"]
            self._sleep(self.poll_interval_s)
