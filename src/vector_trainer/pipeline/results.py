"""Typed results of the pipeline's stages and of a whole run.

Each stage returns one frozen value; the run directory is the one place that turns them into
JSON (``summary.json``, ``state.json``, ``events.jsonl``) with ``to_dict``, and every reader of
those files turns them back with ``from_dict``. The JSON is the format runs have always written:
the same keys in the same order, so older run directories read as newer ones do (a key an older
file lacks reads as its default).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from vector_trainer._shared import mapping_at
from vector_trainer.errors import InputError
from vector_trainer.gate.verdicts import HookVerdict, ModelVerdict
from vector_trainer.synthesizer.self_test import SelfTestReport
from vector_trainer.synthesizer.simulate import DroppedRule

_T = TypeVar("_T")


@runtime_checkable
class StageResult(Protocol):
    """What every stage returns: a status for ``state.json`` and its JSON form."""

    @property
    def status(self) -> str:
        """``done``, ``skipped``, or the training job's status."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The stage's entry in ``summary.json``."""
        ...


def _known(cls: type[_T], data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that are fields of ``cls`` (unknown keys of newer files are ignored),
    each of the kind its field holds.

    Raises:
        InputError: Naming the field, for a value of another kind (a damaged file).
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    known = {key: value for key, value in data.items() if key in fields}
    for key, value in known.items():
        if value is not None and not _of_kind(str(fields[key].type), value):
            raise InputError(f"{cls.__name__}.{key}: expected {fields[key].type}, got {value!r}")
    return known


def _of_kind(annotation: str, value: Any) -> bool:
    """Whether a value read from a file is of the kind a field's annotation names (the simple
    kinds these results hold; the structured fields are read by their own readers)."""
    if "Mapping" in annotation:
        return isinstance(value, Mapping)
    if annotation.startswith("int"):
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation.startswith("str"):
        return isinstance(value, str)
    if annotation.startswith("bool"):
        return isinstance(value, bool)
    return True


@dataclass(frozen=True)
class SkippedStage:
    """A stage with nothing to do (``synthesize`` without feedback pairs)."""

    reason: str
    status: str = "skipped"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class ExtractResult:
    """The ``extract`` stage: what the golden set holds and where it was written.

    Attributes:
        examples: Examples written (training and validation files together).
        steady: Examples that represent a dense region.
        anomaly: Examples that are rare successes.
        regions: Dense regions found.
        density: Minimum, median and maximum density (``None`` with no logs).
        logs: Logs read.
        excluded: Logs left out (unusable vector or NaN text).
        engine: The neighbour engine that built the graph.
        train_path: The training file.
        validation_path: The validation file, when one was split off.
        report_path: The selection report.
        golden_registration: What registering the picks as golden data in the source did.
        kept: Set when a resumed run trains on the golden set already paid for (and says so).
    """

    examples: int = 0
    steady: int = 0
    anomaly: int = 0
    regions: int = 0
    density: Mapping[str, float] | None = None
    logs: int = 0
    excluded: int = 0
    engine: str = ""
    train_path: str = ""
    validation_path: str | None = None
    report_path: str = ""
    golden_registration: Mapping[str, int] | None = None
    kept: str | None = None
    status: ClassVar[str] = "done"

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "kept"}
        for name in ("density", "golden_registration"):
            out[name] = None if out[name] is None else dict(out[name])
        return out if self.kept is None else {**out, "kept": self.kept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractResult:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class SynthesizeResult:
    """The ``synthesize`` stage: the rules learnt, the hook they make, and what it fixes.

    Attributes:
        corrections: What the hook and the feedback changed in the training data (``None`` on a
            resumed run that keeps the golden set already paid for).
        rules: Rules in the hook.
        inactive_rules: Rules learnt but not applied (too little support, or dropped).
        conflicts: Contradictions resolved.
        pruned: Rules pruned as harmful.
        damage_checked_against: Known-good texts the damage check read.
        demoted_or_dropped: Rules the damage check demoted or dropped.
        llm: What the LLM advisor did, when one is configured.
        rules_path: ``rules.json``.
        hook_path: The hook, when it was activated.
        hook_not_activated: Why no hook was activated, when none was.
        hook_version: The activated hook's version id.
        self_test: What the isolated self-test observed, one verdict per pair.
        overruled_pairs: Pairs a contradicting pair overruled.
        left_out: Rules left out because they would move a pair away from its fix.
    """

    corrections: Mapping[str, Any] | None = None
    rules: int = 0
    inactive_rules: int = 0
    conflicts: int = 0
    pruned: int = 0
    damage_checked_against: int = 0
    demoted_or_dropped: int = 0
    llm: Mapping[str, Any] | None = None
    rules_path: str = ""
    hook_path: str | None = None
    hook_not_activated: str | None = None
    hook_version: str | None = None
    self_test: SelfTestReport = field(default_factory=lambda: SelfTestReport(0, 0, 0, 0))
    overruled_pairs: tuple[int, ...] = ()
    left_out: tuple[DroppedRule, ...] = ()
    status: ClassVar[str] = "done"

    @property
    def fixes_every_pair(self) -> bool:
        """The hook is active and fixes every pair it learnt from exactly (none overruled)."""
        test = self.self_test
        return not self.hook_not_activated and not self.overruled_pairs and test.fixed_exactly == test.pairs

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("corrections", "llm"):
            out[name] = None if out[name] is None else dict(out[name])
        out["self_test"] = self.self_test.to_dict()
        out["overruled_pairs"] = list(self.overruled_pairs)
        out["left_out"] = [dataclasses.asdict(rule) for rule in self.left_out]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SynthesizeResult:
        known = _known(cls, data)
        known["self_test"] = SelfTestReport.from_dict(mapping_at(data, "self_test"))
        known["overruled_pairs"] = tuple(data.get("overruled_pairs") or ())
        known["left_out"] = tuple(
            DroppedRule(str(d.get("rule_id", "")), int(d.get("pair", 0)), str(d.get("reason", "")))
            for d in data.get("left_out") or ()
            if isinstance(d, Mapping)
        )
        return cls(**known)


@dataclass(frozen=True)
class TrainResult:
    """The ``train`` stage.

    Attributes:
        mode: ``submitted``, or ``dry_run`` (validated and priced, nothing sent).
        status: The job's status (``not_submitted`` for a dry run).
        cost: The cost estimate (``CostEstimate.to_dict()``), when the trainer bills by token.
        job_id: The job, when one was submitted.
        fine_tuned_model: The model a succeeded job made (a model id).
        artifacts: What a succeeded job left: ``adapter_dir``, ``loss_curve``, ``result_files``.
        would_submit: What a dry run would have submitted.
    """

    mode: str
    status: str
    cost: Mapping[str, Any] | None = None
    job_id: str | None = None
    fine_tuned_model: str | None = None
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    would_submit: Mapping[str, Any] | None = None

    @property
    def trained_model(self) -> str | None:
        """What the gate evaluates: the model id, or a local job's adapter directory."""
        adapter = self.artifacts.get("adapter_dir")
        return self.fine_tuned_model or (str(adapter) if adapter else None)

    def to_dict(self) -> dict[str, Any]:
        cost = None if self.cost is None else dict(self.cost)
        if self.mode == "dry_run":
            return {"mode": self.mode, "status": self.status, "cost": cost, "would_submit": _plain(self.would_submit)}
        out = {"mode": self.mode, "job_id": self.job_id, "status": self.status, "cost": cost}
        if self.status == "succeeded":
            out.update(fine_tuned_model=self.fine_tuned_model, artifacts=dict(self.artifacts))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainResult:
        known = {"mode": "", "status": "", **_known(cls, data)}
        known["artifacts"] = mapping_at(known, "artifacts")
        return cls(**known)


