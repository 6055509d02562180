"""Adapters that present VectorWave's ``VectorWaveDatasetManager`` as a log source.

Neither adapter imports vectorwave: both work on the manager object the user's process built
(ADR-001). Facts they rely on (checked against vectorwave 0.2.9's shape and the 1.0.2 source):

* executions live in ``VectorWaveExecutions``; captured arguments are top-level properties
  named after the function's parameters, next to VectorWave's own fields and custom tags;
* ``return_value`` is JSON text; a row's vector is the named vector ``default`` (0.2.x may give
  ``{"default": [...]}``); in Lite mode a row stored without a vector holds zeros;
* the function's source is stored in ``VectorWaveFunctions`` (``source_code``), which tells the
  parameter names, so captured inputs are told apart from custom tags.

Reading pages through every object with cursor iterators (weaviate's cursor API takes no
filter, and offset paging stops at ``QUERY_MAXIMUM_RESULTS``, 10,000 by default), filtering by
function on the client: correctness over a silent cap. Similarities from ``near_vector`` are
computed from the returned vectors, because the backends report different distances (cosine
distance in Weaviate, squared L2 in LanceDB).
"""

from __future__ import annotations

import ast
import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from vector_trainer._params import check_values
from vector_trainer.config import SourceConfig
from vector_trainer.conversation import ConversationError, is_conversation_input, normalise_conversation
from vector_trainer.errors import VectorTrainerError, redact
from vector_trainer.sources.pages import LogPage, strict_json
from vector_trainer.sources.vector_pages import PageVectors, arrow_vectors, extract_vector, page_vectors
from vector_trainer.types import STATUS_SUCCESS, ExecutionLog, NeighborHit

#: Properties VectorWave writes itself (never captured inputs).
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
DEFAULT_GOLDEN_COLLECTION = "VectorWaveGoldenDataset"
DEFAULT_FUNCTION_COLLECTION = "VectorWaveFunctions"
DEFAULT_FETCH_PAGE = SourceConfig.page_size
NEAR_VECTOR_OVERFETCH = 4
#: Input values that always render (with finite floats, checked apart).
_PLAIN_SCALARS = (int, bool, type(None))


def _loads(text: str | bytes) -> Any:
    """JSON text decoded in C (msgspec); what it refuses (``NaN``, ``Infinity``) by ``json``."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def decode_return_value(raw: Any) -> Any:
    """VectorWave's JSON-text ``return_value`` decoded (text that is not JSON is kept as is)."""
    if not isinstance(raw, str):
        return raw
    try:
        return _loads(raw)
    except json.JSONDecodeError:
        return raw


def parameters_from_source(source_code: str, function_name: str) -> tuple[str, ...] | None:
    """Parameter names of ``function_name`` defined in ``source_code`` (``self``/``cls`` dropped)."""
    try:
        tree = ast.parse(source_code)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function_name:
            args = node.args
            names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            return tuple(n for n in names if n not in ("self", "cls"))
    return None


def _captured(value: Any) -> Any:
    """A captured argument as the function received it: a message list that a backend stored as
    JSON text (Weaviate keeps non-scalar properties as text) is decoded; anything else is kept."""
    if isinstance(value, str) and value.startswith("[{"):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(decoded, list) and all(isinstance(m, dict) and "role" in m for m in decoded):
            return decoded
    return value


def _conversation(inputs: dict[str, Any], output: Any, status: str) -> tuple[dict[str, Any], Any]:
    """A ``messages`` function's inputs and reply in the canonical conversation shape; a row whose
    messages are malformed is kept as it is (its example then names it)."""
    if not is_conversation_input(inputs):
        return inputs, output
    try:
        return normalise_conversation(inputs, output, strict_reply=status == STATUS_SUCCESS)
    except ConversationError:
        return inputs, output


def _status(properties: Mapping[str, Any]) -> str:
    """A row's status as its log holds it (upper case; empty when VectorWave wrote none)."""
    return str(properties.get("status", "")).upper()


