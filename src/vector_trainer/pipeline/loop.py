"""``vectortrainer loop``: run the cycle whenever there is reason to, and promote only what is better.

A cycle, per function: extract -> synthesize (from the feedback not held out) -> train ->
gate the hook (held-out feedback and known-good text, candidate against the live hook) ->
evaluate the trained model against the active one -> promote or keep. Each cycle is a run
directory under ``<out>/<function>/cycles/``; the function's live hook (``<out>/<function>/hook/``)
and model registry (``<out>/<function>/models/``) change only through the gate.

A cycle starts when at least ``min_new_logs`` logs arrived since the last one, or the function's
feedback changed. ``loop.json`` keeps that watermark and the cycle in progress, written before the
cycle starts: after a crash the same cycle directory is resumed, so no job is paid for twice. A
lock on ``<out>`` keeps a second loop off the same runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from vector_trainer import _layout
from vector_trainer._shared import utc_now
from vector_trainer.config import Config
from vector_trainer.errors import InputError, VectorTrainerError
from vector_trainer.fileio import atomic_write_json, loads_strict
from vector_trainer.gate.evaluate import (
    Evaluation,
    ModelEvaluator,
    evaluate_hooks,
    feedback_examples,
    holdout_split,
    validation_examples,
)
from vector_trainer.gate.models import ChatModel, chat_model_for
from vector_trainer.gate.policy import Decision, PromotionPolicy
from vector_trainer.gate.registry import ModelRegistry
from vector_trainer.pipeline.orchestrator import TrainingPipeline
from vector_trainer.synthesizer.damage import sample_known_good
from vector_trainer.synthesizer.feedback import pairs_for_function
from vector_trainer.synthesizer.versions import open_hook_versions
from vector_trainer.types import FeedbackPair

LOOP_STATE_FILENAME = "loop.json"
LOOP_LOCK_FILENAME = "loop.lock"
EVALUATION_FILENAME = "evaluation.json"
CYCLES_DIRNAME = "cycles"
MODELS_DIRNAME = "models"


@dataclass(frozen=True)
class Watermark:
    """What a cycle has processed: the number of logs and the digest of the function's feedback."""

    logs: int
    feedback_sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"logs": self.logs, "feedback_sha256": self.feedback_sha256}


@dataclass(frozen=True)
class CycleOutcome:
    """What one check of one function did."""

    function_name: str
    ran: bool
    reasons: tuple[str, ...] = ()
    cycle_dir: str | None = None
    hook: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())


