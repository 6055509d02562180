"""Issue 13: the gate through the Python API, the LLM judge, the anomaly trigger and a kill mid-cycle."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ListSource, clustered, make_log
from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer._layout import function_dirname
from vector_trainer.cli import main
from vector_trainer.config import Config, with_overrides
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.gate import (
    EvalExample,
    LLMJudge,
    ModelEvaluator,
    ModelRegistry,
    OpenAIChatModel,
    PromotionPolicy,
)
from vector_trainer.gate.judge import read_verdict
from vector_trainer.pipeline import OpenAITrainer, TrainingPipeline
from vector_trainer.pipeline.loop import ContinuousLoop
from vector_trainer.synthesizer import RuleSetSynthesizer
from vector_trainer.types import FeedbackPair

REFERENCE = re.compile(r"Reference answer:\n(.*?)\n\nAnswer A:\n(.*?)\n\nAnswer B:\n(.*)\Z", re.S)
EXAMPLES = [EvalExample((("user", f"question {i}"),), f"answer {i}", f"t:{i}") for i in range(12)]


def _judge_reply(request: dict) -> str:
    """'judge' prefers the answer equal to the reference; 'biased' always prefers the first."""
    if request["model"] == "biased":
        return "Answer A reads better.\nA"
    reference, first, second = REFERENCE.search(request["messages"][-1]["content"]).groups()
    verdict = "A" if first == reference != second else "B" if second == reference != first else "TIE"
    return f"Compared with the reference.\n{verdict}"


def _answers(request: dict) -> str:
    """Models under test: fine-tuned and 'good' ones answer right, the rest vaguely; judges judge."""
    if request["model"] in ("judge", "biased"):
        return _judge_reply(request)
    number = re.findall(r"\d+", request["messages"][-1]["content"])
    right = request["model"] == "good" or request["model"].startswith("ft:")
    return f"answer {number[-1]}" if right and number else "no idea"


@pytest.fixture
def server():
    with FakeOpenAIServer() as state:
        state.script.chat_reply = _answers
        yield state


def _model(server, name: str) -> OpenAIChatModel:
    return OpenAIChatModel(name, base_url=server.base_url, api_key=VALID_KEY, timeout_s=5)


def test_read_verdict_takes_the_last_line_only() -> None:
    assert read_verdict("A is wrong, B matches.\nB") == "B"
    assert read_verdict("Both fine.\n\nTIE.") == "TIE"
    assert read_verdict("answer a") == "A"
    assert read_verdict("I prefer A.\nhard to say") is None
    assert read_verdict("") is None


def test_the_judge_asks_both_orders_and_a_biased_judge_decides_nothing(server) -> None:
    good, base = _model(server, "good"), _model(server, "base")
    fair = ModelEvaluator(judge=LLMJudge(_model(server, "judge")), resamples=200)
    evaluation = fair.evaluate(good, base, EXAMPLES)
    judged = evaluation.comparisons["judge"]
    assert (judged.candidate_mean, judged.incumbent_mean, judged.n) == (1.0, 0.0, 12)
    assert evaluation.examples[0]["judge_verdicts"] == ["A", "B"]  # candidate first, then second
    assert PromotionPolicy(metric="judge").decide(evaluation).promote
    asked = sum(1 for m, p in server.requests if p == "/v1/chat/completions")
    assert asked == 12 * 2 + 12 * 2  # both models once, the judge twice per example

    biased = ModelEvaluator(judge=LLMJudge(_model(server, "biased")), resamples=200).evaluate(good, base, EXAMPLES)
    assert biased.comparisons["judge"].candidate_mean == 0.5  # "A" in both orders is no preference
    decision = PromotionPolicy(metric="judge").decide(biased)
    assert not decision.promote and "judge" in decision.reason


def _logs(n_clusters: int = 3, size: int = 40, seed: int = 0, start: int = 0, spread: float = 0.05) -> list:
    vectors, labels = clustered([size] * n_clusters, spread=spread, seed=seed)
    return [
        make_log(start + i, v, text=f"question {start + i} topic {label}", output=f"answer {start + i}")
        for i, (v, label) in enumerate(zip(vectors, labels, strict=True))
    ]


def _feedback(n: int = 10) -> list[FeedbackPair]:
    return [
        FeedbackPair(f"Answer {i} is here hrs", f"Answer {i} is here hours", input_prompt=f"question {i}", sequence=i)
        for i in range(n)
    ]


def test_training_pipeline_gains_the_gate(server, tmp_path: Path) -> None:
    """The seed README's flow with an evaluator and a promotion policy: the hook goes live, the
    trained model is evaluated against the base model and promoted, all recorded."""
    source = ListSource(_logs())
    trainer = OpenAITrainer(api_key=VALID_KEY, model="gpt-4o-mini", base_url=server.base_url)
    server.script.polls_before_done = 0
    pipeline = TrainingPipeline(
        DensityBasedExtractor(source, top_k=10, validation_fraction=0.3),
        RuleSetSynthesizer(),
        trainer,
        evaluator=ModelEvaluator(resamples=200),
        promotion_policy=PromotionPolicy(margin=0.05),
        live_dir=tmp_path / "live",
        poll_interval_s=0,
    )
    summary = pipeline.run("fn", _feedback(), tmp_path / "run1", wait=True)
    gate = summary.gate
    assert gate is not None and summary.to_dict()["stages"]["gate"] == gate.to_dict()
    assert gate.held_out_pairs >= 1 and gate.examples >= gate.held_out_pairs
    assert gate.hook.decision.promote, gate.hook
    assert gate.model.decision.promote, gate.model
    home = tmp_path / "live" / function_dirname("fn")
    assert (home / "hook" / "generated_prompt_hook.py").is_file()
    active = ModelRegistry(home / "models").active()
    assert active is not None and active.model.startswith("ft:") and active.provider == "openai"
    written = json.loads((tmp_path / "run1" / "evaluation.json").read_text())
    assert written["model"]["evaluation"]["comparisons"]["similarity"]["n"] == gate.examples
    assert written["model"] == gate.model.to_dict() and written["hook"] == gate.hook.to_dict()

    server.script.chat_reply = lambda request: "no idea"  # the next model answers worse
    summary = pipeline.run("fn", _feedback(), tmp_path / "run2", wait=True)
    assert summary.gate is not None and not summary.gate.model.decision.promote
    assert ModelRegistry(home / "models").active().model_id == active.model_id


def test_an_ungated_pipeline_has_no_gate_stage(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pipeline = TrainingPipeline(DensityBasedExtractor(ListSource(_logs())), RuleSetSynthesizer(), OpenAITrainer())
    summary = pipeline.run("fn", _feedback(), tmp_path / "run")
    assert summary.gate is None and "gate" not in summary.stages and not (tmp_path / "run" / "evaluation.json").exists()


def test_a_rise_of_anomalies_among_new_logs_starts_a_cycle(tmp_path: Path, monkeypatch) -> None:
    """Fewer new logs than ``min_new_logs`` and no new feedback: logs like the old ones start
    nothing; as many logs of a pattern never seen before do."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    source = ListSource(_logs())
    config = with_overrides(Config(), "run", out=str(tmp_path / "out"))
    config = with_overrides(config, "loop", min_new_logs=1000, anomaly_min_logs=20)

    def pipeline_for(_name: str) -> TrainingPipeline:
        return TrainingPipeline(
            DensityBasedExtractor(source, validation_fraction=0.2),
            RuleSetSynthesizer(),
            OpenAITrainer(),
            promotion_policy=PromotionPolicy(),
            live_dir=config.run.out,
        )

    loop = ContinuousLoop(config, pipeline_for, source.list_functions, lambda _n: len(source.logs))
    assert loop.run_once()[0].ran  # the first cycle
    familiar = _logs(seed=0, start=1000, spread=0.01)[:30]  # close to the old clusters' centres
    source.logs.extend(familiar)
    outcome = loop.run_once()[0]
    assert not outcome.ran, outcome.reasons
    novel = _logs(n_clusters=1, size=30, seed=7, start=2000)  # a new topic
    source.logs.extend(novel)
    outcome = loop.run_once()[0]
    assert outcome.ran and any(r.startswith("anomalies rose") for r in outcome.reasons), outcome.reasons
    assert not loop.run_once()[0].ran  # seen now


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_kill_mid_cycle_then_a_rerun_never_creates_a_second_job(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warmup"]) == 0  # the demo store
    command = [sys.executable, "-m", "vector_trainer.cli", "loop", "--once", "--store", ".vectortrainer/demo.db",
               "--out", "runs", "--function", "support_faq", "--base-url", server.base_url,
               "--wait", "--poll-interval", "0"]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": VALID_KEY}
    server.script.polls_before_done = 0
    route = ("POST", "/v1/fine_tuning/jobs")
    server.script.stall[route] = 30.0  # the job exists, the answer is held: the worst moment to die
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: server.count(*route) == 1)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    server.script.stall.clear()
    root = tmp_path / "runs" / function_dirname("support_faq")
    assert json.loads((root / "loop.json").read_text())["pending"].endswith("c0001")
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert server.count(*route) == 1
    state = json.loads((root / "loop.json").read_text())
    assert state["pending"] is None and len(state["cycles"]) == 1
    assert state["cycles"][0]["reasons"][0] == "resuming the interrupted cycle c0001"
    registry = ModelRegistry(root / "models")
    assert [m.job_id for m in registry.list_models()] == list(server.jobs)
    assert np.isfinite(registry.list_models()[0].evaluation["comparisons"]["similarity"]["difference"])


