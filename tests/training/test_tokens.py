"""Exact offline token counts: packaged ranks seeded into tiktoken's cache, hash-checked."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from conftest import require_modules, write_chat_jsonl
from vector_trainer.training import tokens
from vector_trainer.training.costguard import estimate_cost

SAMPLES = [
    "hello world",
    "tiktoken is great!",
    "Ünïcödé, 東京, emoji ☕🚀 and code: def f(x): return x**2",
    "   leading spaces\n\nand\ttabs 1234567 numbers",
]


@pytest.fixture
def offline_tiktoken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tiktoken with an empty cache, no network and no encodings loaded in this process."""
    import tiktoken.load
    import tiktoken.registry

    def no_network(blobpath: str) -> bytes:
        raise OSError(f"offline: refused to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    cache = tmp_path / "tiktoken-cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    return cache


def test_packaged_o200k_ranks_give_exact_counts_offline(offline_tiktoken: Path) -> None:
    require_modules(("bpe_openai",), "pip install '.[exact-tokens]'")
    count, name, exact, note = tokens.load_token_counter("o200k_base")
    assert (name, exact, note) == ("o200k_base", True, "")
    url, digest = tokens.PINNED_RANKS["o200k_base"]
    seeded = offline_tiktoken / hashlib.sha1(url.encode()).hexdigest()
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == digest
    from bpe_openai import get_encoding  # an independent implementation (Rust) of the same ranks

    reference = get_encoding("o200k_base")
    assert [count(text) for text in SAMPLES] == [len(reference.encode(text)) for text in SAMPLES]


def test_o200k_estimate_matches_hand_counts(offline_tiktoken: Path, tmp_path: Path) -> None:
    """Per example: priming 3 + 3 messages x (3 + 1 role token) + contents 2 + 6 + 2 = 25."""
    require_modules(("bpe_openai",), "pip install '.[exact-tokens]'")
    path = write_chat_jsonl(
        tmp_path / "t.jsonl", 4, system="hello world", user="tiktoken is great!", assistant="hello world"
    )
    est = estimate_cost(path, "gpt-4o-mini-2024-07-18", 3)
    assert (est.encoding, est.exact) == ("o200k_base", True)
    assert est.tokens_per_epoch == 4 * 25 and est.total_tokens == 4 * 25 * 3


def test_tampered_package_ranks_are_never_used(offline_tiktoken, tmp_path, monkeypatch) -> None:
    fake = tmp_path / "o200k_base.tiktoken.gz"
    fake.write_bytes(gzip.compress(b"aGVsbG8= 0\n"))  # a one-token "encoding"
    monkeypatch.setattr(tokens, "packaged_ranks_path", lambda name: fake)
    monkeypatch.setattr(tokens, "OFFLINE_SUFFIX", "_not_registered")
    assert not tokens.seed_tiktoken_cache("o200k_base")
    count, name, exact, note = tokens.load_token_counter("o200k_base")
    assert (name, exact) == ("utf8-bytes", False) and "exact-tokens" in note
    assert count("hello world") == len(b"hello world")
    assert not offline_tiktoken.exists() or not any(offline_tiktoken.iterdir())


def test_without_the_package_the_estimate_is_a_byte_upper_bound(offline_tiktoken, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tokens, "RANKS_PACKAGE", "no_such_package_here")
    monkeypatch.setattr(tokens, "OFFLINE_SUFFIX", "_not_registered")
    path = write_chat_jsonl(
        tmp_path / "t.jsonl", 4, system="hello world", user="tiktoken is great!", assistant="hello world"
    )
    est = estimate_cost(path, "gpt-4o-mini", 2)
    per_example_bytes = 3 + 3 * 3 + len("system") + len("user") + len("assistant") + 11 + 18 + 11
    assert (est.encoding, est.exact) == ("utf8-bytes", False)
    assert est.tokens_per_epoch == 4 * per_example_bytes >= 4 * 25


def test_disabled_tiktoken_cache_is_respected(monkeypatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tokens.tiktoken_cache_dir() is None
    assert not tokens.seed_tiktoken_cache("o200k_base")
