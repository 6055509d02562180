"""Small file helpers shared by every stage: atomic writes and line-numbered JSONL reading."""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import os
import re
import secrets
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vector_trainer.errors import InputError

TMP_SUFFIX = ".tmp"
#: A temporary file older than this is left over from a killed writer and may be removed.
STALE_TMP_AGE_S = 3600.0
#: A ``\\uD800``-``\\uDFFF`` escape: the only way a lone surrogate can enter a strictly decoded line.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the new one.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, and the
    file is renamed over the target (``os.replace`` is atomic on POSIX and Windows).

    Args:
        path: Destination file. Parent directories are created.
        data: The complete new content.

    Returns:
        The destination path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = target.parent / f".{target.name}.{secrets.token_hex(6)}{TMP_SUFFIX}"
    # O_EXCL on a fresh random name; mode 0o666 less the umask, like any file the user creates.
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return target


def contained_path(root: str | os.PathLike[str], relative: str | os.PathLike[str]) -> Path:
    """``root / relative``, refused unless it stays inside ``root`` without following a symlink.

    Every file the pipeline writes into a run directory goes through this check, so a planted
    symlink (``events.jsonl -> ~/.bashrc``) or a ``..`` in a name cannot move a write elsewhere.

    Raises:
        InputError: If the path leaves ``root`` or a component of it (or the file) is a symlink.
    """
    base = Path(root)
    target = base / relative
    current = base
    for part in Path(relative).parts:
        current = current / part
        if current.is_symlink():
            raise InputError(f"{current} is a symbolic link; refusing to write through it (remove it and re-run)")
    resolved_base = base.resolve()
    if not target.resolve().is_relative_to(resolved_base) or ".." in Path(relative).parts:
        raise InputError(f"{target} is outside the run directory {base}; refusing to write there")
    return target


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a file, refusing to follow a symlink at ``path`` (``O_NOFOLLOW``)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if Path(path).is_symlink():
            raise InputError(f"{path} is a symbolic link; refusing to write through it (remove it and re-run)") from exc
        raise
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> Path:
    """Atomically write ``value`` as pretty-printed JSON."""
    return atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: str | os.PathLike[str], rows: Iterable[Any]) -> Path:
    """Atomically write one JSON document per line."""
    body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return atomic_write_text(path, body)


#: Longest line of a log, feedback or training file: a record is read whole, so this bounds the
#: memory one record can take (a 100 MB field is refused, not loaded).
MAX_LINE_BYTES = 32 * 2**20


def check_regular_file(path: str | os.PathLike[str]) -> None:
    """Refuse what is not a regular file where one is expected (a FIFO would hang every reader).

    Raises:
        InputError: Naming the path and what it is.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: the caller's open names it
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise InputError(f"{os.fspath(path)} is {kind}; give the path of a file")


def read_regular_text(path: str | os.PathLike[str]) -> str:
    """A regular file's text (UTF-8): the one way state and configuration files are read.

    Raises:
        InputError: If it is not a regular file.
        OSError, UnicodeDecodeError: As :meth:`pathlib.Path.read_text`.
    """
    check_regular_file(path)
    return Path(path).read_text(encoding="utf-8")


def iter_byte_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line)`` of a file (``.gz`` decompressed), undecoded.

    Raises:
        InputError: ``file: not a readable gzip file`` for a truncated or fake ``.gz``, or
            ``file: cannot be read`` (missing, a directory, no permission).
    """
    name = os.fspath(path)
    is_gzip = Path(path).suffix == ".gz"
    opener = gzip.open if is_gzip else open
    line_no = 0
    check_regular_file(path)
    try:
        handle = opener(path, "rb")
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}); check the path") from exc
    try:
        with handle:
            while raw := handle.readline(MAX_LINE_BYTES + 1):  # never more than the bound in memory
                line_no += 1  # also names a gzip error below
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(
                        f"{name}:{line_no}: a line of over {MAX_LINE_BYTES // 2**20} MiB; records are limited to "
                        "that size (store large payloads elsewhere and log a reference)"
                    )
                # a UTF-8 byte order mark (Excel, Notepad) is not part of the first record
                yield line_no, raw[3:] if line_no == 1 and raw.startswith(codecs.BOM_UTF8) else raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        if not is_gzip:
            raise
        where = f"after line {line_no}" if line_no else "at its start"
        raise InputError(
            f"{name}: not a readable gzip file {where} ({exc}); "
            "the file is truncated or not gzip-compressed: re-download it, or drop the .gz suffix"
        ) from exc


