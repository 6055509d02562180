"""The ground floor's helpers that change process state put it back."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from conftest import ListSource, make_log
from vector_trainer._shared import bulk_reading
from vector_trainer.extractor.graph import load_logs


def test_bulk_reading_pauses_the_collector_and_restores_it_even_on_error() -> None:
    assert gc.isenabled()
    with bulk_reading():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), bulk_reading():
        raise RuntimeError("a source failed mid-read")
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk_reading():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_a_source_is_read_without_collections_and_the_collector_is_back_after() -> None:
    seen: list[bool] = []

    class Watching(ListSource):
        def iter_executions(self, function_name, *, batch_size=500):  # type: ignore[no-untyped-def]
            seen.append(gc.isenabled())
            yield from super().iter_executions(function_name, batch_size=batch_size)

    logs = [make_log(i, np.eye(4)[i % 4] + 0.01 * i) for i in range(12)]
    loaded = load_logs(Watching(logs), "fn", page_size=5)
    assert seen == [False] and gc.isenabled() and len(loaded.usable) == 12
