"""Budgets cannot be bypassed, and the estimate never under-counts what is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_openai import VALID_KEY, FakeOpenAIServer
from vector_trainer.cli import main
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.training import OpenAITrainer
from vector_trainer.training.costguard import check_context, estimate_cost


def _chat_file(path: Path, n: int = 12, extra: dict | None = None) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ],
            **(extra or {}),
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("budget", ["nan", "inf", "-1", "-inf"])
def test_bad_budget_exits_2_before_any_request(tmp_path: Path, budget: str, capsys, monkeypatch) -> None:
    data = _chat_file(tmp_path / "t.jsonl")
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", VALID_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        for command in (
            ["train", str(data), "--model", "gpt-4o-mini", f"--budget={budget}", "--out", str(tmp_path / "r")],
            ["cost", str(data), "--model", "gpt-4o-mini", f"--budget={budget}"],
        ):
            assert main(command) == 2, command
            assert "budget" in capsys.readouterr().err
        assert server.requests == []


def test_nan_budget_in_toml_is_refused(tmp_path: Path, capsys) -> None:
    config = tmp_path / "vt.toml"
    config.write_text("[trainer]\nmax_budget_usd = nan\n")
    data = _chat_file(tmp_path / "t.jsonl")
    assert main(["train", str(data), "--config", str(config)]) == 2
    assert "trainer.max_budget_usd: must be >= 0, got nan" in capsys.readouterr().err


def test_estimate_uses_exactly_the_epochs_sent(tmp_path: Path) -> None:
    data = _chat_file(tmp_path / "t.jsonl")
    trainer = OpenAITrainer(api_key=VALID_KEY, model="gpt-4o-mini", hyperparameters={"n_epochs": 25})
    assert trainer.estimate(data).n_epochs == 25
    assert trainer.describe()["hyperparameters"]["n_epochs"] == 25


def test_a_given_price_never_lowers_a_known_one(tmp_path: Path) -> None:
    data = _chat_file(tmp_path / "t.jsonl")
    known = estimate_cost(data, "gpt-4o-mini").usd_per_million
    with pytest.raises(ConfigError, match="below the known price"):
        estimate_cost(data, "gpt-4o-mini", usd_per_million=known / 10)
    assert estimate_cost(data, "gpt-4o-mini", usd_per_million=known * 2).usd_per_million == known * 2


def test_tool_definitions_are_counted(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": f"tool_{i}", "description": "x " * 200}} for i in range(20)]
    plain = estimate_cost(_chat_file(tmp_path / "a.jsonl"), "gpt-4o-mini", 1)
    with_tools = estimate_cost(_chat_file(tmp_path / "b.jsonl", extra={"tools": tools}), "gpt-4o-mini", 1)
    assert with_tools.tokens_per_epoch > plain.tokens_per_epoch + 12 * 20 * 200


def test_example_over_the_context_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    rows = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "word " * 70_000}]}]
    rows += [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}] * 11
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    estimate = estimate_cost(path, "gpt-4o-mini", 1)
    assert estimate.over_context == 1 and "longer than" in estimate.note and "lines 1" in estimate.note
    # The OpenAI path refuses it by name, as the local trainer does: its reply would be cut off.
    with pytest.raises(InputError, match=r"long\.jsonl: 1 of 12 examples are longer than .* \(lines 1\)"):
        check_context(estimate, str(path))
    check_context(estimate_cost(_chat_file(tmp_path / "short.jsonl"), "gpt-4o-mini", 1), "short.jsonl")


def test_one_epoch_limit_for_the_trainer_and_the_cost_guard(tmp_path: Path) -> None:
    """Issue 29: OpenAITrainer(n_epochs=40) was accepted (config allows 1..50, as OpenAI does),
    then estimate() refused it (the guard's own limit was 25). Both read the one declaration."""
    data = _chat_file(tmp_path / "t.jsonl")
    trainer = OpenAITrainer(api_key=VALID_KEY, model="gpt-4o-mini", hyperparameters={"n_epochs": 40})
    assert trainer.estimate(data).n_epochs == 40
    with pytest.raises(ConfigError, match=r"trainer\.n_epochs"):
        estimate_cost(data, "gpt-4o-mini", n_epochs=51)
