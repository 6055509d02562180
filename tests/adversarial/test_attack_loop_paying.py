"""Issue 30: the unattended loop never pays twice, never orphans a job, and never stops for good.

Each test reproduces one finding of the attack trial against a local server speaking OpenAI's
API, through the real ``openai`` client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ListSource, clustered, make_log
from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer.config import Config, with_overrides
from vector_trainer.errors import InputError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.gate import ModelEvaluator, ModelRegistry, PromotionPolicy
from vector_trainer.pipeline import OpenAITrainer, TrainingPipeline
from vector_trainer.pipeline.loop import ContinuousLoop
from vector_trainer.pipeline.paid_jobs import JobLedger
from vector_trainer.synthesizer import RuleSetSynthesizer
from vector_trainer.types import FeedbackPair

UPLOAD, CREATE = ("POST", "/v1/files"), ("POST", "/v1/fine_tuning/jobs")


def _logs(start: int = 0, n: int = 90, seed: int = 0) -> list:
    vectors, labels = clustered([n // 3] * 3, spread=0.05, seed=seed)
    return [make_log(start + i, v, text=f"question {start + i} topic {t}", output=f"answer {start + i}")
            for i, (v, t) in enumerate(zip(vectors, labels, strict=True))]  # fmt: skip


def _pairs(n: int, prompt: bool = True) -> list[FeedbackPair]:
    return [FeedbackPair(f"Answer {i} hrs", f"Answer {i} hours", input_prompt=f"question {i}" if prompt else "",
                         sequence=i) for i in range(n)]  # fmt: skip


@pytest.fixture
def server():
    with FakeOpenAIServer() as state:
        state.script.chat_reply = lambda request: "answer"
        state.script.polls_before_done = 0
        yield state


def _loop(server, tmp_path: Path, source: ListSource, *, wait: bool = True, sleeps: list | None = None):
    config = with_overrides(Config(), "run", out=str(tmp_path / "out"), wait=wait)
    config = with_overrides(config, "loop", min_new_logs=5)
    trainer = OpenAITrainer(api_key=VALID_KEY, model="gpt-4o-mini", base_url=server.base_url)

    def pipeline_for(_name: str) -> TrainingPipeline:
        return TrainingPipeline(
            DensityBasedExtractor(source, top_k=10, validation_fraction=0.3),
            RuleSetSynthesizer(),
            trainer,
            evaluator=ModelEvaluator(resamples=200),
            promotion_policy=PromotionPolicy(),
            live_dir=config.run.out,
            poll_interval_s=0,
            sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        )

    loop = ContinuousLoop(config, pipeline_for, source.list_functions, lambda name: len(source.logs))
    return loop, _home(tmp_path)


def _home(tmp_path: Path) -> Path:
    from vector_trainer._layout import function_dirname

    return tmp_path / "out" / function_dirname("fn")


def _state(tmp_path: Path) -> dict:
    return json.loads((_home(tmp_path) / "loop.json").read_text())


def test_a_resumed_cycle_keeps_the_golden_set_it_paid_for(server, tmp_path: Path, monkeypatch) -> None:
    """(a) killed after the upload, 5 new logs, re-run: one upload, one job, the same training file."""
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source)

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies after uploading, before the job is created

    monkeypatch.setattr(OpenAITrainer, "start_training", killed)
    with pytest.raises(KeyboardInterrupt):
        loop.run_once()
    golden = home / "cycles" / "c0001" / "golden.jsonl"
    before = golden.read_bytes()
    monkeypatch.undo()
    source.logs.extend(_logs(start=500, n=6, seed=3))
    outcome = loop.run_once()[0]
    assert outcome.ran and outcome.reasons[0] == "resuming the interrupted cycle c0001"
    assert golden.read_bytes() == before  # the new logs wait for the next cycle
    assert server.count(*UPLOAD) == 2 and server.count(*CREATE) == 1  # train + validation files, one job
    assert _state(tmp_path)["pending"] is None


def test_identical_training_data_reuses_the_job(server, tmp_path: Path) -> None:
    """(b) one more feedback line starts a cycle whose golden.jsonl is byte-identical: no second job.
    (Pairs that say what they answered become training examples, so their training data differs.)"""
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source)
    loop.run_once(_pairs(6, prompt=False))
    assert server.count(*CREATE) == 1
    outcome = loop.run_once(_pairs(7, prompt=False))
    assert outcome[0].ran and "the feedback changed" in outcome[0].reasons
    assert server.count(*CREATE) == 1 and server.count(*UPLOAD) == 2
    first, second = (home / "cycles" / c / "golden.jsonl" for c in ("c0001", "c0002"))
    assert first.read_bytes() == second.read_bytes()
    [job] = JobLedger(home).jobs()
    assert job["status"] == "succeeded" and job["job_id"] == next(iter(server.jobs))


def test_without_wait_the_next_check_gates_the_finished_job(server, tmp_path: Path) -> None:
    """(c) the README's cron line: the job is left running; the next run gates it."""
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source, wait=False)
    server.script.hold_running = True
    first = loop.run_once()[0]
    assert first.pending and "is running" in first.notes[0]
    assert _state(tmp_path)["pending"] == "c0001" and not ModelRegistry(home / "models").list_models()
    assert loop.run_once()[0].pending  # still running: still pending, still one job
    server.script.hold_running = False
    done = loop.run_once()[0]
    assert not done.pending and done.model is not None and done.model.model_id
    assert server.count(*CREATE) == 1 and len(ModelRegistry(home / "models").list_models()) == 1
    assert _state(tmp_path)["pending"] is None and len(_state(tmp_path)["cycles"]) == 1


