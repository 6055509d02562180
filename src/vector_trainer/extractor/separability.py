"""Refuse vectors that cannot separate anything, before they are turned into one golden example.

When every call shares a long prefix (a persona system prompt, retrieved context) and the
embedder stops at its window, every call gets the same vector: the graph then has one region
and the selection one example; with two prompts (two languages, say) it gets two vectors. That
is detected on a sample: the share of logs whose vector is (nearly) identical to that of a log
with a different input. Logs repeated with the same input do not count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from vector_trainer.chatml import render_input
from vector_trainer.errors import EmptyDataError
from vector_trainer.sources.views import EmbeddingView
from vector_trainer.types import ExecutionLog

#: Cosine similarity at or above which two vectors count as the same.
SAME_VECTOR = 0.9999
#: Share of logs sharing their vector with a log of another input at which the vectors are refused.
MAX_SAME_SHARE = 0.5
#: Logs sampled (evenly) for the check: its cost stays a few milliseconds whatever n is.
SAMPLE = 400
#: Fewest distinct inputs the verdict needs.
MIN_INPUTS = 5

REEMBED_HELP = (
    "Re-embed what identifies each request ([embedding] view, default: a conversation's last user turn): "
    "'vectortrainer reembed --store STORE' rewrites the embedded store's vectors, and "
    "'vectortrainer run --reembed' embeds any source's logs (VectorWave too) as they are read"
)


def same_vector_share(
    logs: Sequence[ExecutionLog], vectors: np.ndarray, key: Callable[[ExecutionLog], str] | None = None
) -> tuple[float, int, int]:
    """``(share, sampled, distinct keys)``: of the sampled logs, the share whose vector has
    cosine >= :data:`SAME_VECTOR` with that of a sampled log whose ``key`` (default: the whole
    rendered input) differs."""
    n = len(logs)
    rows = np.unique(np.linspace(0, n - 1, num=min(n, SAMPLE)).astype(np.int64))
    sample: np.ndarray = np.nan_to_num(np.asarray(vectors[rows], dtype=np.float32))
    norms = np.linalg.norm(sample, axis=1, keepdims=True)
    sample = sample / np.where(norms > 0, norms, 1.0)
    keyed = key or (lambda log: render_input(log.inputs))
    keys = np.unique([keyed(logs[i]) for i in rows], return_inverse=True)[1]
    clash = ((sample @ sample.T) >= SAME_VECTOR) & (keys[:, None] != keys[None, :])
    return float(clash.any(axis=1).mean()), len(rows), int(keys.max()) + 1


def _last_user(log: ExecutionLog) -> str:
    return EmbeddingView().text(log.inputs, log.output)


def check_separable(function_name: str, logs: Sequence[ExecutionLog], vectors: np.ndarray) -> None:
    """Raise when the vectors cannot tell the logs apart (see the module docstring).

    Raises:
        EmptyDataError: Saying how many pairs are identical, the likely cause and the fix.
    """
    share, sampled, inputs = same_vector_share(logs, vectors)
    if inputs < MIN_INPUTS or share < MAX_SAME_SHARE:
        return
    by_turn, _, _ = same_vector_share(logs, vectors, _last_user)
    if by_turn < MAX_SAME_SHARE:  # the vectors follow the last user turns, and those repeat
        raise EmptyDataError(
            f"the vectors of '{function_name}' cannot separate its logs: {share:.0%} of {sampled:,} sampled logs "
            "have the same vector as a log with a different conversation, because their last user turns repeat "
            "('yes', 'thanks', 'continue'). Embed earlier turns too: [embedding] view = 'history' "
            "('vectortrainer reembed --store STORE --view history', or 'vectortrainer run --reembed' with that view)."
        )
    raise EmptyDataError(
        f"the vectors of '{function_name}' cannot separate its logs: {share:.0%} of {sampled:,} sampled logs have "
        f"the same vector (cosine >= {SAME_VECTOR}) as a log with a different input. They were most likely made from "
        "text every call shares (a long system prompt cut at the embedder's window), so selection would see a "
        f"region per shared prompt and pick one example from each. {REEMBED_HELP}."
    )
