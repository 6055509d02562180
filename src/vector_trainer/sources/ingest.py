"""Import execution records from JSONL or CSV into the embedded store.

Record format (one JSON object per line, or one CSV row with these columns):

===============  ========  ==========================================================
field            required  meaning
===============  ========  ==========================================================
function_name    yes       the function (LLM feature) that produced the log
input            yes       the user input: a string, an object of named arguments, or
                           a conversation: ``{"messages": [...], "tools": [...]}`` (a
                           bare list of chat messages is read as ``{"messages": ...}``)
output           SUCCESS   the returned value (any JSON value); for a conversation,
                           the reply text or an assistant message (``tool_calls``);
                           ``return_value`` as VectorWave's JSON text is accepted instead
status           yes       SUCCESS, ERROR, FAILURE or ANOMALY (case-insensitive)
uuid             no        stable id; default: derived from the record's content
vector           no        embedding, a list of finite numbers (CSV: a JSON array)
timestamp        no        ISO-8601 time of the call
error_message    no        error text of a failed call
===============  ========  ==========================================================

An import is all-or-nothing: the first bad record aborts it with ``file:line: what is wrong``
and nothing of that import is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import uuid as uuid_lib
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from vector_trainer._shared import VECTOR_PROBLEM_HELP, array_problem
from vector_trainer.chatml import PLAIN_INPUT_KEY
from vector_trainer.conversation import MESSAGES_KEY, ConversationError, is_conversation_input, normalise_conversation
from vector_trainer.errors import InputError
from vector_trainer.fileio import MAX_NESTING, loads_strict, too_deep
from vector_trainer.sources.embedders import Embedder
from vector_trainer.sources.formats import convert
from vector_trainer.sources.raw_files import iter_raw_objects
from vector_trainer.sources.store import DEFAULT_ON_DUPLICATE, ImportSummary, SQLiteLogStore, StoredRecord
from vector_trainer.sources.views import EmbeddingView, embed_logs, embedding_space
from vector_trainer.types import KNOWN_STATUSES, STATUS_SUCCESS, ExecutionLog

#: Namespace for uuids derived from record content, so re-imports do not duplicate.
RECORD_UUID_NAMESPACE = uuid_lib.UUID("6f1c63e4-3b0e-4d7e-9a51-7c0d2b8f4a10")
PROVIDED_VECTOR_SPACE = "provided"
#: Longest accepted uuid; real ids (UUIDs, hashes, database keys) are far shorter.
MAX_UUID_CHARS = 256
#: Records embedded and written per step of a streaming import.
EMBED_BATCH_SIZE = 512


#: Element types a vector may hold (exactly: ``bool`` is an ``int`` subclass and is refused).
_NUMBER_TYPES = frozenset({int, float})


def content_uuid(text: str) -> str:
    """``str(uuid.uuid5(RECORD_UUID_NAMESPACE, text))``, without building ``UUID`` objects (a
    third of the time; the import derives one per record that has no uuid)."""
    digest = bytearray(hashlib.sha1(RECORD_UUID_NAMESPACE.bytes + text.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _fail(where: str, message: str) -> InputError:
    return InputError(f"{where}: {message}")


def _parse_vector(raw: Any, where: str) -> np.ndarray | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = loads_strict(raw)
        except ValueError as exc:
            raise _fail(where, f"'vector' is not a JSON array: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise _fail(where, "'vector' must be a non-empty list of numbers")
    try:  # numbers only (bool is not one here), integers as floats, in one pass in C
        numbers = msgspec.convert(raw, list[float])
    except msgspec.ValidationError as exc:
        position, value = next(((p, v) for p, v in enumerate(raw) if type(v) not in _NUMBER_TYPES), (None, None))
        if position is not None:
            raise _fail(where, f"'vector'[{position}] is {value!r}, not a number") from exc
        raise _fail(where, f"'vector' is unusable: {VECTOR_PROBLEM_HELP['non_finite_vector']}") from exc
    vector = np.asarray(numbers, dtype=np.float64)
    problem = array_problem(vector)
    if problem == "non_finite_vector" and not np.isfinite(vector).all():
        position = int(np.argmin(np.isfinite(vector)))
        raise _fail(where, f"'vector'[{position}] is {raw[position]!r}; vectors must be finite (no NaN or inf)")
    if problem is not None:
        raise _fail(where, f"'vector' is unusable: {VECTOR_PROBLEM_HELP[problem]}")
    return vector.astype(np.float32)


def _nesting_problem(record: Mapping[str, Any]) -> str | None:
    """The first field (other than ``vector``, checked on its own) nested deeper than
    :data:`MAX_NESTING`, or ``None``: a record that passes can be encoded and decoded again."""
    return next((key for key, value in record.items() if key != "vector" and too_deep(value, MAX_NESTING)), None)


def _parse_timestamp(raw: Any, where: str) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise _fail(where, f"'timestamp' must be an ISO-8601 string, got {raw!r}")
    try:
        datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _fail(where, f"'timestamp' {raw!r} is not ISO-8601 (e.g. 2026-11-21T05:00:00Z)") from exc
    return raw


def _parse_output(record: Mapping[str, Any], where: str) -> tuple[bool, Any]:
    if "output" in record:
        return True, record["output"]
    if "return_value" in record and record["return_value"] is not None:
        raw = record["return_value"]
        if not isinstance(raw, str):
            return True, raw
        try:
            return True, loads_strict(raw)
        except ValueError as exc:
            raise _fail(where, f"'return_value' is not JSON text: {exc}; use 'output' for plain text") from exc
    return False, None


def _conversation_fields(
    inputs: dict[str, Any], output: Any, where: str, *, strict_reply: bool
) -> tuple[dict[str, Any], Any]:
    """A conversation's inputs and reply in the canonical shape (:mod:`vector_trainer.conversation`).
    Only a SUCCESS log's reply must be one to learn from; a failed call's (a refusal, a filtered
    or empty reply) is kept as logged."""
    if not is_conversation_input(inputs):
        raise _fail(where, "'input.messages' must be a non-empty list of chat messages ({'role', 'content'})")
    try:
        return normalise_conversation(inputs, output, strict_reply=strict_reply)
    except ConversationError as exc:
        raise _fail(where, str(exc)) from None


#: Field names other tools use, and ours.
FIELD_ALIASES = {
    "prompt": "input", "query": "input", "question": "input", "request": "input", "instruction": "input",
    "response": "output", "completion": "output", "answer": "output", "reply": "output", "result": "output",
    "function": "function_name", "name": "function_name", "feature": "function_name", "state": "status",
}  # fmt: skip


def _field_hint(record: Mapping[str, Any]) -> str:
    """A pointer for a record in another shape: a chat or trace format, or fields named otherwise."""
    if "messages" in record or "resourceSpans" in record or "request" in record:
        return (
            "; this looks like a conversation log: ingest detects OpenAI request logs, chat files, OTLP spans and "
            "Langfuse exports from the first line, or name one with --format (see the README's Conversations)"
        )
    renames = [f"'{ours}' for '{key}'" for key, ours in FIELD_ALIASES.items() if key in record and ours not in record]
    return f"; did you mean {', '.join(renames)}?" if renames else ""


def _record_inputs(record: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A record's ``input`` as named arguments (a string, an object, or a message list)."""
    if "input" not in record or record["input"] is None:
        raise _fail(where, "missing field 'input' (a string, or an object of named arguments)" + _field_hint(record))
    raw_input = record["input"]
    if isinstance(raw_input, str):
        return {PLAIN_INPUT_KEY: raw_input}
    if isinstance(raw_input, dict) and raw_input:
        return dict(raw_input)
    if isinstance(raw_input, list) and raw_input:
        return {MESSAGES_KEY: raw_input}
    raise _fail(where, "'input' must be a string, a non-empty object of named arguments, or a message list")