def decode_line(raw: bytes, name: str, line_no: int) -> str:
    """One line as strict UTF-8.

    Raises:
        InputError: ``file:line: not valid UTF-8``.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}:{line_no}: not valid UTF-8 ({exc.reason}); re-encode the file as UTF-8") from exc


def iter_text_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a text file (``.gz`` decompressed), decoding each line
    as strict UTF-8 so that an encoding error names its own line.

    Raises:
        InputError: ``file:line: not valid UTF-8``, ``file: not a readable gzip file`` for a
            truncated or fake ``.gz``, or ``file: cannot be read`` (missing, a directory, no permission).
    """
    name = os.fspath(path)
    for line_no, raw in iter_byte_lines(path):
        yield line_no, decode_line(raw, name, line_no)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (RFC 8259); write null or a finite number")


#: One decoder for every line (json.loads with options would build a new one per call); it is
#: configuration only, never changed after this line.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels in ``value`` (counted with an
    explicit stack, so the answer never depends on how deep the caller's stack is)."""
    pending = [(value, 1)] if isinstance(value, (list, dict)) else []
    while pending:
        container, depth = pending.pop()
        if depth > limit:
            return True
        children = container.values() if isinstance(container, dict) else container
        pending.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False


#: Deepest nesting of lists and objects a value read from a log may have: a record's fields and a
#: tool call's arguments (real logs stay far below it; past about 1,000 the standard library
#: cannot encode or decode the value at all).
MAX_NESTING = 100


def loads_bounded(text: str) -> Any:
    """:func:`loads_strict`, with nesting bounded by :data:`MAX_NESTING`.

    Raises:
        ValueError: Saying why.
    """
    value = loads_strict(text)
    if too_deep(value, MAX_NESTING):
        raise ValueError(f"nested more than {MAX_NESTING} levels")
    return value


def loads_strict(text: str) -> Any:
    """Decode one JSON document as RFC 8259 says: no ``NaN``/``Infinity``, no lone UTF-16
    surrogates, and nesting or integer sizes that would exhaust Python become errors.

    Raises:
        ValueError: With a short reason (the caller adds the file and line).
    """
    try:
        value = _STRICT_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError("invalid JSON (nested too deeply to decode)") from exc
    except ValueError as exc:  # parse_constant, or an integer beyond sys.get_int_max_str_digits()
        if "integer string conversion" in str(exc):
            raise ValueError("invalid JSON (an integer with thousands of digits); write it as a string") from exc
        raise ValueError(f"invalid JSON ({exc})") from exc
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("invalid JSON (a lone UTF-16 surrogate escape such as \\ud800 is not text)") from exc
    return value


def _loads_line(text: str, name: str, line_no: int) -> Any:
    try:
        return loads_strict(text)
    except ValueError as exc:
        raise InputError(f"{name}:{line_no}: {exc}") from exc


def json_object_line(raw: bytes, name: str, line_no: int) -> dict[str, Any] | None:
    """One JSONL line read strictly as a JSON object (``None`` for a blank line).

    Raises:
        InputError: ``file:line: ...`` for invalid UTF-8, invalid JSON (see :func:`loads_strict`)
            or a value that is not an object.
    """
    text = decode_line(raw, name, line_no)
    if not text.strip():
        return None
    value = _loads_line(text, name, line_no)
    if not isinstance(value, dict):
        raise InputError(f"{name}:{line_no}: expected a JSON object, got {type(value).__name__}")
    return value