def test_a_rate_limited_evaluation_leaves_the_model_pending_not_rejected(server, tmp_path: Path) -> None:
    """(d) 429s during the gate: tried again with backoff, then pending; the next check decides."""
    source = ListSource(_logs())
    sleeps: list[float] = []
    loop, home = _loop(server, tmp_path, source, sleeps=sleeps)
    server.script.rate_limit_first["/v1/chat/completions"] = 10_000
    outcome = loop.run_once()[0]
    assert outcome.pending and "evaluation pending after 3 tries" in outcome.notes[0]
    assert sleeps[-2:] == [5.0, 30.0]
    registry = ModelRegistry(home / "models")
    assert [h["action"] for h in registry.history()] == ["add"]  # never rejected
    server.script.rate_limit_first.clear()
    done = loop.run_once()[0]
    assert not done.pending and server.count(*CREATE) == 1
    assert registry.history()[-1]["action"] in ("promote", "reject")


def test_a_failed_job_is_recorded_and_the_loop_moves_on(server, tmp_path: Path) -> None:
    """(e) a failed job fails its cycle once; the next check starts fresh; other functions still run."""
    logs = _logs() + [make_log(900 + i, v, function="other", text=f"q {i}", output="a")
                      for i, v in enumerate(clustered([30], seed=5)[0])]  # fmt: skip
    source = ListSource(logs)
    loop, _home_dir = _loop(server, tmp_path, source)
    server.script.job_outcome = "failed"
    outcomes = loop.run_once()
    assert [o.function_name for o in outcomes] == ["fn", "other"]
    assert all(o.failed and "stage 'train'" in o.failed for o in outcomes)
    state = _state(tmp_path)
    assert state["pending"] is None and state["cycles"][0]["failed"].startswith("stage 'train'")
    assert not loop.run_once()[0].ran  # nothing new: the failure is not retried forever
    server.script.job_outcome = "succeeded"
    source.logs.extend(_logs(start=700, n=6, seed=9))
    assert not loop.run_once()[0].failed


@pytest.mark.parametrize("pending", ["../victim/c1", "/tmp/elsewhere/c0001", "c0001/../../x", 5, ["c0001"]])
def test_loop_json_never_names_a_path(server, tmp_path: Path, pending) -> None:
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source)
    home.mkdir(parents=True)
    (home / "loop.json").write_text(json.dumps({"pending": pending}))
    with pytest.raises(InputError, match="'pending' must name a cycle"):
        loop.run_once()
    assert not (tmp_path / "victim").exists() and server.count(*UPLOAD) == 0


def test_planted_symlinks_are_refused(server, tmp_path: Path) -> None:
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source)
    victim = tmp_path / "victim"
    victim.mkdir()
    home.mkdir(parents=True)
    (home / "cycles").symlink_to(victim)
    with pytest.raises(InputError, match="symbolic link"):
        loop.run_once()
    assert list(victim.iterdir()) == [] and server.count(*UPLOAD) == 0


def test_status_and_cancel_reach_the_endpoint_the_job_was_made_with(server, tmp_path: Path, monkeypatch, capsys):
    """The run was made with --base-url; status and cancel without it still reach that server."""
    from conftest import write_chat_jsonl
    from vector_trainer.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", VALID_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    data = write_chat_jsonl(tmp_path / "golden.jsonl", 12)
    server.script.hold_running = True
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--base-url", server.base_url]) == 0
    capsys.readouterr()
    assert main(["status", str(tmp_path / "run")]) == 0
    assert "running" in capsys.readouterr().out
    assert main(["cancel", str(tmp_path / "run")]) == 0
    assert server.count("POST", "/v1/fine_tuning/jobs/") == 1  # the cancel reached the same server


@pytest.mark.parametrize("logs", [1e400, "12", -5, True, 10**40])
def test_a_hostile_watermark_is_named_not_a_traceback(server, tmp_path: Path, logs) -> None:
    source = ListSource(_logs())
    loop, home = _loop(server, tmp_path, source)
    home.mkdir(parents=True)
    (home / "loop.json").write_text(json.dumps({"watermark": {"logs": logs, "feedback_sha256": "x"}}))
    with pytest.raises(InputError, match=r"cannot be read|is not valid JSON|watermark 'logs' must be a count"):
        loop.run_once()


@pytest.mark.parametrize("watermark", ["abc", [1, 2], 7])
def test_a_watermark_that_is_no_object_is_named_not_a_first_cycle(server, tmp_path: Path, watermark) -> None:
    """Attack trial: a watermark of another kind read as 'first cycle', which may pay again."""
    loop, home = _loop(server, tmp_path, ListSource(_logs()))
    home.mkdir(parents=True)
    (home / "loop.json").write_text(json.dumps({"watermark": watermark}))
    with pytest.raises(InputError, match=r"loop\.json: 'watermark' must be an object"):
        loop.run_once()
    assert server.count("POST", "/v1/fine_tuning/jobs") == 0
