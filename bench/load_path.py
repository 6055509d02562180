"""The whole selection from VectorWave-shaped sources against a triangular GEMM (issue 31).

In one process, on ``--n`` real MiniLM vectors (the Banking77 and NLU++ hotel queries of
../shared/data, then noisy copies, as in ``bench/density.py``):

* **floor**: the upper triangle of ``X X^T`` in the engine's tiles, float32 products only;
* for each source, ``DensityBasedExtractor(source).extract`` end to end (read, checks, exact
  density and 64-nearest lists, steady picks, anomalies, dedup, ChatML export), and its ratio to
  the floor. The sources, each the real client's shape at the protocol level:

  - ``vectorwave 0.2 (weaviate objects)``: ``exec_col.iterator(include_vector=True)`` objects
    whose vector is ``{"default": [floats]}``;
  - ``vectorwave 1.x (LanceDB table)``: ``store._open(...).to_arrow()``, vectors a fixed-size list
    column of float32;
  - ``vectorwave 1.x (weaviate client)``: ``store._client.collections.get(...).iterator``;
  - ``per object (before issue 31)``: the 0.2 objects converted one at a time into whole logs,
    as every adapter did before sources handed the extractor pages of columns;
  - ``in memory``: :class:`~vector_trainer.sources.memory.InMemoryLogs` holding the same arrays.

Every source is timed in ``--rounds`` interleaved rounds, each right after a floor of its own (the
machine's speed drifts by up to 3x between minutes, and a floor minutes away says little):
``over_floor`` is the median of those paired ratios (``over_floor_by_round``), and
``over_fastest_floor`` the fastest selection over the fastest floor of the whole run.
``read_s`` is the part of a source's whole selection spent reading its logs into graph nodes
(``load_logs``), timed apart: what a source's shape costs (the Weaviate shapes hand over every
vector as Python floats).

    python bench/load_path.py [--n 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from _memory import MemorySource, as_logs
from density import floor, real_vectors
from vector_trainer.config import SourceConfig
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import DEFAULT_BLOCK
from vector_trainer.extractor.graph import load_logs
from vector_trainer.sources.vectorwave import (
    VectorWaveLegacyAdapter,
    VectorWaveStoreAdapter,
    vectorwave_object_to_log,
)

FUNCTION = "answer"
#: Seconds to wait after the floor's multi-threaded products, whose idle BLAS threads spin a while.
BLAS_REST_S = 0.5


def properties(i: int) -> dict[str, Any]:
    return {
        "function_name": FUNCTION,
        "status": "SUCCESS",
        "question": f"question {i}",
        "return_value": json.dumps(f"answer {i}"),
        "timestamp_utc": "2026-12-01T00:00:00Z",
    }


def weaviate_objects(X: np.ndarray) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(uuid=f"{i:08d}", properties=properties(i), vector={"default": row})
        for i, row in enumerate(X.tolist())
    ]


class Iterable:
    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects

    def iterator(self, include_vector: bool = False) -> Iterator[Any]:
        return iter(self.objects)


def legacy_manager(objects: list[Any]) -> Any:
    return SimpleNamespace(exec_col=Iterable(objects), client=None, settings=None)


def lance_manager(X: np.ndarray) -> Any:
    import pyarrow as pa

    vectors = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1), type=pa.float32()), X.shape[1])
    table = pa.table(
        {
            "uuid": [f"{i:08d}" for i in range(len(X))],
            "payload": [json.dumps(properties(i)) for i in range(len(X))],
            "vector": vectors,
        }
    )
    store = SimpleNamespace(
        backend_name="lance",
        _open=lambda name: SimpleNamespace(to_arrow=lambda: table),
        query=lambda *a, **k: [],
    )
    return SimpleNamespace(store=store, settings=None)


def weaviate_store_manager(objects: list[Any]) -> Any:
    collections = SimpleNamespace(get=lambda name: Iterable(objects))
    store = SimpleNamespace(backend_name="weaviate", _client=SimpleNamespace(collections=collections))
    store.query = lambda *a, **k: []
    return SimpleNamespace(store=store, settings=None)


class PerObject:
    """The 0.2 objects converted one at a time into whole logs (each vector its own
    ``np.asarray``), as every adapter did before issue 31; the extractor pages those logs."""

    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects

    def list_functions(self) -> list[str]:
        return [FUNCTION]

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[Any]:
        for obj in self.objects:
            if obj.properties.get("function_name") == function_name:
                yield vectorwave_object_to_log(obj.uuid, obj.properties, obj.vector["default"], None)

    def near_vector(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def register_as_golden(self, *args: Any, **kwargs: Any) -> bool:
        return False


def read(source: Any, function: str) -> float:
    """Seconds to read the function's logs into graph nodes (``load_logs``: pages, checks, vectors)."""
    start = time.perf_counter()
    load_logs(source, function, page_size=SourceConfig.page_size)
    return time.perf_counter() - start


def whole(source: Any, function: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = DensityBasedExtractor(source, engine="exact").extract(function, Path(out) / "golden.jsonl")
        return time.perf_counter() - start, result.n_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, each source after its own floor")
    args = parser.parse_args()
    X, origin = real_vectors(args.n)
    objects = weaviate_objects(X)
    sources = {
        "vectorwave 0.2 (weaviate objects)": (VectorWaveLegacyAdapter(legacy_manager(objects)), FUNCTION),
        "vectorwave 1.x (LanceDB table)": (VectorWaveStoreAdapter(lance_manager(X)), FUNCTION),
        "vectorwave 1.x (weaviate client)": (VectorWaveStoreAdapter(weaviate_store_manager(objects)), FUNCTION),
        "per object (before issue 31)": (PerObject(objects), FUNCTION),
        "in memory": (MemorySource(as_logs(X)), "fn"),
    }
    whole(MemorySource(as_logs(X[:2000])), "fn")  # compiled kernels loaded before any timing
    floors: dict[str, list[float]] = {name: [] for name in sources}
    times: dict[str, list[float]] = {name: [] for name in sources}
    reads: dict[str, list[float]] = {name: [] for name in sources}
    examples: dict[str, int] = {}
    for _ in range(args.rounds):  # interleaved: the machine's speed drifts
        for name, (source, function) in sources.items():
            floors[name].append(floor(X, args.block))  # right before the source it is compared with
            time.sleep(BLAS_REST_S)
            seconds, examples[name] = whole(source, function)
            times[name].append(seconds)
            reads[name].append(read(source, function))
    rows = [
        {
            "source": name,
            "over_floor": round(float(np.median(np.divide(runs, floors[name]))), 2),
            "over_floor_by_round": [round(t / f, 2) for t, f in zip(runs, floors[name], strict=True)],
            "over_fastest_floor": round(min(runs) / min(min(f) for f in floors.values()), 2),
            "whole_selection_s": round(min(runs), 2),
            "read_s": round(min(reads[name]), 2),
            "examples": examples[name],
        }
        for name, runs in times.items()
    ]
    all_floors = [f for runs in floors.values() for f in runs]
    report = {"n": len(X), "vectors": origin, "floor_s": [round(min(all_floors), 2), round(max(all_floors), 2)]}
    print(json.dumps({**report, "sources": rows}, indent=2))


if __name__ == "__main__":
    main()
