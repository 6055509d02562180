"""JSONL execution records decoded in C (msgspec), under the strict decoder's rules and messages.

A line is decoded straight into the record's known fields, and the decoder checks on the way
that ``vector`` is an array of numbers (no booleans, strings or nulls): for a record carrying a
384-number vector that is about a quarter of the standard library's time, and it leaves no
per-element type check to do in Python. msgspec accepts no more than
:func:`~vector_trainer.fileio.loads_strict` does (RFC 8259: no ``NaN`` or ``Infinity``, no lone
surrogate escapes, valid UTF-8, integers of at most 4,300 digits, nesting bounded by the
recursion limit, the last of repeated keys), so the fast path changes nothing that is read.
Whatever it refuses is decoded again by the strict decoder: a bad line gets the same
``file:line`` message as before, and a line only msgspec refuses (a key repeated with a bad
first value) is read as the standard library reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np

from vector_trainer.errors import InputError
from vector_trainer.fileio import decode_line, iter_byte_lines, loads_strict


class _RecordFields(msgspec.Struct):
    """The fields an execution record may carry (:mod:`.ingest`); others are skipped."""

    function_name: Any = msgspec.UNSET
    input: Any = msgspec.UNSET
    output: Any = msgspec.UNSET
    return_value: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    uuid: Any = msgspec.UNSET
    timestamp: Any = msgspec.UNSET
    error_message: Any = msgspec.UNSET
    vector: list[float] | None = None


_FIELDS = _RecordFields.__struct_fields__
#: One decoder for every line; configuration only, never changed after this line.
_DECODER = msgspec.json.Decoder(_RecordFields)


def iter_record_lines(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(file:line, record)`` for each non-blank line of a JSONL file (``.gz`` allowed).

    A record holds the known fields present on its line; a vector that the fast decoder read is
    a float64 array already checked to hold numbers only.

    Raises:
        InputError: ``file:line: ...`` for invalid UTF-8, invalid JSON or a line that is not an
            object, as :func:`~vector_trainer.fileio.iter_jsonl` says it.
    """
    name = os.fspath(path)
    for line_no, raw in iter_byte_lines(path):
        try:
            fields = _DECODER.decode(raw)
        except (msgspec.MsgspecError, RecursionError):
            record = _strict_record(raw, name, line_no)
            if record is not None:
                yield f"{name}:{line_no}", record
            continue
        record = {key: value for key in _FIELDS if (value := getattr(fields, key)) is not msgspec.UNSET}
        if fields.vector:
            record["vector"] = np.asarray(fields.vector, dtype=np.float64)
        yield f"{name}:{line_no}", record


def _strict_record(raw: bytes, name: str, line_no: int) -> dict[str, Any] | None:
    """A line the fast decoder refused, read by the strict one (``None`` for a blank line)."""
    text = decode_line(raw, name, line_no)
    if not text.strip():
        return None
    try:
        value = loads_strict(text)
    except ValueError as exc:
        raise InputError(f"{name}:{line_no}: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"{name}:{line_no}: expected a JSON object, got {type(value).__name__}")
    return value
