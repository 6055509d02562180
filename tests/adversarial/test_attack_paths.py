"""Hostile function names and planted symlinks never move a write outside the run directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vector_trainer._layout import function_dirname
from vector_trainer.cli import main

HOSTILE_NAMES = [
    "../../victim",
    "/tmp/vectortrainer-absolute-victim",
    "..",
    ".",
    "x" * 300,
    "nul\x00byte",
    "\x1b[2J\x1b[31mred",
    "caf\u00e9/../../up",
]


def _records(name: str, n: int = 12) -> list[dict]:
    return [
        {
            "function_name": name,
            "input": f"question {i} about item {i % 3}",
            "output": f"answer {i}",
            "status": "SUCCESS",
        }
        for i in range(n)
    ]


def _snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_function_name_stays_inside_the_run_root(tmp_path: Path, name: str, capsys, monkeypatch) -> None:
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    logs = work / "logs.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in _records(name)), encoding="utf-8")
    assert main(["ingest", str(logs), "--store", "s.db", "--embedder", "hashing"]) == 0
    before = _snapshot(tmp_path)
    code = main(["run", "--store", "s.db", "--out", "runs", "--top-k", "5"])
    out = capsys.readouterr()
    assert code in (0, 1)
    created = _snapshot(tmp_path) - before
    assert created, "the run wrote nothing"
    inside = ("a/b/work/runs", "a/b/work/s.db")  # the run root, and the store's own WAL files
    outside = sorted(p for p in created if not p.startswith(inside))
    assert outside == []
    assert not Path("/tmp/vectortrainer-absolute-victim").exists()
    run_dirs = [p for p in (work / "runs").iterdir()]
    assert [p.name for p in run_dirs] == [function_dirname(name)]
    assert json.loads((run_dirs[0] / "summary.json").read_text())["function_name"] == name
    assert "\x1b" not in out.out + out.err and "\x00" not in out.out + out.err


def test_function_directory_names_are_unique_and_safe() -> None:
    names = ["a/b", "a-b", "a b", "A/B", "", "é", "é/"]
    dirs = [function_dirname(n) for n in names]
    assert len(set(dirs)) == len(dirs)
    for d in dirs:
        assert len(d) <= 70 and not d.startswith(".") and "/" not in d and os.sep not in d


@pytest.mark.parametrize("planted", ["events.jsonl", "state.json", "golden.jsonl", "rules.json"])
def test_planted_symlink_is_refused_and_its_target_untouched(tmp_path: Path, planted: str, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "runs" / function_dirname("persona_chat")
    run.mkdir(parents=True)
    (run / planted).symlink_to(victim)
    main(["demo", "--out", "runs", "--function", "persona_chat", "--store", "d.db"])
    assert victim.read_text() == "precious\n"
    assert (run / planted).is_symlink()
