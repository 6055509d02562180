"""``vectortrainer loop``: run the cycle whenever there is reason to, and promote only what is better.

A cycle, per function, is one gated :class:`TrainingPipeline` run: extract -> synthesize (from
the feedback not held out) -> train -> gate (the hook on held-out feedback and known-good text,
the trained model on held-out examples, each against the live one) -> promote or keep. Each cycle
is a run directory under ``<home>/cycles/``, where ``<home>`` is the function's directory under
the pipeline's ``live_dir``; the live hook (``<home>/hook/``) and the model registry
(``<home>/models/``) change only through the gate.

A cycle starts when at least ``min_new_logs`` logs arrived since the last one, the function's
feedback changed, or the share of anomalies among the new logs rose by ``anomaly_rise`` over
their share among the logs already seen (:mod:`vector_trainer.pipeline.loop_trigger`). ``loop.json``
keeps that watermark and the cycle in progress (its name: every path is derived from the
function's home, never read from the file), written before the cycle starts: after a crash the
same cycle directory is resumed with the golden set it already paid for, so no job is paid for
twice (:mod:`vector_trainer.pipeline.paid_jobs`). A cycle whose job is still running, or whose
model could not be evaluated for a passing reason (a rate limit, a timeout), stays pending and is
resumed, and gated, by the next check. A cycle that fails is recorded as failed with its reason,
the watermark moves on (the next cycle starts fresh, on new data), and the other functions are
still checked. A lock on the output root keeps a second loop off the same runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from vector_trainer._layout import CYCLES_DIRNAME, LOOP_STATE_FILENAME, NOVELTY_FILENAME
from vector_trainer._shared import utc_now
from vector_trainer.config import Config
from vector_trainer.errors import InputError, PipelineError, redact_value
from vector_trainer.extractor.distributed.driver import is_distributed
from vector_trainer.fileio import StateDocument, atomic_write_json
from vector_trainer.gate.verdicts import HookVerdict, ModelVerdict
from vector_trainer.pipeline.loop_trigger import NoveltyReference, new_anomaly_share, reference_from
from vector_trainer.pipeline.orchestrator import TrainingPipeline
from vector_trainer.pipeline.results import SynthesizeResult, TrainResult
from vector_trainer.synthesizer.feedback import pairs_for_function
from vector_trainer.training.base import TERMINAL_STATUSES
from vector_trainer.types import FeedbackPair

LOOP_LOCK_FILENAME = "loop.lock"
#: A cycle's name: the only form in which ``loop.json`` may name a directory.
CYCLE_NAME = re.compile(r"c\d{4,6}")


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
    hook: HookVerdict | None = None
    model: ModelVerdict | None = None
    notes: tuple[str, ...] = field(default=())
    failed: str | None = None
    pending: bool = False
    #: The synthesize stage's result (rules, self-test with per-pair verdicts, hook_not_activated);
    #: ``None`` when the cycle had no feedback to learn from.
    synthesis: SynthesizeResult | None = None


def feedback_digest(pairs: Sequence[FeedbackPair]) -> str:
    """A digest of feedback pairs' content (order-free): it changes when feedback is added."""
    lines = sorted(f"{p.bad_output}\x00{p.fixed_output}\x00{p.input_prompt}" for p in pairs)
    return hashlib.sha256("\x01".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


class ContinuousLoop:
    """Runs gated cycles for every function of a source when there is reason to.

    Args:
        config: The validated configuration (``[loop]`` included); ``[run] out`` holds the lock.
        pipeline_for: Builds the gated pipeline of one function's cycle (an ``evaluator`` or a
            ``promotion_policy`` given); its ``live_dir`` holds the cycles and the live state.
        functions: Lists the functions to watch.
        count_logs: Counts a function's logs.
    """

    def __init__(
        self,
        config: Config,
        pipeline_for: Callable[[str], TrainingPipeline],
        functions: Callable[[], list[str]],
        count_logs: Callable[[str], int],
    ) -> None:
        self.config = config
        self.pipeline_for = pipeline_for
        self.functions = functions
        self.count_logs = count_logs

    # -- running ----------------------------------------------------------------------------

    def run_once(self, pairs: Sequence[FeedbackPair] = ()) -> list[CycleOutcome]:
        """Check every function once, running a cycle where there is reason to.

        Raises:
            InputError: If another loop holds the lock on the output root.
            ConfigError: If ``pipeline_for`` builds a pipeline that is not gated.
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
        pipeline = self.pipeline_for(function_name)
        root = pipeline.promoter(function_name).home
        _refuse_links(root, pipeline.live_dir)
        state = _read_state(root / LOOP_STATE_FILENAME)
        current = Watermark(self.count_logs(function_name), feedback_digest(pairs))
        pending = _pending_name(state.get("pending"), root)
        reasons = self._reasons(state.get("watermark"), current, pipeline, function_name, root)
        if pending:
            reasons = ("resuming the interrupted cycle " + pending, *reasons)
        if not reasons:
            return CycleOutcome(function_name, ran=False, notes=("nothing new since the last cycle",))
        cycles = _cycles(state)
        name = pending or f"c{len(cycles) + 1:04d}"
        cycle_dir = root / CYCLES_DIRNAME / name
        _refuse_links(cycle_dir, root)
        state.update(pending=name, cycles=cycles)
        _write_state(root / LOOP_STATE_FILENAME, state)
        record: dict[str, Any] = {"cycle_dir": str(cycle_dir), "reasons": list(reasons)}
        try:
            summary = pipeline.run(function_name, pairs, cycle_dir, wait=self.config.run.wait)
        except PipelineError as exc:  # recorded; the next cycle starts fresh, on new data
            record.update(finished_at=utc_now(), failed=f"stage '{exc.stage}': {exc.message}")
            state.update(pending=None, watermark=current.to_dict(), cycles=[*cycles, record])
            _write_state(root / LOOP_STATE_FILENAME, state)
            return CycleOutcome(function_name, True, reasons, str(cycle_dir), failed=record["failed"])
        gated, synthesis, trained = summary.gate, summary.synthesize, summary.train
        assert gated is not None and trained is not None  # a gated run that returns ran both stages
        waiting = _still_waiting(trained, gated.model)
        if waiting:  # the next check resumes this cycle and gates its model
            _write_state(root / LOOP_STATE_FILENAME, state)
            notes = (f"{waiting}; the next check resumes {name} and gates its model",)
            return CycleOutcome(function_name, True, reasons, str(cycle_dir), gated.hook, gated.model,
                                notes=notes, pending=True, synthesis=synthesis)  # fmt: skip
        self._remember(pipeline, function_name, root)
        record.update(finished_at=utc_now(), hook=_decision_of(gated.hook), model=_decision_of(gated.model))
        state.update(pending=None, watermark=current.to_dict(), cycles=[*cycles, record])
        _write_state(root / LOOP_STATE_FILENAME, state)
        return CycleOutcome(function_name, True, reasons, str(cycle_dir), gated.hook, gated.model, synthesis=synthesis)

    def _reasons(
        self, last: Any, current: Watermark, pipeline: TrainingPipeline, function_name: str, root: Path
    ) -> tuple[str, ...]:
        if last is None:
            return ("first cycle",)
        if not isinstance(last, dict):  # read as "first cycle", a damaged watermark could pay again
            raise InputError(
                f"{root / LOOP_STATE_FILENAME}: 'watermark' must be an object, got {last!r}; "
                "restore the file or move it away to start the loop afresh"
            )
        seen = last.get("logs", 0)
        if not isinstance(seen, int) or isinstance(seen, bool) or not 0 <= seen < 10**15:
            raise InputError(
                f"{root / LOOP_STATE_FILENAME}: watermark 'logs' must be a count of logs, got {seen!r}; "
                "restore the file or move it away to start the loop afresh"
            )
        reasons = []
        new_logs = current.logs - seen
        if new_logs >= self.config.loop.min_new_logs:
            reasons.append(f"{new_logs} new logs (threshold {self.config.loop.min_new_logs})")
        if current.feedback_sha256 != last.get("feedback_sha256"):
            reasons.append("the feedback changed")
        if not reasons and new_logs >= self.config.loop.anomaly_min_logs:
            rise = self._anomaly_rise(pipeline, function_name, root)
            if rise:
                reasons.append(rise)
        return tuple(reasons)

    def _anomaly_rise(self, pipeline: TrainingPipeline, function_name: str, root: Path) -> str | None:
        path = root / NOVELTY_FILENAME
        if pipeline.extractor is None or not path.is_file() or _distributed(pipeline):
            return None
        reference = NoveltyReference.load(path)
        n_new, share = new_anomaly_share(pipeline.extractor.analyze(function_name), reference)
        if n_new < self.config.loop.anomaly_min_logs or share - reference.share < self.config.loop.anomaly_rise:
            return None
        return (
            f"anomalies rose to {share:.0%} of {n_new} new logs from {reference.share:.0%} "
            f"(threshold +{self.config.loop.anomaly_rise:.0%})"
        )

    def _remember(self, pipeline: TrainingPipeline, function_name: str, root: Path) -> None:
        """Keep what this cycle saw, for the next check's anomaly share (not on the distributed
        path, whose graph no process holds: its cycles start on new logs or feedback only)."""
        if pipeline.extractor is None or _distributed(pipeline):
            return
        analysis = pipeline.extractor.analyze(function_name)
        reference_from(analysis, pipeline.extractor.settings.anomaly_quantile).save(root / NOVELTY_FILENAME)


def _distributed(pipeline: TrainingPipeline) -> bool:
    extractor = pipeline.extractor
    return extractor is not None and is_distributed(extractor.engine, extractor.dataset_manager)


def _still_waiting(training: TrainResult, model: ModelVerdict) -> str | None:
    """Why a cycle's model is not decided yet (its job runs; its evaluation could not reach a model)."""
    if training.mode == "submitted" and training.status not in TERMINAL_STATUSES:
        return f"job {training.job_id} is {training.status}"
    if model.pending:
        return model.decision.reason or "the evaluation is pending"
    return None


