"""The embedded log store: SQLite (standard library), no server, the default source.

Its ``executions`` table mirrors VectorWave's ``VectorWaveExecutions`` collection (uuid,
function_name, status, captured input, JSON ``return_value``, error_message, timestamp, vector)
so that the extractor cannot tell it from a VectorWave manager: both are read through
:class:`vector_trainer.types.DatasetManagerProtocol`.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer._shared import utc_now
from vector_trainer.config import DEMO_STORE, SourceConfig
from vector_trainer.errors import EmptyDataError, InputError
from vector_trainer.sources.pages import LogPage, strict_json
from vector_trainer.sources.records import (
    DEFAULT_ON_DUPLICATE,
    ON_DUPLICATE,
    ImportSummary,
    SpaceCheck,
    StoredRecord,
    decode_vector,
    encode_vector,
)
from vector_trainer.sources.vector_index import VectorIndex
from vector_trainer.sources.vector_pages import blob_vectors
from vector_trainer.types import ExecutionLog, NeighborHit

__all__ = ["DEFAULT_ON_DUPLICATE", "ON_DUPLICATE", "ImportSummary", "SQLiteLogStore", "StoredRecord"]

#: How long a write waits for another process's import to finish before giving up.
BUSY_TIMEOUT_S = 120.0
#: Records written per ``executemany`` (and looked up per duplicate query), inside the one
#: transaction of an import; below SQLite's oldest limit of 999 bound parameters.
IMPORT_BATCH = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    uuid TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    return_value TEXT,
    error_message TEXT,
    timestamp TEXT,
    vector BLOB,
    dim INTEGER
);
CREATE INDEX IF NOT EXISTS idx_executions_function ON executions(function_name, uuid);
CREATE TABLE IF NOT EXISTS vector_spaces (
    function_name TEXT PRIMARY KEY,
    space TEXT NOT NULL,
    dim INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS golden (
    original_uuid TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    note TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class SQLiteLogStore:
    """Execution logs in one SQLite file (WAL mode, one transaction per import).

    Args:
        path: Database file; created with its parent directory if missing.
        busy_timeout_s: How long a write waits while another process imports into the same file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = SourceConfig.store,
        *,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        create: bool = True,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._generation = 0  # bumped by this connection's imports (invalidates _indexes)
        self._indexes: dict[str, tuple[tuple[int, int], VectorIndex | None]] = {}
        if self.path.is_dir():
            raise InputError(f"{self.path} is a directory; give the path of a store file (e.g. {SourceConfig.store})")
        if not create and not self.path.exists():
            demo = Path(DEMO_STORE)
            hint = (
                f"the demo's logs are in {demo}: add --store {demo}"
                if demo.is_file()
                else "or try 'vectortrainer demo' (check the path for a typo)"
            )
            raise EmptyDataError(
                f"there is no store at {self.path}: import logs with 'vectortrainer ingest FILE --store {self.path}', "
                + hint
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_s)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise InputError(
                f"{self.path} is not a VectorTrainer store ({exc}); point --store at a new path or an existing store"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> SQLiteLogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def import_records(
        self, records: Iterable[StoredRecord], *, on_duplicate: str = DEFAULT_ON_DUPLICATE
    ) -> ImportSummary:
        """Insert ``records`` in a single transaction: all of them or none.

        ``records`` may be a lazy iterable (an ingest streams a file through it, so memory stays
        flat); an exception raised while iterating rolls the whole import back. A uuid already
        stored (or met earlier in the same import) is never duplicated: ``on_duplicate`` says
        whether it is skipped, updated or an error. Every function's vectors must stay in one
        embedding space (same embedder, same dimension).

        Raises:
            InputError: When a record's vector space or dimension conflicts with the store or
                with another record of the import (the message names the record's source), or
                when another process holds the store for longer than the busy timeout, or (with
                ``on_duplicate="error"``) for a uuid that is already stored.
        """
        if on_duplicate not in ON_DUPLICATE:
            raise InputError(f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}, got {on_duplicate!r}")
        conn = self._conn
        self._begin_write()
        try:
            spaces = SpaceCheck(self._stored_spaces())
            counts = {"inserted": 0, "updated": 0, "skipped": 0}
            functions: set[str] = set()
            pending = iter(records)
            while batch := list(itertools.islice(pending, IMPORT_BATCH)):
                rows = self._batch_rows(batch, on_duplicate, spaces, counts)
                functions.update(row[1] for row in rows)
                conn.executemany(
                    "INSERT OR REPLACE INTO executions (uuid, function_name, status, input, return_value,"
                    " error_message, timestamp, vector, dim) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            for function_name, (space, dim) in spaces.new_spaces().items():
                conn.execute(
                    "INSERT OR IGNORE INTO vector_spaces (function_name, space, dim) VALUES (?, ?, ?)",
                    (function_name, space, dim),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            self._generation += 1
        return ImportSummary(counts["inserted"], counts["updated"], tuple(sorted(functions)), skipped=counts["skipped"])

    def _batch_rows(
        self, batch: list[StoredRecord], on_duplicate: str, spaces: SpaceCheck, counts: dict[str, int]
    ) -> list[tuple[Any, ...]]:
        """The rows to write for one batch, in order; counts what is inserted, updated, skipped.
        A uuid is a duplicate if it is stored (earlier batches of this import included) or met
        earlier in this batch."""
        uuids = [record.log.uuid for record in batch]
        marks = ",".join("?" * len(uuids))
        stored = {row[0] for row in self._conn.execute(f"SELECT uuid FROM executions WHERE uuid IN ({marks})", uuids)}
        rows: list[tuple[Any, ...]] = []
        for record in batch:
            log = record.log
            exists = log.uuid in stored
            if exists and on_duplicate == "skip":
                counts["skipped"] += 1
                continue
            if exists and on_duplicate == "error":
                raise InputError(
                    f"{record.source}: uuid '{log.uuid}' is already in {self.path} (or earlier in this file); "
                    "use --on-duplicate skip to keep the stored log or update to replace it"
                )
            spaces.check(record)
            stored.add(log.uuid)
            counts["updated" if exists else "inserted"] += 1
            blob, dim = encode_vector(log.vector)
            rows.append(
                (
                    log.uuid,
                    log.function_name,
                    log.status,
                    json.dumps(dict(log.inputs), ensure_ascii=False),
                    None if log.output is None else json.dumps(log.output, ensure_ascii=False),
                    log.error_message,
                    log.timestamp,
                    blob,
                    dim,
                )
            )
        return rows

    def replace_vectors(self, function_name: str, vectors: Mapping[str, np.ndarray], space: str) -> int:
        """Give every log of a function a new vector of one new ``space``, in one transaction
        (``vectortrainer reembed``); returns how many logs changed.

        Raises:
            InputError: If a log of the function has no new vector, or the dimensions differ.
        """
        rows = self._conn.execute("SELECT uuid FROM executions WHERE function_name = ?", (function_name,))
        missing = {row[0] for row in rows} - set(vectors)
        dims = {int(np.asarray(v).shape[0]) for v in vectors.values()}
        if missing or len(dims) != 1:
            problem = f"{len(missing)} logs got no new vector" if missing else f"the dimensions {sorted(dims)} differ"
            raise InputError(f"reembedding '{function_name}': {problem}; nothing was changed")
        self._begin_write()
        try:
            self._conn.executemany(
                "UPDATE executions SET vector = ?, dim = ? WHERE uuid = ? AND function_name = ?",
                ((encode_vector(np.asarray(v))[0], *dims, uuid, function_name) for uuid, v in vectors.items()),
            )
            self._conn.execute("INSERT OR REPLACE INTO vector_spaces VALUES (?, ?, ?)", (function_name, space, *dims))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._generation += 1
        return len(vectors)

    def _begin_write(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise InputError(
                f"{self.path} is busy: another process has been writing to it for over "
                f"{self.busy_timeout_s:g} s (an import in progress?); retry when it has finished"
            ) from exc

    def _stored_spaces(self) -> dict[str, tuple[str, int]]:
        rows = self._conn.execute("SELECT function_name, space, dim FROM vector_spaces")
        return {name: (space, dim) for name, space, dim in rows}

    def vector_space(self, function_name: str) -> tuple[str, int] | None:
        """The embedding space ``(name, dim)`` of a function's vectors, if any were stored."""
        row = self._conn.execute(
            "SELECT space, dim FROM vector_spaces WHERE function_name = ?", (function_name,)
        ).fetchone()
        return (row[0], int(row[1])) if row else None

    # -- reading (DatasetManagerProtocol) ----------------------------------------------------

    def list_functions(self) -> list[str]:
        """Names of the functions with logs, sorted."""
        rows = self._conn.execute("SELECT DISTINCT function_name FROM executions ORDER BY function_name")
        return [row[0] for row in rows]

    def count(self, function_name: str | None = None) -> int:
        """Number of logs, for one function or all."""
        if function_name is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0])
        return int(
            self._conn.execute("SELECT COUNT(*) FROM executions WHERE function_name = ?", (function_name,)).fetchone()[
                0
            ]
        )

    def _row_pages(self, function_name: str, batch_size: int) -> Iterator[list[tuple[Any, ...]]]:
        """The function's rows in uuid order, ``batch_size`` at a time (a keyset cursor)."""
        last = ""
        while True:
            rows = self._conn.execute(
                "SELECT uuid, function_name, status, input, return_value, error_message, timestamp, vector"
                " FROM executions WHERE function_name = ? AND uuid > ? ORDER BY uuid LIMIT ?",
                (function_name, last, max(1, batch_size)),
            ).fetchall()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def iter_executions(
        self, function_name: str, *, batch_size: int = SourceConfig.page_size
    ) -> Iterator[ExecutionLog]:
        """Every log of ``function_name`` in uuid order, paged with a keyset cursor."""
        for rows in self._row_pages(function_name, batch_size):
            yield from map(self._row_to_log, rows)

    def iter_pages(self, function_name: str, *, batch_size: int = SourceConfig.page_size) -> Iterator[LogPage]:
        """:meth:`iter_executions` a page of columns at a time (:class:`~vector_trainer.sources.pages.LogPage`):
        the page's vectors read from their blobs in one block, each log built when asked for."""
        for rows in self._row_pages(function_name, batch_size):
            yield _store_page(rows)

    def get(self, uuid: str) -> ExecutionLog | None:
        """One log by uuid."""
        row = self._conn.execute(
            "SELECT uuid, function_name, status, input, return_value, error_message, timestamp, vector"
            " FROM executions WHERE uuid = ?",
            (uuid,),
        ).fetchone()
        return self._row_to_log(row) if row else None

    @staticmethod
    def _row_to_log(row: tuple[Any, ...]) -> ExecutionLog:
        return SQLiteLogStore._fields_to_log(row[:7], decode_vector(row[7]))

    @staticmethod
    def _fields_to_log(fields: Sequence[Any], vector: np.ndarray | None) -> ExecutionLog:
        """A log from a row's columns before ``vector`` (the vector given decoded)."""
        uuid, function_name, status, input_json, return_value, error_message, timestamp = fields
        return ExecutionLog(
            uuid=uuid,
            function_name=function_name,
            status=status,
            inputs=json.loads(input_json),
            output=None if return_value is None else json.loads(return_value),
            error_message=error_message,
            timestamp=timestamp,
            vector=vector,
        )

    def near_vector(
        self,
        function_name: str,
        vector: Sequence[float],
        *,
        limit: int,
        min_similarity: float = -1.0,
    ) -> list[NeighborHit]:
        """Exact cosine search over the function's stored vectors, best first.

        The function's vectors are read and normalised once and kept until the store changes
        (an import here, or a commit from another process), so each query is one product.

        Raises:
            EmptyDataError: If the function has no stored vectors.
            InputError: If ``vector`` has the wrong dimension.
        """
        return self.near_vectors(function_name, np.asarray([vector], dtype=np.float32), limit=limit,
                                 min_similarity=min_similarity)[0]  # fmt: skip

    def near_vectors(
        self, function_name: str, vectors: np.ndarray, *, limit: int, min_similarity: float = -1.0
    ) -> list[list[NeighborHit]]:
        """:meth:`near_vector` for each row of ``vectors``, in blocked matrix products."""
        index = self._vector_index(function_name)
        if index is None:
            return [[] for _ in range(len(vectors))]
        return index.search_many(vectors, limit=limit, min_similarity=min_similarity)

    def _vector_index(self, function_name: str) -> VectorIndex | None:
        space = self.vector_space(function_name)
        if space is None:
            raise EmptyDataError(f"function '{function_name}' has no stored vectors to search")
        # data_version changes when another connection commits; _generation when this one does.
        token = (self._conn.execute("PRAGMA data_version").fetchone()[0], self._generation)
        cached = self._indexes.get(function_name)
        if cached is not None and cached[0] == token:
            return cached[1]
        uuids: list[str] = []
        blobs: list[bytes] = []
        rows = self._conn.execute(
            "SELECT uuid, vector FROM executions WHERE function_name = ? AND vector IS NOT NULL ORDER BY uuid",
            (function_name,),
        )
        for uuid, blob in rows:
            uuids.append(uuid)
            blobs.append(blob)
        matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(uuids), space[1])
        index = VectorIndex(uuids, matrix) if uuids else None
        self._indexes[function_name] = (token, index)
        return index

    # -- golden data ------------------------------------------------------------------------

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        """Record a log as golden data; ``False`` if it was already registered.

        Raises:
            InputError: If no log has that uuid.
        """
        log = self.get(log_uuid)
        if log is None:
            raise InputError(f"no log with uuid '{log_uuid}' in {self.path}")
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO golden (original_uuid, function_name, note, tags, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (log_uuid, log.function_name, note, json.dumps(list(tags or [])), utc_now()),
        )
        return cursor.rowcount == 1

    def golden_uuids(self, function_name: str | None = None) -> list[str]:
        """uuids registered as golden, optionally for one function."""
        if function_name is None:
            rows: Iterable[tuple[str]] = self._conn.execute("SELECT original_uuid FROM golden ORDER BY original_uuid")
        else:
            rows = self._conn.execute(
                "SELECT original_uuid FROM golden WHERE function_name = ? ORDER BY original_uuid",
                (function_name,),
            )
        return [row[0] for row in rows]


def _store_page(rows: Sequence[tuple[Any, ...]]) -> LogPage:
    """A page of the store's rows. The vectors are read from their blobs once, into the page's
    block, and the rows are kept without them (a built log takes its vector from the block). A
    row's input and output are known renderable when their JSON decodes strictly (msgspec refuses
    NaN and infinities), and are checked on the built log if not."""
    vectors = blob_vectors([row[7] for row in rows])
    fields = [row[:7] for row in rows]

    def build(row: int) -> ExecutionLog:
        return SQLiteLogStore._fields_to_log(fields[row], vectors.value(row))

    def renders(row: int) -> bool:
        input_json, return_value = fields[row][3], fields[row][4]
        return strict_json(input_json) and (return_value is None or strict_json(return_value))

    return LogPage([f[0] for f in fields], [f[2] for f in fields], vectors, build, renders)
