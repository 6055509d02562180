"""FR-1: density-based golden-data selection.

``from vector_trainer.extractor import DensityBasedExtractor`` (the seed README's example) works;
names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.extractor.ann import FaissEngine as FaissEngine
    from vector_trainer.extractor.core import DensityBasedExtractor as DensityBasedExtractor
    from vector_trainer.extractor.core import ExtractionResult as ExtractionResult
    from vector_trainer.extractor.engine_choice import make_engine as make_engine
    from vector_trainer.extractor.engines import DensityResult as DensityResult
    from vector_trainer.extractor.engines import ExactEngine as ExactEngine
    from vector_trainer.extractor.engines import ManagerEngine as ManagerEngine
    from vector_trainer.extractor.engines import NeighborEngine as NeighborEngine
    from vector_trainer.extractor.engines import normalize_rows as normalize_rows
    from vector_trainer.extractor.graph import ExcludedLog as ExcludedLog
    from vector_trainer.extractor.graph import GraphAnalysis as GraphAnalysis
    from vector_trainer.extractor.projection import pca_projection as pca_projection
    from vector_trainer.extractor.ray_engine import RayEngine as RayEngine
    from vector_trainer.extractor.report import ExtractionReport as ExtractionReport
    from vector_trainer.extractor.report import SelectedExample as SelectedExample


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
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
