"""Embedding views, the script-aware hashing embedder, re-embedding, and refusing vectors that
cannot separate anything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conversation_samples import record
from vector_trainer.errors import ConfigError, EmptyDataError, InputError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.sources.embedders import HashingEmbedder
from vector_trainer.sources.ingest import ingest_file, parse_record
from vector_trainer.sources.memory import InMemoryLogs
from vector_trainer.sources.reembed import ReembeddedSource, reembed_store
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.sources.views import EmbeddingView


def _log(i: int, **extra):
    return parse_record({**record(i, tool=i % 2 == 0), **extra}, f"row {i}")


def test_views_pick_the_text_that_identifies_the_request() -> None:
    log = _log(4)
    assert EmbeddingView().text(log.inputs, log.output) == "좋아하는 음식 알려줘! (4)"
    history = EmbeddingView("history", history_chars=200).text(log.inputs, log.output)
    assert history.endswith("좋아하는 음식 알려줘! (4)") and "assistant: 안녕 팬 여러분! 반가워 💫 (0)" in history
    assert "ORBIT" not in history  # system prompts identify no request
    assert EmbeddingView("history", history_chars=5).text(log.inputs, log.output) == "좋아하는 음식 알려줘! (4)"
    assert EmbeddingView("reply").text(log.inputs, log.output) == log.output
    assert EmbeddingView("field", input_field="model").text(log.inputs, log.output) == "gpt-4o-mini"
    assert EmbeddingView("whole").text(log.inputs, log.output).startswith('{"content"') is False


def test_single_input_logs_embed_their_input_whatever_the_conversation_view() -> None:
    log = parse_record({"function_name": "f", "input": "hello there", "output": "hi", "status": "SUCCESS"}, "r")
    assert EmbeddingView().text(log.inputs) == EmbeddingView("history").text(log.inputs) == "hello there"


def test_a_field_view_needs_its_field() -> None:
    with pytest.raises(ConfigError, match=r"embedding\.input_field"):
        EmbeddingView("field")
    with pytest.raises(InputError, match="row: has no input 'question'"):
        EmbeddingView("field", input_field="question").text({"messages": []}, where="row")


def test_hashing_embedder_splits_words_of_cjk_scripts_into_ngrams() -> None:
    e = HashingEmbedder()
    korean = e.embed(["팬분들께 감사해", "팬분들이 최고야", "팬미팅 일정"])
    chinese = e.embed(["我喜欢这首歌", "这首歌很好听"])
    assert float(korean[0] @ korean[1]) > 0.2  # the same word with another particle
    assert float(chinese[0] @ chinese[1]) > 0.3  # one "word" per sentence shares its characters
    english = e.embed(["the cat sat", "cat"])
    assert float(english[0] @ english[1]) == pytest.approx(1 / np.sqrt(5), abs=1e-6)  # words and bigrams only


def _identical_vector_file(path: Path, n: int = 40) -> Path:
    rows = [{**record(i, tool=i % 2 == 0), "vector": [0.1] * 16} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_vectors_that_separate_nothing_are_refused_with_the_fix(tmp_path: Path) -> None:
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        ingest_file(_identical_vector_file(tmp_path / "logs.jsonl"), store, HashingEmbedder())
        with pytest.raises(EmptyDataError, match=r"100% of 40 sampled logs .*vectortrainer reembed"):
            DensityBasedExtractor(store, top_k=5).analyze("chat")


def test_repeated_identical_inputs_are_not_refused() -> None:
    rows = [{"function_name": "f", "input": f"q{i % 3}", "output": "a", "status": "SUCCESS", "uuid": str(i),
             "vector": [float(i % 3 == k) + 0.01 for k in range(8)]} for i in range(30)]  # fmt: skip
    analysis = DensityBasedExtractor(InMemoryLogs.from_records(rows), top_k=3).analyze("f")
    assert len(analysis.logs) == 30


def test_reembed_store_rewrites_every_vector_from_the_view(tmp_path: Path) -> None:
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        ingest_file(_identical_vector_file(tmp_path / "logs.jsonl"), store, HashingEmbedder())
        seen: list[int] = []
        count, space = reembed_store(store, "chat", HashingEmbedder(), EmbeddingView(), on_progress=seen.append)
        assert (count, space) == (40, "hashing-bow-384")
        assert seen and seen[-1] == 40  # the bar's last step is every log
        assert store.vector_space("chat") == ("hashing-bow-384", 384)
        extractor = DensityBasedExtractor(store, top_k=5)
        assert len(extractor.select_steady_state("chat")) >= 3
        assert extractor.vector_space("chat") == "hashing-bow-384"


def test_a_reembedded_source_embeds_as_it_reads_and_searches_its_own_vectors(tmp_path: Path) -> None:
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        ingest_file(_identical_vector_file(tmp_path / "logs.jsonl"), store, HashingEmbedder())
        source = ReembeddedSource(store, HashingEmbedder(), EmbeddingView("history", history_chars=100))
        logs = list(source.iter_executions("chat"))
        assert {log.vector.shape for log in logs} == {(384,)}
        hits = source.near_vector("chat", logs[0].vector, limit=3, min_similarity=0.0)
        assert hits[0].uuid == logs[0].uuid
        assert source.vector_space("chat") == ("hashing-bow-384@history:100", 384)
        assert store.vector_space("chat") == ("provided", 16)  # the wrapped source is never written


def test_ingest_embeds_the_last_user_turn_and_reports_the_view(tmp_path: Path) -> None:
    rows = [record(i) for i in range(6)]
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        summary = ingest_file(path, store, HashingEmbedder())
        assert (summary.embedded, summary.view) == (6, "last_user")
        stored = {log.uuid: log.vector for log in store.iter_executions("chat")}
    expected = HashingEmbedder().embed([rows[i]["input"]["messages"][-1]["content"] for i in range(6)])
    assert sorted(map(tuple, np.round(list(stored.values()), 5))) == sorted(map(tuple, np.round(expected, 5)))


def test_two_shared_prompts_are_refused_too() -> None:
    """Two personas (two languages): two vectors for every call, which separate nothing within each."""
    rows = [{**record(i), "uuid": str(i), "vector": [1.0, 0.0, 0.0] if i % 4 else [0.0, 1.0, 0.0]} for i in range(40)]
    with pytest.raises(EmptyDataError, match="cannot separate its logs: 100%"):
        DensityBasedExtractor(InMemoryLogs.from_records(rows), top_k=3).analyze("chat")
    few = [{**row, "vector": [1.0, 0.0, float(i > 36)]} for i, row in enumerate(rows)]  # 3 differ: refused still
    with pytest.raises(EmptyDataError):
        DensityBasedExtractor(InMemoryLogs.from_records(few), top_k=3).analyze("chat")


def test_the_reply_view_embeds_failed_calls_by_their_input(tmp_path: Path) -> None:
    rows = [record(i) for i in range(4)] + [{**record(9), "status": "ERROR", "output": None, "error_message": "429"}]
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        assert ingest_file(path, store, HashingEmbedder(), view=EmbeddingView("reply")).embedded == 5
        assert reembed_store(store, "chat", HashingEmbedder(), EmbeddingView("reply"))[0] == 5


def test_repeated_last_turns_are_refused_with_the_history_view_as_the_fix() -> None:
    """Distinct conversations whose last user turn is 'yes' or 'thanks' get one vector per turn
    under the default view: the advice is the history view, not the view already in use."""
    rows = []
    for i in range(40):
        messages = [{"role": "user", "content": f"Book flight {i} to city {i}"},
                    {"role": "assistant", "content": f"Flight {i}?"},
                    {"role": "user", "content": ("yes", "thanks", "continue")[i % 3]}]  # fmt: skip
        rows.append({"function_name": "f", "input": {"messages": messages}, "output": "ok", "status": "SUCCESS"})
    logs = InMemoryLogs.from_records(rows)
    with pytest.raises(EmptyDataError, match=r"last user turns repeat .*view = 'history'"):
        DensityBasedExtractor(logs, top_k=3).analyze("f")
    history = InMemoryLogs.from_records(rows, view=EmbeddingView("history"))
    assert len(DensityBasedExtractor(history, top_k=3).analyze("f").logs) == 40


def test_the_reembed_command_runs_with_its_progress_bar(tmp_path: Path, capsys) -> None:
    """Found by this stop's trial: the bar's callback passed the count where rich takes only a
    keyword, so every `vectortrainer reembed` crashed (the walkthrough test runs it too, but
    only in the slow suite)."""
    from vector_trainer.cli import main

    with SQLiteLogStore(tmp_path / "logs.db") as store:
        ingest_file(_identical_vector_file(tmp_path / "logs.jsonl"), store, HashingEmbedder())
    assert main(["reembed", "--store", str(tmp_path / "logs.db"), "--embedder", "hashing"]) == 0
    assert "chat: 40 logs re-embedded into 'hashing-bow-384'" in capsys.readouterr().out
    with SQLiteLogStore(tmp_path / "logs.db", create=False) as store:
        assert store.vector_space("chat") == ("hashing-bow-384", 384)
