"""Shared fixtures: clustered vectors, an embedded store, and fakes shaped like VectorWave's
managers (0.2.x weaviate collections and 1.x store), following the real clients' shapes."""

from __future__ import annotations

import importlib.util
import json
import os
import uuid as uuid_lib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from vector_trainer.sources.store import SQLiteLogStore, StoredRecord
from vector_trainer.types import ExecutionLog


def clustered(sizes: list[int], dim: int = 16, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in clusters of the given sizes; returns (vectors, labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(sizes), dim))
    rows, labels = [], []
    for label, (raw_center, size) in enumerate(zip(centers, sizes, strict=True)):
        center = raw_center / np.linalg.norm(raw_center)
        points = center + spread * rng.normal(size=(size, dim))
        rows.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        labels.extend([label] * size)
    return np.vstack(rows).astype(np.float32), np.asarray(labels)


def write_chat_jsonl(
    path: Path, n: int, *, system: str = "sys", user: str = "question {i}", assistant: str = "answer {i}"
) -> Path:
    """A chat-format training file of ``n`` examples; ``{i}`` in the texts is the example index."""
    rows = [
        {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user.format(i=i)},
                {"role": "assistant", "content": assistant.format(i=i)},
            ]
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def one_error_line(err: str) -> bool:
    """Whether a CLI run's stderr is the handled error it should be: one ``error: ...`` line
    (main returning at all means nothing escaped it; this checks what the user reads)."""
    lines = err.strip().splitlines()
    return len(lines) == 1 and lines[0].startswith("error: ")


def require_modules(names: tuple[str, ...], install_hint: str) -> None:
    """Skip when an optional package is missing, but fail where CI says they must be there
    (``VECTORTRAINER_REQUIRE_INTEGRATION=1``), so a broken install never passes as a skip."""
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if not missing:
        return
    if os.environ.get("VECTORTRAINER_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"packages missing: {missing} ({install_hint})")
    pytest.skip(f"needs {missing}: {install_hint}")


def make_log(
    i: int,
    vector: Any,
    *,
    function: str = "fn",
    status: str = "SUCCESS",
    text: str | None = None,
    output: Any = None,
) -> ExecutionLog:
    return ExecutionLog(
        uuid=f"{i:06d}-log",
        function_name=function,
        status=status,
        inputs={"question": text if text is not None else f"question {i}"},
        output=output if output is not None else (f"answer {i}" if status == "SUCCESS" else None),
        error_message=None if status == "SUCCESS" else "boom",
        vector=None if vector is None else np.asarray(vector, dtype=np.float32),
    )


@dataclass
class ListSource:
    """A minimal DatasetManagerProtocol over a list (duck-typed like a user's own source)."""

    logs: list[ExecutionLog]
    golden: dict[str, list[str]] = field(default_factory=dict)

    def list_functions(self) -> list[str]:
        return sorted({log.function_name for log in self.logs})

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[ExecutionLog]:
        return iter([log for log in self.logs if log.function_name == function_name])

    def near_vector(self, function_name, vector, *, limit, min_similarity):
        raise NotImplementedError

    def register_as_golden(self, log_uuid: str, note: str = "", tags=None) -> bool:
        if log_uuid in self.golden:
            return False
        self.golden[log_uuid] = list(tags or [])
        return True


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteLogStore]:
    with SQLiteLogStore(tmp_path / "logs.db") as s:
        yield s


def fill_store(store: SQLiteLogStore, logs: list[ExecutionLog], space: str = "test") -> None:
    store.import_records([StoredRecord(log, space, f"row{i}") for i, log in enumerate(logs)])


# -- VectorWave 0.2.x shape: weaviate-client v4 collections ------------------------------------


class FakeWeaviateQuery:
    """``collection.query`` of weaviate-client v4: fetch_objects and near_vector."""

    def __init__(self, objects: list[Any]) -> None:
        self._objects = objects
        self.calls: list[dict[str, Any]] = []

    def fetch_objects(
        self,
        *,
        include_vector: bool = False,
        limit: int | None = None,
        offset: int | None = None,
        filters: Any = None,
        **_: Any,
    ) -> Any:
        self.calls.append({"limit": limit, "offset": offset})
        start = offset or 0
        chosen = self._objects[start : start + (limit or len(self._objects))]
        return SimpleNamespace(objects=chosen)

    def near_vector(
        self,
        *,
        near_vector: list[float],
        limit: int,
        distance: float | None = None,
        include_vector: bool = False,
        return_metadata: Any = None,
        **_: Any,
    ) -> Any:
        query = np.asarray(near_vector)
        scored = []
        for obj in self._objects:
            if obj.vector is None or obj.vector.get("default") is None:
                continue  # like Weaviate: an object without a vector is never a neighbour
            vec = np.asarray(obj.vector["default"])
            sim = float(vec @ query / (np.linalg.norm(vec) * np.linalg.norm(query)))
            if distance is None or 1 - sim <= distance:
                scored.append((sim, obj))
        scored.sort(key=lambda t: -t[0])
        return SimpleNamespace(
            objects=[
                SimpleNamespace(
                    uuid=o.uuid,
                    properties=o.properties,
                    vector=o.vector if include_vector else None,
                    metadata=SimpleNamespace(distance=1 - sim),
                )
                for sim, o in scored[:limit]
            ]
        )


