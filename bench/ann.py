"""The ANN path (faiss IVF) against exact search, on real and on clustered vectors (issue 17).

For each data set, in one run:

* exact: ``ExactEngine`` (densities, counts, 64-nearest lists) and its time;
* ``FaissEngine`` as extraction uses it (probe count calibrated on a sample, density uncapped):
  its time, the probe count it chose, the recall it measured on its sample, and, against exact
  over **every** node: neighbour-set recall (an IVF search only misses neighbours, so recall is
  found neighbours over true neighbours), the share of nodes whose density is more than 1% off,
  the median relative density error, and the recall of its 64-nearest lists;
* when the calibration cannot meet the targets within 1/16 of the cells (wide neighbourhoods),
  the engine hands the work to the exact engine and says so: the figures are then exact;
* the old capped density (the sum over the 64 nearest only, what the engine reported before),
  for comparison.

Real vectors: the Banking77 and NLU++ hotel MiniLM vectors of ../shared/data repeated with small
noise; the threshold is ``epsilon="auto"``'s. Clustered: synthetic clusters at epsilon 0.3.

    python bench/ann.py                 # n = 100,000
    python bench/ann.py --n 200000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from density import SYNTHETIC_THRESHOLD, clustered_sphere, real_vectors
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.faiss_ivf import FaissEngine
from vector_trainer.extractor.epsilon import choose_epsilon

TOLERANCE = 0.01


def compare(X: np.ndarray, threshold: float) -> dict:
    start = time.perf_counter()
    exact = ExactEngine().density(X, threshold)
    exact_s = time.perf_counter() - start
    engine = FaissEngine()
    start = time.perf_counter()
    approx = engine.density(X, threshold)
    approx_s = time.perf_counter() - start
    has = exact.density > 0
    error = np.abs(approx.density - exact.density)[has] / exact.density[has]
    capped = np.where(exact.knn_similarity >= threshold - 1e-6, exact.knn_similarity, 0.0).sum(axis=1)
    capped_error = np.abs(capped - exact.density)[has] / exact.density[has]
    list_hits = sum(
        np.intersect1d(a[a >= 0], b[b >= 0]).size for a, b in zip(exact.knn_index, approx.knn_index, strict=True)
    )
    q = engine.quality
    return {
        "threshold": round(threshold, 4),
        "mean_neighbours": round(float(exact.neighbor_count.mean()), 1),
        "nodes_with_more_than_64_neighbours": round(float((exact.neighbor_count > 64).mean()), 4),
        "exact_s": round(exact_s, 1),
        "faiss_s": round(approx_s, 1),
        "faiss_over_exact": round(approx_s / exact_s, 3),
        "nprobe_chosen": f"{q.nprobe}/{q.nlist}",
        "targets_met_so_ann_used": q.met,
        "sample_recall": round(q.recall, 4),
        "neighbour_recall_all_nodes": round(float(approx.neighbor_count.sum() / max(exact.neighbor_count.sum(), 1)), 4),
        "share_density_off_by_over_1pct": round(float((error > TOLERANCE).mean()), 5),
        "median_density_error": float(np.median(error)),
        "knn_list_recall_at_64": round(list_hits / max(int((exact.knn_index >= 0).sum()), 1), 4),
        "capped_at_64_share_off_by_over_1pct": round(float((capped_error > TOLERANCE).mean()), 4),
        "note": approx.note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    X, origin = real_vectors(args.n)
    report = {"n": args.n, "real": {"vectors": origin} | compare(X, choose_epsilon(X, "auto").threshold)}
    print(json.dumps(report, indent=2), flush=True)
    synthetic = clustered_sphere(args.n, X.shape[1], max(10, args.n // 500), seed=1)
    print(json.dumps({"n": args.n, "clustered": compare(synthetic, SYNTHETIC_THRESHOLD)}, indent=2), flush=True)


if __name__ == "__main__":
    main()
