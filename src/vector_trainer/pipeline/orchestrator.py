"""FR-3.3: the orchestrator. Extract -> synthesize -> train, each stage's result recorded in
the run directory (its layout: :mod:`vector_trainer._layout`), resumable.

The uploaded file id and the job id are written to ``state.json`` the moment they exist.
Running again on the same directory with the same training file reuses them: nothing is
uploaded or paid for twice; the existing job is polled instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer._layout import (
    COST_FILENAME,
    EVENTS_FILENAME,
    GOLDEN_FILENAME,
    PROJECTION_FILENAME,
    RULES_FILENAME,
    STATE_FILENAME,
    SUMMARY_FILENAME,
)
from vector_trainer._shared import sha256_file, utc_now
from vector_trainer.config import PipelineConfig, RunConfig
from vector_trainer.errors import ConfigError, PipelineError, VectorTrainerError
from vector_trainer.extractor.core import DensityBasedExtractor
from vector_trainer.fileio import atomic_write_json
from vector_trainer.pipeline.costguard import check_budget
from vector_trainer.pipeline.monitor import JsonlEventLog, MonitorHub, PipelineMonitor
from vector_trainer.pipeline.trainers.base import TERMINAL_STATUSES, BaseTrainer
from vector_trainer.synthesizer.hook import HookScriptGenerator
from vector_trainer.synthesizer.rules import RuleSetSynthesizer
from vector_trainer.types import FeedbackPair, SelectionStrategy

_D = PipelineConfig


def read_run_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``state.json`` of a run directory (empty when the run has none yet).

    Raises:
        PipelineError: If the file exists but cannot be read.
    """
    path = Path(run_dir) / STATE_FILENAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError("resume", f"{path} cannot be read ({exc}); move it away to start afresh") from exc
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class TrainingInput:
    """What the training stage trains on."""

    train_path: Path
    validation_path: Path | None
    n_examples: int