def _record_status(record: Mapping[str, Any], where: str) -> str:
    """A record's ``status``, upper-cased and known."""
    status_raw = record.get("status")
    if not isinstance(status_raw, str) or not status_raw.strip():
        raise _fail(where, f"missing field 'status' (one of {', '.join(sorted(KNOWN_STATUSES))})")
    status = status_raw.strip().upper()
    if status not in KNOWN_STATUSES:
        raise _fail(where, f"unknown status {status_raw!r}; use one of {', '.join(sorted(KNOWN_STATUSES))}")
    return status


def _record_uuid(raw_uuid: Any, where: str) -> str:
    """A record's own ``uuid``, stripped and bounded."""
    if not isinstance(raw_uuid, str):
        raise _fail(where, "'uuid' must be a string")
    log_uuid = raw_uuid.strip()
    if not log_uuid:
        raise _fail(where, "'uuid' is blank; give a real id, or leave the field out to derive one")
    if len(log_uuid) > MAX_UUID_CHARS:
        raise _fail(where, f"'uuid' is {len(log_uuid)} characters; at most {MAX_UUID_CHARS} are allowed")
    return log_uuid


def parse_record(record: Mapping[str, Any], where: str) -> ExecutionLog:
    """Validate one raw record and turn it into an :class:`ExecutionLog` (vector possibly None).

    Args:
        record: The decoded JSON object or CSV row.
        where: ``file:line`` used in error messages.

    Raises:
        InputError: Naming ``where`` and the offending field.
    """
    deep = _nesting_problem(record)
    if deep is not None:
        raise _fail(
            where, f"'{deep}' is nested more than {MAX_NESTING} levels deep; flatten it or store it as a string"
        )
    function_name = record.get("function_name")
    if not isinstance(function_name, str) or not function_name.strip():
        raise _fail(where, "missing field 'function_name' (a non-empty string)" + _field_hint(record))
    inputs = _record_inputs(record, where)
    status = _record_status(record, where)
    has_output, output = _parse_output(record, where)
    if status == STATUS_SUCCESS and (not has_output or output is None):
        raise _fail(where, "missing field 'output' (required for SUCCESS records)")
    if MESSAGES_KEY in inputs:
        inputs, output = _conversation_fields(inputs, output, where, strict_reply=status == STATUS_SUCCESS)
    error_message = record.get("error_message")
    if error_message is not None and not isinstance(error_message, str):
        raise _fail(where, "'error_message' must be a string")
    raw_uuid = record.get("uuid")
    if raw_uuid in (None, ""):
        content = [function_name, inputs, output, status, record.get("timestamp")]
        log_uuid = content_uuid(json.dumps(content, sort_keys=True, ensure_ascii=False))
    else:
        log_uuid = _record_uuid(raw_uuid, where)
    return ExecutionLog(
        uuid=log_uuid,
        function_name=function_name.strip(),
        status=status,
        inputs=inputs,
        output=output,
        error_message=error_message or None,
        timestamp=_parse_timestamp(record.get("timestamp"), where),
        vector=_parse_vector(record.get("vector"), where),
    )


