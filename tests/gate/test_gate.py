"""Issue 13: evaluate every candidate, promote only what is better, and run continuously."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from filelock import FileLock

from conftest import require_modules
from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer._layout import function_dirname
from vector_trainer.cli import main
from vector_trainer.cli.commands import DEMO_LOGS, DEMO_VECTOR_SPACE, demo_file
from vector_trainer.errors import InputError, ManifestCorruptedError
from vector_trainer.gate import (
    EvalExample,
    ModelError,
    ModelEvaluator,
    ModelRegistry,
    OpenAIChatModel,
    PromotionPolicy,
    evaluate_hooks,
    holdout_split,
    paired_bootstrap,
)
from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer
from vector_trainer.types import FeedbackPair

QUESTIONS = {
    f"How do I reset my PIN number {i}?": f"Open Settings, tap Security, then Reset PIN {i}." for i in range(30)
}
EXAMPLES = [EvalExample((("user", q),), a, f"test:{i}") for i, (q, a) in enumerate(QUESTIONS.items())]


def _reply(request: dict) -> str:
    """The fake server's models: 'good' answers right, 'base' answers vaguely, 'bad' off-topic."""
    question = request["messages"][-1]["content"]
    model = request["model"]
    if model == "good":
        return QUESTIONS.get(question, "")
    if model == "base":
        return "Please check the app for " + question.split()[-1]
    return "Our cafe opens at nine."


@pytest.fixture
def server():
    with FakeOpenAIServer() as state:
        state.script.chat_reply = _reply
        yield state


def _model(server, name: str) -> OpenAIChatModel:
    return OpenAIChatModel(name, base_url=server.base_url, api_key=VALID_KEY, timeout_s=5)


def test_paired_bootstrap_intervals() -> None:
    sure = paired_bootstrap("m", [0.9] * 40, [0.8] * 40)
    assert sure.difference == pytest.approx(0.1) and sure.ci_low == pytest.approx(0.1)
    noise = paired_bootstrap("m", [1, 0] * 20, [0, 1] * 20)
    assert noise.ci_low < 0 < noise.ci_high
    with pytest.raises(InputError, match="NaN"):
        paired_bootstrap("m", [float("nan")], [0.0])
    with pytest.raises(InputError, match="pair them"):
        paired_bootstrap("m", [1.0, 2.0], [1.0])


def test_a_better_candidate_is_promoted_through_the_real_client(server) -> None:
    evaluation = ModelEvaluator().evaluate(_model(server, "good"), _model(server, "base"), EXAMPLES)
    decision = PromotionPolicy().decide(evaluation)
    assert decision.promote, decision.reason
    assert evaluation.comparisons["similarity"].n == len(EXAMPLES)
    assert server.count("POST", "/v1/chat/completions") == 2 * len(EXAMPLES)


def test_a_worse_or_equal_candidate_is_not_promoted(server) -> None:
    worse = ModelEvaluator().evaluate(_model(server, "bad"), _model(server, "base"), EXAMPLES)
    assert not PromotionPolicy().decide(worse).promote
    same = ModelEvaluator().evaluate(_model(server, "base"), _model(server, "base"), EXAMPLES)
    decision = PromotionPolicy(margin=0.0).decide(same)
    assert not decision.promote and "not above the margin" in decision.reason


def test_a_server_error_names_the_endpoint_and_the_model(server) -> None:
    server.script.rate_limit_first = {"/v1/chat/completions": 10}
    with pytest.raises(ModelError, match=r"chat request to http://127\.0\.0\.1:\d+/v1 \(model good, timeout 5 s\)"):
        ModelEvaluator().evaluate(_model(server, "good"), _model(server, "base"), EXAMPLES)


def test_compliance_counts_answers_the_active_hook_would_change(server, tmp_path: Path) -> None:
    pairs = [
        FeedbackPair(f"Item {i}: Our cafe opens at nine.", f"Item {i}: We open at nine.", sequence=i) for i in range(3)
    ]
    rules = RuleSetSynthesizer().synthesize(pairs).rules
    hook = HookScriptGenerator().generate(rules, tmp_path / "generated_prompt_hook.py", feedback_pairs=pairs)
    evaluation = ModelEvaluator(hook_path=hook.path).evaluate(_model(server, "bad"), _model(server, "good"), EXAMPLES)
    compliance = evaluation.comparisons["compliance"]
    assert compliance.candidate_mean == 0.0 and compliance.incumbent_mean == 1.0
    assert not PromotionPolicy(metric="compliance").decide(evaluation).promote


