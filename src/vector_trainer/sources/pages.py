"""A source's logs as pages of columns, each log built only when it is asked for (issue 31).

Selecting golden data reads every log of a function but looks at few of them: the graph needs
each log's uuid, status and vector, and whether its input and output can be rendered; only the
picked logs (a few hundred of 100,000) are ever read whole. A source that knows its rows hands
the extractor :class:`LogPage` values (``iter_pages``): the columns, the page's vectors as one
float32 block per length (:class:`~vector_trainer.sources.vector_pages.PageVectors`), and a
function that builds row ``i``'s :class:`~vector_trainer.types.ExecutionLog` on demand. Any other
source is read through ``iter_executions`` and paged here (:meth:`LogPage.of_logs`), so custom
sources keep working unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast, overload

import msgspec
import numpy as np

from vector_trainer.chatml import text_problem
from vector_trainer.sources.vector_pages import PageVectors, log_vectors
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog

#: JSON decoded strictly: msgspec refuses NaN and infinities, which rendering refuses too.
_STRICT_JSON = msgspec.json.Decoder()


def strict_json(text: str | bytes) -> bool:
    """Whether JSON text decodes strictly, so the value it holds renders
    (:func:`~vector_trainer.chatml.text_problem` finds nothing): a source's shortcut past
    building a log to check it. ``False`` says only that the built log must be checked."""
    try:
        _STRICT_JSON.decode(text)
    except msgspec.DecodeError:
        return False
    return True


@dataclass(frozen=True)
class LogPage:
    """A page of one function's logs as columns.

    Attributes:
        uuids: Each row's uuid.
        statuses: Each row's status (upper case, as :class:`~vector_trainer.types.ExecutionLog`).
        vectors: The rows' vectors, usable ones in float32 blocks.
        build: Row ``i``'s log, vector included, built when called.
        renders: Whether row ``i``'s input and output are known to render without building its
            log (the source's shortcut; ``False`` says only that the built log must be checked).
    """

    uuids: Sequence[str]
    statuses: Sequence[str]
    vectors: PageVectors
    build: Callable[[int], ExecutionLog] = field(repr=False)
    renders: Callable[[int], bool] = field(repr=False)

    def __len__(self) -> int:
        return len(self.uuids)

    def render_problem(self, row: int) -> str | None:
        """Row ``row``'s :func:`~vector_trainer.chatml.text_problem`: ``None`` at once where the
        source knows it renders, else read from the built log."""
        if self.renders(row):
            return None
        log = self.build(row)
        return text_problem(log.inputs, log.output)

    def logs(self) -> Iterator[ExecutionLog]:
        """Every row's log, in row order."""
        return (self.build(row) for row in range(len(self)))

    @classmethod
    def of_logs(cls, logs: Sequence[ExecutionLog]) -> LogPage:
        """A page of logs already built (a source that only has ``iter_executions``)."""
        kept = tuple(logs)
        return cls(
            uuids=[log.uuid for log in kept],
            statuses=[log.status for log in kept],
            vectors=log_vectors([log.vector for log in kept]),
            build=kept.__getitem__,
            renders=lambda _row: False,  # built already: checking the log costs nothing more
        )


class PagedSource(Protocol):
    """A source that hands over its logs in pages of columns (:class:`LogPage`)."""

    def iter_pages(self, function_name: str, *, batch_size: int = 500) -> Iterator[LogPage]:
        """Every execution of ``function_name``, a page at a time."""
        ...


def serves_pages(manager: object) -> bool:
    """Whether ``manager``'s pages are its logs: its class defines ``iter_pages`` where it
    defines ``iter_executions``. A subclass that overrides ``iter_executions`` alone (a filter,
    say), a proxy forwarding attributes, or a mock is read through its ``iter_executions``."""
    mro = type(manager).__mro__
    pages = next((cls for cls in mro if "iter_pages" in vars(cls)), None)
    return pages is not None and pages is next((cls for cls in mro if "iter_executions" in vars(cls)), None)


def log_pages(manager: DatasetManagerProtocol, function_name: str, page_size: int) -> Iterator[LogPage]:
    """A function's logs in pages: the source's own (:func:`serves_pages`), or its logs paged."""
    if serves_pages(manager):
        yield from cast("PagedSource", manager).iter_pages(function_name, batch_size=page_size)
        return
    logs = iter(manager.iter_executions(function_name, batch_size=page_size))
    while page := list(itertools.islice(logs, max(1, page_size))):
        yield LogPage.of_logs(page)


class LogTable(Sequence[ExecutionLog]):
    """Chosen rows of some pages as a sequence of logs, each built when it is read.

    Args:
        pages: The pages.
        page_of: Each entry's page (an index into ``pages``).
        row_of: Each entry's row within its page.
        uuids: The entries' uuids, when the caller has them already (read from the pages if not).
    """

    def __init__(
        self, pages: Sequence[LogPage], page_of: np.ndarray, row_of: np.ndarray, uuids: Sequence[str] | None = None
    ) -> None:
        self._pages = tuple(pages)
        self._page_of = np.asarray(page_of, dtype=np.int64)
        self._row_of = np.asarray(row_of, dtype=np.int64)
        if uuids is None:
            uuids = [
                self._pages[p].uuids[r] for p, r in zip(self._page_of.tolist(), self._row_of.tolist(), strict=True)
            ]
        self.uuids: tuple[str, ...] = tuple(uuids)
        if len(self.uuids) != len(self._page_of):
            raise ValueError(f"{len(self.uuids)} uuids for {len(self._page_of)} entries")

    @classmethod
    def of_logs(cls, logs: Sequence[ExecutionLog]) -> LogTable:
        """A table of logs already built, in the order given."""
        return cls([LogPage.of_logs(logs)], np.zeros(len(logs), dtype=np.int64), np.arange(len(logs)))

    def __len__(self) -> int:
        return len(self.uuids)

    @overload
    def __getitem__(self, index: int) -> ExecutionLog: ...

    @overload
    def __getitem__(self, index: slice) -> list[ExecutionLog]: ...

    def __getitem__(self, index: int | slice) -> ExecutionLog | list[ExecutionLog]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # an IndexError past the end, as a list gives
        return self._pages[int(self._page_of[i])].build(int(self._row_of[i]))

    def __repr__(self) -> str:
        return f"LogTable({len(self)} logs)"