def iter_records(
    path: str | os.PathLike[str],
    *,
    unique: bool = False,
    log_format: str = "auto",
    function_name: str | None = None,
) -> Iterator[tuple[str, ExecutionLog]]:
    """Parse and validate the records of a JSONL/CSV file (``.gz`` allowed) one at a time.

    Args:
        path: The file.
        unique: Refuse a uuid that appears twice in the file (naming both lines).
        log_format: ``auto`` or one of :data:`~vector_trainer.sources.formats.LOG_FORMATS`
            (OpenAI request logs, chat files, OTLP JSON spans, Langfuse generations).
        function_name: The function of logs whose format names none (see
            :mod:`~vector_trainer.sources.formats`).

    Yields:
        ``(file:line, log)`` pairs in file order.

    Raises:
        InputError: At the first bad record, naming it; also for a missing or empty file.
    """
    file_path = Path(path)
    if not file_path.is_file():
        raise InputError(f"{file_path}: no such file")
    first_seen: dict[str, str] = {}
    count = 0
    objects = [0]

    def counted() -> Iterator[tuple[str, Mapping[str, Any]]]:
        for item in iter_raw_objects(file_path):
            objects[0] += 1
            yield item

    for where, raw in convert(counted(), log_format, function_name):
        log = parse_record(raw, where)
        count += 1
        if unique:
            if log.uuid in first_seen:
                raise _fail(where, f"uuid '{log.uuid}' already appears at {first_seen[log.uuid]}")
            first_seen[log.uuid] = where
        yield where, log
    if not count:
        hint = (
            f" ({objects[0]} objects read, none a chat call: spans without message content, or observations "
            "that are not generations; enable content capture in the instrumentation, e.g. "
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)"
            if objects[0]
            else ""
        )
        raise InputError(f"{file_path}: no records found{hint}")