def _pending_name(raw: Any, root: Path) -> str | None:
    """The pending cycle's name, checked: ``loop.json`` names a cycle, never a path. A state file
    written before names were used holds the full path of a directory under ``<root>/cycles``.

    Raises:
        InputError: If it names anything else (the file was edited or planted).
    """
    if raw is None:
        return None
    name = raw if isinstance(raw, str) and CYCLE_NAME.fullmatch(raw) else None
    if name is None and isinstance(raw, str) and Path(raw).parent == root / CYCLES_DIRNAME:
        name = Path(raw).name if CYCLE_NAME.fullmatch(Path(raw).name) else None
    if name is None:
        raise InputError(
            f"{root / LOOP_STATE_FILENAME}: 'pending' must name a cycle of {root / CYCLES_DIRNAME} (like c0003), "
            f"got {raw!r}; restore the file or set it to null"
        )
    return name


def _cycles(state: dict[str, Any]) -> list[dict[str, Any]]:
    cycles = state.get("cycles", [])
    if not isinstance(cycles, list) or not all(isinstance(c, dict) for c in cycles):
        raise InputError("loop.json: 'cycles' must be a list of objects; restore the file or move it away")
    return cycles


def _refuse_links(path: Path, root: Path) -> None:
    """Refuse a symbolic link at ``path`` or at any directory between ``root`` and it.

    Raises:
        InputError: Naming the link.
    """
    current = path
    while True:
        if current.is_symlink():
            raise InputError(f"{current} is a symbolic link; the loop only writes inside its own directories")
        if current in (root, current.parent):
            return
        current = current.parent


def _decision_of(verdict: HookVerdict | ModelVerdict) -> dict[str, Any]:
    """What ``loop.json`` keeps of a verdict: the model id (a model's) and the decision."""
    return {k: v for k, v in verdict.to_dict().items() if k in ("model_id", "decision")}


def _read_state(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = StateDocument(path, "restore it or move it away to start the loop afresh").read({})
    return state


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, redact_value(state))
