"""How many new logs are anomalies: low density against the logs already seen.

After each cycle a :class:`NoveltyReference` keeps which logs were seen (8-byte keys of their
uuids), the graph's similarity threshold and the density at the anomaly quantile. A new log's
density is then measured against the seen logs only (so a burst of a new pattern is not made
dense by itself), and the share of new logs at or under the cutoff is compared with the share
among the seen logs: a rise means users started asking something new.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vector_trainer.errors import InputError
from vector_trainer.extractor.engines.base import DEFAULT_BLOCK, effective_threshold
from vector_trainer.extractor.graph import GraphAnalysis
from vector_trainer.fileio import atomic_write_bytes

_KEY_BYTES = 8


@dataclass(frozen=True)
class NoveltyReference:
    """What the last cycle saw.

    Attributes:
        seen: Sorted keys of the seen logs' uuids (:func:`uuid_keys`).
        threshold: The graph's similarity threshold.
        cutoff: The density at the anomaly quantile; at or under it a log is an anomaly.
        share: The share of the seen logs at or under the cutoff.
    """

    seen: np.ndarray
    threshold: float
    cutoff: float
    share: float

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (``.npz``)."""
        buffer = io.BytesIO()
        np.savez(buffer, seen=self.seen, values=np.array([self.threshold, self.cutoff, self.share]))
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NoveltyReference:
        """Read what :meth:`save` wrote.

        Raises:
            InputError: If the file is unreadable (named, with the fix).
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                seen, values = data["seen"], data["values"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path} cannot be read ({exc}); delete it and the next cycle writes a new one") from exc
        if seen.dtype != np.uint64 or values.shape != (3,):
            raise InputError(f"{path} is not a novelty reference; delete it and the next cycle writes a new one")
        return cls(seen, float(values[0]), float(values[1]), float(values[2]))


def uuid_keys(uuids: Sequence[str]) -> np.ndarray:
    """8-byte keys of uuids (collisions are negligible at any log count a store holds)."""
    keys = [
        int.from_bytes(hashlib.blake2b(u.encode("utf-8", "surrogatepass"), digest_size=_KEY_BYTES).digest(), "big")
        for u in uuids
    ]
    return np.array(keys, dtype=np.uint64)


def reference_from(analysis: GraphAnalysis, quantile: float) -> NoveltyReference:
    """The reference of a function's current graph (anomalies: density at or under ``quantile``)."""
    density = analysis.result.density
    cutoff = float(np.quantile(density, quantile)) if density.size else 0.0
    share = float(np.mean(density <= cutoff)) if density.size else 0.0
    return NoveltyReference(np.sort(uuid_keys(analysis.uuids)), analysis.threshold, cutoff, share)


def new_anomaly_share(
    analysis: GraphAnalysis, reference: NoveltyReference, *, block: int = DEFAULT_BLOCK
) -> tuple[int, float]:
    """``(new logs, share of them that are anomalies)`` against the reference's seen logs.

    Densities are summed over ``block x block`` tiles, so the extra memory is one tile.
    """
    keys = uuid_keys(analysis.uuids)
    is_new = ~np.isin(keys, reference.seen)
    if not is_new.any():
        return 0, 0.0
    X = analysis.vectors  # unit rows
    new, old = X[is_new], X[~is_new]
    t = effective_threshold(reference.threshold)
    density = np.zeros(len(new), dtype=np.float64)
    for i in range(0, len(new), block):
        for j in range(0, len(old), block):
            tile = new[i : i + block] @ old[j : j + block].T
            np.multiply(tile, tile >= t, out=tile)
            density[i : i + block] += tile.sum(axis=1, dtype=np.float64)
    return len(new), float(np.mean(density <= reference.cutoff))
