"""Issue 31: a model's embeddings are kept by text hash, so the same texts are embedded once."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from vector_trainer.errors import InputError
from vector_trainer.sources.embedders import HashingEmbedder
from vector_trainer.sources.embedding_cache import CachedEmbedder


class Counting:
    """A model stand-in that counts what it is asked to embed (the hashing embedder's vectors)."""

    name = "counting-model"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def embed(self, texts):
        self.asked += list(texts)
        return HashingEmbedder(16).embed(texts)


def test_each_distinct_text_is_embedded_once_and_vectors_are_unchanged(tmp_path: Path) -> None:
    model = Counting()
    cache = CachedEmbedder(model, tmp_path / "cache" / "embeddings.db")
    texts = ["hello", "팬 여러분", "hello", "card arrived?"]
    first = cache.embed(texts)
    assert model.asked == ["hello", "팬 여러분", "card arrived?"]
    np.testing.assert_array_equal(first, HashingEmbedder(16).embed(texts))
    again = CachedEmbedder(model, tmp_path / "cache" / "embeddings.db")  # another process, later
    np.testing.assert_array_equal(again.embed(["card arrived?", "hello", "new one"]), HashingEmbedder(16).embed(
        ["card arrived?", "hello", "new one"]))  # fmt: skip
    assert model.asked[3:] == ["new one"] and again.reused == 2 and again.embedded == 1
    with sqlite3.connect(tmp_path / "cache" / "embeddings.db") as db:  # hashes and vectors, never the texts
        dump = "\n".join(db.iterdump())
    assert "hello" not in dump and "card arrived" not in dump


def test_a_second_ingest_of_the_same_texts_embeds_nothing(tmp_path: Path, monkeypatch) -> None:
    from vector_trainer.cli import main
    from vector_trainer.sources import embedders

    model = Counting()
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", lambda path=None, **options: model)
    monkeypatch.chdir(tmp_path)
    rows = [{"function_name": "faq", "input": {"q": f"question {i % 5}"}, "output": f"a{i}", "status": "SUCCESS"}
            for i in range(12)]  # fmt: skip
    Path("logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["ingest", "logs.jsonl", "--store", "a.db", "--embedder", "local"]) == 0
    assert len(model.asked) == 5  # five distinct texts
    assert main(["ingest", "logs.jsonl", "--store", "b.db", "--embedder", "local"]) == 0
    assert len(model.asked) == 5  # the same texts again: nothing embedded


def test_an_unusable_cache_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "embeddings.db"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(InputError, match="not a usable embedding cache"):
        CachedEmbedder(Counting(), bad)


def test_the_cache_is_never_the_store_or_a_link_and_damage_is_embedded_again(tmp_path: Path) -> None:
    """Found by a trial: a cache path that was the store (or a link to it) crashed the import and
    wrote a table into the store; a damaged vector was a traceback."""
    from vector_trainer.sources.store import SQLiteLogStore

    with SQLiteLogStore(tmp_path / "logs.db"):
        pass
    with pytest.raises(InputError, match=r"is not an embedding cache \(it holds tables"):
        CachedEmbedder(Counting(), tmp_path / "logs.db")
    (tmp_path / "link.db").symlink_to(tmp_path / "logs.db")
    with pytest.raises(InputError, match="must not be a symbolic link"):
        CachedEmbedder(Counting(), tmp_path / "link.db")
    model = Counting()
    cache = CachedEmbedder(model, tmp_path / "c.db")
    cache.embed(["a", "b"])
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute("UPDATE vectors SET vector = ?", (b"\x00" * 12,))  # wrong width, all zero
    np.testing.assert_array_equal(cache.embed(["a", "b"]), HashingEmbedder(16).embed(["a", "b"]))
    assert model.asked == ["a", "b", "a", "b"]


def test_a_model_changed_in_place_or_another_of_the_same_folder_name_is_another_space(tmp_path: Path) -> None:
    from vector_trainer.sources.model_files import model_fingerprint

    model = tmp_path / "one" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"pooling": "mean"}', encoding="utf-8")
    before = model_fingerprint(str(model))
    other = tmp_path / "two" / "model"
    other.mkdir(parents=True)
    (other / "config.json").write_text('{"pooling": "cls"}', encoding="utf-8")
    assert model_fingerprint(str(other)) != before
    (model / "config.json").write_text('{"pooling": "cls!"}', encoding="utf-8")
    assert model_fingerprint(str(model)) != before