class FakeLegacyManager:
    """VectorWave 0.2.x ``VectorWaveDatasetManager``: exec_col/golden_col collections."""

    def __init__(self, objects: list[Any], *, with_iterator: bool = False) -> None:
        query = FakeWeaviateQuery(objects)
        self.exec_col = SimpleNamespace(query=query)
        self.cache_sizes: list[int | None] = []  # what each iterator was asked to fetch per request
        if with_iterator:

            def iterator(include_vector: bool = False, cache_size: int | None = None) -> Iterator[Any]:
                self.cache_sizes.append(cache_size)
                return iter(objects)

            self.exec_col.iterator = iterator
        self.golden_col = SimpleNamespace()
        self.registered: dict[str, dict[str, Any]] = {}

    def register_as_golden(self, log_uuid: str, note: str = "", tags: list[str] | None = None) -> bool:
        if log_uuid in self.registered:
            return False
        self.registered[log_uuid] = {"note": note, "tags": tags}
        return True


def vectorwave_object(
    i: int,
    vector: Any,
    *,
    function: str = "fn",
    status: str = "SUCCESS",
    question: str | None = None,
    answer: Any = None,
    vector_as_dict: bool = True,
) -> Any:
    """An execution as VectorWave stores it: captured args as properties, JSON return_value."""
    properties = {
        "function_name": function,
        "status": status,
        "trace_id": f"trace-{i}",
        "span_id": f"span-{i}",
        "duration_ms": 12.5,
        "timestamp_utc": "2026-11-01T10:00:00+00:00",
        "question": question if question is not None else f"question {i}",
        "return_value": json.dumps(answer if answer is not None else f"answer {i}") if status == "SUCCESS" else None,
        "error_message": None if status == "SUCCESS" else "RateLimitError",
    }
    vec = None if vector is None else [float(x) for x in vector]
    return SimpleNamespace(
        uuid=uuid_lib.UUID(int=i + 1),
        properties=properties,
        vector={"default": vec} if (vector_as_dict and vec is not None) else vec,
    )


# -- VectorWave 1.x shape: VectorStore over Weaviate or LanceDB ---------------------------------


@dataclass
class StoreRecord:
    """vectorwave.store.base.StoreRecord."""

    uuid: str
    properties: dict[str, Any]
    vector: list[float] | None = None
    distance: float | None = None
    certainty: float | None = None


class FakeVectorStore:
    """A VectorStore with the 1.0.2 contract: iterate/query return no vectors, fetch_by_id and
    near_vector return them on request, filters are ``{"prop": value}`` dicts."""

    backend_name = "fake"

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, tuple[dict[str, Any], list[float] | None]]] = {}
        self.fetches = 0

    def insert(self, collection: str, properties: dict[str, Any], uuid: str | None = None, vector=None) -> str:
        uuid = uuid or str(uuid_lib.uuid4())
        self.tables.setdefault(collection, {})[uuid] = (dict(properties), None if vector is None else list(vector))
        return uuid

    def _match(self, props: dict[str, Any], filters: dict[str, Any] | None) -> bool:
        return all(props.get(k) == v for k, v in (filters or {}).items())

    def iterate(self, collection: str, batch_size: int = 100) -> Iterator[StoreRecord]:
        for uuid, (props, _vec) in self.tables.get(collection, {}).items():
            yield StoreRecord(uuid, props)

    def query(
        self,
        collection: str,
        filters=None,
        sort_by=None,
        sort_ascending=False,
        limit=10,
        return_properties=None,
    ) -> list[StoreRecord]:
        rows = [StoreRecord(u, p) for u, (p, _v) in self.tables.get(collection, {}).items() if self._match(p, filters)]
        return rows[:limit]

    def fetch_by_id(self, collection: str, uuid: str, include_vector: bool = False) -> StoreRecord | None:
        self.fetches += 1
        row = self.tables.get(collection, {}).get(str(uuid))
        if row is None:
            return None
        return StoreRecord(str(uuid), row[0], row[1] if include_vector else None)

    def near_vector(
        self,
        collection: str,
        vector,
        filters=None,
        certainty=None,
        limit=1,
        include_vector=False,
        return_properties=None,
    ) -> list[StoreRecord]:
        q = np.asarray(vector)
        scored = []
        for uuid, (props, vec) in self.tables.get(collection, {}).items():
            if vec is None or not self._match(props, filters) or not np.any(vec):
                continue
            v = np.asarray(vec)
            distance = float(np.sum((v - q) ** 2))  # LanceDB-style squared L2, not cosine
            scored.append((distance, StoreRecord(uuid, props, vec if include_vector else None, distance)))
        scored.sort(key=lambda t: t[0])
        return [r for _, r in scored[:limit]]


class FakeStoreManager:
    """VectorWave 1.x ``VectorWaveDatasetManager``: settings + store, register_as_golden."""

    def __init__(self, store: FakeVectorStore) -> None:
        self.store = store
        self.settings = SimpleNamespace(
            EXECUTION_COLLECTION_NAME="VectorWaveExecutions",
            GOLDEN_COLLECTION_NAME="VectorWaveGoldenDataset",
            COLLECTION_NAME="VectorWaveFunctions",
        )

    def register_as_golden(self, log_uuid: str, note: str = "", tags: list[str] | None = None) -> bool:
        rec = self.store.fetch_by_id(self.settings.EXECUTION_COLLECTION_NAME, log_uuid, include_vector=True)
        if rec is None or not rec.vector:
            return False
        self.store.insert(
            self.settings.GOLDEN_COLLECTION_NAME,
            {"original_uuid": log_uuid, "note": note, "tags": tags or []},
            vector=rec.vector,
        )
        return True  # like LanceDB, the fake does not refuse a duplicate itself


def load_hook(path: Path) -> Any:
    """Import a generated hook file as a module (each path under its own name)."""
    spec = importlib.util.spec_from_file_location(f"hook_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
