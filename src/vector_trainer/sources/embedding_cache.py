"""Embeddings kept by text, so a re-ingest or a ``reembed`` of the same texts pays nothing.

A model embeds the same text to the same vector, and embedding is the slow part of importing logs
without vectors (about 1,000 short texts/s for MiniLM on two cores, a paid request for OpenAI).
:class:`CachedEmbedder` wraps any embedder: each text is looked up by the SHA-256 of the text
and the embedder's ``cache_identity`` (its name and where the model was loaded from, so two
models never share vectors; the name where it has none) in a SQLite file. Only the texts never
seen are embedded, each distinct text once, and their vectors are stored in one transaction.
The file holds vectors and hashes, never the texts.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vector_trainer._shared import usable_rows
from vector_trainer.config import EmbeddingConfig
from vector_trainer.errors import InputError
from vector_trainer.sources.embedders import Embedder, HashingEmbedder, make_embedder
from vector_trainer.sources.sentence_encoder import Progress

#: Seconds to wait for another process writing to the cache.
BUSY_TIMEOUT_S = 30.0
#: Keys per look-up query (SQLite's bound-parameter limit is 32,766 in current builds).
LOOKUP_BATCH = 900
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    embedder TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (embedder, text_sha256)
) WITHOUT ROWID
"""


def _usable(blob: bytes) -> bool:
    """Whether a stored vector can be used (a damaged one is embedded again and replaced)."""
    if not isinstance(blob, bytes) or not blob or len(blob) % 4:
        return False
    return bool(usable_rows(np.frombuffer(blob, dtype=np.float32)[None, :])[0])


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class CachedEmbedder:
    """An embedder whose vectors are cached on disk by text (module docstring).

    Args:
        inner: The embedder that computes vectors for texts not in the cache.
        path: The SQLite cache file (created with its folder).

    Attributes:
        embedded: Texts the inner embedder was asked for since construction.
        reused: Texts answered from the cache since construction.
    """

    def __init__(self, inner: Embedder, path: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.path = Path(path)
        self.embedded = 0
        self.reused = 0
        self.identity = str(getattr(inner, "cache_identity", inner.name))
        fix = 'point [embedding] cache at a file of its own, or set cache = ""'
        if self.path.is_symlink():
            raise InputError(f"{self.path}: an embedding cache must not be a symbolic link; {fix}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables - {"vectors"}:
                    raise InputError(
                        f"{self.path} is not an embedding cache (it holds tables {', '.join(sorted(tables))}); {fix}"
                    )
                db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: not a usable embedding cache ({exc}); {fix}") from exc

    @property
    def name(self) -> str:
        """The inner embedder's name (the cache does not change the vectors)."""
        return self.inner.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: cached ones read, the others embedded once each and stored."""
        try:
            return self._embed(texts)
        except sqlite3.Error as exc:  # busy (another process writing), or damaged since opened
            raise InputError(
                f"{self.path}: the embedding cache cannot be used now ({exc}); retry, or set "
                '[embedding] cache = "" to embed without it'
            ) from exc

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [_key(text) for text in texts]
        found: dict[bytes, np.ndarray] = {}
        with sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S) as db:
            distinct = list(dict.fromkeys(keys))
            for start in range(0, len(distinct), LOOKUP_BATCH):
                chunk = distinct[start : start + LOOKUP_BATCH]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT text_sha256, vector FROM vectors WHERE embedder = ? AND text_sha256 IN ({marks})",
                    [self.identity, *chunk],
                )
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows if _usable(blob))
            if len({len(vector) for vector in found.values()}) > 1:  # entries of other widths: none is trusted
                found = {}
            missing = [key for key in distinct if key not in found]
            if missing:
                first = {key: i for i, key in reversed(list(enumerate(keys)))}
                vectors = np.asarray(self.inner.embed([texts[first[key]] for key in missing]), dtype=np.float32)
                db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                    [(self.identity, key, vector.tobytes()) for key, vector in zip(missing, vectors, strict=True)],
                )
                found.update(zip(missing, vectors, strict=True))
        self.embedded += len(missing)
        self.reused += len(texts) - len(missing)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[key] for key in keys])


def with_cache(embedder: Embedder, cache: str | os.PathLike[str] | None) -> Embedder:
    """``embedder`` behind a :class:`CachedEmbedder` on ``cache`` (none when ``cache`` is empty);
    the hashing embedder, as fast as a look-up, is never cached."""
    if not cache or isinstance(embedder, HashingEmbedder):
        return embedder
    return CachedEmbedder(embedder, cache)


def configured_embedder(settings: EmbeddingConfig, progress: Progress | None = None) -> Embedder:
    """The embedder an ``[embedding]`` section names (:func:`~.embedders.make_embedder`), cached
    as it says; ``progress`` hears a local model's ``(texts done, texts in all)``."""
    embedder = make_embedder(
        settings.embedder,
        model_path=settings.model,
        precision=settings.precision,
        progress=progress,
        static_dir=settings.static_dir,
    )
    return with_cache(embedder, settings.cache)
