"""Scores of an answer against its reference: embedding similarity and the normalised exact match.

A task whose answers are labels, codes or short facts (an intent, a routing target, a number) is
judged by whether the answer *is* the reference, not by how similar it reads: ``card_arrival``
and ``card_delivery_estimate`` are close in any embedding and still a wrong answer. The gate
reports ``exact`` beside ``similarity`` for every evaluation; ``[gate] metric = "exact"``
declares it the deciding score.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from vector_trainer.sources.embedders import Embedder

_SPACE = re.compile(r"\s+")
#: Wrapping a model adds around a short answer without changing it.
_WRAPPING = " \t\n\"'`.,;:!?()[]{}<>*"


def normalise_answer(text: str) -> str:
    """``text`` compared as an answer: Unicode-normalised (NFKC), case-folded, whitespace
    collapsed, surrounding quotes, brackets, emphasis and final punctuation removed."""
    folded = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return folded.strip(_WRAPPING)


def exact_match(answers: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """1.0 where an answer equals its reference after :func:`normalise_answer`, else 0.0."""
    return np.array(
        [normalise_answer(a) == normalise_answer(r) for a, r in zip(answers, references, strict=True)], dtype=float
    )


def embedding_similarity(embedder: Embedder, answers: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """Cosine similarity of each answer to its reference, in ``embedder``'s space (0 for an empty vector)."""
    vectors = np.asarray(embedder.embed([*answers, *references]), dtype=np.float64)
    a, b = vectors[: len(answers)], vectors[len(answers) :]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norms > 0, (a * b).sum(axis=1) / np.where(norms > 0, norms, 1.0), 0.0)
