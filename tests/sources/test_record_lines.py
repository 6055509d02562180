"""Issue 17: JSONL records decoded in C (sources/record_lines.py) read exactly as the strict
decoder reads them, and derived uuids stay uuid5."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vector_trainer.errors import InputError
from vector_trainer.fileio import iter_jsonl
from vector_trainer.sources.ingest import RECORD_UUID_NAMESPACE, content_uuid, parse_record
from vector_trainer.sources.record_lines import iter_record_lines

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12
)
VECTORS = st.lists(st.integers(-(10**6), 10**6) | st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8)
RECORDS = st.fixed_dictionaries(
    {
        "function_name": st.text(min_size=1),
        "input": st.text() | st.dictionaries(st.text(min_size=1), JSON_VALUES, min_size=1, max_size=3),
        "status": st.sampled_from(["SUCCESS", "error", "Failure"]),
    },
    optional={
        "output": JSON_VALUES,
        "vector": VECTORS | st.none() | JSON_VALUES,
        "uuid": st.text(max_size=20),
        "extra": JSON_VALUES,
        "timestamp": st.just("2026-11-01T10:00:00Z"),
    },
)


def _outcome(where: str, record: dict):
    """What the importer makes of a record: the log (vector as a list) or the error message."""
    try:
        log = parse_record(record, where)
    except InputError as exc:
        return ("error", str(exc))
    vector = None if log.vector is None else log.vector.tolist()
    return ("log", log.uuid, log.function_name, log.status, log.inputs, log.output, log.timestamp, vector)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=st.lists(RECORDS | JSON_VALUES, min_size=1, max_size=5))
def test_fast_decoder_reads_every_line_as_the_strict_decoder(tmp_path: Path, records: list) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=bool(i % 2)) + "\n" for i, r in enumerate(records)), encoding="utf-8"
    )
    try:
        strict = [_outcome(f"{path}:{n}", raw) for n, raw in iter_jsonl(path)]
    except InputError as exc:
        with pytest.raises(InputError) as fast_error:
            list(iter_record_lines(path))
        assert str(fast_error.value) == str(exc)
        return
    fast = [_outcome(where, record) for where, record in iter_record_lines(path)]
    assert fast == strict


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"vector": [true, 1.0], "vector": [1, 2.5]}', [1.0, 2.5]),  # msgspec refuses the first copy
        ('{"vector": [1, 2.5], "extra": {"deep": [1, {"x": null}]}}', [1.0, 2.5]),
        ('{"vector": "[1, 2.5]"}', [1.0, 2.5]),  # a vector as JSON text, as CSV writes it
    ],
)
def test_lines_the_fast_decoder_refuses_are_read_strictly(tmp_path: Path, line: str, expected: list) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text(line[:-1] + ', "function_name": "f", "input": "q", "output": "a", "status": "SUCCESS"}\n')
    [(where, record)] = list(iter_record_lines(path))
    assert where == f"{path}:1"
    np.testing.assert_array_equal(parse_record(record, where).vector, np.asarray(expected, dtype=np.float32))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_content_uuid_is_uuid5(text: str) -> None:
    assert content_uuid(text) == str(uuid.uuid5(RECORD_UUID_NAMESPACE, text))


def test_nesting_has_one_limit_on_every_path() -> None:
    """100 levels are read; 101 are refused by name, however the line was decoded."""
    from vector_trainer.fileio import MAX_NESTING

    record = {"function_name": "f", "input": "q", "status": "SUCCESS"}
    deep = json.loads("[" * MAX_NESTING + "]" * MAX_NESTING)
    assert parse_record({**record, "output": deep}, "x:1").output == deep
    with pytest.raises(InputError, match=r"x:1: 'extra' is nested more than 100 levels deep"):
        parse_record({**record, "output": 1, "extra": [deep]}, "x:1")
