"""Encoding texts with a sentence-transformers model at the hardware's speed.

sentence-transformers' own ``encode`` tokenises each batch as it goes, runs the model in the
precision it was loaded in and keeps autograd's bookkeeping. :func:`encode` runs the same model's
modules (transformer, pooling, normalisation) on the same token ids with three changes, none of
which moves a vector out of its space:

* every text is tokenised once, up front, by the model's fast tokenizer; batches are then cut
  from the texts sorted by token count so that a batch holds about :data:`BATCH_TOKENS` tokens
  (many short queries, few long conversations) with almost no padding;
* the forward pass runs under ``torch.inference_mode``;
* the weights are in ``bfloat16`` where the hardware multiplies it natively (a CUDA device, or a
  CPU with AMX or AVX-512 BF16), chosen by :func:`resolve_precision`. Vectors then differ from
  ``float32`` ones by about 1e-3 per component (cosine above 0.9999): the same space.

A model that does not fit this path (no fast tokenizer, left padding) is encoded by
sentence-transformers' own ``encode``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vector_trainer._params import check_values
from vector_trainer.config import EmbeddingConfig

#: Tokens per batch, padding included: large enough for the matrix units, small enough that a
#: batch of long conversations stays in the cache.
BATCH_TOKENS = 4096
#: Texts per batch at most, however short.
MAX_BATCH_TEXTS = 256

#: ``(texts done, texts in all)`` after each batch.
Progress = Callable[[int, int], None]


def native_bfloat16(device: str) -> bool:
    """Whether ``device`` multiplies ``bfloat16`` matrices natively (fast, not emulated); never
    without torch, which runs the model."""
    try:
        import torch
    except ImportError:
        return False

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device != "cpu":
        return False
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(amx is not None and amx()) or _cpu_flag("avx512_bf16")


def _cpu_flag(flag: str) -> bool:
    """Whether ``/proc/cpuinfo`` lists ``flag`` (False where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return any(line.startswith("flags") and f" {flag}" in line for line in info)
    except OSError:
        return False


def resolve_precision(precision: str, device: str) -> str:
    """``float32`` or ``bfloat16``: ``auto`` takes ``bfloat16`` where :func:`native_bfloat16`.

    Raises:
        ConfigError: For an unknown precision, named as ``embedding.precision``.
    """
    check_values(EmbeddingConfig, "embedding", {"precision": precision})
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


def token_batches(lengths: Sequence[int], batch_tokens: int = BATCH_TOKENS) -> list[np.ndarray]:
    """Indices of texts with ``lengths`` tokens, sorted by length and cut into batches whose
    padded size (texts x longest) stays within ``batch_tokens`` (one text at least)."""
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        stop = start + 1
        while (
            stop < len(order)
            and stop - start < MAX_BATCH_TEXTS
            and (stop - start + 1) * lengths[order[stop]] <= batch_tokens
        ):
            stop += 1
        batches.append(order[start:stop])
        start = stop
    return batches


def _fast_path(model: Any) -> Any | None:
    """The model's fast tokenizer when the batched path fits the model, else None."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return None
    if getattr(tokenizer, "padding_side", "right") != "right" or tokenizer.pad_token_id is None:
        return None
    return tokenizer


def _dimension(model: Any) -> int:
    """The model's vector size (sentence-transformers renamed the method in version 6)."""
    for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        method = getattr(model, name, None)
        if method is not None:
            return int(method() or 0)
    return 0


def encode(model: Any, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """L2-normalised float32 vectors of ``texts`` from a loaded ``SentenceTransformer``.

    Args:
        model: The model, on its device and in its precision.
        texts: Texts to encode.
        progress: Called with ``(done, total)`` after each batch.
    """
    import torch

    if not texts:
        return np.zeros((0, _dimension(model)), dtype=np.float32)
    tokenizer = _fast_path(model)
    if tokenizer is None:
        with torch.inference_mode():
            vectors = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)
    if getattr(model[0], "do_lower_case", False):
        texts = [text.lower() for text in texts]
    ids = tokenizer(list(texts), truncation=True, max_length=model.max_seq_length)["input_ids"]
    wants_types = "token_type_ids" in tokenizer.model_input_names
    out = np.zeros((len(ids), 0), dtype=np.float32)
    done = 0
    with torch.inference_mode():
        for batch in token_batches([len(row) for row in ids]):
            longest = max(len(ids[i]) for i in batch)
            tokens = np.full((len(batch), longest), tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.int64)
            for row, i in enumerate(batch):
                tokens[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            features = {"input_ids": torch.from_numpy(tokens), "attention_mask": torch.from_numpy(mask)}
            if wants_types:
                features["token_type_ids"] = torch.zeros_like(features["input_ids"])
            features = {key: value.to(model.device) for key, value in features.items()}
            embedded = torch.nn.functional.normalize(model.forward(features)["sentence_embedding"].float(), dim=1)
            if out.shape[1] != embedded.shape[1]:
                out = np.empty((len(ids), embedded.shape[1]), dtype=np.float32)
            out[batch] = embedded.cpu().numpy()
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
    return out
