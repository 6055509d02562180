"""The raw objects of a log file, before any format is read from them: JSONL (``.gz`` too),
CSV (JSON cells decoded) and ``.json`` documents holding an array of objects."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from vector_trainer.errors import InputError
from vector_trainer.fileio import iter_text_lines, loads_strict
from vector_trainer.sources.record_lines import iter_record_lines

#: CSV columns whose cells are decoded when they hold a JSON object or array, so a record reads
#: (and derives its uuid) the same from CSV as from JSONL.
JSON_CELLS = ("input", "output")


def _json_cell(value: str) -> Any:
    """A CSV cell holding a JSON object or array, decoded; any other text stays text (so
    ``42`` or ``true`` remain the strings they were typed as)."""
    stripped = value.strip()
    if stripped[:1] not in ("{", "["):
        return value
    try:
        decoded = loads_strict(stripped)
    except ValueError:
        return value
    return decoded if isinstance(decoded, (dict, list)) else value


#: Delimiters a CSV export may use (spreadsheets in many locales write ``;``).
CSV_DELIMITERS = (",", ";", "\t")


def _delimiter(header: str) -> str:
    """The delimiter of a CSV file, from its header: the one that splits it most."""
    return max(CSV_DELIMITERS, key=header.count)


def iter_raw_objects(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(file:line, object)`` for each object of a log file, in order.

    Raises:
        InputError: ``file:line`` of a line that is not a JSON object, or malformed CSV.
    """
    name = os.fspath(path)
    suffixes = [s.lower() for s in path.suffixes]
    if ".csv" in suffixes:
        try:
            lines = (line for _, line in iter_text_lines(path))
            header = next(lines, "")
            reader = csv.DictReader(itertools.chain([header], lines), delimiter=_delimiter(header))
            for row in reader:
                cleaned = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                for key in JSON_CELLS:
                    if isinstance(cleaned.get(key), str):
                        cleaned[key] = _json_cell(cleaned[key])
                yield f"{name}:{reader.line_num}", cleaned
        except csv.Error as exc:
            raise InputError(f"{name}: malformed CSV ({exc})") from exc
        return
    if suffixes and suffixes[-1] == ".json":
        yield from _iter_json_document(path)
        return
    yield from iter_record_lines(path)


def _iter_json_document(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """A ``.json`` file that holds one JSON document (an array of objects, or one object), as an
    export UI downloads it; a ``.json`` file of one object per line is read as JSONL."""
    name = os.fspath(path)
    lines = iter_text_lines(path)
    first = next((line for _, line in lines if line.strip()), "")
    if not first.lstrip().startswith("["):
        yield from iter_record_lines(path)
        return
    try:
        document = loads_strict(first + "".join(line for _, line in lines))
    except ValueError as exc:
        raise InputError(f"{name}: not a JSON array of log objects ({exc})") from None
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise InputError(f"{name}[{index}]: not a JSON object")
        yield f"{name}[{index}]", item
