"""Re-embedding: vectors made again from a declared view of each log.

Stored vectors can be useless: VectorWave embeds a call's whole serialised input, and when a
long system prompt fills the embedder's window every call gets the same vector. Two ways out,
both embedding :class:`~vector_trainer.sources.views.EmbeddingView`'s text:

* :func:`reembed_store` rewrites the embedded store's vectors once (``vectortrainer reembed``);
* :class:`ReembeddedSource` wraps any source (VectorWave included, which is never written to)
  and embeds each function's logs as it reads them (``vectortrainer run --reembed``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vector_trainer.sources.embedders import Embedder
from vector_trainer.sources.ingest import EMBED_BATCH_SIZE
from vector_trainer.sources.memory import InMemoryLogs
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.sources.views import EmbeddingView, embed_logs, embedding_space
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog, NeighborHit


def _embedded(
    logs: Iterator[ExecutionLog],
    embedder: Embedder,
    view: EmbeddingView,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[ExecutionLog]:
    done = 0
    while batch := list(itertools.islice(logs, EMBED_BATCH_SIZE)):
        vectors = embed_logs([(f"log {log.uuid}", log) for log in batch], embedder, view)
        done += len(batch)
        if on_progress is not None:
            on_progress(done)
        yield from (dataclasses.replace(log, vector=vector) for log, vector in zip(batch, vectors, strict=True))


def reembed_store(
    store: SQLiteLogStore,
    function_name: str,
    embedder: Embedder,
    view: EmbeddingView,
    *,
    page_size: int = 500,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[int, str]:
    """Replace every vector of a function in the embedded store by ``view``'s text embedded.

    Args:
        store: The embedded store.
        function_name: The function whose vectors are replaced.
        embedder: Embeds the view's text.
        view: Which text of a log is embedded.
        page_size: Logs read per page.
        on_progress: Called with the number of logs embedded so far after each batch.

    Returns:
        ``(logs re-embedded, the new space's name)``.

    Raises:
        InputError: Naming a log whose view text cannot be taken (view ``field`` without that input).
    """
    logs = store.iter_executions(function_name, batch_size=page_size)
    vectors = {log.uuid: log.vector for log in _embedded(logs, embedder, view, on_progress)}
    space = embedding_space(embedder, view)
    return store.replace_vectors(function_name, vectors, space), space  # type: ignore[arg-type]


class ReembeddedSource:
    """A log source whose vectors are made from ``view`` by ``embedder`` as a function is read.

    Args:
        source: Any log source (its own vectors are ignored).
        embedder: Embeds the view's text.
        view: Which text of a log is embedded.
    """

    def __init__(self, source: DatasetManagerProtocol, embedder: Embedder, view: EmbeddingView) -> None:
        self._source = source
        self._embedder = embedder
        self.view = view
        self._functions: dict[str, InMemoryLogs] = {}

    @property
    def space(self) -> str:
        """The name of the vectors' embedding space (embedder and view)."""
        return embedding_space(self._embedder, self.view)

    def vector_space(self, function_name: str) -> tuple[str, int] | None:
        """``(space, dim)`` of the function's re-embedded vectors (embedding them if not yet done)."""
        first = next(iter(self.iter_executions(function_name)), None)
        return (self.space, int(first.vector.shape[0])) if first is not None and first.vector is not None else None

    def _logs(self, function_name: str, batch_size: int = 500) -> InMemoryLogs:
        if function_name not in self._functions:
            logs = self._source.iter_executions(function_name, batch_size=batch_size)
            self._functions[function_name] = InMemoryLogs(_embedded(iter(logs), self._embedder, self.view))
        return self._functions[function_name]

    def list_functions(self) -> list[str]:
        return self._source.list_functions()

    def iter_executions(self, function_name: str, *, batch_size: int = 500) -> Iterator[ExecutionLog]:
        return self._logs(function_name, batch_size).iter_executions(function_name)

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float
    ) -> list[NeighborHit]:
        return self._logs(function_name).near_vector(function_name, vector, limit=limit, min_similarity=min_similarity)

    def near_vectors(
        self, function_name: str, vectors: np.ndarray, *, limit: int, min_similarity: float = -1.0
    ) -> list[list[NeighborHit]]:
        """:meth:`near_vector` for each row of ``vectors`` (the re-embedded logs, searched in memory)."""
        return self._logs(function_name).near_vectors(
            function_name, vectors, limit=limit, min_similarity=min_similarity
        )

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        return self._source.register_as_golden(log_uuid, note=note, tags=tags)
