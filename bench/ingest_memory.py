"""Peak memory of `ingest` as the file grows: streaming keeps it flat.

Each size runs in a fresh process (so peaks do not mix), writes a JSONL file of records with
384-d vectors (as a real embedder would give) and imports it into an empty store.

Usage: python bench/ingest_memory.py [--sizes 20000 80000] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _write_file(path: Path, n: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            vector = np.round(rng.normal(size=dim), 4).tolist()
            row = {"function_name": "faq", "input": f"question {i}", "output": f"answer {i}", "status": "SUCCESS"}
            handle.write(json.dumps({**row, "vector": vector}) + "\n")


def _child(path: str, store: str) -> None:
    from vector_trainer.sources.embedders import HashingEmbedder
    from vector_trainer.sources.ingest import ingest_file
    from vector_trainer.sources.store import SQLiteLogStore

    start = time.perf_counter()
    with SQLiteLogStore(store) as target:
        summary = ingest_file(path, target, HashingEmbedder())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"inserted": summary.inserted, "seconds": time.perf_counter() - start, "peak_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 80_000])
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"{'records':>8} {'file MiB':>9} {'seconds':>8} {'peak RSS MiB':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path, store = Path(tmp) / f"logs{n}.jsonl", Path(tmp) / f"store{n}.db"
            _write_file(path, n, args.dim)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(store)], check=True, capture_output=True, text=True
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            size = path.stat().st_size / 2**20
            print(f"{result['inserted']:>8} {size:>9.0f} {result['seconds']:>8.1f} {result['peak_mib']:>13.0f}")


if __name__ == "__main__":
    main()
