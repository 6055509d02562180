"""Selection quality benchmark (issue 3).

Clustered unit vectors (clusters of varied size and spread) plus injected outliers:

* steady-state coverage: the share of clusters that get at least one of the ``top_k`` steady
  picks, against random picks, top-k-by-density, and k-means medoids (scikit-learn);
* anomaly precision at k: the share of the ``k`` anomaly picks that are injected outliers,
  against scikit-learn's LocalOutlierFactor.

    python bench/selection_quality.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import LocalOutlierFactor

from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.types import ExecutionLog

DIM = 64
SIZES = [600, 400, 250, 150, 100, 60, 40, 25, 15, 10]
SPREADS = [0.45, 0.35, 0.6, 0.3, 0.5, 0.25, 0.4, 0.3, 0.2, 0.35]
N_OUTLIERS = 40


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors and labels (cluster id, or -1 for an injected outlier)."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for label, (size, spread) in enumerate(zip(SIZES, SPREADS, strict=True)):
        center = rng.standard_normal(DIM)
        center /= np.linalg.norm(center)
        noise = rng.standard_normal((size, DIM)) * (spread / np.sqrt(DIM))
        rows.append(center + noise)
        labels += [label] * size
    rows.append(rng.standard_normal((N_OUTLIERS, DIM)))
    labels += [-1] * N_OUTLIERS
    X = normalize_rows(np.vstack(rows))
    order = rng.permutation(len(X))
    return X[order], np.asarray(labels)[order]


def coverage(picks: np.ndarray, labels: np.ndarray) -> float:
    return len({int(labels[i]) for i in picks} - {-1}) / len(SIZES)


class ArraySource:
    """The benchmark data as a log source."""

    def __init__(self, X: np.ndarray) -> None:
        self.logs = [
            ExecutionLog(f"{i:07d}", "bench", "SUCCESS", {"q": f"q{i}"}, f"a{i}", vector=X[i]) for i in range(len(X))
        ]

    def list_functions(self) -> list[str]:
        return ["bench"]

    def iter_executions(self, function_name: str, *, batch_size: int = 500):
        return iter(self.logs)

    def near_vector(self, *args, **kwargs):
        raise NotImplementedError

    def register_as_golden(self, *args, **kwargs) -> bool:
        return False


def run(seed: int, top_k: int) -> dict[str, float]:
    X, labels = make_data(seed)
    index = {f"{i:07d}": i for i in range(len(X))}
    extractor = DensityBasedExtractor(ArraySource(X), top_k=top_k)
    ours = np.asarray([index[c.uuid] for c in extractor.select_steady_state("bench")])
    rng = np.random.default_rng(seed + 100)
    random_cov = np.mean([coverage(rng.choice(len(X), top_k, replace=False), labels) for _ in range(50)])
    density = ExactEngine().density(X, 0.7).density
    densest = np.lexsort((np.arange(len(X)), -density))[:top_k]
    km = KMeans(n_clusters=top_k, n_init=4, random_state=seed).fit(X)
    medoids = np.asarray([int(np.argmin(np.linalg.norm(X - c, axis=1))) for c in km.cluster_centers_])
    extractor.settings = dataclasses.replace(extractor.settings, top_k=N_OUTLIERS)
    anomalies = np.asarray([index[c.uuid] for c in extractor.select_anomalies("bench")])
    lof = LocalOutlierFactor(n_neighbors=20).fit(X)
    lof_top = np.argsort(lof.negative_outlier_factor_)[:N_OUTLIERS]
    return {
        "steady_coverage_ours": coverage(ours, labels),
        "steady_coverage_random": float(random_cov),
        "steady_coverage_top_density": coverage(densest, labels),
        "steady_coverage_kmeans_medoids": coverage(medoids, labels),
        "anomaly_precision_ours": float(np.mean(labels[anomalies] == -1)) if len(anomalies) else 0.0,
        "anomaly_picks_ours": len(anomalies),
        "anomaly_precision_lof": float(np.mean(labels[lof_top] == -1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    report = {}
    for top_k in (len(SIZES), 2 * len(SIZES)):
        runs = [run(seed, top_k) for seed in range(args.seeds)]
        report[f"top_k={top_k}"] = {key: round(float(np.mean([r[key] for r in runs])), 4) for key in runs[0]}
    report["data"] = {"clusters": SIZES, "spreads": SPREADS, "outliers": N_OUTLIERS, "dim": DIM, "seeds": args.seeds}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
