"""Kills and concurrent processes around every paid call: exactly one upload and one job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fake_openai import VALID_KEY, FakeOpenAIServer

pytestmark = pytest.mark.slow


def _chat_file(path: Path) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": f"a {i}"}]}
        for i in range(12)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _command(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "vector_trainer.cli", "train", str(data), "--model", "gpt-4o-mini",
            "--budget", "5", "--out", str(out)]  # fmt: skip


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
@pytest.mark.parametrize("route", [("POST", "/v1/files"), ("POST", "/v1/fine_tuning/jobs")])
def test_kill_while_a_paid_call_is_in_flight_then_rerun(tmp_path: Path, route, sig) -> None:
    data, out = _chat_file(tmp_path / "t.jsonl"), tmp_path / "run"
    with FakeOpenAIServer() as server:
        env = {**os.environ, "OPENAI_API_KEY": VALID_KEY, "OPENAI_BASE_URL": server.base_url}
        server.script.stall[route] = 30.0  # the server acts, then holds its answer
        proc = subprocess.Popen(_command(data, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(lambda: server.count(*route) == 1)
        time.sleep(0.2)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        server.script.stall.clear()
        rerun = subprocess.run(_command(data, out), env=env, capture_output=True, text=True, timeout=120, check=False)
        assert rerun.returncode == 0, rerun.stderr
        assert server.count("POST", "/v1/files") == 1
        assert server.count("POST", "/v1/fine_tuning/jobs") == 1
        state = json.loads((out / "state.json").read_text())
        assert state["training"]["job_id"] in server.jobs


def test_two_concurrent_trains_make_one_upload_and_one_job(tmp_path: Path) -> None:
    data, out = _chat_file(tmp_path / "t.jsonl"), tmp_path / "run"
    with FakeOpenAIServer() as server:
        env = {**os.environ, "OPENAI_API_KEY": VALID_KEY, "OPENAI_BASE_URL": server.base_url}
        server.script.stall[("POST", "/v1/files")] = 2.0
        procs = [
            subprocess.Popen(_command(data, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        assert any("another vectortrainer process" in err for _, err in results)
        assert server.count("POST", "/v1/files") == 1
        assert server.count("POST", "/v1/fine_tuning/jobs") == 1