def test_registry_promote_rollback_and_resume(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    first = registry.add("openai", "gpt-4o-mini", "ft:one", job_id="job-1")
    assert registry.add("openai", "gpt-4o-mini", "ft:one", job_id="job-1") == first  # a resumed cycle
    second = registry.add("openai", "gpt-4o-mini", "ft:two", job_id="job-2")
    registry.promote(first.model_id, "better")
    registry.promote(second.model_id, "better again")
    assert registry.active().model_id == second.model_id
    assert registry.rollback().model_id == first.model_id
    assert [h["action"] for h in registry.history()] == ["add", "add", "promote", "promote", "rollback"]
    (tmp_path / "models" / "models.json").write_text('{"schema": 1, "models": [{"model_id": "x"}], "history": []}')
    with pytest.raises(ManifestCorruptedError, match=r"models\[0\]\.model_id"):
        registry.add("openai", "b", "ft:three", job_id="job-3")
    assert "x" in (tmp_path / "models" / "models.json").read_text()  # never overwritten


def test_the_hook_gate_refuses_a_hook_that_damages_known_good_text(tmp_path: Path) -> None:
    pairs = [FeedbackPair(f"Ticket {i} is teh answer.", f"Ticket {i} is the answer.", sequence=i) for i in range(10)]
    learn, held = holdout_split(pairs, every=3)
    assert held and learn and {p.sequence for p in learn}.isdisjoint(p.sequence for p in held)
    good = RuleSetSynthesizer().synthesize(learn).rules
    hook = HookScriptGenerator().generate(good, tmp_path / "a" / "h.py", feedback_pairs=learn, enable_versioning=False)
    known_good = ["The answer is here.", "Write to the helpdesk anytime."]
    evaluation = evaluate_hooks(hook.path, None, held, known_good)
    assert evaluation.comparisons["fix"].candidate_mean == 1.0
    assert PromotionPolicy().decide_hook(evaluation).promote
    words = ["cards", "loans", "fees"]
    damaging = [
        FeedbackPair(f"Contact the helpdesk about {w}.", f"Contact the support team about {w}.", sequence=100 + i)
        for i, w in enumerate(words)
    ]
    rules = RuleSetSynthesizer().synthesize([*learn, *damaging]).rules  # fixes as well, and damages
    bad_hook = HookScriptGenerator().generate(
        rules, tmp_path / "b" / "h.py", feedback_pairs=[*learn, *damaging], enable_versioning=False
    )
    decision = PromotionPolicy().decide_hook(evaluate_hooks(bad_hook.path, hook.path, held, known_good))
    assert not decision.promote and "known-good" in decision.reason


def _loop(store: str, out: str, *extra: str) -> int:
    return main(["loop", "--once", "--store", store, "--out", out, "--function", "support_faq", *extra])


def test_loop_once_runs_when_there_is_reason_to(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warmup"]) == 0  # loads the demo store
    store = ".vectortrainer/demo.db"
    root = tmp_path / "runs" / function_dirname("support_faq")
    assert _loop(store, "runs") == 0
    state = json.loads((root / "loop.json").read_text())
    assert len(state["cycles"]) == 1 and state["pending"] is None
    evaluation = json.loads((root / "cycles" / "c0001" / "evaluation.json").read_text())
    assert "dry run" in evaluation["model"]["decision"]["reason"]
    assert _loop(store, "runs") == 0  # nothing new: no second cycle
    assert len(json.loads((root / "loop.json").read_text())["cycles"]) == 1
    with gzip.open(demo_file(DEMO_LOGS), "rt", encoding="utf-8") as handle:
        demo = [row for row in map(json.loads, handle) if row["function_name"] == "support_faq" and "output" in row]
    rows = [{**r, "uuid": f"new-{i}", "output": r["output"] + " (new)"} for i, r in enumerate(demo[:5])]
    (tmp_path / "new.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main(["ingest", "new.jsonl", "--store", store, "--vector-space", DEMO_VECTOR_SPACE]) == 0
    assert _loop(store, "runs", "--min-new-logs", "5") == 0
    state = json.loads((root / "loop.json").read_text())
    assert len(state["cycles"]) == 2 and "5 new logs" in state["cycles"][1]["reasons"][0]


def test_two_loops_never_both_run(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warmup"]) == 0
    (tmp_path / "runs").mkdir()
    with FileLock(str(tmp_path / "runs" / "loop.lock"), timeout=0):
        assert _loop(".vectortrainer/demo.db", "runs") == 2
    assert "another 'vectortrainer loop' is running on runs" in capsys.readouterr().err
    assert not (tmp_path / "runs" / function_dirname("support_faq")).exists()


def test_a_trained_model_is_evaluated_and_promoted_by_the_loop(server, tmp_path: Path, monkeypatch) -> None:
    """The whole cycle against the fake OpenAI service: a job is trained, its model answers
    better than the base model through chat completions, and the registry promotes it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", VALID_KEY)
    server.script.polls_before_done = 0
    server.script.chat_reply = lambda request: (
        request["messages"][-1]["content"] if request["model"].startswith("ft:") else "no idea"
    )
    assert main(["demo", "--out", "warmup", "--base-url", server.base_url, "--wait", "--poll-interval", "0"]) == 0
    args = ["--base-url", server.base_url, "--wait", "--poll-interval", "0"]
    assert _loop(".vectortrainer/demo.db", "runs", *args) == 0
    registry = ModelRegistry(tmp_path / "runs" / function_dirname("support_faq") / "models")
    active = registry.active()
    assert active is not None and active.model.startswith("ft:"), registry.history()
    assert active.evaluation["decision"]["promote"] is True
    assert main(["models", "list", "--dir", str(registry.directory)]) == 0
    jobs = server.count("POST", "/v1/fine_tuning/jobs")
    assert _loop(".vectortrainer/demo.db", "runs", *args) == 0  # nothing new: nothing trained
    assert server.count("POST", "/v1/fine_tuning/jobs") == jobs


@pytest.mark.slow
@pytest.mark.integration
def test_a_local_lora_adapter_is_trained_evaluated_through_peft_and_registered(tmp_path: Path) -> None:
    """Issue 13: local-lora trains the tiny random model (a real TRL + PEFT run on CPU), the gate
    asks the adapter and its base model the held-out questions through transformers + PEFT, and
    the registry records the trained adapter with its job and evaluation."""
    require_modules(("torch", "transformers", "trl", "peft", "datasets"), "pip install torch==2.13.0 '.[local]'")
    from conftest import write_chat_jsonl
    from tiny_model import make_tiny_model
    from vector_trainer.gate import LocalChatModel
    from vector_trainer.pipeline import TrainingPipeline
    from vector_trainer.training.local_lora.trainer import LocalLoRATrainer

    base = make_tiny_model(tmp_path / "tiny", [q + " " + a for q, a in QUESTIONS.items()])
    data = write_chat_jsonl(
        tmp_path / "golden.jsonl", 8, user="How do I reset my PIN number {i}?", assistant="Open Settings, tap {i}."
    )
    trainer = LocalLoRATrainer(
        model=str(base), jobs_dir=tmp_path / "jobs", max_steps=4, batch_size=2, max_length=64, lora_r=2, lora_alpha=4
    )
    train = TrainingPipeline(None, None, trainer, poll_interval_s=0.5).train(data, tmp_path / "run", wait=True)
    trained = train.train
    assert trained is not None and trained.status == "succeeded", json.dumps(train.to_dict(), indent=1)
    adapter = Path(str(trained.fine_tuned_model))
    assert (adapter / "adapter_model.safetensors").exists()

    candidate = LocalChatModel(adapter_dir=adapter, max_tokens=8)
    incumbent = LocalChatModel(str(base), max_tokens=8)
    evaluation = ModelEvaluator(resamples=200).evaluate(candidate, incumbent, EXAMPLES[:4])
    assert evaluation.comparisons["similarity"].n == 4
    registry = ModelRegistry(tmp_path / "models")
    record = registry.add("local-lora", str(base), str(adapter), job_id=str(trained.job_id))
    registry.record_evaluation(record.model_id, {"similarity": evaluation.comparisons["similarity"].to_dict()})
    stored = registry.get(record.model_id)
    assert stored.evaluation["similarity"]["n"] == 4 and stored.model == str(adapter)
    assert os.path.isdir(stored.model)


def test_a_formatting_rule_goes_through_the_damage_check_too(tmp_path: Path) -> None:
    """Issue 27: an append rule that changes known-good replies is damage like any other (ADR-017
    exempted general boundary rules; "add an emoji" then changed 56 of 60 known-good replies while
    the damage check listed nothing)."""
    pairs = [FeedbackPair(f"Latte number {i}.", f"Latte number {i}. ☕", sequence=i) for i in range(4)]
    known_good = ["Tea is ready.", "Open at nine."]
    result = RuleSetSynthesizer().synthesize(pairs, known_good=known_good)
    assert any(d.changed == 2 for d in result.damage), result.damage
    assert not any(r.kind.value == "append" and r.scope == "general" for r in result.rules)
    unchecked = RuleSetSynthesizer().synthesize(pairs).rules  # no known-good text: the rule stays general
    assert any(r.kind.value == "append" and r.scope == "general" for r in unchecked)
    hook = HookScriptGenerator().generate(unchecked, tmp_path / "h.py", feedback_pairs=pairs, enable_versioning=False)
    evaluation = evaluate_hooks(hook.path, None, [], known_good)
    assert evaluation.comparisons["no_damage"].candidate_mean == 0.0
    assert not PromotionPolicy().decide_hook(evaluation).promote
