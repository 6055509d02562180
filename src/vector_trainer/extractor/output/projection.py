"""A 2-D PCA of the graph's vectors for the dashboard's map (NumPy SVD on a bounded sample)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Most points in a projection; the selected ones are always among them.
DEFAULT_MAX_POINTS = 5000


def pca_projection(
    X: np.ndarray, ids: Sequence[str], labels: Mapping[str, str], *, max_points: int = DEFAULT_MAX_POINTS, seed: int = 0
) -> dict[str, Any]:
    """2-D PCA of the rows of ``X`` for plotting: every labelled row plus a seeded sample of the
    rest (at most ``max_points`` in all).

    Returns:
        ``{"points": [{"uuid", "x", "y", "label"}...], "explained_variance_ratio": [r1, r2],
        "n_total": n, "n_shown": m}``; unlabelled rows are ``"unselected"``.
    """
    n = X.shape[0]
    labelled = [i for i, uuid in enumerate(ids) if uuid in labels]
    others = np.setdiff1d(np.arange(n), labelled)
    room = max(0, max_points - len(labelled))
    if len(others) > room:
        others = np.sort(np.random.default_rng(seed).choice(others, room, replace=False))
    rows = np.concatenate([np.asarray(labelled, dtype=np.int64), others.astype(np.int64)])
    sample = X[rows].astype(np.float64)
    centered = sample - sample.mean(axis=0)
    if len(rows) < 2 or not np.any(centered):
        coords = np.zeros((len(rows), 2))
        ratio = [0.0, 0.0]
    else:
        _, singular, vt = np.linalg.svd(centered, full_matrices=False)
        components = vt[:2]
        coords = centered @ components.T
        if coords.shape[1] < 2:
            coords = np.hstack([coords, np.zeros((len(rows), 2 - coords.shape[1]))])
        variance = singular**2
        ratio = [float(v) for v in (variance[:2] / variance.sum())] + [0.0] * max(0, 2 - len(variance))
    points = [
        {"uuid": ids[r], "x": round(float(x), 6), "y": round(float(y), 6), "label": labels.get(ids[r], "unselected")}
        for r, (x, y) in zip(rows, coords, strict=True)
    ]
    return {"points": points, "explained_variance_ratio": ratio, "n_total": n, "n_shown": len(rows)}
