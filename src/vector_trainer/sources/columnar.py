"""Logs as Parquet files: the layout the distributed engine's tasks read in parallel.

:func:`export_parquet` (``vectortrainer export-logs``) writes any log source to a directory with
one sub-directory per function (a slug of its name and a hash, as run directories are named),
``<function>/part-00000.parquet`` ..., rows sorted by uuid (the
graph's node order) in files of at most ``rows_per_file`` rows:

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

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer._layout import function_dirname
from vector_trainer.errors import EmptyDataError, InputError, MissingDependencyError
from vector_trainer.fileio import loads_strict
from vector_trainer.sources.vector_index import VectorIndex
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog, NeighborHit

#: Rows per Parquet file (one distributed task reads one file).
DEFAULT_ROWS_PER_FILE = 65_536
#: Rows per record batch when reading a file page by page.
READ_BATCH = 4096
_FILE_PATTERN = "part-{:05d}.parquet"


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
        InputError: Naming the file, when it is missing, truncated, not Parquet, or lacks a column.
    """
    pa, pq = pyarrow_modules()
    try:
        return pq.read_table(path, columns=None if columns is None else list(columns))
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
class ExportSummary:
    """What :func:`export_parquet` wrote: rows and files per function, and the directory."""

    directory: Path
    rows: dict[str, int]
    files: dict[str, int]


def _schema(pa: Any) -> Any:
    text = pa.string()
    return pa.schema(
        [
            ("uuid", text),
            ("function_name", text),
            ("status", text),
            ("inputs", text),
            ("output", text),
            ("error_message", text),
            ("timestamp", text),
            ("vector", pa.list_(pa.float32())),
        ]
    )


def _table(pa: Any, logs: Sequence[ExecutionLog]) -> Any:
    return pa.Table.from_pydict(
        {
            "uuid": [log.uuid for log in logs],
            "function_name": [log.function_name for log in logs],
            "status": [log.status for log in logs],
            "inputs": [json.dumps(dict(log.inputs), ensure_ascii=False, allow_nan=False) for log in logs],
            "output": [
                None if log.output is None else json.dumps(log.output, ensure_ascii=False, allow_nan=False)
                for log in logs
            ],
            "error_message": [log.error_message for log in logs],
            "timestamp": [log.timestamp for log in logs],
            "vector": [None if log.vector is None else np.asarray(log.vector, dtype=np.float32) for log in logs],
        },
        schema=_schema(pa),
    )


def export_parquet(
    manager: DatasetManagerProtocol,
    directory: str | os.PathLike[str],
    *,
    functions: Iterable[str] | None = None,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    page_size: int = 1000,
) -> ExportSummary:
    """Write a source's logs as Parquet (module docstring); all or nothing.

    The files are written into a temporary directory beside ``directory`` and moved into place
    when every function is written; an existing ``directory`` is replaced only then.

    Raises:
        InputError: If an input or output holds NaN or an infinity (JSON cannot carry it).
        EmptyDataError: If a named function has no logs.
    """
    pa, pq = pyarrow_modules()
    target = Path(directory)
    names = list(functions) if functions is not None else manager.list_functions()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        rows, files = {}, {}
        for name in names:
            logs = sorted(manager.iter_executions(name, batch_size=page_size), key=lambda log: log.uuid)
            if not logs:
                raise EmptyDataError(f"function '{name}' has no logs to export")
            folder = staging / function_dirname(name)
            folder.mkdir()
            for number, start in enumerate(range(0, len(logs), rows_per_file)):
                try:
                    table = _table(pa, logs[start : start + rows_per_file])
                except ValueError as exc:
                    raise InputError(
                        f"function '{name}': a log's input or output holds NaN or Infinity ({exc})"
                    ) from None
                pq.write_table(table, folder / _FILE_PATTERN.format(number))
            rows[name], files[name] = len(logs), -(-len(logs) // rows_per_file)
        _replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(target, rows, files)


def _replace_directory(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


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


class ParquetLogs:
    """A log source over a directory written by :func:`export_parquet` (read-only; golden
    registrations are kept in :attr:`golden`, as :class:`~.memory.InMemoryLogs` keeps them).

    Raises:
        InputError: If the directory does not exist or holds no function directories.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()  # tasks may run in another working directory
        if not self.directory.is_dir():
            raise InputError(f"{self.directory}: no such directory; write one with 'vectortrainer export-logs'")
        self._functions: dict[str, Path] = {}
        for folder in sorted(p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
            first = next(iter(sorted(folder.glob("part-*.parquet"))), None)
            if first is not None:
                name = read_columns(first, ["function_name"]).column(0)[0].as_py()
                self._functions[name] = folder
        self._indexes: dict[str, VectorIndex] = {}
        self.golden: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"ParquetLogs({str(self.directory)!r}, functions={self.list_functions()})"

    def _folder(self, function_name: str) -> Path:
        folder = self._functions.get(function_name)
        if folder is None:
            known = ", ".join(self._functions) or "none"
            raise EmptyDataError(f"no logs for function '{function_name}' in {self.directory} (functions: {known})")
        return folder

    def vector_files(self, function_name: str) -> list[VectorFile]:
        """The function's files with the rows each holds, in row order."""
        files, first = [], 0
        for path in sorted(self._folder(function_name).glob("part-*.parquet")):
            rows = _file_rows(path)
            files.append(VectorFile(path, first, rows))
            first += rows
        return files

    def list_functions(self) -> list[str]:
        """Names of the functions with files, sorted."""
        return sorted(self._functions)

    def iter_executions(self, function_name: str, *, batch_size: int = READ_BATCH) -> Iterator[ExecutionLog]:
        """Every log of ``function_name`` in uuid order, one record batch at a time."""
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
            logs = [log for log in self.iter_executions(function_name) if log.vector is not None]
            if not logs:
                raise EmptyDataError(f"function '{function_name}' has no logs with vectors to search")
            index = VectorIndex([log.uuid for log in logs], np.stack([log.vector for log in logs]))
            self._indexes[function_name] = index
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
