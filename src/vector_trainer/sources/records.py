"""What an import writes: records bound to their embedding space, and the import's summary.

Shared by the embedded store (:mod:`.store`) and the file importer (:mod:`.ingest`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vector_trainer.errors import InputError
from vector_trainer.types import ExecutionLog

#: What an import does with a uuid that is already stored: keep the stored log, replace it, or stop.
ON_DUPLICATE = ("skip", "update", "error")
#: Repeated identical logs are normal (the same question asked twice): keep the first.
DEFAULT_ON_DUPLICATE = "skip"


@dataclass(frozen=True)
class ImportSummary:
    """What one import wrote."""

    inserted: int
    updated: int
    functions: tuple[str, ...]
    skipped: int = 0
    embedded: int = 0
    embedder: str | None = None
    view: str | None = None


@dataclass(frozen=True)
class StoredRecord:
    """A record ready to be written: the log plus the name of its embedding space."""

    log: ExecutionLog
    space: str
    source: str = ""


def encode_vector(vector: np.ndarray | None) -> tuple[bytes | None, int | None]:
    if vector is None:
        return None, None
    array = np.ascontiguousarray(vector, dtype="<f4")
    return array.tobytes(), int(array.shape[0])


def decode_vector(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    return np.frombuffer(blob, dtype="<f4").copy()


class SpaceCheck:
    """Keeps every function's vectors in one embedding space across one import."""

    def __init__(self, stored: dict[str, tuple[str, int]]) -> None:
        self._stored = stored
        self._seen: dict[str, tuple[str, int, str]] = {}

    def check(self, record: StoredRecord) -> None:
        if record.log.vector is None:
            return
        name = record.log.function_name
        current = (record.space, int(record.log.vector.shape[0]))
        expected = self._stored.get(name) or (self._seen[name][:2] if name in self._seen else None)
        if expected is None:
            self._seen[name] = (*current, record.source)
            return
        if current != expected:
            origin = "the store" if name in self._stored else self._seen[name][2]
            raise InputError(
                f"{record.source}: vector of function '{name}' is {current[1]}-d from '{current[0]}', "
                f"but {origin} holds {expected[1]}-d vectors from '{expected[0]}'. "
                "Use one embedder per function (re-embed the file, or import it into another store)."
            )

    def new_spaces(self) -> dict[str, tuple[str, int]]:
        return {name: (space, dim) for name, (space, dim, _source) in self._seen.items()}