def _timestamp(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.isoformat()
    return str(raw)


def vectorwave_object_to_log(
    uuid: Any, properties: Mapping[str, Any], vector: Any, parameters: Sequence[str] | None = None
) -> ExecutionLog:
    """Convert one VectorWave execution (any generation) into an :class:`ExecutionLog`.

    A function that takes ``messages`` (a chat prompt) gives a conversation log: its messages
    (decoded where the backend kept them as JSON text) and reply in the canonical shape.

    Args:
        uuid: The object's uuid.
        properties: Its properties.
        vector: Its vector (list, ``{"default": [...]}`` or ``None``); one that is not a list
            of numbers is kept for the extractor to exclude by uuid.
        parameters: The function's parameter names, when known: only those become inputs, in
            signature order. Otherwise every non-VectorWave property is taken as an input.
    """
    return _to_log(uuid, properties, page_vectors([vector]).value(0), parameters)


def _to_log(uuid: Any, properties: Mapping[str, Any], vector: Any, parameters: Sequence[str] | None) -> ExecutionLog:
    """:func:`vectorwave_object_to_log` with the vector already converted."""
    if parameters:
        inputs = {name: _captured(properties[name]) for name in parameters if name in properties}
    else:
        inputs = {k: _captured(v) for k, v in properties.items() if k not in VECTORWAVE_STANDARD_PROPERTIES}
    status = _status(properties)
    inputs, output = _conversation(inputs, decode_return_value(properties.get("return_value")), status)
    return ExecutionLog(
        uuid=str(uuid),
        function_name=str(properties.get("function_name", "")),
        status=status,
        inputs=inputs,
        output=output,
        error_message=properties.get("error_message"),
        timestamp=_timestamp(properties.get("timestamp_utc")),
        vector=vector,
    )


def _plain_value(value: Any) -> bool:
    """Whether an input value renders as it is: text that is not a stored message list, a whole
    number, a finite float, a boolean or ``None``."""
    kind = type(value)
    if kind is str:
        return not value.startswith("[{")
    if kind is float:
        return math.isfinite(value)
    return kind in _PLAIN_SCALARS


def _plain(properties: Mapping[str, Any], parameters: Sequence[str] | None) -> bool:
    """Whether a row's input and output can be rendered, told without building its log: every
    input is a plain value (:func:`_plain_value`) and the return value is missing or JSON that
    decodes strictly (msgspec refuses NaN and infinities). Anything else is answered by building
    the log."""
    if parameters:
        for name in parameters:
            if not _plain_value(properties.get(name)):
                return False
    else:
        for key, value in properties.items():
            if key not in VECTORWAVE_STANDARD_PROPERTIES and not _plain_value(value):
                return False
    raw = properties.get("return_value")
    if raw is None:
        return True
    return type(raw) is str and strict_json(raw)


def vectorwave_page(
    uuids: Sequence[str],
    properties: Sequence[Mapping[str, Any]],
    vectors: PageVectors,
    parameters: Sequence[str] | None,
) -> LogPage:
    """A page of VectorWave rows whose logs are built when asked for (:class:`LogPage`)."""

    def build(row: int) -> ExecutionLog:
        return _to_log(uuids[row], properties[row], vectors.value(row), parameters)

    def renders(row: int) -> bool:
        return _plain(properties[row], parameters)

    return LogPage(uuids, [_status(p) for p in properties], vectors, build, renders)


def _raw_page(rows: Sequence[tuple[Any, Mapping[str, Any], Any]], parameters: Sequence[str] | None) -> LogPage:
    """The page of ``(uuid, properties, raw vector)`` rows, vectors converted in one pass."""
    return vectorwave_page(
        [str(uuid) for uuid, _, _ in rows],
        [properties for _, properties, _ in rows],
        page_vectors([vector for _, _, vector in rows]),
        parameters,
    )


def _pages(rows: Iterator[tuple[Any, Mapping[str, Any], Any]], size: int) -> Iterator[list[Any]]:
    while page := list(itertools.islice(rows, max(1, size))):
        yield page


def _cosine_hits(
    candidates: list[tuple[str, Any]], query: Sequence[float], min_similarity: float, limit: int
) -> list[NeighborHit]:
    q = np.asarray(query, dtype=np.float64)
    q_norm = float(np.linalg.norm(q))
    hits: list[NeighborHit] = []
    for uuid, raw in candidates:
        try:
            vector = extract_vector(raw)
        except (TypeError, ValueError, OverflowError):  # not a vector: never a neighbour
            continue
        if vector is None or vector.shape != q.shape or q_norm == 0.0:
            continue
        similarity = float(vector @ q / (np.linalg.norm(vector) * q_norm))
        if similarity >= min_similarity:
            hits.append(NeighborHit(uuid, similarity))
    hits.sort(key=lambda h: (-h.similarity, h.uuid))
    return hits[:limit]


def _remembered(
    answers: dict[str, tuple[str, ...] | None], function_name: str, lookup: Callable[[], tuple[str, ...] | None]
) -> tuple[str, ...] | None:
    """A function's parameter names as ``lookup`` reads them from VectorWave's functions
    collection, or ``None`` (inputs are then inferred from properties). Only an answer is kept in
    ``answers``: a lookup that failed (unreachable, no collection, an older schema) is asked again."""
    if function_name in answers:
        return answers[function_name]
    try:
        found = lookup()
    except Exception:  # inferred from properties this time, asked again next time
        return None
    answers[function_name] = found
    return found


def _weaviate_objects(collection: Any, page_size: int) -> Any:
    """A weaviate collection's objects with their vectors, ``page_size`` per request."""
    try:
        return collection.iterator(include_vector=True, cache_size=page_size)
    except TypeError:  # a client whose iterator takes no cache size
        return collection.iterator(include_vector=True)


def _checked_page_size(page_size: Any) -> int:
    """``page_size``, checked as ``[source] page_size`` is.

    Raises:
        ConfigError: Naming ``source.page_size`` and its bounds.
    """
    check_values(SourceConfig, "source", {"page_size": page_size})
    return int(page_size)


class VectorWaveLegacyAdapter:
    """VectorWave 0.2.x (``exec_col``/``golden_col`` weaviate collections) as a log source."""

    def __init__(self, manager: Any, *, page_size: int = DEFAULT_FETCH_PAGE) -> None:
        self._manager = manager
        self._col = manager.exec_col
        self._page_size = _checked_page_size(page_size)
        self._signatures: dict[str, tuple[str, ...] | None] = {}

    def _iter_all(self) -> Iterator[Any]:
        if hasattr(self._col, "iterator"):
            yield from _weaviate_objects(self._col, self._page_size)
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

    def _parameters(self, function_name: str) -> tuple[str, ...] | None:
        """The function's parameter names from its recorded source (:func:`_remembered`)."""
        client = getattr(self._manager, "client", None)
        if client is None or not hasattr(client, "collections"):
            return None
        name = getattr(getattr(self._manager, "settings", None), "COLLECTION_NAME", DEFAULT_FUNCTION_COLLECTION)

        def lookup() -> tuple[str, ...] | None:
            for obj in client.collections.get(name).iterator():
                if obj.properties.get("function_name") == function_name:
                    return parameters_from_source(obj.properties.get("source_code") or "", function_name)
            return None

        return _remembered(self._signatures, function_name, lookup)

    def list_functions(self) -> list[str]:
        return sorted({str(obj.properties.get("function_name", "")) for obj in self._iter_all()} - {""})

    def iter_pages(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[LogPage]:
        """The function's executions a page at a time (:class:`~vector_trainer.sources.pages.LogPage`)."""
        parameters = self._parameters(function_name)
        rows = (
            (obj.uuid, obj.properties, obj.vector)
            for obj in self._iter_all()
            if obj.properties.get("function_name") == function_name
        )
        for page in _pages(rows, batch_size):
            yield _raw_page(page, parameters)

    def iter_executions(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[ExecutionLog]:
        for page in self.iter_pages(function_name, batch_size=batch_size):
            yield from page.logs()

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        result = self._col.query.near_vector(
            near_vector=list(map(float, vector)),
            limit=limit * NEAR_VECTOR_OVERFETCH,
            distance=max(0.0, 1.0 - min_similarity),
            include_vector=True,
        )
        candidates = [
            (str(obj.uuid), obj.vector)
            for obj in getattr(result, "objects", result)
            if obj.properties.get("function_name") == function_name
        ]
        return _cosine_hits(candidates, vector, min_similarity, limit)

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        return bool(self._manager.register_as_golden(log_uuid, note=note, tags=list(tags or [])))


class VectorWaveStoreAdapter:
    """VectorWave 1.x (``store`` over Weaviate or LanceDB) as a log source.

    ``store.iterate`` returns no vectors. Where the backend allows, vectors are read in bulk
    (a LanceDB table scan with its vector column; a weaviate cursor with ``include_vector``);
    otherwise each row's vector is fetched with ``fetch_by_id(..., include_vector=True)``.
    """

    def __init__(self, manager: Any, *, page_size: int = DEFAULT_FETCH_PAGE) -> None:
        self._manager = manager
        self._store = manager.store
        settings = getattr(manager, "settings", None)
        self._collection = getattr(settings, "EXECUTION_COLLECTION_NAME", DEFAULT_EXECUTION_COLLECTION)
        self._golden = getattr(settings, "GOLDEN_COLLECTION_NAME", DEFAULT_GOLDEN_COLLECTION)
        self._functions = getattr(settings, "COLLECTION_NAME", DEFAULT_FUNCTION_COLLECTION)
        self._page_size = _checked_page_size(page_size)
        self._signatures: dict[str, tuple[str, ...] | None] = {}

    def _lance_pages(self, function_name: str, parameters: Sequence[str] | None, size: int) -> Iterator[LogPage]:
        """LanceDB's table scanned a record batch at a time, each batch's rows of the function
        one page, their vectors one block straight from the vector column."""
        table = self._store._open(self._collection).to_arrow()
        for batch in table.to_batches(max_chunksize=max(1, size)):
            names = batch.schema.names
            columns = batch.select([name for name in names if name != "vector"]).to_pylist()
            properties = [_loads(payload) if (payload := row.get("payload")) else {} for row in columns]
            keep = [i for i, props in enumerate(properties) if props.get("function_name") == function_name]
            if not keep:
                continue
            if "vector" in names:
                column = batch.column("vector")
                vectors = arrow_vectors(column if len(keep) == batch.num_rows else column.take(keep))
            else:
                vectors = page_vectors([None] * len(keep))
            uuids = [str(columns[i]["uuid"]) for i in keep]
            yield vectorwave_page(uuids, [properties[i] for i in keep], vectors, parameters)

    def _rows(self) -> Iterator[tuple[str, dict[str, Any], Any]]:
        """Every execution row as ``(uuid, properties, raw vector)`` from a weaviate client or the
        store's ``iterate`` (whose rows carry no vector), ``page_size`` per request."""
        client = getattr(self._store, "_client", None)
        if client is not None and hasattr(client, "collections"):
            for obj in _weaviate_objects(client.collections.get(self._collection), self._page_size):
                yield str(obj.uuid), dict(obj.properties), obj.vector
            return
        for record in self._store.iterate(self._collection, batch_size=self._page_size):
            yield str(record.uuid), dict(record.properties), record.vector

    def _vector_of(self, uuid: str, vector: Any) -> Any:
        if vector is not None:
            return vector
        full = self._store.fetch_by_id(self._collection, uuid, include_vector=True)
        return getattr(full, "vector", None) if full is not None else None

    def _parameters(self, function_name: str) -> tuple[str, ...] | None:
        """The function's parameter names from its recorded source (:func:`_remembered`)."""

        def lookup() -> tuple[str, ...] | None:
            records = self._store.query(self._functions, filters={"function_name": function_name}, limit=1)
            record = next(iter(records), None)
            if record is None:
                return None
            return parameters_from_source(record.properties.get("source_code") or "", function_name)

        return _remembered(self._signatures, function_name, lookup)

    def list_functions(self) -> list[str]:
        names = {
            str(record.properties.get("function_name", ""))
            for record in self._store.iterate(self._collection, batch_size=self._page_size)
        }
        return sorted(names - {""})

    def iter_pages(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[LogPage]:
        """The function's executions a page at a time (:class:`~vector_trainer.sources.pages.LogPage`):
        from LanceDB a table scan with its vector column; from a weaviate client a cursor with
        vectors; otherwise the store's rows, each vector fetched by id."""
        parameters = self._parameters(function_name)
        store = self._store
        if getattr(store, "backend_name", "") == "lance" and hasattr(store, "_open"):
            yield from self._lance_pages(function_name, parameters, batch_size)
            return
        rows = (
            (uuid, properties, self._vector_of(uuid, vector))
            for uuid, properties, vector in self._rows()
            if properties.get("function_name") == function_name
        )
        for page in _pages(rows, batch_size):
            yield _raw_page(page, parameters)

    def iter_executions(self, function_name: str, *, batch_size: int = DEFAULT_FETCH_PAGE) -> Iterator[ExecutionLog]:
        for page in self.iter_pages(function_name, batch_size=batch_size):
            yield from page.logs()

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        records = self._store.near_vector(
            self._collection,
            list(map(float, vector)),
            filters={"function_name": function_name},
            limit=limit * NEAR_VECTOR_OVERFETCH,
            include_vector=True,
        )
        candidates = [(str(r.uuid), r.vector) for r in records if r.properties.get("function_name") == function_name]
        return _cosine_hits(candidates, vector, min_similarity, limit)

    def _golden_collection_missing(self) -> bool:
        """Whether the store says its golden collection does not exist yet (``False`` when it cannot say)."""
        exists = getattr(self._store, "collection_exists", None)
        try:
            return callable(exists) and not exists(self._golden)
        except Exception:
            return False

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        """Register once: a log already in the golden collection is skipped (``False``), since
        not every backend refuses the duplicate itself.

        Raises:
            VectorTrainerError: If the store cannot say whether the log is registered (and the
                golden collection exists): nothing is written rather than perhaps a duplicate.
        """
        try:
            existing = self._store.query(self._golden, filters={"original_uuid": str(log_uuid)}, limit=1)
        except Exception as exc:
            if not self._golden_collection_missing():
                raise VectorTrainerError(
                    f"log {log_uuid}: cannot check whether it is already golden in '{self._golden}' "
                    f"({redact(f'{type(exc).__name__}: {exc}')}); nothing was registered, run again when the store "
                    "answers"
                ) from None
            existing = []  # no golden collection yet: nothing is registered
        if existing:
            return False
        return bool(self._manager.register_as_golden(log_uuid, note=note, tags=list(tags or [])))
