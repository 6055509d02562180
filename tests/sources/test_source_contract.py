"""The contract every log source keeps (issue 29): the embedded store, memory, Parquet and both
VectorWave generations, built from the same logs, read them back alike, search them alike,
register golden data alike, and give the extractor the same picks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conftest import FakeLegacyManager, FakeStoreManager, FakeVectorStore, clustered, fill_store, make_log
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.sources.columnar import ParquetLogs
from vector_trainer.sources.columnar_export import export_parquet
from vector_trainer.sources.memory import InMemoryLogs
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.sources.vectorwave import VectorWaveLegacyAdapter, VectorWaveStoreAdapter
from vector_trainer.types import ExecutionLog


def _logs() -> list[ExecutionLog]:
    X, _ = clustered([12, 10, 8], dim=8, spread=0.25, seed=11)
    logs = [make_log(i, X[i], function="answer") for i in range(len(X))]
    logs[3] = make_log(3, X[3], function="answer", status="ERROR")
    logs[7] = make_log(7, None, function="answer")  # no vector: never a graph node
    others = [make_log(100 + i, X[i] + 0.01, function="other") for i in range(5)]
    return logs + others


LOGS = _logs()


def _properties(log: ExecutionLog) -> dict[str, Any]:
    return {
        "function_name": log.function_name,
        "status": log.status,
        "question": log.inputs["question"],
        "return_value": json.dumps(log.output) if log.output is not None else None,
        "error_message": log.error_message,
    }


def _vector(log: ExecutionLog) -> list[float] | None:
    return None if log.vector is None else [float(x) for x in log.vector]


def _sqlite(tmp_path: Path) -> Any:
    store = SQLiteLogStore(tmp_path / "logs.db")
    fill_store(store, LOGS)
    return store


def _parquet(tmp_path: Path) -> Any:
    export_parquet(InMemoryLogs(LOGS), tmp_path / "parquet")
    return ParquetLogs(tmp_path / "parquet")


def _vectorwave_02(tmp_path: Path) -> Any:
    objects = [
        SimpleNamespace(uuid=log.uuid, properties=_properties(log), vector={"default": _vector(log)}) for log in LOGS
    ]
    return VectorWaveLegacyAdapter(FakeLegacyManager(objects), page_size=4)


def _vectorwave_1x(tmp_path: Path) -> Any:
    store = FakeVectorStore()
    for log in LOGS:
        store.insert("VectorWaveExecutions", _properties(log), uuid=log.uuid, vector=_vector(log))
    return VectorWaveStoreAdapter(FakeStoreManager(store), page_size=4)


SOURCES: dict[str, Callable[[Path], Any]] = {
    "sqlite store": _sqlite,
    "in memory": lambda tmp_path: InMemoryLogs(LOGS),
    "parquet": _parquet,
    "vectorwave 0.2": _vectorwave_02,
    "vectorwave 1.x": _vectorwave_1x,
}


@pytest.fixture(params=list(SOURCES))
def source(request, tmp_path: Path) -> Any:
    return SOURCES[request.param](tmp_path)


def _by_uuid(logs: list[ExecutionLog]) -> dict[str, ExecutionLog]:
    return {log.uuid: log for log in logs}


def test_it_lists_the_functions_with_logs(source) -> None:
    assert sorted(source.list_functions()) == ["answer", "other"]


@pytest.mark.parametrize("batch_size", [1, 4, 1000])
def test_it_reads_every_log_once_as_it_was_written(source, batch_size: int) -> None:
    read = list(source.iter_executions("answer", batch_size=batch_size))
    expected = _by_uuid([log for log in LOGS if log.function_name == "answer"])
    assert sorted(log.uuid for log in read) == sorted(expected)
    for log in read:
        want = expected[log.uuid]
        assert (log.function_name, log.status, log.inputs, log.output) == (
            want.function_name,
            want.status,
            want.inputs,
            want.output,
        )
        if want.vector is None:
            assert log.vector is None
        else:
            np.testing.assert_allclose(np.asarray(log.vector, dtype=np.float64), want.vector, rtol=1e-6, atol=1e-7)
    assert list(source.iter_executions("nobody")) == []


def test_it_finds_the_nearest_logs_by_cosine_best_first(source) -> None:
    query = next(log for log in LOGS if log.uuid == "000005-log")
    hits = source.near_vector("answer", query.vector, limit=3, min_similarity=0.5)
    assert 1 <= len(hits) <= 3
    assert hits[0].uuid == query.uuid and hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    assert all(h.similarity >= 0.5 for h in hits)
    answer_uuids = {log.uuid for log in LOGS if log.function_name == "answer" and log.vector is not None}
    assert {h.uuid for h in hits} <= answer_uuids


def test_it_registers_golden_data_once(source) -> None:
    assert source.register_as_golden("000001-log", note="steady", tags=["golden"]) is True
    assert source.register_as_golden("000001-log", note="steady", tags=["golden"]) is False


def test_it_gives_the_extractor_the_same_picks(source) -> None:
    reference = DensityBasedExtractor(InMemoryLogs(LOGS), top_k=4)
    extractor = DensityBasedExtractor(source, top_k=4)
    assert [p.uuid for p in extractor.select_steady_state("answer")] == [
        p.uuid for p in reference.select_steady_state("answer")
    ]
    assert [p.uuid for p in extractor.select_anomalies("answer")] == [
        p.uuid for p in reference.select_anomalies("answer")
    ]
