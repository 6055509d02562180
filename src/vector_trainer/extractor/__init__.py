"""FR-1: density-based golden-data selection.

``from vector_trainer.extractor import DensityBasedExtractor`` (the seed README's example) works;
names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vector_trainer._shared import lazy_dir, lazy_exports

if TYPE_CHECKING:  # the same names, for type checkers and editors (a test keeps them equal)
    from vector_trainer.extractor.core import DensityBasedExtractor as DensityBasedExtractor
    from vector_trainer.extractor.core import ExtractionResult as ExtractionResult
    from vector_trainer.extractor.distributed.engine import RayEngine as RayEngine
    from vector_trainer.extractor.engines.base import DensityResult as DensityResult
    from vector_trainer.extractor.engines.base import NeighborEngine as NeighborEngine
    from vector_trainer.extractor.engines.base import normalize_rows as normalize_rows
    from vector_trainer.extractor.engines.choice import make_engine as make_engine
    from vector_trainer.extractor.engines.exact.engine import ExactEngine as ExactEngine
    from vector_trainer.extractor.engines.faiss_ivf import FaissEngine as FaissEngine
    from vector_trainer.extractor.engines.source import ManagerEngine as ManagerEngine
    from vector_trainer.extractor.graph import ExcludedLog as ExcludedLog
    from vector_trainer.extractor.graph import GraphAnalysis as GraphAnalysis
    from vector_trainer.extractor.output.projection import pca_projection as pca_projection
    from vector_trainer.extractor.output.report import ExtractionReport as ExtractionReport
    from vector_trainer.extractor.output.report import SelectedExample as SelectedExample


_EXPORTS = {
    "DensityBasedExtractor": "vector_trainer.extractor.core",
    "ExtractionResult": "vector_trainer.extractor.core",
    "ExtractionReport": "vector_trainer.extractor.output.report",
    "SelectedExample": "vector_trainer.extractor.output.report",
    "GraphAnalysis": "vector_trainer.extractor.graph",
    "ExcludedLog": "vector_trainer.extractor.graph",
    "DensityResult": "vector_trainer.extractor.engines.base",
    "NeighborEngine": "vector_trainer.extractor.engines.base",
    "ExactEngine": "vector_trainer.extractor.engines.exact.engine",
    "FaissEngine": "vector_trainer.extractor.engines.faiss_ivf",
    "RayEngine": "vector_trainer.extractor.distributed.engine",
    "ManagerEngine": "vector_trainer.extractor.engines.source",
    "make_engine": "vector_trainer.extractor.engines.choice",
    "normalize_rows": "vector_trainer.extractor.engines.base",
    "pca_projection": "vector_trainer.extractor.output.projection",
}
__all__ = sorted(_EXPORTS)
if not TYPE_CHECKING:  # type checkers see the imports above, not a module that answers any name
    __getattr__ = lazy_exports(__name__, _EXPORTS)
    __dir__ = lazy_dir(globals(), _EXPORTS)