def _validation_file(tmp_path: Path) -> Path:
    """EXAMPLES as a golden.validation.jsonl file."""
    validation = tmp_path / "golden.validation.jsonl"
    rows = [{"messages": [{"role": "user", "content": e.messages[0][1]}, {"role": "assistant", "content": e.reference}]}
            for e in EXAMPLES]  # fmt: skip
    validation.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return validation


def test_evaluate_cli_with_the_judge_deciding(server, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", VALID_KEY)
    validation = _validation_file(tmp_path)
    args = ["evaluate", "--candidate", "good", "--incumbent", "base", "--base-url", server.base_url,
            "--validation", str(validation), "--judge-model", "judge", "--metric", "judge",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert written["comparisons"]["judge"]["candidate_mean"] == 1.0 and written["decision"]["promote"]
    assert "judge" in capsys.readouterr().out


def test_evaluate_strict_fails_a_refused_candidate(server, tmp_path: Path, monkeypatch) -> None:
    """A CI gate: with --strict a refused candidate is exit 3; without it, the decision is only printed."""
    monkeypatch.setenv("OPENAI_API_KEY", VALID_KEY)
    validation = _validation_file(tmp_path)
    args = ["evaluate", "--candidate", "base", "--incumbent", "good", "--base-url", server.base_url,
            "--validation", str(validation), "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    assert main([*args, "--strict"]) == 3
    args[2], args[4] = "good", "base"
    assert main([*args, "--strict"]) == 0
