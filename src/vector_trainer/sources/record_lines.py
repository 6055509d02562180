"""JSONL execution records decoded in C (msgspec), under the strict decoder's rules and messages.

msgspec decodes a record carrying a 384-number vector in about a quarter of the standard
library's time, and it accepts no more than :func:`~vector_trainer.fileio.loads_strict` does:
RFC 8259 (no ``NaN`` or ``Infinity``), valid UTF-8 and no lone surrogate escapes in every string
and key, integers within Python's digit limit, the last of repeated keys. Whatever it refuses
is decoded again by the strict decoder, so a bad line gets the same ``file:line`` message as
before. Nesting is bounded for both by :func:`~.ingest.parse_record` (``fileio.MAX_NESTING``), not by
how deep either decoder may recurse. The whole line is decoded, unknown fields included: a
decoder that skips a field checks less of it (UTF-8, integer sizes) than one that reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec

from vector_trainer.fileio import iter_byte_lines, json_object_line

#: One decoder for every line; configuration only, never changed after this line.
_DECODER = msgspec.json.Decoder()


def iter_record_lines(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(file:line, record)`` for each non-blank line of a JSONL file (``.gz`` allowed).

    Raises:
        InputError: ``file:line: ...`` for invalid UTF-8, invalid JSON or a line that is not an
            object, as :func:`~vector_trainer.fileio.iter_jsonl` says it.
    """
    name = os.fspath(path)
    for line_no, raw in iter_byte_lines(path):
        try:
            record = _DECODER.decode(raw)
        except (msgspec.MsgspecError, RecursionError):
            record = None
        if not isinstance(record, dict):  # refused, blank, or not an object: the strict reading
            record = json_object_line(raw, name, line_no)
            if record is None:
                continue
        yield f"{name}:{line_no}", record
