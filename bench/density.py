"""Exact density against its floor, faiss range search and the whole extraction (issues 3, 11, 17).

For each size, in one process and one run, on real MiniLM vectors (the Banking77 and NLU++ hotel
queries of ../shared/data, then noisy copies of them) and on clustered synthetic vectors:

* **floor**: the same tiles as the engine (the upper triangle of ``X X^T`` in ``block``-sized
  tiles, diagonal tiles included), products only, results discarded, one multi-threaded BLAS
  call per tile: what any exact method must at least compute;
* **floor_tile_threads**: the same products, a tile per core on one BLAS thread each, scheduled
  as the engine schedules them (``extractor/engines/exact/tiles.py``): where this is below ``floor``, the
  engine's own products run faster than BLAS's threads do on one tile;
* **engine**: ``ExactEngine`` as extraction runs it (64-nearest lists included), compiled pass
  (numba) on a tile per core, and on one thread (``engine_one_thread``: one multi-threaded BLAS
  call, then the kernel, per tile); with ``--numpy``, the NumPy reductions;
* **faiss_range**: faiss ``IndexFlatIP.range_search`` (exact), summed into densities;
* **extraction**: ``DensityBasedExtractor.extract`` end to end on the real vectors
  (``epsilon="auto"``, density and lists, steady picks, anomalies, dedup, ChatML export), and
  again with each text repeated 10 times (same text, same vector), where selection once grew
  as regions x members: ``rest_of_extraction_s`` should double with ``n``, not grow 9x.

Each figure is a wall time in seconds; ratios are against the floor, and the extraction's
against the engine. The densities of engine and faiss are compared (nodes whose count differs:
threshold-edge ties).

    python bench/density.py                  # 50k and 100k
    python bench/density.py --large          # also 200k
    python bench/density.py --sizes 20000 --numpy
    python bench/density.py --gpu            # the torch engine on CUDA at 10^6 (issue 31)

With ``--gpu`` each size is timed on the torch engine (density and 64-nearest lists, CUDA) beside
its floor on the same device (the tiles' products alone), with the peak device memory; the
engine is checked against the CPU exact engine on the first 20,000 rows (nodes whose count
differs: threshold-edge ties; list similarities compared).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import DEFAULT_BLOCK, normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.exact.tiles import blas_threads, run_tiles, single_threaded_blas, tile_order
from vector_trainer.extractor.epsilon import choose_epsilon
from vector_trainer.types import ExecutionLog

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
#: Standard deviation of the noise added to each copy of a real vector.
NOISE = 0.02
#: How often each log repeats in the duplicate-heavy extraction.
DUPLICATE_COPIES = 10
#: Threshold of the synthetic runs (epsilon 0.3); the real runs use epsilon="auto".
SYNTHETIC_THRESHOLD = 0.7


def clustered_sphere(n: int, d: int, n_clusters: int, seed: int) -> np.ndarray:
    """Unit vectors in clusters whose within-cluster similarity straddles the threshold."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, d), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    X = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, n_clusters, stop - start)
        noise = rng.standard_normal((stop - start, d), dtype=np.float32) * np.float32(0.55 / np.sqrt(d))
        block = centers[labels] + noise
        X[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return X


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
        return clustered_sphere(n, 384, max(10, n // 500), seed=3), "synthetic (../shared/data not found)"
    rng = np.random.default_rng(3)
    copies = [base + NOISE * r * rng.standard_normal(base.shape, dtype=np.float32) for r in range(-(-n // len(base)))]
    return normalize_rows(np.vstack(copies)[:n]), f"{len(base)} real MiniLM vectors, then noisy copies"


def floor(X: np.ndarray, block: int) -> float:
    """The engine's tiles, products only."""
    n = len(X)
    start = time.perf_counter()
    for i0 in range(0, n, block):
        rows = X[i0 : i0 + block]
        _ = rows @ rows.T.copy()
        for j0 in range(i0 + block, n, block):
            _ = rows @ X[j0 : j0 + block].T
    return time.perf_counter() - start


def floor_tile_threads(X: np.ndarray, block: int) -> float:
    """The engine's tiles, products only, on the engine's schedule: a tile per BLAS thread."""
    n_blocks = -(-len(X) // block)

    def product(i: int, j: int) -> None:
        rows = X[i * block : (i + 1) * block]
        _ = rows @ (rows.T.copy() if i == j else X[j * block : (j + 1) * block].T)

    workers = blas_threads()
    start = time.perf_counter()
    with single_threaded_blas(workers):
        run_tiles([(i, i) for i in range(n_blocks)] + tile_order(n_blocks), product, workers)
    return time.perf_counter() - start


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def faiss_range(X: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        import faiss
    except ImportError:
        return None
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    n = len(X)
    density, count = np.zeros(n), np.zeros(n, dtype=np.int64)
    for q0 in range(0, n, 4096):
        queries = np.arange(q0, min(n, q0 + 4096))
        lims, sims, idx = index.range_search(X[queries], threshold - 1e-6)
        owner = np.repeat(queries, np.diff(lims.astype(np.int64)))
        keep = idx != owner
        density += np.bincount(owner[keep], weights=sims[keep], minlength=n)
        count += np.bincount(owner[keep], minlength=n)
    return density, count


def measure(X: np.ndarray, threshold: float, block: int, with_numpy: bool) -> dict:
    ExactEngine(block=256, fused=True).density(X[:1000], threshold)  # load the compiled kernels
    floor_s = floor(X, block)
    tiles_floor_s = floor_tile_threads(X, block)
    result, engine_s = timed(lambda: ExactEngine(block=block, fused=True).density(X, threshold))
    _, one_thread_s = timed(lambda: ExactEngine(block=block, fused=True, workers=1).density(X, threshold))
    row = {
        "floor_s": round(floor_s, 2),
        "floor_tile_threads_s": round(tiles_floor_s, 2),
        "engine_s": round(engine_s, 2),
        "engine_ratio": round(engine_s / floor_s, 3),
        "engine_over_tile_threads_floor": round(engine_s / tiles_floor_s, 3),
        "engine_one_thread_ratio": round(one_thread_s / floor_s, 3),
    }
    if with_numpy:
        _, numpy_s = timed(lambda: ExactEngine(block=block, fused=False).density(X, threshold))
        row |= {"engine_numpy_s": round(numpy_s, 2), "engine_numpy_ratio": round(numpy_s / floor_s, 3)}
    ranged, range_s = timed(lambda: faiss_range(X, threshold))
    if ranged is not None:
        density, count = ranged
        row |= {
            "faiss_range_s": round(range_s, 2),
            "faiss_range_ratio": round(range_s / floor_s, 3),
            "nodes_whose_count_differs_from_faiss": int((count != result.neighbor_count).sum()),
            "max_density_difference": float(np.abs(density - result.density).max()),
        }
    row["mean_neighbours"] = round(float(result.neighbor_count.mean()), 1)
    return row


def duplicate_logs(X: np.ndarray, copies: int) -> tuple[list[ExecutionLog], np.ndarray]:
    """Every log repeated ``copies`` times, same text and same vector (the same question asked
    again), under distinct uuids: the case whose selection used to grow as regions x members."""
    distinct = -(-len(X) // copies)
    rows = np.arange(len(X)) % distinct
    logs = [
        ExecutionLog(f"{i:07d}", "fn", "SUCCESS", {"question": f"q{r}"}, f"a{r}", vector=X[r])
        for i, r in enumerate(rows.tolist())
    ]
    return logs, X[rows]


def extraction(X: np.ndarray, block: int, copies: int = 1) -> dict:
    """The whole extraction against the density pass alone, on ``X`` (``copies > 1``: on its
    first ``n / copies`` logs, each repeated ``copies`` times)."""
    logs, X = duplicate_logs(X, copies) if copies > 1 else (as_logs(X), X)
    threshold = choose_epsilon(X, "auto").threshold
    _, density_s = timed(lambda: ExactEngine(block=block).density(X, threshold))
    with tempfile.TemporaryDirectory() as out:
        extractor = DensityBasedExtractor(MemorySource(logs), engine="exact")
        result, whole_s = timed(lambda: extractor.extract("fn", Path(out) / "golden.jsonl"))
    return {
        "density_with_lists_s": round(density_s, 2),
        "extraction_s": round(whole_s, 2),
        "extraction_over_density": round(whole_s / density_s, 3),
        "rest_of_extraction_s": round(whole_s - density_s, 2),
        "examples_written": result.n_examples,
    }


GPU_CHECK_ROWS = 20_000


def gpu_report(X: np.ndarray, threshold: float) -> dict:
    """The torch engine on CUDA against its product floor, and against the CPU engine."""
    import torch

    from vector_trainer.extractor.engines.torch_exact import GPU_BLOCKS, TorchEngine

    if not torch.cuda.is_available():
        raise SystemExit("--gpu: torch sees no CUDA device")
    TorchEngine("cuda").density(X[:5000], threshold)  # warm up the kernels
    rows, cols = GPU_BLOCKS

    def products(Xd: torch.Tensor) -> None:
        for r0 in range(0, len(X), rows):
            for c0 in range(0, len(X), cols):
                (Xd[r0 : r0 + rows] @ Xd[c0 : c0 + cols].T).max()
        torch.cuda.synchronize()

    _, floor_s = timed(lambda: products(torch.from_numpy(X).cuda()))
    torch.cuda.reset_peak_memory_stats()
    result, engine_s = timed(lambda: TorchEngine("cuda").density(X, threshold))
    peak = torch.cuda.max_memory_allocated() / 2**20
    sub = X[:GPU_CHECK_ROWS]
    gpu, cpu = TorchEngine("cuda").density(sub, threshold), ExactEngine().density(sub, threshold)
    return {
        "device": torch.cuda.get_device_name(),
        "torch_engine_s": round(engine_s, 2),
        "product_floor_s": round(floor_s, 2),
        "engine_over_floor": round(engine_s / floor_s, 3),
        "peak_device_memory_mib": round(peak),
        "vectors_mib": round(X.nbytes / 2**20),
        "mean_neighbours": round(float(result.neighbor_count.mean()), 1),
        f"check_{GPU_CHECK_ROWS}_nodes_whose_count_differs": int((gpu.neighbor_count != cpu.neighbor_count).sum()),
        f"check_{GPU_CHECK_ROWS}_max_density_difference": float(np.abs(gpu.density - cpu.density).max()),
        f"check_{GPU_CHECK_ROWS}_max_list_similarity_difference": float(
            np.abs(gpu.knn_similarity - cpu.knn_similarity).max()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--large", action="store_true", help="add 200,000")
    parser.add_argument("--numpy", action="store_true", help="also time the NumPy reductions")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK)
    parser.add_argument("--gpu", action="store_true", help="time the torch engine on CUDA (default size 10^6)")
    args = parser.parse_args()
    sizes = [*args.sizes, 200_000] if args.large else args.sizes
    if args.gpu:
        for n in args.sizes if args.sizes != [50_000, 100_000] else [1_000_000]:
            X, origin = real_vectors(n)
            threshold = choose_epsilon(X, "auto").threshold
            report = {"n": n, "d": X.shape[1], "vectors": origin, "threshold": round(threshold, 4)}
            print(json.dumps(report | gpu_report(X, threshold), indent=2), flush=True)
        return
    for n in sizes:
        X, origin = real_vectors(n)
        threshold = choose_epsilon(X, "auto").threshold
        report = {"n": n, "d": X.shape[1], "real": {"vectors": origin, "threshold": round(threshold, 4)}}
        report["real"] |= measure(X, threshold, args.block, args.numpy)
        report["real"]["extraction"] = extraction(X, args.block)
        report["real"]["extraction_each_text_10_times"] = extraction(X, args.block, copies=DUPLICATE_COPIES)
        synthetic = clustered_sphere(n, X.shape[1], max(10, n // 500), seed=0)
        report["clustered"] = {"threshold": SYNTHETIC_THRESHOLD} | measure(
            synthetic, SYNTHETIC_THRESHOLD, args.block, args.numpy
        )
        print(json.dumps(report, indent=2), flush=True)


if __name__ == "__main__":
    main()
