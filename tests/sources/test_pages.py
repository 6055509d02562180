"""Sources hand the extractor pages of columns, and logs are built only when read (issue 31):
the paged read gives the graph exactly what reading every log whole gives, and builds few logs."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conftest import FakeLegacyManager, FakeStoreManager, FakeVectorStore, ListSource, clustered, make_log
from vector_trainer.chatml import text_problem
from vector_trainer.errors import InputError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.graph import LoadedLogs, load_logs
from vector_trainer.sources import vectorwave
from vector_trainer.sources.pages import LogPage, LogTable, log_pages, serves_pages
from vector_trainer.sources.vector_pages import page_vectors
from vector_trainer.sources.vectorwave import VectorWaveLegacyAdapter, VectorWaveStoreAdapter, vectorwave_page

NAN_MESSAGES = json.dumps([{"role": "user", "content": "hi", "weight": "NaN"}]).replace('"NaN"', "NaN")

#: Rows whose input or output is not plain text: each one's verdict needs its built log.
TRICKY: list[dict[str, Any]] = [
    {"question": "plain", "return_value": json.dumps("fine")},
    {"question": "nan out", "return_value": "NaN"},
    {"question": "inf in a dict", "return_value": '{"score": Infinity}'},
    {"question": float("nan"), "return_value": json.dumps("x")},
    {"question": "finite float in", "temperature": 0.5, "return_value": json.dumps("x")},
    {"question": "inf float in", "temperature": math.inf, "return_value": json.dumps("x")},
    {"question": "not json out", "return_value": "plain words, no JSON"},
    {"question": "a number out", "return_value": 5},
    {"question": "a dict out", "return_value": json.dumps({"a": [1, 2.5, None]})},
    {"messages": NAN_MESSAGES, "return_value": json.dumps("x")},
    {"messages": json.dumps([{"role": "user", "content": "hello"}]), "return_value": json.dumps("hi there")},
    {"question": "[{not json", "return_value": json.dumps("x")},
    {"question": None, "flag": True, "count": 3, "return_value": None},
]


def _rows(n: int = 60) -> list[SimpleNamespace]:
    X, _ = clustered([n // 2, n - n // 2], dim=8, spread=0.3, seed=4)
    rows = []
    for i in range(n):
        properties = {"function_name": "fn", "status": "SUCCESS", "question": f"q{i}", "return_value": f'"a{i}"'}
        vector: Any = X[i].tolist()
        if i < len(TRICKY):
            properties = {"function_name": "fn", "status": "SUCCESS", **TRICKY[i]}
        elif i % 11 == 0:
            properties["status"] = "ERROR"
            properties["return_value"] = "NaN"  # a failed row is never checked
        elif i % 13 == 0:
            vector = [float("nan")] * 8
        elif i % 17 == 0:
            vector = [0.0] * 8  # VectorWave Lite's row without a vector
        elif i % 19 == 0:
            vector = X[i].tolist()[:5]  # another length
        elif i % 23 == 0:
            vector = "0.1,0.2"
        rows.append(SimpleNamespace(uuid=f"u{(i * 37) % n:03d}-{i}", properties=properties, vector={"default": vector}))
    return rows


def _legacy(rows: list[SimpleNamespace], page_size: int) -> VectorWaveLegacyAdapter:
    return VectorWaveLegacyAdapter(FakeLegacyManager(rows, with_iterator=True), page_size=page_size)


def _store(rows: list[SimpleNamespace], page_size: int) -> VectorWaveStoreAdapter:
    store = FakeVectorStore()
    for row in rows:
        store.insert("VectorWaveExecutions", row.properties, uuid=row.uuid, vector=row.vector["default"])
    return VectorWaveStoreAdapter(FakeStoreManager(store), page_size=page_size)


def _lance(rows: list[SimpleNamespace], page_size: int) -> VectorWaveStoreAdapter:
    pa = pytest.importorskip("pyarrow")
    vectors = [row.vector["default"] if isinstance(row.vector["default"], list) else None for row in rows]
    table = pa.table(
        {
            "uuid": [row.uuid for row in rows],
            "payload": [json.dumps(row.properties) for row in rows],
            "vector": pa.array([v if v is not None and len(v) == 8 else None for v in vectors], pa.list_(pa.float32())),
        }
    )
    store = SimpleNamespace(backend_name="lance", _open=lambda name: SimpleNamespace(to_arrow=lambda: table))
    store.query = lambda *a, **k: []
    return VectorWaveStoreAdapter(SimpleNamespace(store=store, settings=None), page_size=page_size)


ADAPTERS = {"vectorwave 0.2": _legacy, "vectorwave 1.x store": _store, "vectorwave 1.x lance": _lance}


class OnlyLogs:
    """The same source seen through ``iter_executions`` alone: every log built whole."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def list_functions(self) -> list[str]:
        return self._source.list_functions()

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Any:
        return self._source.iter_executions(function_name, batch_size=batch_size)


