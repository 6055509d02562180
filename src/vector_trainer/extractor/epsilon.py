"""The neighbourhood radius of the graph: a given epsilon, or ``"auto"``, calibrated from the
data's own similarity scale (the k-distance heuristic of DBSCAN made automatic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vector_trainer.extractor.engines.base import similarities_to_all

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
    kth = np.concatenate([np.partition(sims, n - k, axis=1)[:, n - k] for _, sims in similarities_to_all(X, rows)])
    return epsilon_from_kth(kth, k)


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
