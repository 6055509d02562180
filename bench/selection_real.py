"""Selection quality on real data: VectorTrainer beside plain baselines, one run, with times.

Data and protocol: ``../shared/data/README.md`` (real customer queries, real all-MiniLM-L6-v2
vectors). Every figure below is computed in this run, for every method, on the same data:

1. Steady coverage (dev protocol): logs = the 10,003 Banking77 train queries; 77 picks; how many
   of the 77 intents they cover.
2. Anomaly precision (dev protocol): logs = the train queries + 200 NLU++ hotel queries
   (``default_rng(0).choice(997, 200)``); 200 picks; the share of hotel queries among them.
3. Checks of the same code on other data (nothing was tuned on them): steady coverage on the
   3,080 Banking77 *test* queries; anomaly precision with the roles swapped (the 997 hotel
   queries as the logs, 50 Banking77 queries as the new pattern, 50 picks).
4. Downstream utility with no LLM (issue 28): the k picks from the train queries, labelled with
   their intents, classify the 3,080 test queries by their most similar pick (1-nearest
   neighbour, cosine); accuracy at k = 77 and 154. Random is the mean of 5 seeds.

VectorTrainer runs with its defaults (``epsilon="auto"``); only ``top_k`` is set.

    python bench/selection_real.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.extractor.engines.exact.engine import ExactEngine

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
STEADY_PICKS, ANOMALY_PICKS, SWAPPED_NEW, SWAPPED_PICKS = 77, 200, 50, 50
UTILITY_BUDGETS = (77, 154)
RANDOM_SEEDS = (0, 1, 2, 3, 4)
FIXED_EPSILON = 0.3
KMEANS_SEEDS = (0, 1)
BLOCK = 1024


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    picks = np.asarray(fn())
    return picks, time.perf_counter() - start


# -- baselines ---------------------------------------------------------------------------------


def knn_similarities(X: np.ndarray, k: int) -> np.ndarray:
    """Each row's k largest similarities to other rows, descending (blocked, exact)."""
    out = np.empty((len(X), k), dtype=np.float32)
    for r0 in range(0, len(X), BLOCK):
        S = X[r0 : r0 + BLOCK] @ X.T
        S[np.arange(S.shape[0]), np.arange(r0, r0 + S.shape[0])] = -np.inf
        part = np.partition(S, S.shape[1] - k, axis=1)[:, -k:]
        out[r0 : r0 + BLOCK] = -np.sort(-part, axis=1)
    return out


def kmeans_medoids(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    centres = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X).cluster_centers_
    return np.unique(np.argmax(normalize_rows(centres) @ X.T, axis=1))


def facility_location_full(X: np.ndarray, k: int) -> np.ndarray:
    """Greedy facility location on the full clipped-cosine matrix (n x n in memory)."""
    S = np.maximum(X @ X.T, 0.0)
    cover = np.zeros(len(X), dtype=np.float32)
    picks: list[int] = []
    for _ in range(k):
        gains = np.maximum(S - cover[:, None], 0.0).sum(axis=0)
        gains[picks] = -1
        best = int(np.argmax(gains))
        picks.append(best)
        cover = np.maximum(cover, S[:, best])
    return np.asarray(picks)


def lof_scores(X: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import LocalOutlierFactor

    lof = LocalOutlierFactor(n_neighbors=20, metric="cosine").fit(X)
    return -lof.negative_outlier_factor_


def top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, kind="stable")[:k]


# -- VectorTrainer -----------------------------------------------------------------------------


def vectortrainer_steady(X: np.ndarray, k: int) -> np.ndarray:
    picks = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=k).select_steady_state("fn")
    return np.asarray([int(p.uuid) for p in picks])


def vectortrainer_anomalies(X: np.ndarray, k: int) -> np.ndarray:
    picks = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=k).select_anomalies("fn")
    return np.asarray([int(p.uuid) for p in picks])


# -- protocol ----------------------------------------------------------------------------------


def steady_table(X: np.ndarray, labels: np.ndarray, k: int) -> list[tuple[str, int, int, float]]:
    density = ExactEngine(knn=0).density(X, 1 - FIXED_EPSILON).density
    methods: dict[str, Callable[[], np.ndarray]] = {
        "random": lambda: np.random.default_rng(0).choice(len(X), k, replace=False),
        f"top-{k} by density (epsilon {FIXED_EPSILON})": lambda: top(density, k),
        **{f"k-means medoids (seed {s})": (lambda s=s: kmeans_medoids(X, k, s)) for s in KMEANS_SEEDS},
        "greedy facility location (full matrix)": lambda: facility_location_full(X, k),
        "VectorTrainer (defaults)": lambda: vectortrainer_steady(X, k),
    }
    rows = []
    for name, fn in methods.items():
        picks, seconds = timed(fn)
        rows.append((name, len(set(labels[picks].tolist())), len(picks), seconds))
    return rows


def anomaly_table(X: np.ndarray, is_new: np.ndarray, k: int) -> list[tuple[str, float, int, float]]:
    sims = knn_similarities(X, 10)
    density = ExactEngine(knn=0).density(X, 1 - FIXED_EPSILON).density
    methods: dict[str, Callable[[], np.ndarray]] = {
        "random": lambda: np.random.default_rng(0).choice(len(X), k, replace=False),
        f"lowest density (epsilon {FIXED_EPSILON})": lambda: top(-density, k),
        "LOF (20 neighbours, cosine)": lambda: top(lof_scores(X), k),
        "1-NN cosine distance": lambda: top(-sims[:, 0], k),
        "mean similarity to 10 NN": lambda: top(-sims.mean(axis=1), k),
        "VectorTrainer (defaults)": lambda: vectortrainer_anomalies(X, k),
    }
    rows = []
    for name, fn in methods.items():
        picks, seconds = timed(fn)
        rows.append((name, float(is_new[picks].sum()) / k, len(picks), seconds))
    return rows


