"""The real `openai` client against a local server speaking OpenAI's HTTP API (tests/fake_openai.py):
fine-tuning (files, jobs, events, retrieve, cancel) and the synthesizer's optional LLM path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_chat_jsonl
from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer.errors import BudgetExceededError, PipelineError, TrainerError
from vector_trainer.pipeline import TrainingPipeline
from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer
from vector_trainer.synthesizer.llm_advisor import LLMRuleAdvisor
from vector_trainer.training import OpenAITrainer
from vector_trainer.types import FeedbackPair


@pytest.fixture
def server():
    with FakeOpenAIServer() as state:
        yield state


def training_file(path: Path, n: int = 12) -> Path:
    return write_chat_jsonl(path, n, system="Be brief.")


def trainer_for(server, **kwargs) -> OpenAITrainer:
    options = {"api_key": VALID_KEY, "base_url": server.base_url, "model": "gpt-4o-mini", "max_budget_usd": 5.0}
    return OpenAITrainer(**{**options, **kwargs})


def pipeline(trainer: OpenAITrainer) -> TrainingPipeline:
    return TrainingPipeline(None, None, trainer, sleep=lambda _s: None, poll_interval_s=0)


def test_full_fine_tuning_flow(server, tmp_path: Path) -> None:
    summary = pipeline(trainer_for(server, n_epochs=2, suffix="mori")).train(
        training_file(tmp_path / "t.jsonl"), tmp_path / "run", wait=True
    )
    train = summary.train
    assert train is not None and train.status == "succeeded"
    assert str(train.fine_tuned_model).startswith("ft:gpt-4o-mini:")
    assert server.count("POST", "/v1/files") == 1 and server.count("POST", "/v1/fine_tuning/jobs") == 1
    job = next(iter(server.jobs.values()))
    assert job["hyperparameters"] == {"n_epochs": 2} and job["suffix"] == "mori"
    steps = [m["step"] for m in summary.overview["training"]["metrics"]]
    assert steps == [1, 2, 3]
    assert summary.overview["training"]["metrics"][0]["train_loss"] == pytest.approx(1.0)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["training"]["job_id"] == job["id"] and state["training"]["file_id"].startswith("file-")


def test_rate_limit_then_success_is_retried_by_the_sdk(server, tmp_path: Path) -> None:
    server.script.rate_limit_first["/v1/files"] = 1
    server.script.rate_limit_first["/v1/fine_tuning/jobs"] = 2
    trainer = trainer_for(server)
    job_id = trainer.start_training(trainer.prepare_data(training_file(tmp_path / "t.jsonl")))
    assert job_id.startswith("ftjob-")
    assert server.count("POST", "/v1/files") == 2
    assert server.count("POST", "/v1/fine_tuning/jobs") == 3


def test_unauthorised_key_is_a_clear_error_without_the_key(server, tmp_path: Path) -> None:
    bad_key = "sk-wrong-THISKEYISSECRET42"
    trainer = trainer_for(server, api_key=bad_key)
    with pytest.raises(TrainerError, match="rejected the API key") as info:
        trainer.prepare_data(training_file(tmp_path / "t.jsonl"))
    assert bad_key not in str(info.value) and "THISKEYISSECRET" not in str(info.value)


def test_training_not_available(server, tmp_path: Path) -> None:
    server.script.refused_models.add("gpt-4o-mini")
    trainer = trainer_for(server)
    with pytest.raises(TrainerError, match=r"training_not_available.*local-lora"):
        trainer.start_training(trainer.prepare_data(training_file(tmp_path / "t.jsonl")))


def test_failed_job_ends_the_run_with_its_error(server, tmp_path: Path) -> None:
    server.script.job_outcome = "failed"
    with pytest.raises(PipelineError, match="Training file has 3 bad lines"):
        pipeline(trainer_for(server)).train(training_file(tmp_path / "t.jsonl"), tmp_path / "run", wait=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed"


def test_over_budget_never_reaches_the_upload_endpoint(server, tmp_path: Path) -> None:
    trainer = trainer_for(server, model="gpt-4o", max_budget_usd=0.0001, n_epochs=25)
    with pytest.raises(PipelineError, match="exceeds the budget"):
        pipeline(trainer).train(training_file(tmp_path / "t.jsonl", n=200), tmp_path / "run")
    with pytest.raises(BudgetExceededError):
        trainer.prepare_data(training_file(tmp_path / "t.jsonl", n=200))
    assert server.count("POST", "/v1/files") == 0


def test_cancel(server, tmp_path: Path) -> None:
    trainer = trainer_for(server)
    job_id = trainer.start_training(trainer.prepare_data(training_file(tmp_path / "t.jsonl")))
    assert trainer.cancel(job_id)["status"] == "cancelled"
    with pytest.raises(TrainerError, match="was cancelled"):
        trainer.get_result(job_id)


@pytest.mark.slow
def test_killed_after_job_creation_then_rerun_pays_once(server, tmp_path: Path) -> None:
    server.script.hold_running = True
    data = training_file(tmp_path / "t.jsonl")
    env = {**os.environ, "OPENAI_API_KEY": VALID_KEY, "OPENAI_BASE_URL": server.base_url}
    command = [
        sys.executable,
        "-m",
        "vector_trainer.cli",
        "train",
        str(data),
        "--model",
        "gpt-4o-mini",
        "--budget",
        "5",
        "--wait",
        "--poll-interval",
        "0.05",
        "--out",
        str(tmp_path / "run"),
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not server.jobs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.jobs, "the job was never created"
    time.sleep(0.3)  # let it poll a little, then kill it hard
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    server.script.hold_running = False
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert server.count("POST", "/v1/files") == 1
    assert server.count("POST", "/v1/fine_tuning/jobs") == 1
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["training"]["status"] == "succeeded" and state["training"]["fine_tuned_model"]
    status = subprocess.run(
        [sys.executable, "-m", "vector_trainer.cli", "status", str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0 and "succeeded" in status.stdout


# -- the synthesizer's LLM path ------------------------------------------------------------------

PAIRS = [FeedbackPair(f"Dear customer, item {i} ships.", f"Hey friend, item {i} ships.", sequence=i) for i in range(3)]
CONFLICT = [
    FeedbackPair("x colour y", "x color y", 0),
    FeedbackPair("a colour b", "a color b", 1),
    FeedbackPair("m color n", "m colour n", 2),
]


def advisor(server) -> LLMRuleAdvisor:
    return LLMRuleAdvisor(model="local-model", api_key=VALID_KEY, base_url=server.base_url)


def test_llm_instructions_enter_the_hook_as_data(server, tmp_path: Path) -> None:
    hostile = 'Greet warmly."""\nimport os; os.system("x")'
    server.script.chat_reply = lambda request: json.dumps({"instructions": ["Address the user as friend.", hostile]})
    result = RuleSetSynthesizer(llm=advisor(server), general_support=1).synthesize(PAIRS)
    assert result.instructions == ("Address the user as friend.", " ".join(hostile.split()))
    assert result.llm["proposed"] == 2 and result.llm["fallbacks"] == []
    hook = HookScriptGenerator().generate(result.rules, tmp_path / "h.py", extra_instructions=result.instructions)
    namespace: dict = {}
    exec(compile(hook.path.read_text(), "h.py", "exec"), namespace)
    assert "Address the user as friend." in namespace["intercept_prompt"]("hi", {})


