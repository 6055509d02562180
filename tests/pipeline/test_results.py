"""The typed results read and write the files runs have always written, key for key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vector_trainer.errors import InputError
from vector_trainer.gate.verdicts import HookVerdict, ModelVerdict
from vector_trainer.pipeline.results import (
    GateResult,
    RunSummary,
    SkippedStage,
    SynthesizeResult,
    TrainResult,
    stage_result_from_dict,
)

#: summary.json and evaluation.json files written by VectorTrainer 0.1 before results were typed.
WRITTEN = Path(__file__).parent / "written_by_0_1"


@pytest.mark.parametrize("name", sorted(p.name for p in WRITTEN.glob("*.summary.json")))
def test_a_summary_written_before_reads_and_writes_back_the_same_json(name: str) -> None:
    data = json.loads((WRITTEN / name).read_text(encoding="utf-8"))
    summary = RunSummary.from_dict(data)
    assert json.dumps(summary.to_dict()) == json.dumps(data)  # same keys, same order, same values
    assert set(summary.stages) == set(data["stages"])


def test_the_stages_of_a_gated_run_are_typed() -> None:
    summary = RunSummary.from_dict(json.loads((WRITTEN / "gated_rejected.summary.json").read_text()))
    assert isinstance(summary.gate, GateResult) and isinstance(summary.train, TrainResult)
    assert isinstance(summary.synthesize, SynthesizeResult) and summary.extract is not None
    assert not summary.gate.model.decision.promote and summary.gate.model.model_id
    assert summary.gate.model.decision.reason.startswith("the incumbent stays")
    assert summary.train.trained_model == summary.train.fine_tuned_model


def test_a_dry_run_has_no_synthesis_and_no_job() -> None:
    summary = RunSummary.from_dict(json.loads((WRITTEN / "dry_run.summary.json").read_text()))
    assert summary.synthesize is None and isinstance(summary.stages["synthesize"], SkippedStage)
    assert summary.train is not None and summary.train.mode == "dry_run" and summary.train.job_id is None


def test_the_gate_verdicts_of_an_evaluation_file_read_back_the_same() -> None:
    data = json.loads((WRITTEN / "gated_promoted.evaluation.json").read_text())
    assert json.dumps(HookVerdict.from_dict(data["hook"]).to_dict()) == json.dumps(data["hook"])
    assert json.dumps(ModelVerdict.from_dict(data["model"]).to_dict()) == json.dumps(data["model"])


def test_a_pending_model_and_an_untrained_one_keep_their_shapes() -> None:
    pending = {"model_id": "m-1", "decision": {"promote": False, "reason": "pending"}, "pending": True}
    assert ModelVerdict.from_dict(pending).to_dict() == pending and ModelVerdict.from_dict(pending).pending
    untrained = {"decision": {"promote": False, "reason": "the incumbent stays: no trained model yet"}}
    assert ModelVerdict.from_dict(untrained).to_dict() == untrained


def test_a_failed_run_keeps_its_error_and_an_unknown_stage_is_named() -> None:
    data = {"function_name": "fn", "run_dir": "r", "started_at": "t", "stages": {},
            "errors": [{"stage": "train", "error": "job failed"}], "finished_at": "u", "status": "failed",
            "overview": {}}  # fmt: skip
    summary = RunSummary.from_dict(data)
    assert summary.errors[0].stage == "train" and summary.to_dict() == data
    with pytest.raises(InputError, match="unknown stage 'deploy'"):
        stage_result_from_dict("deploy", {})


def test_an_older_file_missing_keys_reads_with_defaults() -> None:
    synthesized = SynthesizeResult.from_dict({"rules": 2, "self_test": {"pairs": 3, "fixed_exactly": 3}})
    assert synthesized.rules == 2 and synthesized.self_test.pairs == 3 and synthesized.fixes_every_pair
    assert not SynthesizeResult.from_dict({"rules": 1, "hook_not_activated": "none fixed"}).fixes_every_pair


def test_a_damaged_summary_is_a_named_error_or_read_without_its_damage() -> None:
    """Attack trial: a summary.json that is an array, or holds a stage field of the wrong kind,
    crashed readers with AttributeError or KeyError (and with it the whole dashboard page)."""
    with pytest.raises(InputError, match="a run summary is a JSON object, got list"):
        RunSummary.from_dict([])  # type: ignore[arg-type]
    data = json.loads((WRITTEN / "submitted.summary.json").read_text())
    data["stages"]["deploy"] = {"status": "done"}  # a stage of a newer version: skipped
    data["stages"]["synthesize"]["self_test"]["verdicts"] = [{"pair": 0}, "junk"]  # a verdict half written
    summary = RunSummary.from_dict(data)
    assert "deploy" not in summary.stages and summary.synthesize is not None
    assert [v.pair for v in summary.synthesize.self_test.verdicts] == [0]
    data["stages"]["extract"]["examples"] = "many"
    with pytest.raises(InputError, match=r"ExtractResult\.examples: expected int, got 'many'"):
        RunSummary.from_dict(data)
    with pytest.raises(InputError, match=r"TrainResult\.cost: expected .*Mapping"):
        TrainResult.from_dict({"mode": "submitted", "status": "running", "cost": [1]})


def test_a_resumed_runs_damaged_extraction_names_state_json(tmp_path: Path) -> None:
    """Attack trial: a paid run's state.json with 'extract': {'examples': 'many'} crashed the
    resumed run with ValueError; the one reader of the extraction names the file."""
    from vector_trainer._shared import sha256_file
    from vector_trainer.pipeline.paid_jobs import kept_training_input
    from vector_trainer.pipeline.rundir import RunDirectory

    golden = tmp_path / "golden.jsonl"
    golden.write_text("{}\n", encoding="utf-8")
    training = {"client_token": "abc", "file_sha256": sha256_file(golden)}
    for extract in ({"examples": "many"}, "x"):
        (tmp_path / "state.json").write_text(json.dumps({"training": training, "extract": extract}), encoding="utf-8")
        run = RunDirectory(tmp_path, "fn", None)
        try:
            with pytest.raises(InputError, match=r"state\.json: 'extract' is damaged .*; restore it"):
                kept_training_input(run)
        finally:
            run.release()
    (tmp_path / "state.json").write_text(
        json.dumps({"training": training, "extract": {"examples": 7, "validation_path": None}}), encoding="utf-8"
    )
    run = RunDirectory(tmp_path, "fn", None)
    try:
        kept = kept_training_input(run)
    finally:
        run.release()
    assert kept is not None and kept[0].n_examples == 7 and kept[1].examples == 7
