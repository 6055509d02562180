"""Logs as Parquet files: the layout the distributed engine's tasks read in parallel.

:func:`.columnar_export.export_parquet` (``vectortrainer export-logs``) writes any log source to a
directory with one sub-directory per function (a slug of its name and a hash, as run directories
are named), ``<function>/part-00000.parquet`` ..., rows in the source's order (uuid order for the
embedded store), in files of at most ``rows_per_file`` rows, and a ``manifest.json`` that lists
every function with its directory, files and rows (a missing or cut file is then detected):

======================  ===================================================================
``uuid``                string
``function_name``       string
``status``              string
``inputs``              string: the inputs as JSON
``output``              string: the output as JSON (null when not captured)
``error_message``       string (nullable)
``timestamp``           string (nullable)
``vector``              list<float32> (nullable)
======================  ===================================================================

:class:`ParquetLogs` reads such a directory back as a log source (paged, one record batch at a
time), and :meth:`ParquetLogs.vector_files` tells the distributed engine which file holds which
rows, so each task reads its own file. pyarrow is imported on first use (extra ``distributed``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer.errors import EmptyDataError, InputError, MissingDependencyError
from vector_trainer.fileio import loads_strict
from vector_trainer.sources.vector_index import VectorIndex
from vector_trainer.types import ExecutionLog, NeighborHit

#: Rows per Parquet file (one distributed task reads one file).
DEFAULT_ROWS_PER_FILE = 65_536
#: Rows per record batch when reading a file page by page.
READ_BATCH = 4096
#: The export's table of contents: every function, its directory, files and rows.
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "vectortrainer-parquet-logs/1"
STAGING_MARK = ".staging-"
FILE_PATTERN = "part-{:05d}.parquet"


def pyarrow_modules() -> tuple[Any, Any]:
    """``(pyarrow, pyarrow.parquet)``, or a :class:`MissingDependencyError` naming the extra."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "distributed", "Reading and writing Parquet logs") from exc
    return pyarrow, pyarrow.parquet


def read_columns(path: str | os.PathLike[str], columns: Sequence[str] | None = None) -> Any:
    """A Parquet file's columns as a pyarrow table.

    Raises:
        InputError: Naming the file, when it is missing, truncated, not Parquet, lacks a column, or
            fails its page checksums (export writes them, so a flipped byte is caught).
    """
    pa, pq = pyarrow_modules()
    try:
        return pq.read_table(path, columns=None if columns is None else list(columns), page_checksum_verification=True)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from None


def _unreadable(path: str | os.PathLike[str], exc: Exception) -> InputError:
    return InputError(
        f"{path}: cannot be read as a log file ({exc}); write the directory again with 'vectortrainer export-logs'"
    )


def _file_rows(path: Path) -> int:
    pa, pq = pyarrow_modules()
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from None


@dataclass(frozen=True)
class VectorFile:
    """One Parquet file of a function: its path, first row (in the function's uuid order) and rows."""

    path: Path
    first_row: int
    rows: int


