"""Ingest throughput against the plain path, in the same run (issue 17).

The plain path is what any importer must do at least: ``json.loads`` each line, turn its vector
into float32 bytes, and ``executemany`` the rows into the same SQLite schema in one
transaction, with no validation. ``vectortrainer ingest`` adds strict JSON, per-record
validation with ``file:line`` errors, derived uuids, duplicate handling and vector checks.
Ingest decodes lines with msgspec (``sources/record_lines.py``), so the same plain path with
msgspec's decoder in place of ``json.loads`` is timed too (``plain_msgspec``): its ratio is what
the validation itself costs. Each path imports the same file into fresh stores and is timed as
the median of ``--repeat`` runs.

    python bench/ingest.py                  # 50,000 records: real queries and MiniLM vectors
    python bench/ingest.py --n 20000 --synthetic
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from density import SHARED_DATA
from vector_trainer.sources.embedders import HashingEmbedder
from vector_trainer.sources.ingest import ingest_file
from vector_trainer.sources.store import SQLiteLogStore


def real_rows() -> tuple[list[str], list[str], np.ndarray] | None:
    """The Banking77 queries (input), their intents (output) and MiniLM vectors, as float32."""
    try:
        rows = json.loads((SHARED_DATA / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
        vectors = np.load(SHARED_DATA / "banking77" / "banking77_minilm_f16.npy").astype(np.float32)
    except OSError:
        return None
    return [text for text, _, _ in rows], [intent for _, intent, _ in rows], vectors


def write_file(path: Path, n: int, dim: int, synthetic: bool) -> str:
    """``n`` records: the real queries, intents and vectors cycled (each with its own timestamp,
    as logs have), or generated ones; returns which."""
    real = None if synthetic else real_rows()
    rng = np.random.default_rng(0)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            if real is not None:
                texts, intents, vectors = real
                j = i % len(texts)
                question, answer, vector = texts[j], intents[j], vectors[j].tolist()
            else:
                question, answer, vector = f"question {i}", f"answer {i}", np.round(rng.normal(size=dim), 5).tolist()
            row = {
                "function_name": "faq",
                "input": {"question": question},
                "output": answer,
                "status": "SUCCESS",
                "timestamp": (start + timedelta(seconds=i)).isoformat(),
                "vector": vector,
            }
            handle.write(json.dumps(row) + "\n")
    return "real Banking77 queries and MiniLM vectors" if real is not None else "synthetic"


def plain_import(path: Path, db: Path, loads: Callable[[bytes], Any] = json.loads) -> int:
    """The floor: parse, convert, executemany in one transaction, no checks."""
    SQLiteLogStore(db).close()  # the same schema
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    rows = []
    count = 0
    with path.open("rb") as handle:
        for i, line in enumerate(handle):
            record = loads(line)
            vector = np.asarray(record["vector"], dtype="<f4")
            rows.append(
                (
                    f"u{i}",
                    record["function_name"],
                    record["status"],
                    json.dumps(record["input"]),
                    json.dumps(record["output"]),
                    None,
                    None,
                    vector.tobytes(),
                    vector.size,
                )
            )
            if len(rows) == 512:
                conn.executemany("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                count += len(rows)
                rows = []
    conn.executemany("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return count + len(rows)


def plain_msgspec_import(path: Path, db: Path) -> int:
    """The plain path with ingest's decoder."""
    return plain_import(path, db, msgspec.json.decode)


def engine_import(path: Path, db: Path) -> int:
    with SQLiteLogStore(db) as store:
        return ingest_file(path, store, HashingEmbedder()).inserted


def timed(runs: dict[str, Callable[[Path, Path], int]], path: Path, tmp: Path, repeat: int) -> dict[str, float]:
    """Median seconds of each import, the imports taking turns so that drift hits them alike."""
    times: dict[str, list[float]] = {label: [] for label in runs}
    for r in range(repeat):
        for label, run in runs.items():
            start = time.perf_counter()
            run(path, tmp / f"{label}{r}.db")
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--synthetic", action="store_true", help="generated records instead of ../shared/data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "logs.jsonl"
        data = write_file(path, args.n, args.dim, args.synthetic)
        file_mib = path.stat().st_size / 2**20
        runs = {"plain": plain_import, "plain_msgspec": plain_msgspec_import, "ingest": engine_import}
        median = timed(runs, path, tmp, args.repeat)
    plain, plain_msgspec, ours = median["plain"], median["plain_msgspec"], median["ingest"]
    report = {
        "records": args.n,
        "data": data,
        "file_MiB": round(file_mib, 1),
        "plain_s": round(plain, 2),
        "ingest_s": round(ours, 2),
        "ratio": round(ours / plain, 3),
        "plain_msgspec_s": round(plain_msgspec, 2),
        "ratio_to_plain_msgspec": round(ours / plain_msgspec, 3),
        "ingest_records_per_s": round(args.n / ours),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