class _Run:
    """Bookkeeping of one run directory: events, persisted state, the summary."""

    def __init__(self, run_dir: Path, label: str, monitor: PipelineMonitor | None) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.dir = run_dir
        self.events = JsonlEventLog(run_dir / EVENTS_FILENAME)
        self.hub = MonitorHub([self.events, monitor])
        self.state = read_run_state(run_dir)
        self.state.update({"function_name": label, "updated_at": utc_now()})
        self.state.setdefault("stages", {})
        self.summary: dict[str, Any] = {
            "function_name": label,
            "run_dir": str(run_dir),
            "started_at": utc_now(),
            "stages": {},
            "errors": [],
        }

    def persist(self) -> None:
        self.state["updated_at"] = utc_now()
        atomic_write_json(self.dir / STATE_FILENAME, self.state)

    def stage(self, name: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self.hub.stage_start(name)
        try:
            result = body()
        except Exception as exc:  # a stage failure, or an unexpected bug, ends the run cleanly, named
            message = str(exc) if isinstance(exc, VectorTrainerError) else f"{type(exc).__name__}: {exc}"
            self.hub.error(name, message)
            self.state["stages"][name] = {"status": "failed", "error": message, "finished_at": utc_now()}
            self.persist()
            self.summary["errors"].append({"stage": name, "error": message})
            self.finish("failed")
            raise PipelineError(name, message) from exc
        self.state["stages"][name] = {"status": result.get("status", "done"), "finished_at": utc_now()}
        self.persist()
        self.summary["stages"][name] = result
        self.hub.stage_complete(name, result)
        return result

    def finish(self, status: str = "ok") -> dict[str, Any]:
        self.summary["finished_at"] = utc_now()
        self.summary["status"] = status
        self.summary["overview"] = {k: v for k, v in self.events.summary().items() if k not in ("stages", "errors")}
        atomic_write_json(self.dir / SUMMARY_FILENAME, self.summary)
        return self.summary


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
        sleep: Injected sleep (tests).
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.extractor = extractor
        self.synthesizer = synthesizer
        self.trainer = trainer
        self.monitor = monitor
        self.hook_generator = hook_generator or HookScriptGenerator()
        self.register_golden = register_golden
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep

    def run(
        self,
        function_name: str,
        feedback_pairs: Sequence[FeedbackPair] = (),
        output_dir: str | os.PathLike[str] = RunConfig.out,
        *,
        wait: bool = False,
    ) -> dict[str, Any]:
        """Run every stage and return the summary (also written to ``summary.json``).

        Raises:
            ConfigError: If the pipeline has no extractor or synthesizer, or the trainer lacks a setting.
            PipelineError: Naming the failed stage; the summary records the failure and the run
                directory keeps everything done so far.
        """
        if self.extractor is None or self.synthesizer is None:
            raise ConfigError("TrainingPipeline.run needs an extractor and a synthesizer; use train() for a file")
        self.trainer.check_ready()
        run = _Run(Path(output_dir), function_name, self.monitor)
        inputs: dict[str, TrainingInput] = {}
        run.stage("extract", lambda: self._extract(function_name, run, inputs))
        run.stage("synthesize", lambda: self._synthesize(feedback_pairs, run))
        run.stage("train", lambda: self._train(inputs["train"], run, wait))
        return run.finish()

    def train(
        self,
        jsonl_path: str | os.PathLike[str],
        output_dir: str | os.PathLike[str],
        *,
        validation_path: str | os.PathLike[str] | None = None,
        wait: bool = False,
    ) -> dict[str, Any]:
        """Run only the training stage on an existing chat JSONL file, resumable like :meth:`run`.

        Raises:
            PipelineError: If the stage fails.
        """
        self.trainer.check_ready()
        path = Path(jsonl_path)
        n_examples = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        inputs = TrainingInput(path, Path(validation_path) if validation_path else None, n_examples)
        run = _Run(Path(output_dir), path.stem, self.monitor)
        run.stage("train", lambda: self._train(inputs, run, wait))
        return run.finish()

    # -- stages -----------------------------------------------------------------------------

    def _extract(self, function_name: str, run: _Run, out: dict[str, TrainingInput]) -> dict[str, Any]:
        assert self.extractor is not None
        hub = run.hub
        result = self.extractor.extract(
            function_name,
            run.dir / GOLDEN_FILENAME,
            register_golden=self.register_golden,
            on_progress=lambda current, total: hub.progress("extract", current, total),
        )
        out["train"] = TrainingInput(result.train_path, result.validation_path, result.n_examples)
        labels = {c.uuid: c.strategy.value for c in result.candidates}
        atomic_write_json(run.dir / PROJECTION_FILENAME, self.extractor.projection(function_name, labels))
        report = result.report
        for warning in report.warnings:
            hub.log(warning, "warning")
        excluded = len(report.excluded)
        if excluded:
            hub.log(f"{excluded} logs excluded for unusable vectors (uuids in {result.report_path.name})", "warning")
        return {
            "examples": report.written,
            "steady": report.count(strategy=SelectionStrategy.STEADY),
            "anomaly": report.count(strategy=SelectionStrategy.ANOMALY),
            "regions": report.regions,
            "density": report.density.summary(),
            "logs": report.logs_total,
            "excluded": excluded,
            "engine": report.engine,
            "train_path": str(result.train_path),
            "validation_path": str(result.validation_path) if result.validation_path else None,
            "report_path": str(result.report_path),
            "golden_registration": dict(report.golden_registration) if report.golden_registration else None,
        }

    def _synthesize(self, pairs: Sequence[FeedbackPair], run: _Run) -> dict[str, Any]:
        assert self.synthesizer is not None
        if not pairs:
            return {"status": "skipped", "reason": "no feedback pairs given"}
        hub = run.hub
        hub.progress("synthesize", 0, 2)
        synthesis = self.synthesizer.synthesize(pairs)
        atomic_write_json(run.dir / RULES_FILENAME, synthesis.to_dict())
        hub.progress("synthesize", 1, 2)
        for conflict in synthesis.conflicts:
            hub.log(f"conflict ({conflict.kind}): kept {conflict.kept}, dropped {conflict.dropped}: {conflict.reason}")
        hook = self.hook_generator.generate(
            synthesis.rules,
            _layout.run_hook_dir(run.dir) / _layout.HOOK_FILENAME,
            feedback_pairs=synthesis.consistent_pairs(pairs),
            metadata={"rules": len(synthesis.rules), "feedback_pairs": len(pairs)},
            extra_instructions=synthesis.instructions,
        )
        hub.progress("synthesize", 2, 2)
        return {
            "rules": len(synthesis.rules),
            "inactive_rules": len(synthesis.inactive),
            "conflicts": len(synthesis.conflicts),
            "pruned": len(synthesis.pruned),
            "llm": synthesis.llm,
            "rules_path": str(run.dir / RULES_FILENAME),
            "hook_path": str(hook.path),
            "hook_version": hook.version.version_id if hook.version else None,
            "self_test": hook.self_test.to_dict(),
        }

    def _train(self, inputs: TrainingInput, run: _Run, wait: bool) -> dict[str, Any]:
        trainer, hub = self.trainer, run.hub
        estimate = trainer.estimate(inputs.train_path)
        cost = estimate.to_dict() if estimate else None
        if estimate is not None:
            atomic_write_json(run.dir / COST_FILENAME, cost)
            if not estimate.exact:
                hub.log(estimate.note.split(";")[0], "warning")
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
            return {"mode": "dry_run", "status": "not_submitted", "cost": cost, "would_submit": plan}
        job_id = self._ensure_job(inputs, run)
        status = trainer.get_status(job_id)
        run.state["training"]["status"] = status["status"]
        run.persist()
        if wait:
            status = self._wait(job_id, run)
        result: dict[str, Any] = {"mode": "submitted", "job_id": job_id, "status": status["status"], "cost": cost}
        if status["status"] == "succeeded":
            outcome = trainer.get_result(job_id)
            result["fine_tuned_model"] = outcome.get("fine_tuned_model")
            result["artifacts"] = {
                k: v for k, v in outcome.items() if k in ("adapter_dir", "loss_curve", "result_files")
            }
            run.state["training"]["fine_tuned_model"] = result["fine_tuned_model"]
            run.persist()
        elif status["status"] in ("failed", "cancelled"):
            trainer.get_result(job_id)  # raises TrainerError with the job's error
        return result

    def _ensure_job(self, inputs: TrainingInput, run: _Run) -> str:
        trainer, hub, state = self.trainer, run.hub, run.state
        digest = sha256_file(inputs.train_path)
        training = state.get("training") or {}
        if training.get("file_sha256") != digest or training.get("trainer") != trainer.name:
            if training.get("job_id"):
                state.setdefault("previous_jobs", []).append(training)
            training = {"mode": "submitted", "trainer": trainer.name, "file_sha256": digest}
        state["training"] = training
        if training.get("job_id"):
            hub.log(f"resuming: job {training['job_id']} already exists for this training file; not uploading again")
            return str(training["job_id"])
        if not training.get("file_id"):
            training["file_id"] = trainer.prepare_data(inputs.train_path)
            run.persist()
        else:
            hub.log(f"resuming: file {training['file_id']} already uploaded")
        if inputs.validation_path and not training.get("validation_file_id"):
            training["validation_file_id"] = trainer.prepare_data(inputs.validation_path)
            run.persist()
        hyper: dict[str, Any] = {}
        if training.get("validation_file_id"):
            hyper["validation_file"] = training["validation_file_id"]
        training["job_id"] = trainer.start_training(training["file_id"], **hyper)
        training["created_at"] = utc_now()
        run.persist()
        hub.log(f"started fine-tuning job {training['job_id']}")
        return str(training["job_id"])

    def _wait(self, job_id: str, run: _Run) -> dict[str, Any]:
        seen_steps: set[Any] = set()
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
            run.hub.log(f"job {job_id}: {status['status']}")
            self._sleep(self.poll_interval_s)