def read_records(path: str | os.PathLike[str], **options: Any) -> list[tuple[str, ExecutionLog]]:
    """Every record of a file, validated (see :func:`iter_records`, which takes ``options``), as a list."""
    return list(iter_records(path, **options))


def _stored_batches(
    records: Iterator[tuple[str, ExecutionLog]],
    embedder: Embedder,
    view: EmbeddingView,
    vector_space: str,
    progress: Callable[[int, int], None],
) -> Iterator[StoredRecord]:
    done = embedded_count = 0
    space = embedding_space(embedder, view)
    while batch := list(itertools.islice(records, EMBED_BATCH_SIZE)):
        missing = [(where, log) for where, log in batch if log.vector is None]
        vectors = embed_logs(missing, embedder, view)
        done, embedded_count = done + len(batch), embedded_count + len(missing)
        progress(done, embedded_count)
        embedded = {log.uuid: vectors[i] for i, (_, log) in enumerate(missing)}
        for where, log in batch:
            if log.uuid not in embedded:
                yield StoredRecord(log=log, space=vector_space, source=where)
                continue
            yield StoredRecord(log=dataclasses.replace(log, vector=embedded[log.uuid]), space=space, source=where)


def ingest_file(
    path: str | os.PathLike[str],
    store: SQLiteLogStore,
    embedder: Embedder,
    *,
    vector_space: str = PROVIDED_VECTOR_SPACE,
    on_duplicate: str = DEFAULT_ON_DUPLICATE,
    on_progress: Callable[[int, int], None] | None = None,
    view: EmbeddingView | None = None,
    log_format: str = "auto",
    function_name: str | None = None,
) -> ImportSummary:
    """Validate, embed (where vectors are missing) and import a file in one transaction.

    The file is streamed in batches of :data:`EMBED_BATCH_SIZE`, so memory does not grow with
    its length; the import is still all-or-nothing.

    Args:
        path: JSONL or CSV file, optionally gzip-compressed.
        store: Destination store.
        embedder: Embeds the rendered input of records that carry no vector.
        vector_space: Name recorded for vectors that the file provides itself.
        on_duplicate: A uuid already stored or met earlier in the file is skipped (the default:
            repeated identical logs are normal), updated, or an ``error`` naming the record.
        on_progress: Called with ``(records read, records embedded)`` after each batch.
        view: Which text of a log is embedded (default: the last user turn of a conversation,
            the rendered input of any other log).
        log_format: ``auto`` (detected from the first record), or one of
            :data:`~vector_trainer.sources.formats.LOG_FORMATS`.
        function_name: For formats that carry no function name (OpenAI logs, chat files,
            traces): the function the logs belong to (default: the format's own guess).

    Raises:
        InputError: For the first bad record; the store is unchanged.
    """
    counts = [0]

    def progress(done: int, embedded: int) -> None:
        counts[0] = embedded
        if on_progress is not None:
            on_progress(done, embedded)

    chosen = view or EmbeddingView()
    records = iter_records(path, unique=on_duplicate == "error", log_format=log_format, function_name=function_name)
    summary = store.import_records(
        _stored_batches(records, embedder, chosen, vector_space, progress), on_duplicate=on_duplicate
    )
    embedded = counts[0]
    return dataclasses.replace(
        summary, embedded=embedded, embedder=embedder.name if embedded else None, view=chosen.name if embedded else None
    )