def iter_json_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line of a JSONL file, any JSON value.

    Raises:
        InputError: ``file:line: ...`` for invalid UTF-8 or invalid JSON (see :func:`loads_strict`).
    """
    name = os.fspath(path)
    for line_no, line in iter_text_lines(path):
        if line.strip():
            yield line_no, _loads_line(line, name, line_no)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises:
        InputError: ``file:line: ...`` for invalid UTF-8, invalid JSON (see :func:`loads_strict`)
            or a non-object line.
    """
    name = os.fspath(path)
    for line_no, raw in iter_byte_lines(path):
        value = json_object_line(raw, name, line_no)
        if value is not None:
            yield line_no, value


def remove_stale_temp_files(directory: str | os.PathLike[str], *, older_than_s: float = STALE_TMP_AGE_S) -> int:
    """Delete ``.*.tmp`` files that a killed writer left in ``directory``; returns how many.

    Only files older than ``older_than_s`` go, so a write in progress in another process is safe.
    """
    removed = 0
    cutoff = time.time() - older_than_s
    for candidate in Path(directory).glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if not candidate.is_symlink() and candidate.is_file() and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
                removed += 1
    return removed


def _json_object(data: Any) -> str | None:
    return None if isinstance(data, dict) else "not a JSON object"


#: Seconds a state document's writer waits for another writer's lock.
STATE_LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class StateDocument:
    """A JSON state file (a registry, a manifest, a ledger, a run's or a loop's state), read
    strictly and written atomically; :meth:`update` reads, changes and writes it under a lock.

    Attributes:
        path: The file.
        fix: What the user can do when it is damaged (ends every error message).
        error: The exception raised, naming the path, for a link, an unreadable file or a
            document of the wrong shape.
        check: A document's problem in words, or ``None`` when it is well formed (default: a
            JSON object).
        lock_path: The lock of :meth:`update` (default: ``.<name>.lock`` beside the file).
    """

    path: Path
    fix: str
    error: type[Exception] = InputError
    check: Callable[[Any], str | None] = _json_object
    lock_path: Path | None = None

    def read(self, missing: Any) -> Any:
        """The document, or ``missing`` when the file does not exist yet.

        Raises:
            Exception: ``error``, for a symbolic link (the file or its directory), a file that
                cannot be read or is no strict JSON, or a document that fails ``check``.
        """
        for part in (self.path.parent, self.path):
            if part.is_symlink():
                raise self.error(f"{part} is a symbolic link; state is only read from real files (replace the link)")
        if not self.path.exists():
            return missing
        try:
            data = loads_strict(read_regular_text(self.path))
        except OSError as exc:
            raise self.error(f"{self.path} cannot be read ({exc.strerror or exc}); {self.fix}") from exc
        except ValueError as exc:  # bad UTF-8, or any JSON failure (depth, size, syntax)
            raise self.error(f"{self.path} is not valid JSON ({exc}); {self.fix}") from exc
        problem = self.check(data)
        if problem is not None:
            raise self.error(f"{self.path}: {problem}; {self.fix}")
        return data

    def update(self, missing: Any, change: Callable[[Any], Any]) -> Any:
        """Read the document (``missing`` when absent), apply ``change`` to it in place and
        write it back atomically, all under the lock; returns what ``change`` returns."""
        from filelock import FileLock  # light, but config and the ground floor never need it

        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise InputError(f"{self.path.parent} is a file, not a directory; move it away")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.lock_path or self.path.with_name(f".{self.path.name}.lock")
        with FileLock(str(lock), timeout=STATE_LOCK_TIMEOUT_S):
            data = self.read(missing)
            result = change(data)
            atomic_write_json(self.path, data)
            return result
