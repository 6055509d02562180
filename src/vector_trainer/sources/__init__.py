"""Where logs come from: the embedded SQLite store, logs in memory, Parquet files, file import, embedders,
VectorWave adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.sources.columnar import ParquetLogs as ParquetLogs
    from vector_trainer.sources.columnar_export import export_parquet as export_parquet
    from vector_trainer.sources.detect import as_dataset_manager as as_dataset_manager
    from vector_trainer.sources.detect import connect_vectorwave as connect_vectorwave
    from vector_trainer.sources.detect import open_source as open_source
    from vector_trainer.sources.embedders import Embedder as Embedder
    from vector_trainer.sources.embedders import HashingEmbedder as HashingEmbedder
    from vector_trainer.sources.embedders import make_embedder as make_embedder
    from vector_trainer.sources.ingest import ingest_file as ingest_file
    from vector_trainer.sources.ingest import read_records as read_records
    from vector_trainer.sources.memory import InMemoryLogs as InMemoryLogs
    from vector_trainer.sources.store import ImportSummary as ImportSummary
    from vector_trainer.sources.store import SQLiteLogStore as SQLiteLogStore


_EXPORTS = {
    "SQLiteLogStore": "vector_trainer.sources.store",
    "InMemoryLogs": "vector_trainer.sources.memory",
    "ParquetLogs": "vector_trainer.sources.columnar",
    "export_parquet": "vector_trainer.sources.columnar_export",
    "ImportSummary": "vector_trainer.sources.store",
    "ingest_file": "vector_trainer.sources.ingest",
    "read_records": "vector_trainer.sources.ingest",
    "Embedder": "vector_trainer.sources.embedders",
    "HashingEmbedder": "vector_trainer.sources.embedders",
    "make_embedder": "vector_trainer.sources.embedders",
    "as_dataset_manager": "vector_trainer.sources.detect",
    "connect_vectorwave": "vector_trainer.sources.detect",
    "open_source": "vector_trainer.sources.detect",
}
__all__ = sorted(_EXPORTS)
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
