"""One reader for every JSON state file: strict, link-refusing, named errors; locked updates."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from vector_trainer.errors import InputError, ManifestCorruptedError
from vector_trainer.fileio import StateDocument


def test_a_missing_document_reads_as_given_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    document = StateDocument(tmp_path / "state.json", "move it away")
    assert document.read({"fresh": True}) == {"fresh": True}
    document.path.write_text('{"a": 1,', encoding="utf-8")
    with pytest.raises(InputError, match=r"state\.json is not valid JSON .*; move it away$"):
        document.read({})
    document.path.write_text('{"a": NaN}', encoding="utf-8")  # strict: no NaN, no duplicate keys
    with pytest.raises(InputError, match="is not valid JSON"):
        document.read({})
    document.path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match=r"state\.json: not a JSON object; move it away"):
        document.read({})


def test_links_are_refused_and_the_error_type_and_check_are_the_callers(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("{}", encoding="utf-8")
    (tmp_path / "link.json").symlink_to(real)
    strict = StateDocument(tmp_path / "link.json", "restore it", ManifestCorruptedError, lambda d: "no schema")
    with pytest.raises(ManifestCorruptedError, match="is a symbolic link"):
        strict.read({})
    with pytest.raises(ManifestCorruptedError, match=r"real\.json: no schema; restore it"):
        StateDocument(real, "restore it", ManifestCorruptedError, lambda d: "no schema").read({})


def test_concurrent_updates_lose_nothing(tmp_path: Path) -> None:
    document = StateDocument(tmp_path / "counts" / "ledger.json", "restore it")

    def bump() -> None:
        for _ in range(25):
            document.update({"n": 0}, lambda data: data.update(n=data["n"] + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert json.loads(document.path.read_text(encoding="utf-8")) == {"n": 100}
    assert not [p for p in document.path.parent.iterdir() if p.name.endswith(".tmp")]