def read_vectors(path: str | os.PathLike[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``vector`` column of one file as a float32 ``rows x dim`` matrix, and each row's
    vector length (``-1`` where it has none); rows of another length are left zero."""
    column = read_columns(path, ["vector"]).column("vector").combine_chunks()
    lengths = column.value_lengths().to_numpy(zero_copy_only=False)
    lengths = np.where(column.is_null().to_numpy(zero_copy_only=False), -1, lengths).astype(np.int64)
    matrix = np.zeros((len(column), dim), dtype=np.float32)
    right = lengths == dim
    if dim and right.any():
        values = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        if not right.all():  # keep the values of rows of the right length (a null row has none)
            values = values[np.repeat(right, np.maximum(lengths, 0))]
        matrix[right] = values.reshape(-1, dim)
    return matrix, lengths


def read_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """The functions an export's manifest lists (``{name: {directory, rows, files}}``).

    Raises:
        InputError: If the file is not a manifest written by ``export-logs``.
    """
    try:
        manifest = loads_strict(path.read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}")
        functions = dict(manifest["functions"])
        for entry in functions.values():
            [(f["name"], int(f["rows"])) for f in entry["files"]], entry["directory"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a manifest of export-logs ({exc}); export the logs again") from None
    return functions


class ParquetLogs:
    """A log source over a directory written by :func:`.columnar_export.export_parquet` (read-only; golden
    registrations are kept in :attr:`golden`, as :class:`~.memory.InMemoryLogs` keeps them).

    Raises:
        InputError: If the directory does not exist or holds no manifest written by export-logs.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()  # tasks may run in another working directory
        self._read: tuple[int, int] | None = None
        self._functions: dict[str, dict[str, Any]] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self.golden: dict[str, dict[str, Any]] = {}
        self._refresh()

    def _refresh(self) -> None:
        """Read the manifest again when a new export replaced it (a long-running loop sees new logs)."""
        manifest_path = self.directory / MANIFEST
        try:
            stat = manifest_path.stat()
        except OSError:
            where = "no such directory" if not self.directory.is_dir() else f"no {MANIFEST} in it"
            raise InputError(f"{self.directory}: {where}; write one with 'vectortrainer export-logs'") from None
        if self._read == (stat.st_ino, stat.st_mtime_ns):
            return
        self._functions = read_manifest(manifest_path)
        self._read = (stat.st_ino, stat.st_mtime_ns)
        self._indexes.clear()

    def __repr__(self) -> str:
        return f"ParquetLogs({str(self.directory)!r}, functions={self.list_functions()})"

    def _entry(self, function_name: str) -> dict[str, Any]:
        self._refresh()
        entry = self._functions.get(function_name)
        if entry is None:
            known = ", ".join(self._functions) or "none"
            raise EmptyDataError(f"no logs for function '{function_name}' in {self.directory} (functions: {known})")
        return entry

    def vector_files(self, function_name: str) -> list[VectorFile]:
        """The function's files with the rows each holds, in row order, as the manifest lists them.

        Raises:
            InputError: If a listed file is missing or holds another number of rows.
        """
        entry = self._entry(function_name)
        files, first = [], 0
        for listed in entry["files"]:
            path = self.directory / entry["directory"] / listed["name"]
            if not path.is_file():
                raise InputError(f"{path}: listed in {MANIFEST} but missing; export the logs again")
            rows = _file_rows(path)
            if rows != listed["rows"]:
                raise InputError(f"{path}: holds {rows} rows, {MANIFEST} says {listed['rows']}; export the logs again")
            files.append(VectorFile(path, first, rows))
            first += rows
        return files

    def list_functions(self) -> list[str]:
        """Names of the functions with files, sorted."""
        self._refresh()
        return sorted(self._functions)

    def iter_executions(self, function_name: str, *, batch_size: int = READ_BATCH) -> Iterator[ExecutionLog]:
        """Every log of ``function_name`` in the export's row order, one record batch at a time
        (none for a function the export does not hold, as every source reads it)."""
        self._refresh()
        if function_name not in self._functions:
            return
        for vector_file in self.vector_files(function_name):
            for batch in read_columns(vector_file.path).to_batches(max_chunksize=batch_size):
                yield from _logs(batch, vector_file.path)

    def logs_at(self, function_name: str, rows: Sequence[int]) -> list[ExecutionLog]:
        """The logs at the given row numbers (the distributed engine's ids), in the order given."""
        wanted = np.asarray(rows, dtype=np.int64)
        found: dict[int, ExecutionLog] = {}
        for vector_file in self.vector_files(function_name):
            local = wanted[(wanted >= vector_file.first_row) & (wanted < vector_file.first_row + vector_file.rows)]
            if local.size:
                table = read_columns(vector_file.path).take(local - vector_file.first_row)
                found.update(zip(local.tolist(), _logs(table, vector_file.path), strict=True))
        return [found[int(r)] for r in wanted]

    def near_vector(
        self, function_name: str, vector: Sequence[float], *, limit: int, min_similarity: float = -1.0
    ) -> list[NeighborHit]:
        """Exact cosine search over the function's logs, best first."""
        return self.near_vectors(
            function_name, np.asarray([vector], dtype=np.float32), limit=limit, min_similarity=min_similarity
        )[0]

    def near_vectors(
        self, function_name: str, vectors: np.ndarray, *, limit: int, min_similarity: float = -1.0
    ) -> list[list[NeighborHit]]:
        """:meth:`near_vector` for each row of ``vectors`` (the matrix is read once and kept)."""
        index = self._indexes.get(function_name)
        if index is None:
            index = self._indexes[function_name] = VectorIndex.from_logs(
                function_name, self.iter_executions(function_name)
            )
        return index.search_many(vectors, limit=limit, min_similarity=min_similarity)

    def register_as_golden(self, log_uuid: str, note: str = "", tags: Sequence[str] | None = None) -> bool:
        """Remember a log as golden data (in :attr:`golden`); ``False`` if it already was."""
        if log_uuid in self.golden:
            return False
        self.golden[log_uuid] = {"note": note, "tags": list(tags or [])}
        return True


def _logs(batch: Any, path: Path) -> Iterator[ExecutionLog]:
    columns = batch.to_pydict()
    for i, uuid in enumerate(columns["uuid"]):
        try:
            inputs = loads_strict(columns["inputs"][i])
            output = None if columns["output"][i] is None else loads_strict(columns["output"][i])
        except ValueError as exc:
            raise InputError(f"{path}: log {uuid}: its inputs or output are not valid JSON ({exc})") from None
        vector = columns["vector"][i]
        yield ExecutionLog(
            uuid=uuid,
            function_name=columns["function_name"][i],
            status=columns["status"][i],
            inputs=inputs if isinstance(inputs, dict) else {"input": inputs},
            output=output,
            error_message=columns["error_message"][i],
            timestamp=columns["timestamp"][i],
            vector=None if vector is None else np.asarray(vector, dtype=np.float32),
        )
