"""Log sources: wrap whatever manager the user injects into :class:`DatasetManagerProtocol`.

Detection is by duck typing, so vectorwave is never imported here (ADR-001):

* an object that already has ``iter_executions``/``near_vector``/``list_functions`` (our
  :class:`~vector_trainer.store.SQLiteLogStore`, or a user's own source) is used as it is;
* VectorWave 0.2.x managers expose weaviate collections ``exec_col``/``golden_col``;
* VectorWave 1.x managers expose a ``store`` (Weaviate or LanceDB) and ``settings``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from vector_trainer.errors import InputError
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog, NeighborHit

#: Properties VectorWave writes itself; every other property of an execution is a captured input.
VECTORWAVE_STANDARD_PROPERTIES = frozenset(
    {
        "trace_id",
        "span_id",
        "parent_span_id",
        "function_name",
        "function_uuid",
        "timestamp_utc",
        "duration_ms",
        "status",
        "error_message",
        "error_code",
        "return_value",
        "exec_source",
        "tags",
        "semantic_drift",
    }
)
DEFAULT_EXECUTION_COLLECTION = "VectorWaveExecutions"
DEFAULT_VECTOR_NAME = "default"
DEFAULT_FETCH_PAGE = 500


def _decode_return_value(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _extract_vector(raw: Any) -> np.ndarray | None:
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        raw = raw.get(DEFAULT_VECTOR_NAME, next(iter(raw.values()), None) if raw else None)
        if raw is None:
            return None
    return np.asarray(raw, dtype=np.float64)


def _timestamp(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.isoformat()
    return str(raw)


def vectorwave_object_to_log(uuid: Any, properties: Mapping[str, Any], vector: Any) -> ExecutionLog:
    """Convert one VectorWave execution (any generation) into an :class:`ExecutionLog`.

    The captured inputs are the properties VectorWave does not write itself (they are named
    after the decorated function's parameters); ``return_value`` is JSON-decoded.
    """
    inputs = {k: v for k, v in properties.items() if k not in VECTORWAVE_STANDARD_PROPERTIES}
    return ExecutionLog(
        uuid=str(uuid),
        function_name=str(properties.get("function_name", "")),
        status=str(properties.get("status", "")).upper(),
        inputs=inputs,
        output=_decode_return_value(properties.get("return_value")),
        error_message=properties.get("error_message"),
        timestamp=_timestamp(properties.get("timestamp_utc")),
        vector=_extract_vector(vector),
    )


class VectorWaveLegacyAdapter:
    """VectorWave 0.2.x (``exec_col``/``golden_col`` weaviate collections) as a log source."""

    def __init__(self, manager: Any, *, page_size: int = DEFAULT_FETCH_PAGE) -> None:
        self._manager = manager
        self._col = manager.exec_col
        self._page_size = page_size

    def _iter_all(self) -> Iterator[Any]:
        if hasattr(self._col, "iterator"):
            yield from self._col.iterator(include_vector=True)
            return
        seen: set[str] = set()
        offset = 0
        while True:
            page = self._col.query.fetch_objects(include_vector=True, limit=self._page_size, offset=offset)
            objects = list(getattr(page, "objects", page))
            fresh = [obj for obj in objects if str(obj.uuid) not in seen]
            yield from fresh
            seen.update(str(obj.uuid) for obj in fresh)
            if len(objects) < self._page_size or not fresh:
                return
            offset += len(objects)

    def list_functions(self) -> list[str]:
        return sorted({str(obj.properties.get("function_name", "")) for obj in self._iter_all()} - {""})

    def iter_executions(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[ExecutionLog]:
        for obj in self._iter_all():
            if obj.properties.get("function_name") == function_name:
                yield vectorwave_object_to_log(obj.uuid, obj.properties, obj.vector)

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        result = self._col.query.near_vector(
            near_vector=list(map(float, vector)),
            limit=limit,
            distance=1.0 - min_similarity,
            include_vector=False,
            return_metadata=["distance"],
        )
        hits = []
        for obj in getattr(result, "objects", result):
            if obj.properties.get("function_name") != function_name:
                continue
            similarity = 1.0 - float(obj.metadata.distance)
            if similarity >= min_similarity:
                hits.append(NeighborHit(str(obj.uuid), similarity))
        return hits

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        return bool(self._manager.register_as_golden(log_uuid, note=note, tags=list(tags or [])))


class VectorWaveStoreAdapter:
    """VectorWave 1.x (``store`` abstraction over Weaviate or LanceDB) as a log source.

    ``store.iterate`` returns no vectors, so each function's rows are listed first and their
    vectors fetched with ``fetch_by_id(..., include_vector=True)``.
    """

    def __init__(self, manager: Any, *, page_size: int = DEFAULT_FETCH_PAGE) -> None:
        self._manager = manager
        self._store = manager.store
        settings = getattr(manager, "settings", None)
        self._collection = getattr(settings, "EXECUTION_COLLECTION_NAME", DEFAULT_EXECUTION_COLLECTION)
        self._page_size = page_size

    def list_functions(self) -> list[str]:
        names = {
            str(record.properties.get("function_name", ""))
            for record in self._store.iterate(self._collection, batch_size=self._page_size)
        }
        return sorted(names - {""})

    def iter_executions(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[ExecutionLog]:
        for record in self._store.iterate(self._collection, batch_size=batch_size):
            if record.properties.get("function_name") != function_name:
                continue
            vector = record.vector
            if vector is None:
                full = self._store.fetch_by_id(self._collection, record.uuid, include_vector=True)
                vector = getattr(full, "vector", None) if full is not None else None
            yield vectorwave_object_to_log(record.uuid, record.properties, vector)

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        records = self._store.near_vector(
            self._collection,
            list(map(float, vector)),
            filters={"function_name": function_name},
            certainty=None,
            limit=limit,
            include_vector=False,
        )
        hits = []
        for record in records:
            if record.properties.get("function_name") != function_name:
                continue
            if getattr(record, "distance", None) is not None:
                similarity = 1.0 - float(record.distance)
            else:
                similarity = 2.0 * float(record.certainty) - 1.0
            if similarity >= min_similarity:
                hits.append(NeighborHit(str(record.uuid), similarity))
        return hits

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        return bool(self._manager.register_as_golden(log_uuid, note=note, tags=list(tags or [])))


def as_dataset_manager(manager: Any) -> DatasetManagerProtocol:
    """Wrap ``manager`` into the interface the extractor uses (duck typing, no imports).

    Raises:
        InputError: If the object is none of the supported shapes.
    """
    if all(hasattr(manager, name) for name in ("iter_executions", "near_vector", "list_functions")):
        return manager  # type: ignore[no-any-return]
    if hasattr(manager, "exec_col"):
        return VectorWaveLegacyAdapter(manager)
    if hasattr(manager, "store"):
        return VectorWaveStoreAdapter(manager)
    raise InputError(
        f"{type(manager).__name__} is not a log source: pass a SQLiteLogStore, a VectorWaveDatasetManager "
        "(0.2.x with exec_col, or 1.x with store), or an object with iter_executions/near_vector/list_functions"
    )


def connect_vectorwave() -> DatasetManagerProtocol:
    """Build a ``VectorWaveDatasetManager`` from VectorWave's own settings (``VECTORWAVE_MODE``,
    ``VECTORWAVE_LITE_PATH``, ``WEAVIATE_HOST`` ...) and wrap it.

    This is the only place that imports vectorwave, lazily, for the CLI's ``--source vectorwave``.

    Raises:
        MissingDependencyError: vectorwave is not installed.
        VectorTrainerError: The store cannot be reached (the message says which settings to check).
    """
    import os

    from vector_trainer.errors import MissingDependencyError, VectorTrainerError

    os.environ.setdefault("VECTORWAVE_QUIET", "1")
    try:
        from vectorwave import VectorWaveDatasetManager
    except ImportError as exc:
        raise MissingDependencyError("vectorwave", "vectorwave", "--source vectorwave") from exc
    try:
        manager = VectorWaveDatasetManager()
    except Exception as exc:
        mode = os.environ.get("VECTORWAVE_MODE", "pro")
        where = (
            f"VECTORWAVE_LITE_PATH={os.environ.get('VECTORWAVE_LITE_PATH', '.vectorwave/lance')}"
            if mode == "lite"
            else f"WEAVIATE_HOST={os.environ.get('WEAVIATE_HOST', 'localhost')}, "
            f"WEAVIATE_PORT={os.environ.get('WEAVIATE_PORT', '8080')}"
        )
        raise VectorTrainerError(
            f"cannot open VectorWave's store (VECTORWAVE_MODE={mode}, {where}): {type(exc).__name__}: {exc}"
        ) from exc
    return as_dataset_manager(manager)
