"""The Ray engine on one machine (a local Ray), against the exact and faiss engines (issue 16).

In one run:

1. **Scale** (default n = 200,000): the real Banking77 and NLU++ hotel MiniLM vectors of
   ../shared/data, repeated with small noise (each copy adds N(0, 0.02^2) per dimension, a
   paraphrase-like variant), threshold from ``epsilon="auto"``. Times of the exact engine, the
   faiss engine (as extraction uses it: calibrated, uncapped) and the Ray engine, and the Ray
   engine's neighbour-set recall, density errors and 10-nearest-list recall against exact over
   every node. Then the selection made from the exact graph on one machine against the
   distributed selection (per-cell picks, second round on the driver): the anomalies' overlap,
   the steady picks' overlap, and the facility-location objective both optimise,
   ``F(S) = mean_i max_{s in S} max(0, sim(i, s))``, evaluated exactly for each.
2. **Per-task throughput** of the scan tasks (similarities per second per task, rows received
   per log), the figures the scale plan in ADR.md is derived from.
3. **Quality on the dev protocol** (../shared/data/README.md): steady intents of 77 and anomaly
   P@200 of the distributed selection beside the single-machine selection and the baselines.

    python bench/distributed.py                 # n = 200,000, all CPUs
    python bench/distributed.py --n 50000 --cpus 2
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from selection_real import DEFAULT_DATA, facility_location_full, kmeans_medoids, knn_similarities, load, top
from vector_trainer.extractor.distributed.cells import probe_order, scan_cell, train_centroids
from vector_trainer.extractor.distributed.engine import RayEngine, connect
from vector_trainer.extractor.distributed.selection import ANOMALY_OVERSAMPLE, select_distributed
from vector_trainer.extractor.distributed.tasks import SteadyRound
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.faiss_ivf import FaissEngine
from vector_trainer.extractor.epsilon import EpsilonChoice, choose_epsilon
from vector_trainer.extractor.graph import GraphAnalysis
from vector_trainer.extractor.selection import select_anomalies, select_steady
from vector_trainer.types import ExecutionLog

COPY_NOISE = 0.02
TOP_K = 50
DEDUP, MIN_CLUSTER, ANOMALY_QUANTILE = 0.98, 3, 0.25


def repeated_real(n: int) -> np.ndarray:
    data = load(DEFAULT_DATA)
    base = np.vstack([data["bank"], data["hotels"]])
    rng = np.random.default_rng(5)
    copies = [base] + [
        base + COPY_NOISE * rng.standard_normal(base.shape, dtype=np.float32) for _ in range(n // len(base))
    ]
    return normalize_rows(np.vstack(copies)[:n])


def objective(X: np.ndarray, picks: list[int]) -> float:
    """Facility location ``F(S)`` per log, exactly (blocked products)."""
    P = X[np.asarray(picks)]
    total = 0.0
    for r0 in range(0, len(X), 65_536):
        total += float(np.maximum(X[r0 : r0 + 65_536] @ P.T, 0.0).max(axis=1).sum())
    return total / len(X)


def single_machine_selection(X: np.ndarray, exact, threshold: float, k: int = TOP_K) -> tuple[list[int], list[int]]:
    logs = tuple(ExecutionLog(uuid=f"{i:09d}", function_name="fn", status="SUCCESS", inputs={"input": f"log {i}"},
                              output=f"answer {i}") for i in range(len(X)))  # fmt: skip
    a = GraphAnalysis("fn", logs, X, exact, (), {"SUCCESS": len(X)}, len(X), EpsilonChoice(1 - threshold, "auto", ""))
    steady = select_steady(a, k, DEDUP, MIN_CLUSTER)
    anomalies = select_anomalies(a, steady, k, DEDUP, ANOMALY_QUANTILE)
    return [int(c.uuid) for c in steady], [int(c.uuid) for c in anomalies]


def distributed_selection(engine: RayEngine, X: np.ndarray, threshold: float, top_k: int = TOP_K):
    blocks = engine.put_blocks(X)
    scan = engine.scan(blocks, threshold, steady=SteadyRound(top_k, MIN_CLUSTER, DEDUP))
    steady, anomalies, graph = select_distributed(
        engine, scan, top_k=top_k, dedup_threshold=DEDUP, anomaly_quantile=ANOMALY_QUANTILE, n_total=len(X)
    )
    results = engine._gather(scan.results, "collect")
    return [p.row for p in steady], [p.row for p in anomalies], scan, results, graph


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def scale(n: int, engine: RayEngine) -> None:
    X = repeated_real(n)
    threshold = choose_epsilon(X, "auto").threshold
    print(
        f"\n== {n:,} real MiniLM vectors (14,080 real, then copies + N(0, {COPY_NOISE}^2)), threshold {threshold:.4f}"
    )
    exact, exact_s = timed(lambda: ExactEngine().density(X, threshold))
    faiss_engine = FaissEngine()
    faiss, faiss_s = timed(lambda: faiss_engine.density(X, threshold))
    ray_result, ray_s = timed(lambda: engine.density(X, threshold))
    has = exact.density > 0
    error = np.abs(ray_result.density - exact.density)[has] / exact.density[has]
    recall = ray_result.neighbor_count.sum() / exact.neighbor_count.sum()
    hits = sum(
        np.intersect1d(a, b).size for a, b in zip(exact.knn_index[:, :10], ray_result.knn_index[:, :10], strict=True)
    )
    print(f"mean neighbours {exact.neighbor_count.mean():.1f}; nodes with neighbours {has.mean():.1%}")
    print(f"exact engine      {exact_s:7.1f} s")
    print(f"faiss engine      {faiss_s:7.1f} s   ({faiss.note[:110]}...)")
    print(f"ray engine        {ray_s:7.1f} s   = {ray_s / faiss_s:.2f}x faiss, {ray_s / exact_s:.2f}x exact")
    print(f"  {ray_result.note}")
    print(f"  neighbour-set recall {recall:.4f}; density relative error mean {error.mean():.3%}, "
          f"median {np.median(error):.3%}, p99 {np.quantile(error, 0.99):.2%}; "
          f"share > 1% off {np.mean(error > 0.01):.2%}, > 2% off {np.mean(error > 0.02):.2%}; "
          f"total density {abs(ray_result.density.sum() / exact.density.sum() - 1):.3%} off")  # fmt: skip
    print(f"  10-nearest-list recall {hits / exact.knn_index[:, :10].size:.4f}")
    one_steady, one_anomalies = single_machine_selection(X, exact, threshold)
    (ray_steady, ray_anomalies, scan, results, graph), select_s = timed(
        lambda: distributed_selection(engine, X, threshold)
    )
    print(f"selection (top_k {TOP_K}): distributed scan + selection {select_s:.1f} s")
    print(
        f"  anomalies: {len(set(ray_anomalies) & set(one_anomalies))}/{len(one_anomalies)} the single-machine's "
        f"(ranking {'provably exact' if graph.anomalies_exact else 'not proven exact'})"
    )
    print(f"  steady: {len(set(ray_steady) & set(one_steady))}/{len(one_steady)} the same logs; "
          f"F(S) distributed {objective(X, ray_steady):.4f}, single machine {objective(X, one_steady):.4f}, "
          f"random {objective(X, list(np.random.default_rng(0).choice(n, TOP_K, replace=False))):.4f}")  # fmt: skip
    throughput(results, n, X.shape[1], scan)


def throughput(results, n: int, d: int, scan) -> None:
    pairs = np.array([r.pairs for r in results], dtype=np.float64)
    seconds = np.array([r.seconds for r in results])
    received = sum(r.received_rows for r in results)
    print(f"scan tasks: {len(results)}, {scan.probes.probes}/{scan.probes.cells} cells probed "
          f"({scan.probes.probes / scan.probes.cells:.1%}); similarities per log {pairs.sum() / n:,.0f} "
          f"({pairs.sum() / n / n:.2%} of n); rows received per log {received / n:.2f} "
          f"({received * d * 4 / n:,.0f} bytes/log)")  # fmt: skip
    print(f"  per task: {np.median(pairs / seconds) / 1e9:.2f} G similarities/s (median), "
          f"{(pairs * d * 2).sum() / seconds.sum() / 1e9:.1f} GFLOP/s over all tasks; "
          f"task times {seconds.min():.2f}-{seconds.max():.2f} s")  # fmt: skip


def protocol(engine: RayEngine) -> None:
    data = load(DEFAULT_DATA)
    train = data["split"] == "train"
    X, intents = data["bank"][train], data["intents"][train]
    print("\n== dev protocol (../shared/data/README.md), same run")
    t = choose_epsilon(X, "auto").threshold
    one_steady, _ = single_machine_selection(X, ExactEngine().density(X, t), t, 77)
    ray_steady, *_ = distributed_selection(engine, X, t, 77)
    steady = {
        "random": np.random.default_rng(0).choice(len(X), 77, replace=False),
        "k-means medoids (seed 0)": kmeans_medoids(X, 77, 0),
        "k-means medoids (seed 1)": kmeans_medoids(X, 77, 1),
        "greedy facility location (full matrix)": facility_location_full(X, 77),
        "VectorTrainer, one machine (exact graph)": np.asarray(one_steady),
        "VectorTrainer on Ray (cells, two rounds)": np.asarray(ray_steady),
    }
    print(f"steady coverage, 77 picks of {len(X):,} Banking77 train queries: intents covered of 77")
    for name, picks in steady.items():
        print(f"  {name:44s} {len(set(intents[picks].tolist())):>3d}")
    chosen = np.random.default_rng(0).choice(len(data["hotels"]), 200, replace=False)
    Y = np.vstack([X, data["hotels"][chosen]])
    is_new = np.arange(len(Y)) >= len(X)
    t = choose_epsilon(Y, "auto").threshold
    _, one_anomalies = single_machine_selection(Y, ExactEngine().density(Y, t), t, 200)
    _, ray_anomalies, *_ = distributed_selection(engine, Y, t, 200)
    sims = knn_similarities(Y, 10)
    anomalies = {
        "random": np.random.default_rng(0).choice(len(Y), 200, replace=False),
        "1-NN cosine distance": top(-sims[:, 0], 200),
        "mean similarity to 10 NN": top(-sims.mean(axis=1), 200),
        "VectorTrainer, one machine (exact graph)": np.asarray(one_anomalies),
        "VectorTrainer on Ray (cells, two rounds)": np.asarray(ray_anomalies),
    }
    print("anomaly precision, 200 picks of train + 200 hotel queries: P@200")
    for name, picks in anomalies.items():
        print(f"  {name:44s} {is_new[picks].sum() / 200:>5.2f}")


def plan(cpus_per_worker: int = 16, probes: int = 2) -> None:
    """Kernel timings at the shapes of a 10^8-log run, and the plan derived from them."""
    n, d = 10**8, 384
    cells = math.isqrt(n)
    cell_logs = n // cells
    X = repeated_real(3 * cell_logs)
    queries, candidates = X[:cell_logs], X[cell_logs : cell_logs * (1 + probes)]
    scan_cell(queries[:256], np.arange(256), candidates[:1024], np.arange(1024) + n, 0.87, 64)  # warm the kernels
    scan_s = float(np.median([timed(lambda: scan_cell(queries, np.arange(cell_logs), candidates,
                                                      np.arange(len(candidates)) + n, 0.87, 64))[1]
                              for _ in range(3)]))  # fmt: skip
    rng = np.random.default_rng(0)
    centroids = normalize_rows(rng.standard_normal((cells, d), dtype=np.float32))
    route_s = float(np.median([timed(lambda: probe_order(X[:16_384], centroids, probes))[1] for _ in range(3)]))
    sims_per_s = cell_logs * len(candidates) / scan_s
    route_per_s = 16_384 / route_s
    print(f"\n== scale plan for {n:,} logs x {d} (sqrt(n) = {cells:,} cells of {cell_logs:,} logs, {probes} probes)")
    print(
        f"one scan task (median of 3), {cell_logs:,} queries x {len(candidates):,} candidates: {scan_s:.2f} s = "
        f"{sims_per_s / 1e9:.2f} G similarities/s ({sims_per_s * 2 * d / 1e9:.0f} GFLOP/s) on one process"
    )
    print(f"routing 16,384 logs against {cells:,} centroids: {route_s:.2f} s = {route_per_s:,.0f} logs/s")
    sample, few = X[: 64 * 1000], 1000
    _, kmeans_s = timed(lambda: train_centroids(sample, few))
    driver_kmeans = kmeans_s * (64 * cells / len(sample)) * (cells / few)  # linear in points and in centroids
    print(f"k-means, {len(sample):,} logs into {few:,} centroids: {kmeans_s:.1f} s; at {64 * cells:,} logs into "
          f"{cells:,}: about {driver_kmeans / 60:.0f} min on the driver")  # fmt: skip
    scan_total = n * probes * cell_logs / sims_per_s
    route_total = 2 * n / route_per_s  # statistics and routing each rank the centroids
    rescore = ANOMALY_OVERSAMPLE * TOP_K * n / sims_per_s  # one batch of anomaly offers against every log
    for workers in (1, 8, 64):
        processes = workers * cpus_per_worker / 2  # each measured process used 2 cores
        spread = (scan_total + route_total + rescore) / processes
        print(f"  {workers:>3d} workers x {cpus_per_worker} CPUs: tasks {spread / 3600:6.2f} h "
              f"+ driver k-means {driver_kmeans / 3600:.2f} h = {(spread + driver_kmeans) / 3600:.2f} h")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--skip-protocol", action="store_true")
    parser.add_argument("--plan-only", action="store_true", help="only the kernel timings of the scale plan")
    args = parser.parse_args()
    _, start_s = timed(lambda: connect(None, args.cpus))
    print(f"local Ray with {args.cpus} CPUs started in {start_s:.1f} s (not counted below)")
    engine = RayEngine()
    if not args.plan_only:
        if not args.skip_protocol:
            protocol(engine)
        scale(args.n, engine)
    plan()


if __name__ == "__main__":
    main()
