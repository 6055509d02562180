"""Logs passed from Python: records or arrays, no store, no file."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import clustered
from vector_trainer.errors import InputError
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.sources import InMemoryLogs
from vector_trainer.types import DatasetManagerProtocol


def test_records_are_validated_embedded_and_selected(tmp_path) -> None:
    records = [
        {"function_name": "faq", "input": f"How do I reset my password {i}?", "output": f"Reset link {i}.",
         "status": "success"}
        for i in range(30)
    ]  # fmt: skip
    records.append({"function_name": "faq", "input": "Where is the cafe?", "status": "ERROR", "error_message": "x"})
    logs = InMemoryLogs.from_records(records)
    assert isinstance(logs, DatasetManagerProtocol) and len(logs) == 31 and logs.list_functions() == ["faq"]
    result = DensityBasedExtractor(logs, top_k=5).extract("faq", tmp_path / "golden.jsonl")
    assert result.n_examples > 0 and (tmp_path / "golden.jsonl").is_file()
    with pytest.raises(InputError, match=r"record 1: missing field 'output'"):
        InMemoryLogs.from_records([records[0], {"function_name": "faq", "input": "x", "status": "SUCCESS"}])


def test_arrays_and_neighbour_search() -> None:
    vectors, labels = clustered([20, 20], dim=8)
    logs = InMemoryLogs.from_arrays("fn", vectors, [f"q{i}" for i in range(40)], [f"a{i}" for i in range(40)])
    hits = logs.near_vector("fn", vectors[3], limit=5)
    sims = vectors @ vectors[3] / np.linalg.norm(vectors, axis=1) / np.linalg.norm(vectors[3])
    assert [h.uuid for h in hits] == [f"fn-{i}" for i in np.argsort(-sims, kind="stable")[:5]]
    assert hits[0].uuid == "fn-3" and {int(h.uuid[3:]) for h in hits} <= set(np.flatnonzero(labels == labels[3]))
    assert logs.register_as_golden("fn-3") and not logs.register_as_golden("fn-3")
    with pytest.raises(InputError, match="one entry per log"):
        InMemoryLogs.from_arrays("fn", vectors, ["q"], ["a"])
    with pytest.raises(InputError, match=r"row 1: .*NaN"):
        bad = vectors.copy()
        bad[1, 0] = np.nan
        InMemoryLogs.from_arrays("fn", bad[:2], ["q0", "q1"], ["a0", "a1"])
