"""Density engine benchmark (issues 3 and 11).

1. Exact engine at n=50,000, d=384: time against the bare blocked NumPy product X @ X.T of the
   same sizes, measured in the same run, and peak memory of the density pass (a dense n x n
   float32 matrix would be 10 GB).
2. Whole selection at n=100,000, d=384 (real MiniLM vectors of ../shared/data, each repeated
   with small noise): the time of the density computation alone beside the time of the whole
   extraction (epsilon="auto" calibration, density with neighbour lists, steady picks,
   anomalies, dedup, ChatML export), and the extraction's peak memory.
3. ANN engine (faiss IVF) at n=1,000,000, d=384: wall time for index build plus density, and
   neighbour-set recall against exact neighbours on a sample of queries.

    python bench/density.py                  # all parts (the ANN part takes minutes)
    python bench/density.py --ann-n 0        # exact parts only
    python bench/density.py --n 20000 --selection-n 20000 --ann-n 200000   # smaller run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines import DEFAULT_BLOCK, ExactEngine, FaissEngine, normalize_rows
from vector_trainer.extractor.knn import choose_epsilon

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SELECTION_NOISE = 0.02

THRESHOLD = 0.7  # epsilon = 0.3
GIB = 1024**3


def clustered_sphere(n: int, d: int, n_clusters: int, seed: int) -> np.ndarray:
    """Unit vectors in clusters whose within-cluster similarity straddles the threshold."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, d), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    X = np.empty((n, d), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        labels = rng.integers(0, n_clusters, stop - start)
        noise = rng.standard_normal((stop - start, d), dtype=np.float32) * np.float32(0.55 / np.sqrt(d))
        block = centers[labels] + noise
        X[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return X


def bare_product(X: np.ndarray, block: int) -> float:
    """The reference: X @ X.T computed in row blocks of the same size, results discarded."""
    start = time.perf_counter()
    for i0 in range(0, len(X), block):
        _ = X[i0 : i0 + block] @ X.T
    return time.perf_counter() - start


def exact_part(n: int, d: int, block: int) -> dict:
    X = clustered_sphere(n, d, n_clusters=max(10, n // 500), seed=0)
    bare = bare_product(X, block)
    engine = ExactEngine(block=block)
    tracemalloc.start()
    start = time.perf_counter()
    result = engine.density(X, THRESHOLD)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "n": n,
        "d": d,
        "block": block,
        "bare_XXt_s": round(bare, 2),
        "density_s": round(elapsed, 2),
        "ratio": round(elapsed / bare, 3),
        "density_peak_extra_MiB": round(peak / 2**20, 1),
        "X_MiB": round(X.nbytes / 2**20, 1),
        "dense_nxn_GiB_avoided": round(n * n * 4 / GIB, 1),
        "mean_neighbours": float(result.neighbor_count.mean()),
    }


def real_vectors(n: int) -> tuple[np.ndarray, str]:
    """``n`` MiniLM vectors: the real Banking77 and hotel queries, then noisy copies of them."""
    try:
        base = np.vstack(
            [
                np.load(SHARED_DATA / "banking77" / "banking77_minilm_f16.npy"),
                np.load(SHARED_DATA / "nluplusplus_hotels" / "hotels_minilm_f16.npy"),
            ]
        ).astype(np.float32)
    except OSError:
        return clustered_sphere(n, 384, n_clusters=max(10, n // 500), seed=3), "synthetic (shared data not found)"
    rng = np.random.default_rng(3)
    copies = [
        base + SELECTION_NOISE * r * rng.standard_normal(base.shape, dtype=np.float32)
        for r in range(-(-n // len(base)))
    ]
    return normalize_rows(np.vstack(copies)[:n]), f"{len(base)} real MiniLM vectors and noisy copies"


def selection_part(n: int) -> dict:
    X, origin = real_vectors(n)
    threshold = choose_epsilon(X, "auto").threshold
    start = time.perf_counter()
    ExactEngine(knn=0).density(X, threshold)
    density_s = time.perf_counter() - start
    logs = as_logs(X)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = DensityBasedExtractor(MemorySource(logs), engine="exact").extract("fn", Path(out) / "golden.jsonl")
        whole_s = time.perf_counter() - start
        tracemalloc.start()  # a second, untimed run: tracing slows Python-level allocation
        DensityBasedExtractor(MemorySource(logs), engine="exact").extract("fn", Path(out) / "again.jsonl")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "n": n,
        "vectors": origin,
        "density_alone_s": round(density_s, 1),
        "whole_selection_s": round(whole_s, 1),
        "ratio": round(whole_s / density_s, 2),
        "examples_written": result.n_examples,
        "selection_peak_MiB": round(peak / 2**20),
        "X_MiB": round(X.nbytes / 2**20),
    }


def ann_part(n: int, d: int, sample: int) -> dict:
    X = clustered_sphere(n, d, n_clusters=max(10, n // 500), seed=1)
    engine = FaissEngine()
    start = time.perf_counter()
    result = engine.density(X, THRESHOLD)
    elapsed = time.perf_counter() - start
    rng = np.random.default_rng(2)
    queries = np.sort(rng.choice(n, sample, replace=False))
    ann_sims, ann_idx = engine.knn(X, queries)
    hits = total = 0
    density_errors = []
    for q0 in range(0, sample, 256):
        chunk = queries[q0 : q0 + 256]
        sims = X[chunk] @ X.T
        sims[np.arange(len(chunk)), chunk] = -np.inf
        for row, query_pos in enumerate(range(q0, q0 + len(chunk))):
            above = np.flatnonzero(sims[row] >= THRESHOLD - 1e-6)
            top = above[np.argsort(-sims[row][above], kind="stable")[: engine.k]]
            found = ann_idx[query_pos][ann_sims[query_pos] >= THRESHOLD - 1e-6]
            hits += len(np.intersect1d(top, found))
            total += len(top)
            exact_capped = float(np.sort(sims[row][above])[::-1][: engine.k].sum())
            if exact_capped > 0:
                density_errors.append(abs(result.density[chunk[row]] - exact_capped) / exact_capped)
    return {
        "n": n,
        "d": d,
        "engine": result.engine,
        "note": result.note,
        "build_and_density_s": round(elapsed, 1),
        "sample_queries": sample,
        "neighbour_set_recall_at_k": round(hits / max(total, 1), 4),
        "k": engine.k,
        "median_relative_density_error_vs_exact_top_k": round(float(np.median(density_errors)), 5)
        if density_errors
        else None,
        "mean_neighbours_found": float(result.neighbor_count.mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--d", type=int, default=384)
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    parser.add_argument("--selection-n", type=int, default=100_000)
    parser.add_argument("--ann-n", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=1_000)
    args = parser.parse_args()
    report = {"exact": exact_part(args.n, args.d, args.block)}
    print(json.dumps(report, indent=2), flush=True)
    if args.selection_n:
        report["selection"] = selection_part(args.selection_n)
        print(json.dumps(report["selection"], indent=2), flush=True)
    if args.ann_n:
        report["ann"] = ann_part(args.ann_n, args.d, args.sample)
        print(json.dumps(report["ann"], indent=2), flush=True)


if __name__ == "__main__":
    main()
