"""Which neighbour engine a run uses: by name, or ``auto`` by the number of logs."""

from __future__ import annotations

from vector_trainer.config import ExtractorConfig
from vector_trainer.errors import ConfigError, MissingDependencyError
from vector_trainer.extractor.distributed.engine import RayEngine
from vector_trainer.extractor.engines.base import NeighborEngine
from vector_trainer.extractor.engines.exact.engine import ExactEngine
from vector_trainer.extractor.engines.faiss_ivf import FaissEngine
from vector_trainer.extractor.engines.torch_exact import TorchEngine, cuda_available

#: ``auto`` looks for a GPU from this many nodes (importing torch to ask costs about a second).
GPU_MIN_NODES = 20_000


def make_engine(
    name: str,
    n: int,
    *,
    ann_threshold: int = ExtractorConfig.ann_threshold,
    ray_address: str = ExtractorConfig.ray_address,
    ray_cpus: int = ExtractorConfig.ray_cpus,
) -> NeighborEngine:
    """Choose an engine by name; ``auto`` is the exact :class:`~.torch_engine.TorchEngine` on a
    GPU when torch sees one and there are at least :data:`GPU_MIN_NODES` nodes, else exact up to
    ``ann_threshold`` nodes, faiss above it when faiss is installed (otherwise exact, which is
    slower but still linear in memory); ``torch`` is the torch engine on whatever device torch
    has; ``ray`` is :class:`~.ray_engine.RayEngine` on ``ray_address`` (or a local Ray of
    ``ray_cpus``).

    Raises:
        ConfigError: For an unknown engine name.
    """
    if name == "exact":
        return ExactEngine()
    if name == "torch":
        return TorchEngine()
    if name in {"faiss", "ann"}:
        return FaissEngine()
    if name == "ray":
        return RayEngine(address=ray_address or None, num_cpus=ray_cpus or None)
    if name == "auto":
        if n >= GPU_MIN_NODES and cuda_available():  # below it the CPU pass takes seconds
            return TorchEngine()
        if n > ann_threshold:
            try:
                return FaissEngine()
            except MissingDependencyError:
                return ExactEngine()
        return ExactEngine()
    raise ConfigError(f"unknown neighbour engine '{name}'; choose auto, exact, torch, faiss or ray")
