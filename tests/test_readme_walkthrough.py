"""Issue 15: a new user follows the README from top to bottom, in a fresh virtual environment.

Every fenced block of README.md is taken in the order it appears, in a copy of the checkout:

* ``bash`` blocks run as written under ``bash -euo pipefail`` with the outer virtual
  environment removed from the environment, so ``python3 -m venv .venv && pip install .`` really
  builds a new one (packages come from the package index, as on a new machine). The one
  substitution: the README's test command collects the suite instead of running it, because this
  test is part of that suite.
* ``python`` blocks run in one namespace, like a notebook, with the new environment's Python.
* ``json`` blocks must parse line by line; ``toml`` blocks must be valid configurations.
* A block may carry a marker comment on the line above it:
  ``<!-- walkthrough: skip WHY -->`` (it cannot run here; WHY names the test that covers it) or
  ``<!-- walkthrough: server URL -->`` (it starts a server: the block runs in the background
  until URL answers, then it is stopped). A block in any other language needs a skip marker, so
  no new block goes unchecked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README's test command, and what the walkthrough runs instead (this test is in that suite).
SUITE_COMMAND = "python -m pytest -q"
SUITE_STAND_IN = "python -m pytest -q --collect-only -p no:cacheprovider"
#: What a fresh install may take (package downloads on a slow link included).
BLOCK_TIMEOUT_S = 1200
SERVER_TIMEOUT_S = 600
#: Paths of the checkout that a clone would not have.
NOT_IN_A_CLONE = {".venv", ".git", "build", "dist", ".pytest_cache", ".ruff_cache", "__pycache__", ".vectortrainer"}
_BLOCK = re.compile(r"(?:<!--\s*walkthrough:\s*(?P<marker>.*?)\s*-->\s*\n)?```(?P<lang>[\w-]*)\n(?P<body>.*?)```", re.S)

PYTHON_DRIVER = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
for number, source in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        exec(compile(source, f"README.md block {number}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        sys.exit(f"README.md block {number} failed")
"""


@dataclass(frozen=True)
class Block:
    number: int
    lang: str
    body: str
    marker: str


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    return [
        Block(number, m["lang"], m["body"], m["marker"] or "")
        for number, m in enumerate(_BLOCK.finditer(text), start=1)
    ]


def _copy_checkout(target: Path) -> Path:
    def ignore(directory: str, names: list[str]) -> set[str]:
        runs = {name for name in names if name.startswith("vectortrainer-run") or name == "golden_data"}
        return (NOT_IN_A_CLONE & set(names)) | runs | {name for name in names if name.endswith(".egg-info")}

    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _fresh_environment(home: Path) -> dict[str, str]:
    """The caller's environment without its virtual environment, API keys or Python paths."""
    outer_bin = str(Path(sys.prefix) / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "OPENAI_API_KEY", "OPENAI_BASE_URL"}
        and not key.startswith("PYTEST_")
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != outer_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("HOME", str(home))
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S, check=False)
    assert done.returncode == 0, f"{what} exited {done.returncode}:\n{_tail(done)}"


def _run_bash(block: Block, cwd: Path, env: dict[str, str]) -> None:
    script = block.body.replace(SUITE_COMMAND, SUITE_STAND_IN)
    _run(["bash", "-euo", "pipefail", "-c", script], cwd, env, f"README block {block.number}:\n{script}\n")


def _run_server(block: Block, url: str, cwd: Path, env: dict[str, str]) -> None:
    with subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", f"source .venv/bin/activate\n{block.body}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as server:
        try:
            deadline = time.monotonic() + SERVER_TIMEOUT_S
            while time.monotonic() < deadline:
                assert server.poll() is None, f"README block {block.number} stopped:\n{server.stdout.read()[-4000:]}"
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            return
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(1)
            pytest.fail(f"README block {block.number}: {url} did not answer in {SERVER_TIMEOUT_S} s")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _run_python(blocks: list[Block], cwd: Path, env: dict[str, str], scratch: Path) -> None:
    if not blocks:
        return
    source = scratch / f"blocks-{blocks[0].number}.json"
    source.write_text(json.dumps([[block.number, block.body] for block in blocks]), encoding="utf-8")
    _run([str(cwd / ".venv" / "bin" / "python"), "-c", PYTHON_DRIVER, str(source)], cwd, env, "README Python blocks")


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"


def _check_data_block(block: Block) -> None:
    if block.lang == "json":
        for line in block.body.splitlines():
            assert isinstance(json.loads(line), dict), f"README block {block.number}: {line!r} is not an object"
    else:
        import tomllib

        from vector_trainer.config import config_from_dict

        config_from_dict(tomllib.loads(block.body), f"README.md block {block.number}")


def test_every_readme_block_has_a_way_to_be_checked() -> None:
    blocks = readme_blocks()
    assert blocks[0].lang == "bash" and "pip install ." in blocks[0].body and "vectortrainer demo" in blocks[0].body
    assert SUITE_COMMAND in blocks[1].body, "the README's second command must run the tests"
    for block in blocks:
        if block.marker.startswith("skip"):
            assert len(block.marker) > len("skip "), f"README block {block.number}: say why it is skipped"
            continue
        assert block.lang in {"bash", "python", "json", "toml"} or block.marker.startswith("server"), (
            f"README block {block.number} ({block.lang or 'no language'}) has no way to be checked: "
            "make it runnable, or mark it '<!-- walkthrough: skip WHY -->'"
        )


def test_a_new_user_follows_the_readme_top_to_bottom(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run the README's shell blocks")
    checkout = _copy_checkout(tmp_path / "vector-trainer")
    env = _fresh_environment(tmp_path)
    python_run: list[Block] = []  # consecutive Python blocks share one interpreter and namespace
    for block in readme_blocks():
        if block.marker.startswith("skip"):
            continue
        if block.lang == "python":
            python_run.append(block)
            continue
        _run_python(python_run, checkout, env, tmp_path)
        python_run = []
        if block.marker.startswith("server"):
            _run_server(block, block.marker.split(maxsplit=1)[1], checkout, env)
        elif block.lang == "bash":
            _run_bash(block, checkout, env)
        else:
            _check_data_block(block)
    _run_python(python_run, checkout, env, tmp_path)
    runs = list((checkout / "vectortrainer-run").iterdir())
    assert runs, "vectortrainer demo wrote no run"
    for run in runs:  # the files the README's table promises
        for name in ("golden.jsonl", "golden.report.json", "state.json", "events.jsonl", "summary.json"):
            assert (run / name).is_file(), f"the README promises {run.name}/{name}"
