"""Log sources: wrap whatever manager the user injects into :class:`DatasetManagerProtocol`.

Detection is by duck typing, so vectorwave is never imported here (ADR-001):

* an object that already has ``iter_executions``/``near_vector``/``list_functions`` (our
  :class:`~vector_trainer.sources.store.SQLiteLogStore`, or a user's own source) is used as it is;
* VectorWave 0.2.x managers expose weaviate collections ``exec_col``/``golden_col``;
* VectorWave 1.x managers expose a ``store`` (Weaviate or LanceDB) and ``settings``.
"""

from __future__ import annotations

import os
from typing import Any

from vector_trainer.config import EmbeddingConfig, SourceConfig
from vector_trainer.errors import ConfigError, InputError, MissingDependencyError, VectorTrainerError
from vector_trainer.sources.vectorwave import VectorWaveLegacyAdapter, VectorWaveStoreAdapter
from vector_trainer.types import DatasetManagerProtocol


def as_dataset_manager(manager: Any, *, page_size: int = SourceConfig.page_size) -> DatasetManagerProtocol:
    """Wrap ``manager`` into the interface the extractor uses (duck typing, no imports).

    Args:
        manager: A log source, or a VectorWave dataset manager (0.2.x or 1.x).
        page_size: Objects a VectorWave adapter fetches per request (``[source] page_size``).

    Raises:
        InputError: If the object is none of the supported shapes.
    """
    if all(hasattr(manager, name) for name in ("iter_executions", "near_vector", "list_functions")):
        return manager
    if hasattr(manager, "exec_col"):
        return VectorWaveLegacyAdapter(manager, page_size=page_size)
    if hasattr(manager, "store"):
        return VectorWaveStoreAdapter(manager, page_size=page_size)
    raise InputError(
        f"{type(manager).__name__} is not a log source: pass a SQLiteLogStore, a VectorWaveDatasetManager "
        "(0.2.x with exec_col, or 1.x with store), or an object with iter_executions/near_vector/list_functions"
    )


def connect_vectorwave(page_size: int = SourceConfig.page_size) -> DatasetManagerProtocol:
    """Build a ``VectorWaveDatasetManager`` from VectorWave's own settings (``VECTORWAVE_MODE``,
    ``VECTORWAVE_LITE_PATH``, ``WEAVIATE_HOST`` ...) and wrap it.

    This is the only place that imports vectorwave, lazily, for the CLI's ``--source vectorwave``.

    Raises:
        MissingDependencyError: vectorwave is not installed.
        VectorTrainerError: The store cannot be reached (the message says which settings to check).
    """
    os.environ.setdefault("VECTORWAVE_QUIET", "1")
    try:
        from vectorwave import VectorWaveDatasetManager
    except ImportError as exc:
        raise MissingDependencyError("vectorwave", "vectorwave", "--source vectorwave") from exc
    try:
        manager = VectorWaveDatasetManager()
    except Exception as exc:
        mode = os.environ.get("VECTORWAVE_MODE", "pro")
        where = (
            f"VECTORWAVE_LITE_PATH={os.environ.get('VECTORWAVE_LITE_PATH', '.vectorwave/lance')}"
            if mode == "lite"
            else f"WEAVIATE_HOST={os.environ.get('WEAVIATE_HOST', 'localhost')}, "
            f"WEAVIATE_PORT={os.environ.get('WEAVIATE_PORT', '8080')}"
        )
        raise VectorTrainerError(
            f"cannot open VectorWave's store (VECTORWAVE_MODE={mode}, {where}): {type(exc).__name__}: {exc}"
        ) from exc
    return as_dataset_manager(manager, page_size=page_size)


def open_source(
    config: SourceConfig, *, create: bool = False, embedding: EmbeddingConfig | None = None
) -> DatasetManagerProtocol:
    """The log source a ``[source]`` configuration names (the embedded store, VectorWave, or a
    Parquet directory), re-embedded as it is read when ``embedding.reembed`` is set.

    Args:
        config: The ``[source]`` section.
        create: Create the embedded store when it does not exist (readers never do).
        embedding: The ``[embedding]`` section; with ``reembed``, every log's vector is made
            from its view (:class:`~vector_trainer.sources.reembed.ReembeddedSource`).

    Raises:
        ConfigError: For an unknown ``source.kind``.
        EmptyDataError: If the embedded store does not exist and ``create`` is false.
    """
    source = _open(config, create)
    if embedding is None or not embedding.reembed:
        return source
    from vector_trainer.sources.embedding_cache import configured_embedder
    from vector_trainer.sources.reembed import ReembeddedSource
    from vector_trainer.sources.views import EmbeddingView

    embedder = configured_embedder(embedding)
    return ReembeddedSource(source, embedder, EmbeddingView.from_config(embedding))


def _open(config: SourceConfig, create: bool) -> DatasetManagerProtocol:
    if config.kind == "sqlite":
        from vector_trainer.sources.store import SQLiteLogStore

        return SQLiteLogStore(config.store, create=create)
    if config.kind == "vectorwave":
        return connect_vectorwave(config.page_size)
    if config.kind == "parquet":
        from vector_trainer.sources.columnar import ParquetLogs

        return ParquetLogs(config.store)
    raise ConfigError(f"source.kind: must be one of 'sqlite', 'vectorwave', 'parquet', got {config.kind!r}")