def one_nn_accuracy(picked: np.ndarray, picked_labels: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of labelling each test row with the label of its most similar picked row."""
    nearest = np.argmax(X_test @ picked.T, axis=1)
    return float(np.mean(picked_labels[nearest] == y_test))


def utility_rows(
    X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray
) -> list[tuple[str, list[float], float]]:
    """1-NN accuracy per method at each budget of :data:`UTILITY_BUDGETS`, and its time."""

    def score(picks: np.ndarray) -> float:
        return one_nn_accuracy(X[picks], y[picks], X_test, y_test)

    largest = max(UTILITY_BUDGETS)
    location, location_s = timed(lambda: facility_location_full(X, largest))  # greedy: a prefix is the smaller k
    methods: dict[str, Callable[[int], float]] = {
        f"random (mean of {len(RANDOM_SEEDS)} seeds)": lambda k: float(
            np.mean([score(np.random.default_rng(s).choice(len(X), k, replace=False)) for s in RANDOM_SEEDS])
        ),
        "k-means medoids (seed 0)": lambda k: score(kmeans_medoids(X, k, 0)),
        "greedy facility location (full matrix)": lambda k: score(location[:k]),
        "VectorTrainer (defaults)": lambda k: score(vectortrainer_steady(X, k)),
    }
    rows = []
    for name, fn in methods.items():
        start = time.perf_counter()
        accuracies = [fn(k) for k in UTILITY_BUDGETS]
        rows.append((name, accuracies, time.perf_counter() - start + (location_s if "facility" in name else 0.0)))
    return rows


def load(data: Path) -> dict[str, np.ndarray]:
    rows = json.loads((data / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    bank = normalize_rows(np.load(data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32))
    hotels = normalize_rows(np.load(data / "nluplusplus_hotels" / "hotels_minilm_f16.npy").astype(np.float32))
    split = np.asarray([r[2] for r in rows])
    intents = np.asarray([r[1] for r in rows])
    return {"bank": bank, "hotels": hotels, "split": split, "intents": intents}


def print_steady(title: str, rows: list[tuple[str, int, int, float]], n_labels: int) -> None:
    print(f"\n{title}\n{'method':44s} {'intents':>8s} {'picks':>6s} {'seconds':>8s}")
    for name, covered, picks, seconds in rows:
        print(f"{name:44s} {covered:>5d}/{n_labels} {picks:>6d} {seconds:>8.2f}")


def print_anomaly(title: str, rows: list[tuple[str, float, int, float]]) -> None:
    print(f"\n{title}\n{'method':44s} {'P@k':>8s} {'picks':>6s} {'seconds':>8s}")
    for name, precision, picks, seconds in rows:
        print(f"{name:44s} {precision:>8.3f} {picks:>6d} {seconds:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    args = parser.parse_args()
    d = load(args.data)
    train, test = d["split"] == "train", d["split"] == "test"
    n_intents = len(set(d["intents"].tolist()))

    rows = steady_table(d["bank"][train], d["intents"][train], STEADY_PICKS)
    print_steady(f"1. Steady coverage, Banking77 train ({train.sum()} logs), {STEADY_PICKS} picks", rows, n_intents)

    hotel_rows = np.random.default_rng(0).choice(len(d["hotels"]), ANOMALY_PICKS, replace=False)
    X = np.vstack([d["bank"][train], d["hotels"][hotel_rows]])
    is_new = np.r_[np.zeros(train.sum(), bool), np.ones(ANOMALY_PICKS, bool)]
    rows = anomaly_table(X, is_new, ANOMALY_PICKS)
    title = f"2. Anomaly precision, {train.sum()} Banking77 + {ANOMALY_PICKS} hotel logs, P@{ANOMALY_PICKS}"
    print_anomaly(title, rows)

    rows = steady_table(d["bank"][test], d["intents"][test], STEADY_PICKS)
    print_steady(f"3a. Check: steady coverage, Banking77 test ({test.sum()} logs)", rows, n_intents)

    new_rows = np.random.default_rng(0).choice(np.flatnonzero(test), SWAPPED_NEW, replace=False)
    X = np.vstack([d["hotels"], d["bank"][new_rows]])
    is_new = np.r_[np.zeros(len(d["hotels"]), bool), np.ones(SWAPPED_NEW, bool)]
    rows = anomaly_table(X, is_new, SWAPPED_PICKS)
    print_anomaly(f"3b. Check: {len(d['hotels'])} hotel + {SWAPPED_NEW} Banking77 logs, P@{SWAPPED_PICKS}", rows)

    budgets = UTILITY_BUDGETS
    print(f"\n4. Utility: 1-NN intent accuracy on the {test.sum()} test queries from k train picks")
    print(f"{'method':44s} " + " ".join(f"{'k=' + str(k):>8s}" for k in budgets) + f" {'seconds':>8s}")
    for name, accuracies, seconds in utility_rows(
        d["bank"][train], d["intents"][train], d["bank"][test], d["intents"][test]
    ):
        print(f"{name:44s} " + " ".join(f"{a:>8.3f}" for a in accuracies) + f" {seconds:>8.2f}")


if __name__ == "__main__":
    main()
