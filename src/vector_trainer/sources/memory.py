"""Logs held in memory: pass records or arrays from Python, with no store and no file.

:class:`InMemoryLogs` is a :class:`~vector_trainer.types.DatasetManagerProtocol`, so it goes
wherever a VectorWave dataset manager or the embedded store goes (``DensityBasedExtractor``,
``TrainingPipeline``). Records are validated exactly as ``vectortrainer ingest`` validates a file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vector_trainer.errors import InputError
from vector_trainer.sources.embedders import Embedder, HashingEmbedder
from vector_trainer.sources.ingest import parse_record
from vector_trainer.sources.vector_index import VectorIndex
from vector_trainer.sources.views import EmbeddingView, embed_logs
from vector_trainer.types import STATUS_SUCCESS, ExecutionLog, NeighborHit


class InMemoryLogs:
    """A log source over a list of :class:`ExecutionLog` (every function's logs together).

    Args:
        logs: The logs; uuids must be unique.

    Raises:
        InputError: Naming a uuid that appears twice.
    """

    def __init__(self, logs: Iterable[ExecutionLog]) -> None:
        self._logs = list(logs)
        self._indexes: dict[str, VectorIndex] = {}  # the logs never change, so neither do these
        seen: set[str] = set()
        for log in self._logs:
            if log.uuid in seen:
                raise InputError(f"uuid '{log.uuid}' appears twice; give each log its own uuid")
            seen.add(log.uuid)
        self.golden: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._logs)

    def __repr__(self) -> str:
        return f"InMemoryLogs({len(self._logs)} logs, functions={self.list_functions()})"

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        embedder: Embedder | None = None,
        view: EmbeddingView | None = None,
    ) -> InMemoryLogs:
        """Logs from records in the import format (``function_name``, ``input``, ``output``,
        ``status``, optional ``uuid``, ``vector``, ``timestamp``, ``error_message``).

        Args:
            records: The records, e.g. ``json.loads`` of each line of a JSONL file.
            embedder: Embeds the input of records without a vector (default: the offline
                lexical :class:`HashingEmbedder`; use ``make_embedder("local")`` for MiniLM).
            view: Which text of those records is embedded (default: a conversation's last user
                turn, any other record's input).

        Raises:
            InputError: Naming ``record N`` (0-based) and the field at fault.
        """
        logs = [parse_record(record, f"record {i}") for i, record in enumerate(records)]
        missing = [i for i, log in enumerate(logs) if log.vector is None]
        if missing:
            chosen = embedder or HashingEmbedder()
            vectors = embed_logs([(f"record {i}", logs[i]) for i in missing], chosen, view or EmbeddingView())
            for row, i in enumerate(missing):
                logs[i] = dataclasses.replace(logs[i], vector=vectors[row])
        return cls(logs)

    @classmethod
    def from_arrays(
        cls,
        function_name: str,
        vectors: np.ndarray | Sequence[Sequence[float]],
        inputs: Sequence[str | Mapping[str, Any]],
        outputs: Sequence[Any],
        *,
        statuses: Sequence[str] | None = None,
    ) -> InMemoryLogs:
        """One function's logs from parallel arrays: row ``i`` of ``vectors`` embeds ``inputs[i]``,
        which was answered ``outputs[i]`` (all SUCCESS unless ``statuses`` says otherwise).

        Raises:
            InputError: If the lengths differ, or a row is invalid (named ``row N``).
        """
        matrix = np.asarray(vectors, dtype=np.float32)
        lengths = {"vectors": len(matrix), "inputs": len(inputs), "outputs": len(outputs)}
        if statuses is not None:
            lengths["statuses"] = len(statuses)
        if len(set(lengths.values())) != 1:
            raise InputError(f"the arrays must have one entry per log; got lengths {lengths}")
        rows = [
            {
                "function_name": function_name,
                "input": inputs[i],
                "output": outputs[i],
                "status": statuses[i] if statuses is not None else STATUS_SUCCESS,
                "uuid": f"{function_name}-{i}",
                "vector": matrix[i].tolist(),
            }
            for i in range(len(matrix))
        ]
        return cls(parse_record(row, f"row {i}") for i, row in enumerate(rows))

    # -- DatasetManagerProtocol ------------------------------------------------------------------

    def list_functions(self) -> list[str]:
        """Names of the functions with logs, sorted."""
        return sorted({log.function_name for log in self._logs})

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[ExecutionLog]:
        """Every log of ``function_name``, in the order given."""
        return (log for log in self._logs if log.function_name == function_name)

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float = -1.0
    ) -> list[NeighborHit]:
        """Exact cosine search over the function's logs, best first (one matrix product).

        Raises:
            EmptyDataError: If the function has no logs with vectors.
        """
        return self.near_vectors(function_name, np.asarray([vector], dtype=np.float32), limit=limit,
                                 min_similarity=min_similarity)[0]  # fmt: skip

    def near_vectors(
        self, function_name: str, vectors: np.ndarray, *, limit: int, min_similarity: float = -1.0
    ) -> list[list[NeighborHit]]:
        """:meth:`near_vector` for each row of ``vectors``, in blocked matrix products."""
        index = self._indexes.get(function_name)
        if index is None:
            index = self._indexes[function_name] = VectorIndex.from_logs(
                function_name, (log for log in self._logs if log.function_name == function_name)
            )
        return index.search_many(vectors, limit=limit, min_similarity=min_similarity)

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        """Remember a log as golden data (in :attr:`golden`); ``False`` if it already was.

        Raises:
            InputError: If no log has that uuid.
        """
        if not any(log.uuid == log_uuid for log in self._logs):
            raise InputError(f"no log with uuid '{log_uuid}'")
        if log_uuid in self.golden:
            return False
        self.golden[log_uuid] = {"note": note, "tags": list(tags or [])}
        return True
