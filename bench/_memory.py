"""An in-memory log source shared by the benchmarks: they time selection, not storage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vector_trainer.types import ExecutionLog


@dataclass
class MemorySource:
    """The smallest DatasetManagerProtocol: one function's logs held in a list."""

    logs: list[ExecutionLog]

    def list_functions(self) -> list[str]:
        return ["fn"]

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[ExecutionLog]:
        return iter(self.logs)

    def near_vector(self, function_name, vector, *, limit, min_similarity):
        raise NotImplementedError

    def register_as_golden(self, log_uuid: str, note: str = "", tags=None) -> bool:
        return False


def as_logs(X: np.ndarray) -> list[ExecutionLog]:
    """One SUCCESS log of function ``fn`` per row; the uuid is the row number, zero-padded."""
    return [
        ExecutionLog(f"{i:07d}", "fn", "SUCCESS", {"question": f"q{i}"}, f"a{i}", vector=X[i]) for i in range(len(X))
    ]
