"""The local LoRA trainer: a real TRL + PEFT training run on CPU on a tiny random model."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from conftest import require_modules, write_chat_jsonl
from vector_trainer.errors import InputError, MissingDependencyError, TrainerError
from vector_trainer.pipeline import TrainingPipeline
from vector_trainer.training import create_trainer
from vector_trainer.training.local_lora.trainer import JOB_MODULES, LocalLoRATrainer

NEEDED = ("torch", "transformers", "trl", "peft", "datasets")


def chat_file(path: Path, n: int = 8) -> Path:
    return write_chat_jsonl(
        path,
        n,
        system="You are Mori, the café barista.",
        user="What do you recommend, take {i}?",
        assistant="Try the honey oat latte number {i}. ☕",
    )


def test_registry_and_validation(tmp_path: Path) -> None:
    trainer = create_trainer("local-lora", model=str(tmp_path / "model"), jobs_dir=tmp_path / "jobs")
    assert isinstance(trainer, LocalLoRATrainer) and not trainer.dry_run and trainer.estimate("x") is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: not a valid chat example"):
        trainer.prepare_data(bad)
    with pytest.raises(TrainerError, match="no local training job 'nope'"):
        trainer.get_status("nope")


def test_missing_stack_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("vector_trainer.training.local_lora.trainer._find_spec", lambda name: None)
    trainer = LocalLoRATrainer(model="m", jobs_dir=tmp_path / "jobs")
    with pytest.raises(MissingDependencyError, match=r"pip install \"\.\[local\]\""):
        trainer.start_training(str(chat_file(tmp_path / "t.jsonl")))


@pytest.mark.slow
@pytest.mark.integration
def test_real_lora_step_on_cpu(tmp_path: Path) -> None:
    require_modules(NEEDED, "pip install torch==2.13.0 '.[local]'")
    from tiny_model import make_tiny_model

    data = chat_file(tmp_path / "golden.jsonl")
    texts = [m["content"] for line in data.read_text().splitlines() for m in json.loads(line)["messages"]]
    model_dir = make_tiny_model(tmp_path / "tiny-llama", texts)
    trainer = LocalLoRATrainer(
        model=str(model_dir),
        jobs_dir=tmp_path / "jobs",
        max_steps=4,
        batch_size=2,
        max_length=128,
        lora_r=4,
        lora_alpha=8,
    )
    pipeline = TrainingPipeline(None, None, trainer, poll_interval_s=0.5)
    summary = pipeline.train(data, tmp_path / "run", wait=True)
    train = summary.train
    assert train is not None and train.status == "succeeded", json.dumps(summary.to_dict(), indent=1)
    adapter = Path(str(train.fine_tuned_model))
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    losses = [m["train_loss"] for m in summary.overview["training"]["metrics"]]
    assert len(losses) == 4 and all(math.isfinite(x) and x > 0 for x in losses)
    with open(train.artifacts["loss_curve"], newline="") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [1, 2, 3, 4]
    status = trainer.get_status(str(train.job_id))
    assert status["device"] == "cpu" and status["compute_seconds"] > 0
    # Re-running the same directory resumes the finished job instead of training again.
    again = TrainingPipeline(None, None, trainer, poll_interval_s=0.5).train(data, tmp_path / "run", wait=True)
    assert again.train is not None and again.train.job_id == train.job_id
    assert len(list((tmp_path / "jobs").iterdir())) == 1


@pytest.mark.slow
@pytest.mark.integration
def test_train_cli_keeps_the_adapter_in_the_run_and_names_it(tmp_path: Path, capsys) -> None:
    """The newcomer's route: every LoRA setting from flags, the adapter inside --out, its path on
    the last line, and 'status RUN' finding the job there."""
    require_modules(NEEDED, "pip install torch==2.13.0 '.[local]'")
    from tiny_model import make_tiny_model
    from vector_trainer.cli import main

    data = chat_file(tmp_path / "golden.jsonl")
    texts = [m["content"] for line in data.read_text().splitlines() for m in json.loads(line)["messages"]]
    model_dir = make_tiny_model(tmp_path / "tiny-llama", texts)
    run = tmp_path / "run"
    args = ["train", str(data), "--trainer", "local-lora", "--model", str(model_dir), "--max-steps", "2",
            "--batch-size", "2", "--max-length", "128", "--lora-r", "4", "--lora-alpha", "8",
            "--target-modules", "q_proj,v_proj", "--learning-rate", "0.001", "--seed", "1",
            "--wait", "--poll-interval", "0.5", "--out", str(run)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("trained adapter: ") and Path(last.split(": ", 1)[1]).is_relative_to(run)
    assert "[train] step 2/2 | epoch" in out and "loss" in out
    spec = json.loads(next((run / "jobs").glob("*/job.json")).read_text())
    assert spec["hyperparameters"]["target_modules"] == ["q_proj", "v_proj"]
    assert main(["status", str(run)]) == 0
    assert "succeeded" in capsys.readouterr().out


def _preference(i: int) -> dict:
    return {
        "input": {"messages": [{"role": "system", "content": "You are Mori."}, {"role": "user", "content": f"hi {i}"}]},
        "preferred_output": [{"role": "assistant", "content": f"Hey friend {i}! ☕"}],
        "non_preferred_output": [{"role": "assistant", "content": f"As an AI language model, hello {i}."}],
    }


def test_preference_pairs_are_checked_as_the_conversations_they_complete(tmp_path: Path) -> None:
    from vector_trainer.training.local_lora.preference_rows import check_preference

    assert check_preference(_preference(0)) == []
    same = {**_preference(0), "non_preferred_output": _preference(0)["preferred_output"]}
    assert check_preference(same) == ["'preferred_output' and 'non_preferred_output' are the same answer"]
    assert "'input' must be" in check_preference({**_preference(0), "input": {"messages": []}})[0]
    wrong_role = {**_preference(0), "preferred_output": [{"role": "user", "content": "x"}]}
    assert "must hold an assistant message" in check_preference(wrong_role)[0]
    wizard, user, said = ({"role": r, "content": "x"} for r in ("wizard", "user", "assistant"))
    bad_prompt = {**_preference(0), "input": {"messages": [wizard, user]}}
    assert check_preference(bad_prompt) == ["input.messages: message 0 has unrecognised role 'wizard'"]
    ends_answered = {**_preference(0), "input": {"messages": [user, said]}}
    assert check_preference(ends_answered) == [
        "'input.messages' must end with a user (or tool) message, got role 'assistant'"
    ]
    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs", method="dpo")
    with pytest.raises(InputError, match=r"golden.jsonl:1: not a valid preference pair \(method dpo\)"):
        trainer.prepare_data(chat_file(tmp_path / "golden.jsonl"))
    prefs = tmp_path / "preferences.jsonl"
    prefs.write_text("".join(json.dumps(_preference(i)) + "\n" for i in range(4)), encoding="utf-8")
    assert trainer.prepare_data(prefs) == str(prefs.resolve())
    from vector_trainer.errors import ConfigError
    from vector_trainer.extractor import DensityBasedExtractor
    from vector_trainer.sources.memory import InMemoryLogs
    from vector_trainer.synthesizer import RuleSetSynthesizer

    pipeline = TrainingPipeline(DensityBasedExtractor(InMemoryLogs([])), RuleSetSynthesizer(), trainer)
    with pytest.raises(ConfigError, match=r"trainer\.method: a run trains on chat examples"):
        pipeline.run("fn", [], tmp_path / "run")


@pytest.mark.slow
@pytest.mark.integration
def test_a_dpo_step_on_the_preference_file(tmp_path: Path) -> None:
    """Issue 27: the feedback's preference pairs train a LoRA adapter with TRL's DPOTrainer."""
    require_modules(NEEDED, "pip install torch==2.13.0 '.[local]'")
    from tiny_model import make_tiny_model

    prefs = tmp_path / "preferences.jsonl"
    rows = [_preference(i) for i in range(4)]
    prefs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    texts = [m["content"] for r in rows for m in [*r["input"]["messages"], *r["preferred_output"]]]
    model_dir = make_tiny_model(tmp_path / "tiny-llama", texts)
    trainer = LocalLoRATrainer(
        model=str(model_dir), jobs_dir=tmp_path / "jobs", max_steps=2, batch_size=2, lora_r=4, method="dpo"
    )
    summary = TrainingPipeline(None, None, trainer, poll_interval_s=0.5).train(prefs, tmp_path / "run", wait=True)
    train = summary.train
    assert train is not None and train.status == "succeeded", json.dumps(summary.to_dict(), indent=1)
    assert (Path(str(train.fine_tuned_model)) / "adapter_config.json").exists()
    job = json.loads((tmp_path / "jobs" / str(train.job_id) / "job.json").read_text(encoding="utf-8"))
    assert job["hyperparameters"]["method"] == "dpo" and job["hyperparameters"]["dpo_beta"] == 0.1


def test_a_job_whose_child_exited_without_a_word_is_failed_not_queued_forever(tmp_path: Path) -> None:
    """Found running a bench: a child of this process that dies before writing its status stays
    a zombie, and signal 0 still reaches a zombie, so the job read as queued forever."""
    import subprocess
    import sys
    import time

    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs")
    job = tmp_path / "jobs" / "lora-dead"
    job.mkdir(parents=True)
    (job / "job.json").write_text("{}", encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits at once; never waited for here
    (job / "status.json").write_text(json.dumps({"status": "queued", "pid": child.pid}), encoding="utf-8")
    time.sleep(0.5)
    status = trainer.get_status("lora-dead")
    assert status["status"] == "failed" and "died" in status["error"]


def test_a_damaged_status_file_is_named_not_read_as_queued(tmp_path: Path) -> None:
    """Issue 29: a corrupt status.json used to read as {} (queued), so cancel stopped nothing."""
    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs")
    job = tmp_path / "jobs" / "lora-x"
    job.mkdir(parents=True)
    (job / "job.json").write_text("{}", encoding="utf-8")
    (job / "status.json").write_text('{"status": "running", "pid": ', encoding="utf-8")
    with pytest.raises(TrainerError, match=r"status.json is not valid JSON .*; it is damaged: restore it"):
        trainer.get_status("lora-x")
    with pytest.raises(TrainerError, match=r"status.json is not valid JSON .*; it is damaged: restore it"):
        trainer.cancel("lora-x")
    for pid in ("-1", '"abc"', "1.5", "99999999999"):
        (job / "status.json").write_text(f'{{"status": "running", "pid": {pid}}}', encoding="utf-8")
        with pytest.raises(TrainerError, match=r"'pid' must be a process id, got .*; nothing stopped"):
            trainer.cancel("lora-x")
        with pytest.raises(TrainerError, match="'pid' must be a process id"):
            trainer.get_status("lora-x")
    (job / "status.json").write_text('{"status": "bogus"}', encoding="utf-8")
    with pytest.raises(TrainerError, match="'status' must be one of queued, running"):
        trainer.get_status("lora-x")


def test_cancel_never_signals_a_process_that_is_not_the_job(tmp_path: Path) -> None:
    """Attack trial: a status.json naming another program's process group (a pid reused after a
    reboot, or written by hand) read as running, and cancel killed that program."""
    import subprocess
    import sys

    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs")
    job = _job(tmp_path, "lora-other")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        (job / "status.json").write_text(json.dumps({"status": "running", "pid": other.pid}), encoding="utf-8")
        assert trainer.get_status("lora-other")["status"] == "failed"  # not the job: it is gone
        (job / "status.json").write_text(json.dumps({"status": "running", "pid": other.pid}), encoding="utf-8")
        assert trainer.cancel("lora-other")["status"] == "cancelled"
        assert other.poll() is None  # the other program still runs
    finally:
        other.kill()
        other.wait(timeout=10)


def _job(tmp_path: Path, name: str) -> Path:
    job = tmp_path / "jobs" / name
    job.mkdir(parents=True)
    (job / "job.json").write_text("{}", encoding="utf-8")
    return job


def test_cancel_stops_a_running_child_and_everything_it_started(tmp_path: Path) -> None:
    """The supervisor against a fake child (no torch): a running job reads as running, and cancel
    ends the child's whole process group (a data-loader worker included)."""
    import os
    import subprocess
    import sys
    import time

    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs")
    job = _job(tmp_path, "lora-run")
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "time.sleep(120)\n"
    )
    # The fake child's command line names the job module and its directory, as a real job's does.
    argv = [sys.executable, "-c", script, JOB_MODULES[0], str(job)]
    child = subprocess.Popen(argv, start_new_session=True)
    try:
        (job / "status.json").write_text(json.dumps({"status": "running", "pid": child.pid}), encoding="utf-8")
        time.sleep(0.5)
        assert trainer.get_status("lora-run")["status"] == "running"
        assert trainer.cancel("lora-run") == {"id": "lora-run", "status": "cancelled"}
        assert child.wait(timeout=10) == -15  # SIGTERM
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(child.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the child's worker outlived the cancel")
        assert trainer.get_status("lora-run")["status"] == "cancelled"
    finally:
        if child.poll() is None:
            child.kill()


def test_a_child_that_writes_its_result_as_it_exits_reads_succeeded(tmp_path: Path) -> None:
    """The race between a child's last write and the poll that finds it gone: its own final
    status wins, never 'died'."""
    import subprocess
    import sys

    trainer = LocalLoRATrainer(model=str(tmp_path / "m"), jobs_dir=tmp_path / "jobs")
    job = _job(tmp_path, "lora-done")
    status = job / "status.json"
    script = (  # waits for the supervisor's 'running' (its pid recorded), then finishes
        "import json, pathlib, time\n"
        f"path = pathlib.Path({str(status)!r})\n"
        "while not (path.exists() and 'running' in path.read_text()):\n"
        "    time.sleep(0.01)\n"
        "path.write_text(json.dumps({'status': 'succeeded'}))\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script])
    status.write_text(json.dumps({"status": "running", "pid": child.pid}), encoding="utf-8")
    child.wait(timeout=30)
    read = trainer.get_status("lora-done")
    assert read["status"] == "succeeded" and read["error"] is None
    assert read["fine_tuned_model"] == str(job / "adapter")
