"""FR-1: density-based golden-data selection.

``from vector_trainer.extractor import DensityBasedExtractor`` (the seed README's example) works;
names are loaded on first use.
"""

from __future__ import annotations

from vector_trainer._shared import lazy_exports

_EXPORTS = {
    "DensityBasedExtractor": "vector_trainer.extractor.core",
    "ExtractionResult": "vector_trainer.extractor.core",
    "ExtractionReport": "vector_trainer.extractor.report",
    "SelectedExample": "vector_trainer.extractor.report",
    "GraphAnalysis": "vector_trainer.extractor.graph",
    "ExcludedLog": "vector_trainer.extractor.graph",
    "DensityResult": "vector_trainer.extractor.engines",
    "NeighborEngine": "vector_trainer.extractor.engines",
    "ExactEngine": "vector_trainer.extractor.engines",
    "FaissEngine": "vector_trainer.extractor.ann",
    "RayEngine": "vector_trainer.extractor.ray_engine",
    "ManagerEngine": "vector_trainer.extractor.engines",
    "make_engine": "vector_trainer.extractor.engine_choice",
    "normalize_rows": "vector_trainer.extractor.engines",
    "pca_projection": "vector_trainer.extractor.projection",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
