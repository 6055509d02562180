"""A static embedder: model2vec token vectors distilled once from a sentence-transformer.

An explicit speed option (``[embedding] embedder = "static"``): model2vec (Tulkens and van
Dongen, 2024) passes every token of a sentence-transformer's vocabulary through the model once,
reduces the outputs with PCA (256 dimensions) and weighs them by an estimate of the token's
frequency; a text's vector is then the mean of its tokens' rows, with no network at all. It
embeds tens of thousands of texts a second on a CPU, but the vectors are a different space from
the model's and select worse golden data (``python bench/embed.py`` measures both), so it is
never chosen by ``auto``.

The distilled model is kept under ``static_dir``, one directory per source model's content, and
made again only when the source model changes. A directory that is already a model2vec model is
used as it is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer._shared import sha256_file
from vector_trainer.config import EmbeddingConfig
from vector_trainer.errors import InputError, MissingDependencyError
from vector_trainer.sources.model_files import model_fingerprint, packaged_model_path

LOGGER = logging.getLogger("vector_trainer")

#: Dimensions the token vectors are reduced to (model2vec's default).
PCA_DIMS = 256


def is_static_model(path: str | os.PathLike[str]) -> bool:
    """Whether a directory holds a model2vec model (its ``config.json`` says ``model2vec``)."""
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False


def distilled_path(model_path: str, static_dir: str | os.PathLike[str]) -> Path:
    """Where the model distilled from ``model_path`` is kept: named for the source model's
    folder and content, so a changed model is distilled again."""
    name = os.path.basename(os.path.normpath(model_path)) or "model"
    return Path(static_dir) / f"{name}-{model_fingerprint(model_path)}-pca{PCA_DIMS}"


def _weights_digest(directory: Path) -> str:
    """8 hex digits of a model2vec model's weights (its vector space): the same model distilled
    again, copied or moved keeps its name; its other files (a model card naming where it was
    written) do not count."""
    files = "\n".join(sha256_file(path) for path in sorted(directory.glob("*.safetensors")))
    return hashlib.sha256(files.encode("ascii")).hexdigest()[:8]


def distill_static(model_path: str, out: Path) -> Path:
    """Distil ``model_path`` into ``out`` with model2vec, written whole or not at all (into a
    temporary directory beside it, renamed when complete; readable as the umask allows).

    Raises:
        MissingDependencyError: Without torch, transformers and model2vec's distillation parts.
        InputError: If ``out`` cannot be written or ``model_path`` is no model model2vec can read.
    """
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise MissingDependencyError("model2vec", "local", "Distilling a static embedder") from exc
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise InputError(
            f"embedding.static_dir: {out.parent} cannot hold a distilled model ({exc.strerror or exc}); "
            "choose a writable directory"
        ) from None
    try:
        LOGGER.warning("distilling a static embedder from %s into %s (once; this takes a while)", model_path, out)
        try:
            distill(model_name=model_path, pca_dims=PCA_DIMS).save_pretrained(str(staging))
        except Exception as exc:  # transformers and model2vec raise many kinds for a wrong model
            raise InputError(
                f"{model_path} cannot be distilled into a static embedder ({type(exc).__name__}: {exc}); "
                "give --embedding-model a sentence-transformers model directory"
            ) from None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0700 would hide a shared static_dir's models
        try:
            os.rename(staging, out)
        except OSError:
            if not is_static_model(out):  # another process finished first: keep its model
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


class StaticEmbedder:
    """model2vec static embeddings (extra ``local``), distilled once and kept.

    Args:
        model_path: A sentence-transformers model to distil (the bundled all-MiniLM-L6-v2 when
            omitted), or a model2vec model directory, used as it is.
        static_dir: Where distilled models are kept.

    Raises:
        MissingDependencyError: Without the ``local`` extra.
        InputError: If the model cannot be loaded.
    """

    def __init__(self, model_path: str | None = None, static_dir: str = EmbeddingConfig.static_dir) -> None:
        try:
            from model2vec import StaticModel
        except ImportError as exc:
            raise MissingDependencyError("model2vec", "local", "The static embedder") from exc
        source = os.path.expanduser(model_path) if model_path else packaged_model_path()
        given = is_static_model(source)
        if given:
            directory = Path(source)
        else:
            directory = distilled_path(source, os.path.expanduser(static_dir))
            if not is_static_model(directory):
                distill_static(source, directory)
        try:
            self._model: Any = StaticModel.from_pretrained(str(directory))
        except Exception as exc:  # safetensors, tokenizers and model2vec raise many kinds for damage
            fix = "give a sound model2vec directory" if given else "remove it, and it is distilled again"
            raise InputError(
                f"{directory} is not a usable model2vec model ({type(exc).__name__}: {exc}); {fix}"
            ) from None
        self.directory = directory
        self.dim = int(self._model.dim)
        self._name = f"model2vec-{self.dim}@{_weights_digest(directory)}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def cache_identity(self) -> str:
        """What a cached vector of this model is kept under: its name and where it was loaded from."""
        return f"{self._name}@{os.path.abspath(self.directory)}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)
