"""The neighbourhood radius of the graph: a given epsilon, or ``"auto"``, calibrated from the
data's own similarity scale (the k-distance heuristic of DBSCAN made automatic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vector_trainer.extractor.engines.base import DEFAULT_QUERY_BLOCK, similarities_of
from vector_trainer.extractor.engines.exact.tiles import blas_threads, run_chunks, single_threaded_blas

#: ``epsilon="auto"``: the neighbourhood radius at which the median log has this many neighbours.
AUTO_NEIGHBOURS = 10
#: Logs sampled (seeded) to calibrate ``epsilon="auto"``; each is compared with every log.
AUTO_SAMPLE = 1024
#: Bounds of a calibrated epsilon (a store of exact duplicates would otherwise give 0).
AUTO_EPSILON_RANGE = (1e-3, 1.0)


@dataclass(frozen=True)
class EpsilonChoice:
    """The neighbourhood radius an analysis used, and how it was chosen.

    Attributes:
        epsilon: Neighbours have cosine similarity ``>= 1 - epsilon``.
        requested: What the caller asked for: ``"auto"`` or the number itself.
        rule: How the value was obtained, in words (for the selection report).
    """

    epsilon: float
    requested: float | str
    rule: str

    @property
    def threshold(self) -> float:
        """The similarity threshold ``1 - epsilon``."""
        return 1.0 - self.epsilon


def choose_epsilon(
    X: np.ndarray,
    requested: float | str,
    *,
    neighbours: int = AUTO_NEIGHBOURS,
    sample: int = AUTO_SAMPLE,
    seed: int = 0,
) -> EpsilonChoice:
    """A given epsilon as is, or ``"auto"``: calibrated from the data's own similarity scale.

    The auto rule is the k-distance heuristic of DBSCAN (Ester et al. 1996) made automatic:
    ``epsilon = 1 - median_i s_k(i)``, where ``s_k(i)`` is the similarity of log ``i`` to its
    ``k``-th nearest other log (``k = neighbours``), over a seeded sample of logs compared with
    every log. The typical log then has ``k`` neighbours whatever the embedding model, where a
    fixed epsilon gives a connected blob on one model and isolated points on another.

    Args:
        X: L2-normalised rows.
        requested: ``"auto"`` or a number in (0, 1].
        neighbours: ``k`` of the rule.
        sample: Logs sampled for the median.
        seed: Seed of the sample.
    """
    if requested != "auto":
        return EpsilonChoice(float(requested), requested, "given")
    n = X.shape[0]
    k = min(neighbours, n - 1)
    if k < 1:
        return EpsilonChoice(AUTO_EPSILON_RANGE[1], "auto", "auto: a single log; every radius is the same")
    rows = np.sort(np.random.default_rng(seed).choice(n, min(sample, n), replace=False))
    return epsilon_from_kth(kth_similarities(X, rows, k), k)


def kth_similarities(X: np.ndarray, rows: np.ndarray, k: int, workers: int | None = None) -> np.ndarray:
    """Each of ``rows``' similarity to its ``k``-th most similar other row of ``X``.

    Blocks of rows are spread over ``workers`` threads (default: as many as BLAS runs), each
    with one BLAS thread: the selection step (``np.partition``) releases the GIL, so it runs on
    every core like the products. Memory is ``workers x block x n``.
    """
    n = X.shape[0]
    chunks = [rows[r0 : r0 + DEFAULT_QUERY_BLOCK] for r0 in range(0, rows.size, DEFAULT_QUERY_BLOCK)]
    kth: list[np.ndarray] = [np.empty(0, dtype=X.dtype)] * len(chunks)

    def chunk(c: int) -> None:
        kth[c] = np.partition(similarities_of(X, chunks[c]), n - k, axis=1)[:, n - k]

    threads = blas_threads() if workers is None else workers
    with single_threaded_blas(threads):
        run_chunks(len(chunks), chunk, threads)
    return np.concatenate(kth) if kth else np.empty(0, dtype=X.dtype)


def epsilon_from_kth(kth: np.ndarray, k: int) -> EpsilonChoice:
    """``epsilon="auto"`` from sampled logs' similarities to their ``k``-th nearest other log."""
    median = float(np.median(kth))
    low, high = AUTO_EPSILON_RANGE
    epsilon = float(min(max(1.0 - median, low), high))
    rule = (
        f"auto: 1 - median similarity of a log to its {k}th nearest neighbour "
        f"({median:.4f}, over {kth.size} sampled logs), so the typical log has {k} neighbours"
    )
    return EpsilonChoice(round(epsilon, 6), "auto", rule)
