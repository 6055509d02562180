"""Hostile ingest files: each is refused with ``file:line`` and the fix, and the store is unchanged."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import one_error_line
from vector_trainer.cli import main
from vector_trainer.errors import InputError
from vector_trainer.sources.embedders import HashingEmbedder
from vector_trainer.sources.ingest import EMBED_BATCH_SIZE, ingest_file, parse_record
from vector_trainer.sources.store import SQLiteLogStore, StoredRecord

GOOD = {"function_name": "faq", "input": "hello", "output": "ok", "status": "SUCCESS", "vector": [0.5, 0.25]}
GOOD_LINE = json.dumps(GOOD)
MANY_LINES = "".join(json.dumps({**GOOD, "input": f"hello {i}"}) + "\n" for i in range(50)).encode()


def _line_with(old: str, new: str) -> bytes:
    assert old in GOOD_LINE
    return (GOOD_LINE + "\n" + GOOD_LINE.replace(old, new, 1) + "\n").encode()


HOSTILE_LINES = [
    pytest.param(_line_with("0.5", "1" + "0" * 400), ":2: 'vector' is unusable", id="400-digit-element"),
    pytest.param(_line_with("0.5", "1e39"), "beyond float32's range", id="float32-overflow"),
    pytest.param(_line_with("[0.5, 0.25]", "[1e-30, 1e-30]"), "too small to normalise", id="norm-underflow"),
    pytest.param(_line_with('"ok"', "1" + "0" * 5000), "integer with thousands of digits", id="5000-digit-int"),
    pytest.param(_line_with('"ok"', "[" * 100_000 + "]" * 100_000), "nested too deeply", id="deep-nesting"),
    pytest.param(_line_with('"hello"', '"\\ud800x"'), "lone UTF-16 surrogate", id="lone-surrogate"),
    pytest.param(_line_with('"ok"', "NaN"), "NaN is not valid JSON", id="nan-output"),
    pytest.param(_line_with('"ok"', "-Infinity"), "-Infinity is not valid JSON", id="inf-output"),
    pytest.param(_line_with('"function_name"', '"uuid": "   ", "function_name"'), "'uuid' is blank", id="blank-uuid"),
    pytest.param(_line_with('"function_name"', f'"uuid": "{"u" * 300}", "function_name"'), "at most", id="long-uuid"),
    # Issue 17's fast decoder reads unknown fields too, and nesting has one limit on every path.
    pytest.param(
        _line_with('"function_name"', '"zz": "@", "function_name"').replace(b"@", b"\xff"),
        "not valid UTF-8",
        id="bad-utf8-in-unknown-field",
    ),
    pytest.param(
        _line_with('"function_name"', f'"zz": 1{"0" * 4300}, "function_name"'),
        "integer with thousands of digits",
        id="huge-int-in-unknown-field",
    ),
    pytest.param(_line_with('"ok"', "[" * 101 + "]" * 101), "'output' is nested more than 100", id="nesting-101"),
    # Near the recursion limit either decoder may give up first: "nested too deeply" either way.
    pytest.param(_line_with('"ok"', "[" * 987 + "]" * 987), "nested", id="nesting-987"),
    pytest.param(
        _line_with('"function_name"', '"zz": ' + '{"b": ' * 988 + "1" + "}" * 988 + ', "function_name"'),
        "nested",
        id="nesting-988-in-unknown-field",
    ),
]


@pytest.fixture
def seeded_store(tmp_path: Path) -> Iterator[SQLiteLogStore]:
    store = SQLiteLogStore(tmp_path / "logs.db")
    seed = tmp_path / "seed.jsonl"
    seed.write_text(json.dumps({**GOOD, "uuid": "seed"}) + "\n")
    ingest_file(seed, store, HashingEmbedder())
    yield store
    store.close()


@pytest.mark.parametrize(("content", "message"), HOSTILE_LINES)
def test_hostile_line_is_named_and_store_unchanged(tmp_path, seeded_store, capsys, content, message) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(content)
    code = main(["ingest", str(path), "--store", str(seeded_store.path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:2:" in err and message in err
    assert one_error_line(err), err
    assert seeded_store.count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(gzip.compress(MANY_LINES)[:40], id="truncated"),
        pytest.param(b"this is not gzip\n", id="fake"),
        pytest.param(gzip.compress(MANY_LINES)[:-6], id="cut-trailer"),
    ],
)
def test_broken_gzip_is_named(tmp_path, seeded_store, capsys, payload) -> None:
    path = tmp_path / "logs.jsonl.gz"
    path.write_bytes(payload)
    assert main(["ingest", str(path), "--store", str(seeded_store.path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not a readable gzip file" in err and one_error_line(err)
    assert seeded_store.count() == 1


def test_nan_in_a_csv_vector_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"x.csv:2: 'vector' is not a JSON array: invalid JSON \(NaN"):
        parse_record({**GOOD, "vector": "[1, NaN]"}, "x.csv:2")


def test_missing_file_is_named(tmp_path: Path, seeded_store, capsys) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["ingest", str(missing), "--store", str(seeded_store.path)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err


def _slow_records(started: threading.Event, release: threading.Event) -> Iterator[StoredRecord]:
    log = parse_record({**GOOD, "uuid": "slow"}, "slow:1")
    started.set()
    release.wait(timeout=30)
    yield StoredRecord(log=log, space="provided", source="slow:1")


def test_second_writer_waits_then_gets_a_named_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    first, second = SQLiteLogStore(path), SQLiteLogStore(path, busy_timeout_s=0.2)
    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=first.import_records, args=(_slow_records(started, release),))
    holder.start()
    try:
        assert started.wait(timeout=10)
        log = parse_record({**GOOD, "uuid": "other"}, "other:1")
        with pytest.raises(InputError, match=r"logs.db is busy: another process .* retry when it has finished"):
            second.import_records([StoredRecord(log=log, space="provided", source="other:1")])
    finally:
        release.set()
        holder.join()
    waiting = SQLiteLogStore(path)  # the default timeout outlasts an import that is finishing
    waiting.import_records([StoredRecord(log=log, space="provided", source="other:1")])
    assert waiting.count() == 2
    for store in (first, second, waiting):
        store.close()


class _CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def embed(self, texts):
        self.batch_sizes.append(len(texts))
        return super().embed(texts)


def test_ingest_streams_in_batches_and_stays_all_or_nothing(tmp_path: Path) -> None:
    total = 2 * EMBED_BATCH_SIZE + 7
    rows = [
        {"function_name": "faq", "input": f"question {i}", "output": "a", "status": "SUCCESS"} for i in range(total)
    ]
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    embedder = _CountingEmbedder()
    with SQLiteLogStore(tmp_path / "logs.db") as store:
        with pytest.raises(InputError, match=rf"logs.jsonl:{total + 1}: invalid JSON"):
            ingest_file(path, store, embedder)
        assert store.count() == 0
        assert embedder.batch_sizes == [EMBED_BATCH_SIZE, EMBED_BATCH_SIZE]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        assert ingest_file(path, store, embedder).inserted == total


@pytest.mark.parametrize("target", ["missing.jsonl", "a-directory"])
@pytest.mark.parametrize(
    "command",
    [
        ["cost", "{path}", "--model", "gpt-4o-mini-2024-07-18"],
        ["train", "{path}", "--out", "{tmp}/run"],
        ["ingest", "{path}", "--store", "{tmp}/logs.db"],
        ["synthesize", "--feedback", "{path}", "--out", "{tmp}/hook"],
    ],
)
def test_every_command_names_an_unreadable_input(tmp_path: Path, capsys, target: str, command: list[str]) -> None:
    path = tmp_path / target
    if target == "a-directory":
        path.mkdir()
    argv = [part.format(path=path, tmp=tmp_path) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(path) in err and one_error_line(err), err