def feedback_digest(pairs: Sequence[FeedbackPair]) -> str:
    """A digest of feedback pairs' content (order-free): it changes when feedback is added."""
    lines = sorted(f"{p.bad_output}\x00{p.fixed_output}\x00{p.input_prompt}" for p in pairs)
    return hashlib.sha256("\x01".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


def function_root(out: str | Path, function_name: str) -> Path:
    """The directory of one function's cycles, live hook, registry and loop state."""
    return Path(out) / _layout.function_dirname(function_name)


class ContinuousLoop:
    """Runs cycles for every function of a source when there is reason to.

    Args:
        config: The validated configuration (``[loop]`` and ``[gate]`` included).
        pipeline_for: Builds the pipeline of one function's cycle.
        functions: Lists the functions to watch.
        count_logs: Counts a function's logs.
        model_for: Reaches a model: ``(provider, model) -> ChatModel``; by default an
            OpenAI-compatible endpoint (``[trainer] base_url``), or transformers for local-lora.
    """

    def __init__(
        self,
        config: Config,
        pipeline_for: Callable[[str], TrainingPipeline],
        functions: Callable[[], list[str]],
        count_logs: Callable[[str], int],
        *,
        model_for: Callable[[str, str], ChatModel] | None = None,
    ) -> None:
        self.config = config
        self.pipeline_for = pipeline_for
        self.functions = functions
        self.count_logs = count_logs
        self.model_for = model_for or self._default_model_for
        self.policy = PromotionPolicy(config.gate.metric, config.gate.margin)

    def _default_model_for(self, provider: str, model: str) -> ChatModel:
        gate = self.config.gate
        base_url = self.config.trainer.options.get("base_url")
        return chat_model_for(provider, model, base_url=base_url, timeout_s=gate.timeout_s, max_tokens=gate.max_tokens)

    # -- running ----------------------------------------------------------------------------

    def run_once(self, pairs: Sequence[FeedbackPair] = ()) -> list[CycleOutcome]:
        """Check every function once, running a cycle where there is reason to.

        Raises:
            InputError: If another loop holds the lock on the output root.
        """
        out = Path(self.config.run.out)
        out.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(out / LOOP_LOCK_FILENAME), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise InputError(f"another 'vectortrainer loop' is running on {out}; only one loop may run on it") from None
        try:
            return [self._check(name, pairs_for_function(pairs, name)) for name in self.functions()]
        finally:
            lock.release()

    # -- one function -----------------------------------------------------------------------

    def _check(self, function_name: str, pairs: Sequence[FeedbackPair]) -> CycleOutcome:
        root = function_root(self.config.run.out, function_name)
        state = _read_state(root / LOOP_STATE_FILENAME)
        current = Watermark(self.count_logs(function_name), feedback_digest(pairs))
        pending = state.get("pending")
        reasons = self._reasons(state.get("watermark"), current)
        if pending:
            reasons = ("resuming the interrupted cycle " + Path(pending).name, *reasons)
        if not reasons:
            return CycleOutcome(function_name, ran=False, notes=("nothing new since the last cycle",))
        cycle_dir = Path(pending) if pending else root / CYCLES_DIRNAME / f"c{len(state.get('cycles', [])) + 1:04d}"
        state["pending"] = str(cycle_dir)
        _write_state(root / LOOP_STATE_FILENAME, state)
        outcome = self._cycle(function_name, pairs, root, cycle_dir, reasons)
        state.setdefault("cycles", []).append(
            {
                "cycle_dir": str(cycle_dir),
                "finished_at": utc_now(),
                "reasons": list(reasons),
                "hook": outcome.hook,
                "model": outcome.model,
            }
        )
        state.update(pending=None, watermark=current.to_dict())
        _write_state(root / LOOP_STATE_FILENAME, state)
        return outcome

    def _reasons(self, last: Any, current: Watermark) -> tuple[str, ...]:
        if not isinstance(last, dict):
            return ("first cycle",)
        reasons = []
        new_logs = current.logs - int(last.get("logs", 0))
        if new_logs >= self.config.loop.min_new_logs:
            reasons.append(f"{new_logs} new logs (threshold {self.config.loop.min_new_logs})")
        if current.feedback_sha256 != last.get("feedback_sha256"):
            reasons.append("the feedback changed")
        return tuple(reasons)

    def _cycle(
        self, function_name: str, pairs: Sequence[FeedbackPair], root: Path, cycle_dir: Path, reasons: tuple[str, ...]
    ) -> CycleOutcome:
        learn, held_out = holdout_split(pairs, self.config.gate.holdout_every)
        pipeline = self.pipeline_for(function_name)
        summary = pipeline.run(function_name, learn, cycle_dir, wait=self.config.run.wait)
        known_good = sample_known_good(pipeline.known_good(function_name))
        report: dict[str, Any] = {"function_name": function_name, "reasons": list(reasons), "at": utc_now()}
        report["hook"] = self._gate_hook(summary, root, held_out, known_good)
        base_model = str(pipeline.trainer.describe().get("model") or "")
        report["model"] = self._gate_model(summary, root, held_out, cycle_dir, base_model)
        atomic_write_json(cycle_dir / EVALUATION_FILENAME, report)
        return CycleOutcome(function_name, True, reasons, str(cycle_dir), report["hook"], report["model"])

    def _gate_hook(
        self, summary: dict[str, Any], root: Path, held_out: Sequence[FeedbackPair], known_good: Sequence[str]
    ) -> dict[str, Any]:
        synthesized = summary["stages"].get("synthesize") or {}
        if not synthesized.get("hook_path"):
            return {"decision": Decision(False, "no hook this cycle (no feedback to learn from)").to_dict()}
        live_dir = root / _layout.HOOK_DIRNAME
        live = live_dir / _layout.HOOK_FILENAME
        gate = self.config.gate
        evaluation = evaluate_hooks(
            synthesized["hook_path"],
            live if live.is_file() else None,
            held_out,
            known_good,
            resamples=gate.resamples,
            confidence=gate.confidence,
        )
        decision = self.policy.decide_hook(evaluation)
        if decision.promote:
            source = Path(synthesized["hook_path"]).read_text(encoding="utf-8")
            live_dir.mkdir(parents=True, exist_ok=True)
            manager = open_hook_versions(live_dir)
            active = manager.active()
            if active is None or manager.source(active.version_id) != source:
                version = manager.add(source, int(synthesized.get("rules", 0)))
                decision = Decision(True, f"{decision.reason}; live hook is now {version.version_id}")
        return {"evaluation": evaluation.to_dict(), "decision": decision.to_dict()}

    def _gate_model(
        self,
        summary: dict[str, Any],
        root: Path,
        held_out: Sequence[FeedbackPair],
        cycle_dir: Path,
        base_model: str,
    ) -> dict[str, Any]:
        training = summary["stages"].get("train") or {}
        trained = training.get("fine_tuned_model") or (training.get("artifacts") or {}).get("adapter_dir")
        if training.get("mode") == "dry_run" or not trained:
            why = "dry run: nothing was trained" if training.get("mode") == "dry_run" else "no trained model yet"
            return {"decision": Decision(False, f"the incumbent stays: {why}").to_dict()}
        registry = ModelRegistry(root / MODELS_DIRNAME)
        record = registry.add(
            self.config.trainer.name,
            base_model,
            str(trained),
            job_id=str(training.get("job_id", "")),
            run_dir=str(cycle_dir),
        )
        incumbent_record = registry.active()
        incumbent = self.model_for(
            incumbent_record.provider if incumbent_record else self.config.trainer.name,
            incumbent_record.model if incumbent_record else base_model,
        )
        extract = summary["stages"].get("extract") or {}
        examples = validation_examples(extract["validation_path"]) if extract.get("validation_path") else []
        examples += feedback_examples(held_out)
        live_hook = root / _layout.HOOK_DIRNAME / _layout.HOOK_FILENAME
        gate = self.config.gate
        evaluator = ModelEvaluator(
            hook_path=live_hook if live_hook.is_file() else None,
            max_examples=gate.max_examples,
            resamples=gate.resamples,
            confidence=gate.confidence,
        )
        try:
            evaluation = evaluator.evaluate(self.model_for(record.provider, record.model), incumbent, examples)
        except VectorTrainerError as exc:
            decision = Decision(False, f"the incumbent stays: evaluation failed: {exc}")
            registry.reject(record.model_id, decision.reason)
            return {"model_id": record.model_id, "decision": decision.to_dict()}
        decision = self.policy.decide(evaluation)
        registry.record_evaluation(record.model_id, _summary(evaluation, decision))
        if decision.promote:
            registry.promote(record.model_id, decision.reason)
        else:
            registry.reject(record.model_id, decision.reason)
        return {"model_id": record.model_id, "evaluation": evaluation.to_dict(), "decision": decision.to_dict()}


def _summary(evaluation: Evaluation, decision: Decision) -> dict[str, Any]:
    return {
        "against": evaluation.incumbent,
        "comparisons": {k: v.to_dict() for k, v in evaluation.comparisons.items()},
        "decision": decision.to_dict(),
        "at": utc_now(),
    }


def _read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = loads_strict(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read ({exc}); restore it or move it away to start the loop afresh") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object; restore it or move it away to start the loop afresh")
    return data


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, state)
