"""Refuse vectors that cannot separate anything, before they are turned into one golden example.

When every call shares a long prefix (a persona system prompt, retrieved context) and the
embedder stops at its window, every call gets the same vector: the graph then has one region
and the selection one example. That is detected on a sample: among pairs of logs whose inputs
differ, the share whose vectors are (nearly) identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vector_trainer.chatml import render_input
from vector_trainer.errors import EmptyDataError
from vector_trainer.types import ExecutionLog

#: Cosine similarity at or above which two vectors count as the same.
SAME_VECTOR = 0.999
#: Share of differing-input pairs with the same vector at which the vectors are refused.
MAX_SAME_SHARE = 0.9
#: Logs sampled (evenly) for the check: its cost stays a few milliseconds whatever n is.
SAMPLE = 400
#: Fewest pairs of differing inputs the verdict needs.
MIN_PAIRS = 10

REEMBED_HELP = (
    "Re-embed what identifies each request ([embedding] view, default: a conversation's last user turn): "
    "'vectortrainer reembed --store STORE' rewrites the embedded store's vectors, and "
    "'vectortrainer run --reembed' embeds any source's logs (VectorWave too) as they are read"
)


def same_vector_share(logs: Sequence[ExecutionLog], vectors: np.ndarray) -> tuple[float, int]:
    """``(share, pairs)``: of the sampled pairs of logs with different inputs, the share whose
    vectors have cosine >= :data:`SAME_VECTOR`, and how many such pairs there were."""
    n = len(logs)
    rows = np.unique(np.linspace(0, n - 1, num=min(n, SAMPLE)).astype(np.int64))
    sample = np.asarray(vectors[rows], dtype=np.float32)
    norms = np.linalg.norm(sample, axis=1, keepdims=True)
    sample = sample / np.where(norms > 0, norms, 1.0)
    keys = np.unique([render_input(logs[i].inputs) for i in rows], return_inverse=True)[1]
    upper = np.triu(np.ones((len(rows), len(rows)), dtype=bool), k=1)
    differing = upper & (keys[:, None] != keys[None, :])
    pairs = int(differing.sum())
    if pairs == 0:
        return 0.0, 0
    same = (sample @ sample.T) >= SAME_VECTOR
    return float((same & differing).sum() / pairs), pairs


def check_separable(function_name: str, logs: Sequence[ExecutionLog], vectors: np.ndarray) -> None:
    """Raise when the vectors cannot tell the logs apart (see the module docstring).

    Raises:
        EmptyDataError: Saying how many pairs are identical, the likely cause and the fix.
    """
    share, pairs = same_vector_share(logs, vectors)
    if pairs < MIN_PAIRS or share < MAX_SAME_SHARE:
        return
    raise EmptyDataError(
        f"the vectors of '{function_name}' cannot separate its logs: {share:.0%} of {pairs:,} sampled pairs of logs "
        f"with different inputs have the same vector (cosine >= {SAME_VECTOR}). They were most likely made from "
        "text every call shares (a long system prompt cut at the embedder's window), so selection would see one "
        f"region and pick one example. {REEMBED_HELP}."
    )