@dataclass(frozen=True)
class GateResult:
    """The ``gate`` stage: the verdicts on the run's hook and model.

    Attributes:
        hook: The verdict on the hook.
        model: The verdict on the model.
        held_out_pairs: Feedback pairs held out of learning, to judge the hook.
        examples: Held-out examples the models answered.
        live_dir: The function's live directory (live hook, model registry).
        evaluation_path: ``evaluation.json``.
    """

    hook: HookVerdict
    model: ModelVerdict
    held_out_pairs: int = 0
    examples: int = 0
    live_dir: str = ""
    evaluation_path: str = ""
    status: ClassVar[str] = "done"

    def to_dict(self) -> dict[str, Any]:
        rest = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("hook", "model")}
        return {"hook": self.hook.to_dict(), "model": self.model.to_dict(), **rest}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        known = _known(cls, data)
        known["hook"] = HookVerdict.from_dict(mapping_at(data, "hook"))
        known["model"] = ModelVerdict.from_dict(mapping_at(data, "model"))
        return cls(**known)


_READERS: dict[str, Callable[[Mapping[str, Any]], StageResult]] = {
    "extract": ExtractResult.from_dict,
    "synthesize": SynthesizeResult.from_dict,
    "train": TrainResult.from_dict,
    "gate": GateResult.from_dict,
}


