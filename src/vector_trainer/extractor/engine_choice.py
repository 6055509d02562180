"""Which neighbour engine a run uses: by name, or ``auto`` by the number of logs."""

from __future__ import annotations

from vector_trainer.config import ExtractorConfig
from vector_trainer.errors import ConfigError, MissingDependencyError
from vector_trainer.extractor.ann import FaissEngine
from vector_trainer.extractor.engines import ExactEngine, NeighborEngine
from vector_trainer.extractor.ray_engine import RayEngine


def make_engine(
    name: str,
    n: int,
    *,
    ann_threshold: int = ExtractorConfig.ann_threshold,
    ray_address: str = ExtractorConfig.ray_address,
    ray_cpus: int = ExtractorConfig.ray_cpus,
) -> NeighborEngine:
    """Choose an engine by name; ``auto`` is exact up to ``ann_threshold`` nodes, faiss above
    it when faiss is installed (otherwise exact, which is slower but still linear in memory);
    ``ray`` is :class:`~.ray_engine.RayEngine` on ``ray_address`` (or a local Ray of ``ray_cpus``).

    Raises:
        ConfigError: For an unknown engine name.
    """
    if name == "exact":
        return ExactEngine()
    if name in {"faiss", "ann"}:
        return FaissEngine()
    if name == "ray":
        return RayEngine(address=ray_address or None, num_cpus=ray_cpus or None)
    if name == "auto":
        if n > ann_threshold:
            try:
                return FaissEngine()
            except MissingDependencyError:
                return ExactEngine()
        return ExactEngine()
    raise ConfigError(f"unknown neighbour engine '{name}'; choose auto, exact, faiss or ray")
