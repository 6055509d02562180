"""Ingest throughput against the plain path, in the same run (issue 17).

The plain path is what any importer must do at least: ``json.loads`` each line, turn its vector
into float32 bytes, and ``executemany`` the rows into the same SQLite schema in one
transaction, with no validation. ``vectortrainer ingest`` adds strict JSON, per-record
validation with ``file:line`` errors, derived uuids, duplicate handling and vector checks.
Both import the same file into fresh stores; each is timed as the median of ``--repeat`` runs.

    python bench/ingest.py                  # 50,000 records with 384-d vectors
    python bench/ingest.py --n 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vector_trainer.sources.embedders import HashingEmbedder
from vector_trainer.sources.ingest import ingest_file
from vector_trainer.sources.store import SQLiteLogStore


def write_file(path: Path, n: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            row = {
                "function_name": "faq",
                "input": {"question": f"question {i}"},
                "output": f"answer {i}",
                "status": "SUCCESS",
                "vector": np.round(rng.normal(size=dim), 5).tolist(),
            }
            handle.write(json.dumps(row) + "\n")


def plain_import(path: Path, db: Path) -> int:
    """The floor: parse, convert, executemany in one transaction, no checks."""
    SQLiteLogStore(db).close()  # the same schema
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    rows = []
    count = 0
    with path.open(encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            record = json.loads(line)
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


def engine_import(path: Path, db: Path) -> int:
    with SQLiteLogStore(db) as store:
        return ingest_file(path, store, HashingEmbedder()).inserted


def timed(run, path: Path, tmp: Path, repeat: int, label: str) -> float:
    times = []
    for r in range(repeat):
        db = tmp / f"{label}{r}.db"
        start = time.perf_counter()
        run(path, db)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "logs.jsonl"
        write_file(path, args.n, args.dim)
        file_mib = path.stat().st_size / 2**20
        plain = timed(plain_import, path, tmp, args.repeat, "plain")
        ours = timed(engine_import, path, tmp, args.repeat, "ingest")
    report = {
        "records": args.n,
        "dim": args.dim,
        "file_MiB": round(file_mib, 1),
        "plain_s": round(plain, 2),
        "ingest_s": round(ours, 2),
        "ratio": round(ours / plain, 3),
        "ingest_records_per_s": round(args.n / ours),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
