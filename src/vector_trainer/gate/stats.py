"""Paired comparison of two systems on the same examples, with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vector_trainer.config import GateConfig
from vector_trainer.errors import InputError

#: Most resample indices drawn at once (resamples x examples), so memory stays bounded.
_DRAW_CELLS = 4_000_000


@dataclass(frozen=True)
class PairedComparison:
    """Candidate against incumbent on one metric, example by example.

    Attributes:
        metric: What was scored (higher is better).
        n: Examples scored by both.
        candidate_mean: The candidate's mean score.
        incumbent_mean: The incumbent's mean score.
        difference: ``candidate_mean - incumbent_mean``.
        ci_low: Lower end of the paired bootstrap interval of the difference.
        ci_high: Upper end.
        confidence: The interval's level.
    """

    metric: str
    n: int
    candidate_mean: float
    incumbent_mean: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def paired_bootstrap(
    metric: str,
    candidate: Sequence[float] | np.ndarray,
    incumbent: Sequence[float] | np.ndarray,
    *,
    resamples: int = GateConfig.resamples,
    confidence: float = GateConfig.confidence,
    seed: int = 0,
) -> PairedComparison:
    """Compare two systems scored on the same examples.

    Examples are resampled with replacement (the same draw for both systems, which is what makes
    the comparison paired); the interval is the percentile interval of the mean difference.

    Raises:
        InputError: If the score lists differ in length, are empty or hold a non-finite score.
    """
    a = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(incumbent, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"{metric}: {a.size} candidate scores against {b.size} incumbent scores; pair them")
    if a.size == 0:
        raise InputError(f"{metric}: no examples were scored by both systems")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError(f"{metric}: a score is NaN or infinite")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, _DRAW_CELLS // diff.size)
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        means[start : start + count] = diff[rng.integers(0, diff.size, size=(count, diff.size))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return PairedComparison(
        metric=metric,
        n=int(diff.size),
        candidate_mean=float(a.mean()),
        incumbent_mean=float(b.mean()),
        difference=float(diff.mean()),
        ci_low=float(low),
        ci_high=float(high),
        confidence=confidence,
    )