def stage_result_from_dict(stage: str, data: Mapping[str, Any]) -> StageResult:
    """A stage's result from its JSON form (``summary.json``, an event).

    Raises:
        InputError: For a stage the pipeline does not have.
    """
    if data.get("status") == "skipped":
        return SkippedStage(str(data.get("reason", "")))
    if stage not in _READERS:
        raise InputError(f"unknown stage '{stage}' (the stages are: {', '.join(_READERS)})")
    return _READERS[stage](data)


@dataclass(frozen=True)
class StageError:
    """A stage that failed, and its message."""

    stage: str
    error: str


@dataclass(frozen=True)
class RunSummary:
    """What a run did: every stage's result, the errors, and the monitor's overview.

    Attributes:
        function_name: The function (or, for a training-only run, the training file's stem).
        run_dir: The run directory.
        started_at: When the run started (UTC, ISO 8601).
        stages: Each finished stage's result, in the order they ran.
        errors: The stage that failed, if one did.
        finished_at: When the run ended.
        status: ``ok`` or ``failed``.
        overview: Golden data, rules and training at a glance (:meth:`PipelineMonitor.summary`).
    """

    function_name: str
    run_dir: str
    started_at: str
    stages: Mapping[str, StageResult] = field(default_factory=dict)
    errors: tuple[StageError, ...] = ()
    finished_at: str | None = None
    status: str | None = None
    overview: Mapping[str, Any] = field(default_factory=dict)

    def _stage(self, name: str, kind: type[_T]) -> _T | None:
        found = self.stages.get(name)
        return found if isinstance(found, kind) else None

    @property
    def extract(self) -> ExtractResult | None:
        """The extract stage's result, if it ran."""
        return self._stage("extract", ExtractResult)

    @property
    def synthesize(self) -> SynthesizeResult | None:
        """The synthesize stage's result, if it ran and had feedback to learn from."""
        return self._stage("synthesize", SynthesizeResult)

    @property
    def train(self) -> TrainResult | None:
        """The train stage's result, if it ran."""
        return self._stage("train", TrainResult)

    @property
    def gate(self) -> GateResult | None:
        """The gate stage's result, if the run was gated."""
        return self._stage("gate", GateResult)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``summary.json``."""
        return {
            "function_name": self.function_name,
            "run_dir": self.run_dir,
            "started_at": self.started_at,
            "stages": {name: result.to_dict() for name, result in self.stages.items()},
            "errors": [dataclasses.asdict(error) for error in self.errors],
            "finished_at": self.finished_at,
            "status": self.status,
            "overview": dict(self.overview),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """A summary from ``summary.json`` (a stage of a newer version, or a stage or error entry
        that is no object, is skipped).

        Raises:
            InputError: For a document that is no summary, or a stage field of the wrong kind.
        """
        if not isinstance(data, Mapping):
            raise InputError(f"a run summary is a JSON object, got {type(data).__name__}")
        stages = {k: v for k, v in (mapping_at(data, "stages")).items() if k in _READERS}
        errors = data.get("errors")
        errors = errors if isinstance(errors, list) else []
        return cls(
            str(data.get("function_name", "")),
            str(data.get("run_dir", "")),
            str(data.get("started_at", "")),
            {str(k): stage_result_from_dict(str(k), v) for k, v in stages.items() if isinstance(v, Mapping)},
            tuple(
                StageError(str(e.get("stage", "")), str(e.get("error", ""))) for e in errors if isinstance(e, Mapping)
            ),
            data.get("finished_at"),
            data.get("status"),
            mapping_at(data, "overview"),
        )


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)
