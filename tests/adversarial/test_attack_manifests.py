"""Hostile hook-version manifests: refused with the key that is wrong, never followed off the version directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import one_error_line
from vector_trainer.cli import main
from vector_trainer.synthesizer.versions import open_hook_versions

EVIL = "import os\nos.system('touch /tmp/pwned')\n"


@pytest.fixture
def hook_dir(tmp_path: Path) -> Path:
    """``<tmp>/app``, so that ``.hook_versions/../../evil.py`` is ``<tmp>/evil.py``."""
    manager = open_hook_versions(tmp_path / "app")
    manager.add("RULES = 1\n", rule_count=1)
    manager.add("RULES = 2\n", rule_count=2)
    return tmp_path / "app"


def _edit_manifest(hook_dir: Path, edit) -> dict:
    manager = open_hook_versions(hook_dir)
    data = json.loads(manager.manifest_path.read_text())
    edit(data)
    manager.manifest_path.write_text(json.dumps(data))
    return data


def _set_first(key: str, value) -> Callable[[dict], None]:
    return lambda data: data["versions"][0].__setitem__(key, value)


def _plant_evil(hook_dir: Path, relative: str) -> None:
    target = (open_hook_versions(hook_dir).version_dir / relative).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(EVIL)


HOSTILE = [
    pytest.param(_set_first("file", "../../evil.py"), "versions[0].file is '../../evil.py'", id="file-escapes"),
    pytest.param(_set_first("file", "."), "versions[0].file is '.'", id="file-dot"),
    pytest.param(_set_first("file", "/etc/passwd"), "versions[0].file is '/etc/passwd'", id="file-absolute"),
    pytest.param(_set_first("rule_count", "many"), "versions[0].rule_count is 'many'", id="rule-count-text"),
    pytest.param(_set_first("rule_count", -3), "versions[0].rule_count is -3", id="rule-count-negative"),
    pytest.param(_set_first("version_id", 7), "versions[0].version_id is 7", id="version-id-int"),
    pytest.param(_set_first("version_id", "latest"), "versions[0].version_id is 'latest'", id="version-id-text"),
    pytest.param(_set_first("sha256", "abc"), "versions[0].sha256 is not a hex SHA-256", id="sha-short"),
    pytest.param(lambda d: d.__setitem__("active", "v0099"), "'active' is 'v0099'", id="unknown-active"),
    pytest.param(lambda d: d["versions"].append(dict(d["versions"][0])), "appears twice", id="duplicate-id"),
    pytest.param(lambda d: d.__setitem__("versions", {"v1": 1}), "'versions' list", id="versions-not-list"),
]


@pytest.mark.parametrize(("edit", "message"), HOSTILE)
@pytest.mark.parametrize("action", [["list"], ["rollback"], ["rollback", "v0001"], ["diff", "v0001", "v0002"]])
def test_hostile_manifest_is_refused_with_the_key(hook_dir, capsys, edit, message, action) -> None:
    _plant_evil(hook_dir, "../../evil.py")
    before = open_hook_versions(hook_dir).active_path.read_text()
    _edit_manifest(hook_dir, edit)
    code = main(["hooks", action[0], "--dir", str(hook_dir), *action[1:]])
    err = capsys.readouterr().err
    assert code != 0 and message in err and one_error_line(err)
    assert open_hook_versions(hook_dir).active_path.read_text() == before == "RULES = 2\n"


def test_matching_hash_outside_the_directory_is_not_activated(hook_dir, capsys) -> None:
    """The attack of issue 14: a planted file whose hash the attacker also wrote into the manifest."""
    _plant_evil(hook_dir, "../../evil.py")
    digest = hashlib.sha256(EVIL.encode()).hexdigest()
    _edit_manifest(hook_dir, lambda d: d["versions"][0].update(file="../../evil.py", sha256=digest))
    assert main(["hooks", "rollback", "--dir", str(hook_dir)]) != 0
    assert "evil" not in open_hook_versions(hook_dir).active_path.read_text()
    assert "versions[0].file" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["deleted", "directory", "symlink"])
def test_damaged_version_file_is_named(hook_dir, tmp_path, capsys, damage) -> None:
    path = open_hook_versions(hook_dir).version_dir / "v0001.py"
    path.unlink()
    if damage == "directory":
        path.mkdir()
    elif damage == "symlink":
        outside = tmp_path / "outside.py"
        outside.write_text("RULES = 1\n")  # same bytes as v0001: only the link itself is wrong
        path.symlink_to(outside)
    assert main(["hooks", "rollback", "--dir", str(hook_dir)]) != 0
    err = capsys.readouterr().err
    assert "v0001.py (hook version v0001) is missing or not a regular file" in err and one_error_line(err)
    assert open_hook_versions(hook_dir).active_path.read_text() == "RULES = 2\n"