def _same(paged: LoadedLogs, whole: LoadedLogs) -> None:
    assert paged.usable.uuids == whole.usable.uuids
    np.testing.assert_array_equal(paged.vectors, whole.vectors)
    assert paged.excluded == whole.excluded
    assert (paged.status_counts, paged.total) == (whole.status_counts, whole.total)
    for i in (0, len(paged.usable) // 2, -1):
        assert paged.usable[i] == whole.usable[i]


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("page_size", [1, 7, 500])
def test_paged_reading_gives_the_graph_what_whole_logs_give(adapter: str, page_size: int) -> None:
    source = ADAPTERS[adapter](_rows(), page_size)
    assert serves_pages(source) and not serves_pages(OnlyLogs(source))
    paged = load_logs(source, "fn", page_size=page_size)
    whole = load_logs(OnlyLogs(source), "fn", page_size=page_size)
    _same(paged, whole)
    reasons = {e.reason.split(":")[0] for e in paged.excluded}
    assert {"non_json_number", "missing_vector", "non_finite_vector", "dimension_mismatch"} <= reasons | {
        "dimension_mismatch" if adapter.endswith("lance") else ""
    }


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_strict_names_the_same_first_logs(adapter: str) -> None:
    source = ADAPTERS[adapter](_rows(), 7)
    with pytest.raises(InputError) as paged:
        load_logs(source, "fn", page_size=7, strict=True)
    with pytest.raises(InputError) as whole:
        load_logs(OnlyLogs(source), "fn", page_size=7, strict=True)
    assert str(paged.value) == str(whole.value)


def test_a_rows_render_verdict_without_its_log_is_the_built_logs_verdict() -> None:
    """The shortcut (plain values, strictly decoded JSON) never disagrees with the log."""
    for parameters in (None, ("question", "messages", "temperature", "flag", "count")):
        properties = [{"function_name": "fn", "status": "SUCCESS", **row} for row in TRICKY]
        page = vectorwave_page(
            [f"u{i}" for i in range(len(properties))], properties, page_vectors([None] * len(properties)), parameters
        )
        for row in range(len(page)):
            log = page.build(row)
            assert page.render_problem(row) == text_problem(log.inputs, log.output), properties[row]


def test_only_the_logs_the_selection_reads_are_built(monkeypatch, tmp_path) -> None:
    built: list[str] = []
    real = vectorwave._to_log

    def counting(uuid: Any, *args: Any) -> Any:
        built.append(str(uuid))
        return real(uuid, *args)

    monkeypatch.setattr(vectorwave, "_to_log", counting)
    n = 1500
    X, _ = clustered([n // 3] * 3, dim=16, spread=0.4, seed=2)
    rows = [
        SimpleNamespace(
            uuid=f"u{i:05d}",
            properties={"function_name": "fn", "status": "SUCCESS", "question": f"q{i}", "return_value": f'"a{i}"'},
            vector={"default": X[i].tolist()},
        )
        for i in range(n)
    ]
    result = DensityBasedExtractor(_legacy(rows, 100), top_k=10).extract("fn", tmp_path / "golden.jsonl")
    assert result.n_examples > 0
    assert 0 < len(built) < n // 2  # the separability sample and the picks, not every log


def test_a_source_without_pages_is_paged_from_its_logs() -> None:
    logs = [make_log(i, np.eye(4)[i % 4] + 0.01 * i) for i in range(12)]
    pages = list(log_pages(ListSource(logs), "fn", 5))
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [log for page in pages for log in page.logs()] == logs
    np.testing.assert_array_equal(pages[0].vectors.blocks[4], np.stack([log.vector for log in logs[:5]]))


def test_a_log_table_reads_like_a_list() -> None:
    logs = [make_log(i, [1.0, float(i)]) for i in range(5)]
    table = LogTable.of_logs(logs)
    assert len(table) == 5 and table.uuids == tuple(log.uuid for log in logs)
    assert table[0] == logs[0] and table[-1] == logs[-1] and table[np.int64(2)] == logs[2]
    assert table[1:4] == logs[1:4] and list(table) == logs
    with pytest.raises(IndexError):
        table[5]
    page = LogPage.of_logs(logs)
    reordered = LogTable([page], np.zeros(3, dtype=np.int64), np.array([4, 0, 2]))
    assert [log.uuid for log in reordered] == [logs[4].uuid, logs[0].uuid, logs[2].uuid]


def test_the_embedded_stores_pages_give_the_graph_what_its_logs_give(tmp_path) -> None:
    from conftest import fill_store
    from vector_trainer.sources.store import SQLiteLogStore

    X, _ = clustered([20, 20], dim=8, spread=0.3, seed=6)
    logs = [make_log(i, X[i]) for i in range(40)]
    logs[1] = make_log(1, X[1], output=float("nan"))
    logs[2] = make_log(2, X[2], output={"score": math.inf})
    logs[3] = make_log(3, X[3], text="x", output={"nested": [1, 2.5]})
    logs[4] = make_log(4, np.zeros(8))  # a stored zero vector is "zero", not "missing"
    logs[5] = make_log(5, np.full(8, np.nan))
    logs[6] = make_log(6, None)
    logs[7] = make_log(7, X[7], status="ERROR")
    logs[8] = make_log(8, np.full(8, 1e-30))  # its float32 norm underflows
    store = SQLiteLogStore(tmp_path / "logs.db")
    fill_store(store, logs)
    for page_size in (3, 500):
        paged = load_logs(store, "fn", page_size=page_size)
        _same(paged, load_logs(OnlyLogs(store), "fn", page_size=page_size))
    assert {e.uuid: e.reason for e in paged.excluded} == {
        logs[1].uuid: "non_json_number",
        logs[2].uuid: "non_json_number",
        logs[4].uuid: "zero_vector",
        logs[5].uuid: "non_finite_vector",
        logs[6].uuid: "missing_vector",
        logs[8].uuid: "zero_vector",
    }


def test_a_subclass_proxy_or_mock_is_read_through_its_own_iter_executions(tmp_path) -> None:
    """Found by this stop's trial: any object with an iter_pages attribute counted as paged, so a
    store subclass filtering iter_executions, a forwarding proxy or a mock had it bypassed."""
    from unittest.mock import MagicMock

    from conftest import fill_store
    from vector_trainer.sources.store import SQLiteLogStore

    class FirstThree(SQLiteLogStore):
        def iter_executions(self, function_name, *, batch_size=500):  # type: ignore[no-untyped-def]
            return (log for log in super().iter_executions(function_name, batch_size=batch_size) if log.uuid < "000003")

    class Proxy:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    logs = [make_log(i, np.eye(4)[i % 4] + 0.1) for i in range(6)]
    store = FirstThree(tmp_path / "logs.db")
    fill_store(store, logs)
    assert not serves_pages(store) and not serves_pages(Proxy(store))
    assert load_logs(store, "fn", page_size=100).usable.uuids == tuple(log.uuid for log in logs[:3])
    assert len(load_logs(Proxy(store), "fn", page_size=100).usable) == 3  # the filter it forwards to
    mock = MagicMock()
    mock.iter_executions.return_value = iter(logs)
    assert not serves_pages(mock) and len(load_logs(mock, "fn", page_size=100).usable) == 6
    assert serves_pages(SQLiteLogStore(tmp_path / "plain.db"))


def test_a_vector_at_float32s_edge_gets_the_one_rules_verdict_on_both_paths() -> None:
    """Found by this stop's trial: the bulk check and the per-vector rule round apart at the
    overflow edge; the bulk check only flags, the rule decides (it was 'malformed_vector')."""
    from vector_trainer._shared import usable_rows, vector_problem

    rng = np.random.default_rng(0)
    while True:
        v = (rng.random(16) + 0.5).astype(np.float32)
        scale = np.sqrt(3.4028235e38 / np.dot(v.astype(np.float64), v)) * (1 + (rng.random() - 0.5) * 1e-6)
        edge = (v * np.float32(scale)).astype(np.float32)
        if not usable_rows(edge[None])[0] and vector_problem(edge) is None:
            break
    rows = [
        SimpleNamespace(
            uuid=f"u{i}",
            properties={"function_name": "fn", "status": "SUCCESS", "q": f"q{i}", "return_value": '"a"'},
            vector={"default": vector},
        )
        for i, vector in enumerate([*(rng.normal(size=16).tolist() for _ in range(5)), edge.tolist()])
    ]
    source = _legacy(rows, 500)
    _same(load_logs(source, "fn", page_size=500), load_logs(OnlyLogs(source), "fn", page_size=500))
    assert "u5" in load_logs(source, "fn", page_size=500).usable.uuids
    assert page_vectors([edge.tolist()]).reasons == {}


def test_strict_names_mismatched_lengths_in_reading_order_whatever_the_page_size() -> None:
    dims = [16, 4, 16, 8, 8, 8, 8, 8]
    logs = [make_log(i, np.random.default_rng(i).normal(size=d)) for i, d in enumerate(dims)]
    messages = set()
    for page_size in (1, 3, 500):
        with pytest.raises(InputError) as error:
            load_logs(ListSource(logs), "fn", page_size=page_size, strict=True)
        messages.add(str(error.value))
    assert len(messages) == 1
    message = messages.pop()
    assert message.index(logs[0].uuid) < message.index(logs[1].uuid) < message.index(logs[2].uuid)


def test_page_sizes_below_one_read_a_row_at_a_time() -> None:
    source = _lance(_rows(20), 1)
    assert len(list(source.iter_executions("fn", batch_size=0))) == 20


def test_values_json_has_no_type_for_render_or_are_named_never_a_traceback(tmp_path) -> None:
    """Found by this stop's trial (older than pages): a Weaviate date property, a UUID or a
    NumPy scalar among a log's inputs made reading the function fail with json's TypeError."""
    import datetime
    import decimal
    import uuid

    from vector_trainer.chatml import render_value

    when = datetime.datetime(2026, 12, 1, 9, 30, tzinfo=datetime.timezone.utc)
    assert render_value({"at": when, "id": uuid.UUID(int=5), "d": decimal.Decimal("1.5")}) == (
        '{"at": "2026-12-01T09:30:00+00:00", "d": "1.5", "id": "00000000-0000-0000-0000-000000000005"}'
    )
    assert render_value([np.float32(0.5), np.int64(3)]) == "[0.5, 3]"
    assert text_problem({"q": np.float32("nan")}, None) == "non_json_number"
    assert text_problem({"q": decimal.Decimal("NaN")}, None) == "non_json_number"
    assert text_problem({"q": b"raw"}, None) == "non_json_value"
    assert text_problem({"q": {1, 2}}, None) == "non_json_value"
    X, _ = clustered([10, 10], dim=8, spread=0.3, seed=1)
    rows = [
        SimpleNamespace(
            uuid=f"u{i:02d}",
            properties={
                "function_name": "fn",
                "status": "SUCCESS",
                "q": f"q{i}",
                "seen": when,  # a custom date tag: an input when the signature is unknown
                "raw": b"\x00" if i == 3 else "text",
                "return_value": f'"a{i}"',
            },
            vector={"default": X[i].tolist()},
        )
        for i in range(20)
    ]
    source = _legacy(rows, 7)
    loaded = load_logs(source, "fn", page_size=7)
    _same(loaded, load_logs(OnlyLogs(source), "fn", page_size=7))
    assert [(e.uuid, e.reason) for e in loaded.excluded] == [("u03", "non_json_value")]
    result = DensityBasedExtractor(source, top_k=3).extract("fn", tmp_path / "golden.jsonl")
    assert "2026-12-01T09:30:00+00:00" in (tmp_path / "golden.jsonl").read_text() and result.n_examples
