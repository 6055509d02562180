"""An in-memory log source shared by the benchmarks (they time selection, not storage): the
library's own :class:`~vector_trainer.sources.memory.InMemoryLogs`."""

from __future__ import annotations

import numpy as np

from vector_trainer.sources.memory import InMemoryLogs as MemorySource
from vector_trainer.types import ExecutionLog

__all__ = ["MemorySource", "as_logs"]


def as_logs(X: np.ndarray) -> list[ExecutionLog]:
    """One SUCCESS log of function ``fn`` per row; the uuid is the row number, zero-padded."""
    return [
        ExecutionLog(f"{i:07d}", "fn", "SUCCESS", {"question": f"q{i}"}, f"a{i}", vector=X[i]) for i in range(len(X))
    ]
