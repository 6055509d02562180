"""VectorWave 0.2.x and 1.x adapters against fakes with the real shapes (see conftest)."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import FakeLegacyManager, FakeStoreManager, FakeVectorStore, clustered, vectorwave_object
from vector_trainer.errors import ConfigError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.sources import as_dataset_manager
from vector_trainer.sources.vectorwave import (
    VectorWaveLegacyAdapter,
    VectorWaveStoreAdapter,
    parameters_from_source,
)

SOURCE = """@vectorize(capture_return_value=True, capture_inputs=True)
def answer(question: str, product: str = "VectorCloud") -> str:
    return question
"""


def _store_manager(n: int, *, zero_every: int = 0) -> FakeStoreManager:
    store = FakeVectorStore()
    manager = FakeStoreManager(store)
    X, _ = clustered([n], dim=8, spread=0.3, seed=4)
    store.insert("VectorWaveFunctions", {"function_name": "answer", "source_code": SOURCE})
    for i, vector in enumerate(X):
        missing = zero_every and i % zero_every == 0
        props = {
            "function_name": "answer" if i % 10 else "other",
            "status": "SUCCESS",
            "trace_id": f"t{i}",
            "return_value": f'"answer {i}"',
            "question": f"question {i}",
            "product": "VectorDesk",
            "team": "support",  # a custom tag, not an input
        }
        store.insert(
            "VectorWaveExecutions",
            props,
            uuid=f"00000000-0000-0000-0000-{i:012d}",
            vector=[0.0] * 8 if missing else vector.tolist(),
        )
    return manager


def test_detection() -> None:
    assert isinstance(as_dataset_manager(FakeLegacyManager([])), VectorWaveLegacyAdapter)
    assert isinstance(as_dataset_manager(_store_manager(3)), VectorWaveStoreAdapter)


def test_store_adapter_pages_past_1000_and_recovers_inputs() -> None:
    adapter = as_dataset_manager(_store_manager(1_200))
    logs = list(adapter.iter_executions("answer", batch_size=100))
    assert len(logs) == 1_080  # every 10th row belongs to another function
    first = logs[0]
    assert first.inputs == {"question": first.inputs["question"], "product": "VectorDesk"}  # no 'team' tag
    assert list(first.inputs) == ["question", "product"]  # signature order
    assert first.output.startswith("answer ")  # JSON text decoded
    assert adapter.list_functions() == ["answer", "other"]


def test_zero_vectors_count_as_missing_with_the_hint(tmp_path) -> None:
    manager = _store_manager(60, zero_every=3)
    result = DensityBasedExtractor(manager, top_k=3).extract("answer", tmp_path / "g.jsonl")
    reasons = {e.reason for e in result.report.excluded}
    assert reasons == {"missing_vector"}
    assert len(result.report.excluded) == sum(1 for i in range(60) if i % 10 and i % 3 == 0)


def test_near_vector_uses_cosine_not_backend_distance() -> None:
    adapter = as_dataset_manager(_store_manager(50))
    log = next(adapter.iter_executions("answer"))
    hits = adapter.near_vector("answer", (log.vector * 3.0).tolist(), limit=5, min_similarity=0.5)
    assert hits[0].uuid == log.uuid and hits[0].similarity == pytest.approx(1.0, abs=1e-6)
    assert all(0.5 <= h.similarity <= 1.0 + 1e-9 for h in hits)


def test_register_golden_skips_already_registered(tmp_path) -> None:
    manager = _store_manager(40)
    extractor = DensityBasedExtractor(manager, top_k=3)
    first = extractor.extract("answer", tmp_path / "g.jsonl", register_golden=True).report.golden_registration
    second = extractor.extract("answer", tmp_path / "g.jsonl", register_golden=True).report.golden_registration
    assert first["written"] > 0 and second == {"written": 0, "already_registered": first["written"]}
    assert len(manager.store.tables["VectorWaveGoldenDataset"]) == first["written"]


def test_legacy_adapter_near_vector_and_inference() -> None:
    X, _ = clustered([20], dim=6, spread=0.2, seed=1)
    manager = FakeLegacyManager([vectorwave_object(i, v) for i, v in enumerate(X)])
    adapter = as_dataset_manager(manager)
    log = next(adapter.iter_executions("fn"))
    assert log.inputs == {"question": log.inputs["question"]}  # standard properties dropped
    hits = adapter.near_vector("fn", log.vector.tolist(), limit=3, min_similarity=0.0)
    assert hits[0].uuid == log.uuid and len(hits) == 3


def test_parameters_from_source() -> None:
    assert parameters_from_source(SOURCE, "answer") == ("question", "product")
    assert parameters_from_source("class A:\n    def run(self, x, *, y): ...", "run") == ("x", "y")
    assert parameters_from_source("not python (", "answer") is None
    assert parameters_from_source(SOURCE, "missing") is None


def test_manager_engine_over_a_vectorwave_store() -> None:
    from vector_trainer.extractor.engines.base import normalize_rows
    from vector_trainer.extractor.engines.exact.engine import ExactEngine
    from vector_trainer.extractor.engines.source import ManagerEngine

    adapter = as_dataset_manager(_store_manager(80))
    logs = list(adapter.iter_executions("answer"))
    X = normalize_rows(np.stack([log.vector for log in logs]))
    ids = [log.uuid for log in logs]
    via = ManagerEngine(adapter, "answer", limit=100).density(X, 0.7, ids)
    np.testing.assert_allclose(via.density, ExactEngine().density(X, 0.7).density, rtol=1e-4, atol=1e-4)


def test_missing_vectorwave_is_a_clear_error(monkeypatch, tmp_path, capsys) -> None:
    from vector_trainer.cli import main

    monkeypatch.setitem(sys.modules, "vectorwave", None)  # import fails as if not installed
    assert main(["run", "--source", "vectorwave", "--out", str(tmp_path)]) == 2  # configuration
    assert 'pip install ".[vectorwave]"' in capsys.readouterr().err


def test_a_messages_function_on_weaviate_is_a_conversation() -> None:
    """0.2.x on Weaviate keeps a captured list as JSON text: it is decoded and normalised."""
    import json

    from conversation_samples import conversation
    from vector_trainer.conversation import conversation_of

    objects = []
    for i, vector in enumerate(clustered([6], dim=8, seed=2)[0]):
        obj = vectorwave_object(i, vector, function="chat", answer={"role": "assistant", "content": f"reply {i}"})
        messages, _ = conversation(i, tool=i % 2 == 0)
        obj.properties.pop("question")
        obj.properties.update(messages=json.dumps(messages, ensure_ascii=False), model="gpt-4o-mini")
        objects.append(obj)
    logs = list(as_dataset_manager(FakeLegacyManager(objects)).iter_executions("chat"))
    assert {tuple(log.inputs) for log in logs} == {("messages", "model")}
    conv = conversation_of(logs[0].inputs, logs[0].output)
    assert conv is not None and conv.messages[0].role == "system" and conv.messages[-1].role == "tool"
    assert logs[1].output == "reply 1"  # a text-only assistant message is stored as its text


def test_golden_registration_never_guesses_when_the_store_cannot_answer() -> None:
    """Issue 29: a failed existence query used to read as "not registered", and the log was
    written again (backends such as LanceDB do not refuse the duplicate)."""
    from vector_trainer.errors import VectorTrainerError

    manager = _store_manager(3)
    adapter = VectorWaveStoreAdapter(manager)
    uuid = next(iter(adapter.iter_executions("answer"))).uuid
    assert adapter.register_as_golden(uuid) is True and adapter.register_as_golden(uuid) is False
    golden = manager.settings.GOLDEN_COLLECTION_NAME

    def down(*_args, **_kwargs):
        raise ConnectionError("weaviate at http://user:secret@db:8080 is not answering")

    manager.store.query = down
    with pytest.raises(VectorTrainerError, match="cannot check whether it is already golden") as caught:
        adapter.register_as_golden(uuid)
    assert "secret" not in str(caught.value)
    assert len([r for r in manager.store.iterate(golden) if r.properties["original_uuid"] == uuid]) == 1
    manager.store.collection_exists = lambda name: name != golden  # a fresh store: no golden collection yet
    assert adapter.register_as_golden(uuid) is True


def test_a_failed_signature_lookup_is_asked_again(mocker) -> None:
    """Issue 29: a functions collection that could not be read once (a timeout) no longer makes
    the adapter infer inputs from properties for the rest of its life."""
    manager = _store_manager(20)
    adapter = as_dataset_manager(manager)
    real_query = manager.store.query
    mocker.patch.object(manager.store, "query", side_effect=TimeoutError("weaviate timed out"))
    inferred = next(iter(adapter.iter_executions("answer")))
    assert "team" in inferred.inputs  # no signature this time: every custom property is an input
    mocker.patch.object(manager.store, "query", side_effect=real_query)
    recovered = next(iter(adapter.iter_executions("answer")))
    assert list(recovered.inputs) == ["question", "product"]  # the signature, asked again


def test_the_legacy_adapter_asks_again_after_a_failed_lookup() -> None:
    class Functions:
        def __init__(self) -> None:
            self.calls = 0

        def iterator(self):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("weaviate unreachable")
            yield SimpleNamespace(properties={"function_name": "answer", "source_code": SOURCE})

    functions = Functions()
    manager = FakeLegacyManager([])
    manager.client = SimpleNamespace(collections=SimpleNamespace(get=lambda name: functions))
    adapter = VectorWaveLegacyAdapter(manager)
    assert adapter._parameters("answer") is None
    assert adapter._parameters("answer") == ("question", "product")
    assert adapter._parameters("answer") == ("question", "product") and functions.calls == 2  # an answer is kept


def test_source_page_size_is_the_vectorwave_fetch_size(monkeypatch) -> None:
    """Issue 29: ``[source] page_size`` was declared, documented and read by nothing."""
    from vector_trainer.config import SourceConfig
    from vector_trainer.sources.detect import open_source

    X, _ = clustered([25], dim=8, spread=0.3, seed=4)
    manager = FakeLegacyManager([vectorwave_object(i, X[i].tolist()) for i in range(25)])
    module = SimpleNamespace(VectorWaveDatasetManager=lambda: manager)
    monkeypatch.setitem(sys.modules, "vectorwave", module)
    source = open_source(SourceConfig(kind="vectorwave", page_size=7))
    assert len(list(source.iter_executions("fn"))) == 25
    assert {call["limit"] for call in manager.exec_col.query.calls} == {7}
    assert len(manager.exec_col.query.calls) == 4  # 7 + 7 + 7 + 4
    cursor = FakeLegacyManager(manager.exec_col.query._objects, with_iterator=True)
    module.VectorWaveDatasetManager = lambda: cursor
    assert len(list(open_source(SourceConfig(kind="vectorwave", page_size=7)).iter_executions("fn"))) == 25
    assert cursor.cache_sizes == [7]  # weaviate's cursor fetches page_size objects a request


@pytest.mark.parametrize("bad", [0, -5, 2.5, "abc", True])
def test_a_page_size_that_is_no_count_is_named(bad) -> None:
    with pytest.raises(ConfigError, match=r"source.page_size: must be (in \[1, 100000\]|an integer), got "):
        as_dataset_manager(FakeLegacyManager([]), page_size=bad)


def test_the_store_adapter_reads_page_size_rows_a_request() -> None:
    manager = _store_manager(30)
    asked: list[int] = []
    real = manager.store.iterate

    def iterate(collection: str, batch_size: int = 100):
        asked.append(batch_size)
        return real(collection, batch_size)

    manager.store.iterate = iterate
    adapter = as_dataset_manager(manager, page_size=9)
    assert len(list(adapter.iter_executions("answer", batch_size=500))) == 27
    assert set(asked) == {9}
