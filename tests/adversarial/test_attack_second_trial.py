"""Faults found by a second adversarial trial: each is a named error, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import one_error_line
from vector_trainer.cli import main
from vector_trainer.dashboard.runview import load_run
from vector_trainer.synthesizer.versions import open_hook_versions

GOOD = {"function_name": "faq", "input": "hello", "output": "ok", "status": "SUCCESS", "vector": [0.5, 0.25]}
DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "1" + "0" * 5000


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 0 or one_error_line(err), err
    return code, err


@pytest.mark.parametrize("store_kind", ["text-file", "directory"])
def test_a_store_path_that_is_not_a_store_is_named(tmp_path: Path, capsys, store_kind: str) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(GOOD) + "\n")
    store = tmp_path / "store"
    if store_kind == "directory":
        store.mkdir()
    else:
        store.write_text("this is not sqlite\n" * 100)
    code, err = _run(["ingest", str(logs), "--store", str(store)], capsys)
    assert code == 2 and str(store) in err


@pytest.fixture
def hook_dir(tmp_path: Path) -> Path:
    manager = open_hook_versions(tmp_path / "app")
    manager.add("A = 1\n", rule_count=1)
    manager.add("A = 2\n", rule_count=2)
    return tmp_path / "app"


@pytest.mark.parametrize("damage", ["manifest-dir", "deep", "huge-int", "version-dir-link", "bad-utf8"])
def test_damaged_hook_history_is_named(hook_dir: Path, tmp_path: Path, capsys, damage: str) -> None:
    manager = open_hook_versions(hook_dir)
    manifest = manager.manifest_path
    if damage == "manifest-dir":
        manifest.unlink()
        manifest.mkdir()
    elif damage == "deep":
        manifest.write_text(DEEP)
    elif damage == "huge-int":
        manifest.write_text(manifest.read_text().replace('"rule_count": 1', f'"rule_count": {HUGE_INT}'))
    elif damage == "version-dir-link":
        outside = tmp_path / "outside"
        open_hook_versions(outside).add("EVIL = 1\n", rule_count=0)
        open_hook_versions(outside).add("EVIL = 2\n", rule_count=0)
        real = manager.version_dir.rename(tmp_path / "moved")
        manager.version_dir.symlink_to(outside / ".hook_versions")
        assert real.exists()
    elif damage == "bad-utf8":
        (manager.version_dir / "v0001.py").write_bytes(b"\xff\xfe")
    code, err = _run(["hooks", "rollback", "--dir", str(hook_dir)], capsys)
    assert code != 0 and err.startswith("error:")
    assert manager.active_path.read_text() == "A = 2\n"


@pytest.mark.parametrize("where", ["missing", "a-file"])
def test_hooks_dir_that_is_not_a_hook_dir_is_named(tmp_path: Path, capsys, where: str) -> None:
    target = tmp_path / "nothing"
    if where == "a-file":
        target.write_text("x")
    code, err = _run(["hooks", "list", "--dir", str(target)], capsys)
    assert code == 2 and str(target) in err


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("state.json", DEEP),
        ("state.json", f'{{"function_name": "x", "n": {HUGE_INT}}}'),
        ("events.jsonl", DEEP + "\n"),
        ("golden.jsonl", f'{{"messages": {DEEP}}}\n'),
        ("golden.report.json", '{"selected": [5, "x"]}'),
        ("summary.json", '{"overview": {"training": [1, 2]}}'),
        ("summary.json", '{"overview": {"training": {"metrics": [1, {"step": [1]}, {"step": "a"}, {"step": 2}]}}}'),
    ],
)
def test_load_run_never_raises(tmp_path: Path, name: str, content: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "golden.jsonl").write_text('{"messages": [{"role": "user", "content": "q"}]}\n')
    (run / name).write_text(content)
    view = load_run(run)
    assert isinstance(view.metrics, list) and view.status
    assert view.problems


def test_load_run_with_directories_where_files_belong(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in ("events.jsonl", "golden.jsonl", "state.json"):
        (run / name).mkdir(parents=True)
    view = load_run(run)
    assert any("cannot be read" in p for p in view.problems)


def test_train_out_that_is_a_file_is_named(tmp_path: Path, capsys) -> None:
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}))
    out = tmp_path / "taken.txt"
    out.write_text("x")
    code, err = _run(["train", str(chat), "--out", str(out)], capsys)
    assert code == 2 and "is a file, not a run directory" in err


@pytest.mark.parametrize("state", ['{"training": [1, 2]}', DEEP])
def test_status_on_a_damaged_run_is_named(tmp_path: Path, capsys, state: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.json").write_text(state)
    code, err = _run(["status", str(run)], capsys)
    assert code == 2 and str(run) in err
