"""``vectortrainer export-logs``: any log source written as the Parquet layout of
:mod:`.columnar`, streamed one file at a time, all or nothing, with a manifest of every file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer._layout import function_dirname
from vector_trainer.errors import ConfigError, EmptyDataError, InputError
from vector_trainer.fileio import STALE_TMP_AGE_S, atomic_write_json
from vector_trainer.sources.columnar import (
    DEFAULT_ROWS_PER_FILE,
    FILE_PATTERN,
    MANIFEST,
    MANIFEST_FORMAT,
    STAGING_MARK,
    pyarrow_modules,
    read_manifest,
)
from vector_trainer.types import DatasetManagerProtocol, ExecutionLog


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

    Logs are streamed page by page in the source's order (uuid order for the embedded store),
    so memory holds one file's rows. The files and a :data:`MANIFEST` naming every file and its
    rows are written into a staging directory beside ``directory`` and moved into place when
    every function is written. An existing ``directory`` is replaced only if it is an earlier
    export (it has a manifest); anything else there is refused, never deleted.

    Raises:
        ConfigError: For ``rows_per_file < 1``.
        InputError: If ``directory`` is a file, a directory that is not an export, or holds the
            source; or if an input or output holds NaN or an infinity (JSON cannot carry it).
        EmptyDataError: If the source, or a named function, has no logs.
    """
    if rows_per_file < 1:
        raise ConfigError(f"rows_per_file must be >= 1, got {rows_per_file}")
    target = Path(directory).resolve()
    _check_target(target, manager)
    names = list(functions) if functions is not None else manager.list_functions()
    if not names:
        raise EmptyDataError("the source holds no logs to export; import some with 'vectortrainer ingest FILE'")
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{STAGING_MARK}", dir=target.parent))
    try:
        manifest = {name: _export_function(manager, name, staging, rows_per_file, page_size) for name in names}
        atomic_write_json(staging / MANIFEST, {"format": MANIFEST_FORMAT, "functions": manifest})
        _open_up(staging)
        _replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    rows = {name: entry["rows"] for name, entry in manifest.items()}
    files = {name: len(entry["files"]) for name, entry in manifest.items()}
    return ExportSummary(target, rows, files)


def _check_target(target: Path, manager: Any) -> None:
    store = getattr(manager, "path", None)
    if store is not None and Path(store).resolve().is_relative_to(target):
        raise InputError(f"the store {store} lies inside {target}; export to a directory outside it")
    if target.is_file():
        raise InputError(f"{target} is a file; give export-logs a directory to write")
    foreign = _foreign_files(target) if target.is_dir() and _is_export(target) else []
    if foreign:  # replacing the export would delete them: export-logs removes only what it wrote
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise InputError(
            f"{target} holds files export-logs did not write ({shown}); move them away or export elsewhere"
        )
    if target.is_dir() and any(target.iterdir()) and not _is_export(target):
        raise InputError(
            f"{target} exists and is not an earlier export (no {MANIFEST}); choose a new directory, "
            "export-logs replaces only its own exports"
        )


def _foreign_files(directory: Path) -> list[str]:
    """What an earlier export's directory holds beyond the files its manifest lists."""
    listed = {MANIFEST}
    for entry in read_manifest(directory / MANIFEST).values():
        folder = str(entry["directory"])
        listed |= {folder, *(f"{folder}/{f['name']}" for f in entry["files"])}
    found = [p.relative_to(directory).as_posix() for p in sorted(directory.rglob("*"))]
    return [name for name in found if name not in listed]


def _is_export(directory: Path) -> bool:
    """Whether ``directory`` holds a manifest that ``export-logs`` wrote (its format says so)."""
    try:
        read_manifest(directory / MANIFEST)
    except InputError:
        return False
    return True


def _export_function(manager: Any, name: str, staging: Path, rows_per_file: int, page_size: int) -> dict[str, Any]:
    pa, pq = pyarrow_modules()
    folder = staging / function_dirname(name)
    folder.mkdir()
    files: list[dict[str, Any]] = []
    batch: list[ExecutionLog] = []

    def flush() -> None:
        try:
            table = _table(pa, batch)
        except ValueError as exc:
            raise InputError(f"function '{name}': a log's input or output holds NaN or Infinity ({exc})") from None
        file_name = FILE_PATTERN.format(len(files))
        pq.write_table(table, folder / file_name, write_page_checksum=True)
        os.utime(staging)  # a live export's staging directory never looks stale
        files.append({"name": file_name, "rows": len(batch)})
        batch.clear()

    for log in manager.iter_executions(name, batch_size=page_size):
        batch.append(log)
        if len(batch) == rows_per_file:
            flush()
    if batch:
        flush()
    if not files:
        raise EmptyDataError(f"function '{name}' has no logs to export")
    return {"directory": folder.name, "rows": sum(f["rows"] for f in files), "files": files}


def _open_up(staging: Path) -> None:
    """``mkdtemp`` makes the staging directory private; the export is as readable as any new
    directory (cluster workers read it), by the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)


def _remove_stale_staging(target: Path) -> None:
    """Staging directories of exports that were killed, older than an hour."""
    for old in target.parent.glob(f".{target.name}{STAGING_MARK}*"):
        with contextlib.suppress(OSError):
            if old.is_dir() and time.time() - old.stat().st_mtime > STALE_TMP_AGE_S:
                shutil.rmtree(old, ignore_errors=True)


def _replace_directory(staging: Path, target: Path) -> None:
    if not target.exists():
        os.replace(staging, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, retired / "export")
    try:
        os.replace(staging, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.replace(retired / "export", target)  # put the earlier export back
        if not (retired / "export").exists():  # back in place; otherwise it stays in `retired`
            shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
