"""FR-7: hook versions with instant rollback.

Layout (``version_dir`` defaults to ``.hook_versions`` beside the active hook)::

    generated_prompt_hook.py         the active hook (a copy of one version)
    .hook_versions/
        manifest.json                {"schema": 1, "active": "v0002", "versions": [...]}
        v0001.py, v0002.py, ...      one immutable file per version
        .lock                        inter-process lock (filelock)

Every write is atomic (temp file + rename) and done under the lock, in the order version file,
manifest, active hook; each file is therefore always wholly old or wholly new, and
:meth:`HookVersionManager.verify` reports (and :meth:`~HookVersionManager.activate` repairs) the
one window where the active hook lags the manifest. A manifest that cannot be read is reported
and never overwritten.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

from vector_trainer import _layout
from vector_trainer._shared import sha256_file
from vector_trainer.errors import InputError, ManifestCorruptedError
from vector_trainer.fileio import StateDocument, atomic_write_json, atomic_write_text

MANIFEST_NAME = _layout.MANIFEST_FILENAME
MANIFEST_SCHEMA = 1
LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HookVersion:
    """One stored hook version."""

    version_id: str
    created_at: str
    rule_count: int
    sha256: str
    file: str
    active: bool

    def to_dict(self) -> dict[str, Any]:
        """Manifest entry."""
        return dict(self.__dict__)


_VERSION_ID = re.compile(r"v[0-9]{1,18}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _entry_problem(entry: Any, index: int) -> str | None:
    where = f"versions[{index}]"
    if not isinstance(entry, dict):
        return f"{where} is not an object"
    version_id = entry.get("version_id")
    if not isinstance(version_id, str) or not _VERSION_ID.fullmatch(version_id):
        return f"{where}.version_id is {version_id!r}, expected 'v' and a number such as 'v0001'"
    if entry.get("file") != f"{version_id}.py":
        return f"{where}.file is {entry.get('file')!r}, expected '{version_id}.py' (a file beside the manifest)"
    if not isinstance(entry.get("sha256"), str) or not _SHA256.fullmatch(entry["sha256"]):
        return f"{where}.sha256 is not a hex SHA-256 digest"
    rule_count = entry.get("rule_count", 0)
    if isinstance(rule_count, bool) or not isinstance(rule_count, int) or rule_count < 0:
        return f"{where}.rule_count is {rule_count!r}, expected a whole number >= 0"
    if not isinstance(entry.get("created_at", ""), str):
        return f"{where}.created_at is not a string"
    return None


def _manifest_problem(data: Any) -> str | None:
    """What makes a decoded manifest unusable (naming the key), or ``None``."""
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA:
        return f"not a schema-{MANIFEST_SCHEMA} manifest (an object with 'schema' and a 'versions' list)"
    if not isinstance(data.get("versions"), list):
        return f"not a schema-{MANIFEST_SCHEMA} manifest (an object with 'schema' and a 'versions' list)"
    for index, entry in enumerate(data["versions"]):
        problem = _entry_problem(entry, index)
        if problem is not None:
            return problem
    ids = [entry["version_id"] for entry in data["versions"]]
    if len(set(ids)) != len(ids):
        return "a version_id appears twice in 'versions'"
    active = data.get("active")
    if active is not None and active not in ids:
        return f"'active' is {active!r}, which is not one of the versions"
    return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class HookVersionManager:
    """Stores, lists, activates and rolls back hook versions.

    Args:
        version_dir: Directory holding the versions and ``manifest.json``.
        active_path: The hook file the application loads.
    """

    def __init__(self, version_dir: str | os.PathLike[str], active_path: str | os.PathLike[str]) -> None:
        self.version_dir = Path(version_dir)
        self.active_path = Path(active_path)
        self.manifest_path = self.version_dir / MANIFEST_NAME
        self._lock = FileLock(str(self.version_dir / ".lock"), timeout=LOCK_TIMEOUT_S)

    # -- manifest ---------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        fix = (
            f"inspect or restore {self.manifest_path} by hand; the version files beside it are intact, "
            "and deleting the manifest starts a new history"
        )
        document = StateDocument(self.manifest_path, fix, ManifestCorruptedError, _manifest_problem)
        data: dict[str, Any] = document.read({"schema": MANIFEST_SCHEMA, "active": None, "versions": []})
        return data

    def list_versions(self) -> list[HookVersion]:
        """Every version, oldest first."""
        data = self._read()
        return [
            HookVersion(
                version_id=v["version_id"],
                created_at=v.get("created_at", ""),
                rule_count=v.get("rule_count", 0),
                sha256=v["sha256"],
                file=v["file"],
                active=v["version_id"] == data.get("active"),
            )
            for v in data["versions"]
        ]

    def active(self) -> HookVersion | None:
        """The active version, if any."""
        return next((v for v in self.list_versions() if v.active), None)

    def source(self, version_id: str) -> str:
        """The stored source of a version.

        Raises:
            InputError: For an unknown version.
            ManifestCorruptedError: If the stored file does not match its recorded hash.
        """
        version = self._find(self.list_versions(), version_id)
        path = self.version_dir / version.file
        if path.is_symlink() or not path.is_file():
            raise ManifestCorruptedError(
                f"{path} (hook version {version_id}) is missing or not a regular file; "
                f"pick another version with 'hooks list', or restore the file from a backup"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestCorruptedError(
                f"{path} (hook version {version_id}) cannot be read as UTF-8 text ({exc})"
            ) from exc
        if _sha256(text) != version.sha256:
            raise ManifestCorruptedError(f"{path} does not match the hash recorded in {self.manifest_path}")
        return text

    @staticmethod
    def _find(versions: list[HookVersion], version_id: str) -> HookVersion:
        for version in versions:
            if version.version_id == version_id:
                return version
        known = ", ".join(v.version_id for v in versions) or "none"
        raise InputError(f"unknown hook version '{version_id}' (known: {known})")

    # -- changes ----------------------------------------------------------------------------

    def add(self, source: str, rule_count: int, *, activate: bool = True) -> HookVersion:
        """Store ``source`` as a new version (or reuse an identical one) and activate it."""
        digest = _sha256(source)
        self.version_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            data = self._read()
            existing = next((v for v in data["versions"] if v["sha256"] == digest), None)
            if existing is None:
                number = 1 + max((int(v["version_id"].lstrip("v")) for v in data["versions"]), default=0)
                version_id = f"v{number:04d}"
                file_name = f"{version_id}.py"
                atomic_write_text(self.version_dir / file_name, source)
                existing = {
                    "version_id": version_id,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                    "rule_count": rule_count,
                    "sha256": digest,
                    "file": file_name,
                }
                data["versions"].append(existing)
            if activate:
                data["active"] = existing["version_id"]
            self._commit(data, source if activate else None)
        return self._find(self.list_versions(), existing["version_id"])

    def _commit(self, data: dict[str, Any], active_source: str | None) -> None:
        for entry in data["versions"]:
            entry["active"] = entry["version_id"] == data.get("active")
        atomic_write_json(self.manifest_path, data)
        if active_source is not None:
            atomic_write_text(self.active_path, active_source)

    def activate(self, version_id: str) -> HookVersion:
        """Make ``version_id`` the active hook (also repairs a hook file that lags the manifest)."""
        with self._lock:
            data = self._read()
            self._find(self.list_versions(), version_id)
            source = self.source(version_id)
            data["active"] = version_id
            self._commit(data, source)
        return self._find(self.list_versions(), version_id)

    def rollback(self, version_id: str | None = None) -> HookVersion:
        """Activate ``version_id``, or the version created before the active one.

        Raises:
            InputError: If there is no earlier version to roll back to.
        """
        if version_id is not None:
            return self.activate(version_id)
        versions = self.list_versions()
        current = next((i for i, v in enumerate(versions) if v.active), None)
        if current is None or current == 0:
            raise InputError("no earlier hook version to roll back to")
        return self.activate(versions[current - 1].version_id)

    def diff(self, version_a: str, version_b: str) -> str:
        """Unified diff between two versions' sources."""
        a, b = self.source(version_a), self.source(version_b)
        return "".join(
            difflib.unified_diff(
                a.splitlines(keepends=True),
                b.splitlines(keepends=True),
                fromfile=version_a,
                tofile=version_b,
            )
        )

    def verify(self) -> list[str]:
        """Problems found: a missing or modified version file, or an active hook that does not
        match the active version. An empty list means all is consistent."""
        problems: list[str] = []
        versions = self.list_versions()
        for version in versions:
            path = self.version_dir / version.file
            if not path.exists():
                problems.append(f"{path} is missing")
            elif sha256_file(path) != version.sha256:
                problems.append(f"{path} was modified after it was stored")
        active = next((v for v in versions if v.active), None)
        if active is not None:
            if not self.active_path.exists():
                problems.append(f"active hook {self.active_path} is missing (run: hooks rollback {active.version_id})")
            elif sha256_file(self.active_path) != active.sha256:
                problems.append(
                    f"{self.active_path} does not match active version {active.version_id} "
                    f"(edited by hand, or a write was interrupted; run: hooks rollback {active.version_id})"
                )
        return problems


def open_hook_versions(hook_dir: str | os.PathLike[str]) -> HookVersionManager:
    """The version manager of a hook directory (``<dir>/generated_prompt_hook.py`` and
    ``<dir>/.hook_versions/``): the one way the CLI, the pipeline and the dashboard open it."""
    version_dir, active_path = _layout.hook_paths(hook_dir)
    return HookVersionManager(version_dir, active_path)
