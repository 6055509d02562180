"""Soak the unattended loop: 20 checks with random kills, new logs and feedback edits between them.

Against a local server speaking OpenAI's API (``tests/fake_openai.py``, through the real
``openai`` client), ``vectortrainer loop --once`` runs 20 times on the demo store, as cron would:
with or without ``--wait``, sometimes killed (SIGKILL) at a random moment, with new logs ingested
or the feedback file edited between runs. A last run settles what is pending. Then it prints:

* uploads and jobs the server saw, and the distinct training files (sha256) those jobs were
  made for, from every cycle's ``state.json`` and the job ledger (goal: jobs == distinct hashes);
* orphans: jobs on the server that no cycle or ledger knows (goal: 0);
* files written outside the loop's root, the store and the feedback file (goal: 0);
* models registered, and the cycles recorded (finished, failed, pending).

    python bench/loop_soak.py [--checks 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fake_openai import VALID_KEY, FakeOpenAIServer  # noqa: E402 - the test suite's protocol-level stand-in

FUNCTION = "support_faq"
KILL_SHARE = 0.5
NEW_LOGS = 40


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def new_logs(store: Path, out: Path, start: int, rng: random.Random) -> Path:
    """Some of the store's logs again, reworded and moved a little: new requests like the old."""
    import numpy as np

    from vector_trainer.sources.store import SQLiteLogStore

    with SQLiteLogStore(store, create=False) as source:
        logs = [log for log in source.iter_executions(FUNCTION) if log.vector is not None and log.is_success]
    rows = []
    for i in range(NEW_LOGS):
        log = logs[rng.randrange(len(logs))]
        vector = np.asarray(log.vector) + np.random.default_rng(start + i).normal(scale=0.02, size=len(log.vector))
        question = f"{next(iter(log.inputs.values()))} (again, {start + i})"
        rows.append(
            {
                "function_name": FUNCTION,
                "input": {"question": question},
                "output": log.output,
                "status": "SUCCESS",
                "vector": (vector / np.linalg.norm(vector)).tolist(),
            }
        )
    path = out / f"new-{start}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vector_trainer.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as server:
        work = Path(tmp)
        env = {**os.environ, "OPENAI_API_KEY": VALID_KEY, "HF_HUB_OFFLINE": "1"}
        server.script.polls_before_done = 3
        server.script.chat_reply = lambda request: "answer"
        subprocess.run(
            cli("demo", "--out", "warm"), cwd=work, env={**env, "OPENAI_API_KEY": ""}, check=True, capture_output=True
        )
        store = work / ".vectortrainer" / "demo.db"
        feedback = work / "feedback.jsonl"
        demo_feedback = Path(__import__("vector_trainer").__file__).parent / "demo" / "demo_feedback.jsonl"
        lines = demo_feedback.read_text(encoding="utf-8").splitlines()
        feedback.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
        before = snapshot(work)
        loop_args = cli(
            "loop",
            "--once",
            "--store",
            str(store),
            "--out",
            "runs",
            "--function",
            FUNCTION,
            "--feedback",
            str(feedback),
            "--base-url",
            server.base_url,
            "--min-new-logs",
            "30",
        )
        started = time.monotonic()
        kills = ingests = edits = 0
        for check in range(args.checks):
            if check and rng.random() < 0.4:
                batch = new_logs(store, work, 1000 * check, rng)
                subprocess.run(
                    cli("ingest", str(batch), "--store", str(store), "--vector-space", "all-MiniLM-L6-v2"),
                    cwd=work,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                batch.unlink()
                ingests += 1
            if check and rng.random() < 0.3:
                feedback.write_text("\n".join(lines[: rng.randrange(3, len(lines) + 1)]) + "\n", encoding="utf-8")
                edits += 1
            wait = ["--wait", "--poll-interval", "0.2"] if rng.random() < 0.5 else []
            command = [*loop_args, *wait]
            proc = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rng.random() < KILL_SHARE:
                time.sleep(rng.uniform(0.3, 3.0))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
            proc.wait(timeout=600)
        for _ in range(3):  # settle: resume whatever is pending and gate finished jobs
            settle = [*loop_args, "--wait", "--poll-interval", "0.2"]
            subprocess.run(settle, cwd=work, env=env, capture_output=True, timeout=600, check=False)
        elapsed = time.monotonic() - started
        report(server, work, before, store, feedback, kills, ingests, edits, args.checks, elapsed)


def report(server, work, before, store, feedback, kills, ingests, edits, checks, elapsed) -> None:
    from vector_trainer._layout import function_dirname
    from vector_trainer.gate import ModelRegistry
    from vector_trainer.pipeline.paid_jobs import JobLedger

    home = work / "runs" / function_dirname(FUNCTION)
    known: dict[str, str] = {}  # job id -> training-file sha256, from every cycle and the ledger
    for state_file in (home / "cycles").glob("*/state.json"):
        state = json.loads(state_file.read_text())
        for training in [state.get("training") or {}, *state.get("previous_jobs", [])]:
            if training.get("job_id"):
                known[training["job_id"]] = training.get("file_sha256", "")
    for job in JobLedger(home).jobs():
        known.setdefault(job["job_id"], job.get("file_sha256", ""))
    server_jobs = set(server.jobs)
    hashes = {known[j] for j in server_jobs if j in known}
    ours = ("runs", ".vectortrainer", feedback.name)
    outside = sorted(p for p in snapshot(work) - before if not p.startswith(ours))
    loop_state = json.loads((home / "loop.json").read_text())
    cycles = loop_state.get("cycles", [])
    print(f"{checks} checks in {elapsed:.0f} s: {kills} killed, {ingests} log batches ingested, {edits} feedback edits")
    uploads = server.count("POST", "/v1/files")
    print(
        f"uploads {uploads}, jobs {len(server_jobs)}, distinct training hashes {len(hashes)}: "
        f"jobs == distinct hashes {len(server_jobs) == len(hashes)}"
    )
    print(f"orphan jobs (known to no cycle or ledger): {len(server_jobs - set(known))}")
    print(f"files outside the root: {len(outside)} {outside[:5]}")
    print(
        f"models registered: {len(ModelRegistry(home / 'models').list_models())}; cycles recorded: {len(cycles)} "
        f"({sum(1 for c in cycles if c.get('failed'))} failed); pending: {loop_state.get('pending')}"
    )


if __name__ == "__main__":
    main()
