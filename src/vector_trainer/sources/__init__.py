"""Where logs come from: the embedded SQLite store, logs in memory, Parquet files, file import, embedders,
VectorWave adapters."""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

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
__getattr__ = lazy_exports(__name__, _EXPORTS)