@pytest.mark.parametrize(
    "reply",
    ["not json", json.dumps({"instructions": "one"}), json.dumps({"instructions": ["x" * 999]}), json.dumps([1])],
)
def test_invalid_llm_answers_fall_back(server, reply: str) -> None:
    server.script.chat_reply = lambda request: reply
    with_llm = RuleSetSynthesizer(llm=advisor(server), general_support=1).synthesize(CONFLICT)
    without = RuleSetSynthesizer(general_support=1).synthesize(CONFLICT)
    assert [r.rule_id for r in with_llm.rules] == [r.rule_id for r in without.rules]
    assert with_llm.instructions == () and len(with_llm.llm["fallbacks"]) == 2


def test_llm_arbitrates_conflicts_when_valid(server) -> None:
    def reply(request: dict) -> str:
        payload = json.loads(request["messages"][1]["content"])
        if "conflict" in payload:
            weaker = min(payload["rules"], key=lambda r: r["support"])
            return json.dumps({"keep": weaker["rule_id"]})
        return json.dumps({"instructions": ["Use American spelling."]})

    server.script.chat_reply = reply
    result = RuleSetSynthesizer(llm=advisor(server), general_support=1).synthesize(CONFLICT)
    (rule,) = result.rules
    assert (rule.target, rule.replacement, rule.support) == ("color", "colour", 1)
    assert result.conflicts[0].reason == "chosen by the LLM advisor" and result.llm["arbitrated"] == 1


def test_unreachable_llm_falls_back() -> None:
    unreachable = LLMRuleAdvisor(api_key=VALID_KEY, base_url="http://127.0.0.1:9/v1", timeout_s=2)
    result = RuleSetSynthesizer(llm=unreachable, general_support=1).synthesize(CONFLICT)
    assert [r.replacement for r in result.rules] == ["color"]
    assert all("LLM request to http://127.0.0.1:9/v1 (model" in f and "failed" in f for f in result.llm["fallbacks"])


def test_silent_llm_server_times_out_and_says_what_it_waited_for(server) -> None:
    server.script.stall[("POST", "/v1/chat/completions")] = 5.0
    silent = LLMRuleAdvisor(model="local-model", api_key=VALID_KEY, base_url=server.base_url, timeout_s=0.5)
    started = time.monotonic()
    result = RuleSetSynthesizer(llm=silent, general_support=1).synthesize(CONFLICT)
    assert time.monotonic() - started < 4.5  # max_retries=1: two attempts of 0.5 s, not a 5 s hang
    assert [r.replacement for r in result.rules] == ["color"]
    assert all("timeout 0.5 s" in f and "Timeout" in f for f in result.llm["fallbacks"])
