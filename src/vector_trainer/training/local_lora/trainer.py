"""FR-3.4: local fine-tuning with LoRA (extra ``local``): TRL ``SFTTrainer`` + PEFT on the same
chat JSONL, for any Hugging Face causal LM on disk. No dollars: the cost is compute time.

A job runs as a detached child process (``python -m vector_trainer.training.local_lora.job JOB_DIR``), so it
behaves like a remote job: ``start_training`` returns at once, the pipeline polls
``get_status``, an interrupted CLI leaves it running and a re-run resumes polling, ``cancel``
terminates it. Job directory::

    job.json          the job's specification
    status.json       queued | running | succeeded | failed | cancelled (+ pid, error, timings)
    metrics.jsonl     one line per logged step: step, train_loss, train_accuracy, learning_rate,
                      epoch, total_steps
    train.log         the child's output
    adapter/          the LoRA adapter (adapter_config.json, adapter_model.safetensors)
    loss_curve.csv    step,train_loss

Heavy libraries (torch, transformers, trl, peft, datasets) are imported only in the child.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from vector_trainer._layout import RUN_JOBS_DIRNAME
from vector_trainer._params import check_values
from vector_trainer._shared import utc_now
from vector_trainer.base_models import resolve_base_model
from vector_trainer.chatml import check_example
from vector_trainer.config import GateConfig, LocalLoRATrainerConfig
from vector_trainer.errors import ConfigError, InputError, MissingDependencyError, TrainerError
from vector_trainer.fileio import StateDocument, atomic_write_json, iter_jsonl
from vector_trainer.training.base import BaseTrainer
from vector_trainer.training.chat_models import ChatModel
from vector_trainer.training.local_lora.chat_model import LocalChatModel
from vector_trainer.training.local_lora.chat_rows import (
    LengthPlan,
    example_rows,
    load_tokenizer,
    model_context,
    plan_max_length,
)
from vector_trainer.training.local_lora.preference_rows import check_preference, preference_rows

_D = LocalLoRATrainerConfig
REQUIRED_PACKAGES = ("torch", "transformers", "trl", "peft", "datasets")
#: Used when the model's tokenizer has no chat template of its own.


def read_job_file(path: Path) -> dict[str, Any]:
    """A job file's object; ``{}`` while it does not exist yet.

    Raises:
        TrainerError: If it exists but is not a JSON object (every job file is written
            atomically, so this is damage, never a file being written): a damaged status must
            not read as "queued", or ``cancel`` would stop nothing.
    """
    data: dict[str, Any] = StateDocument(
        path, "it is damaged: restore it or remove the job directory", TrainerError
    ).read({})
    return data


def _pid_alive(pid: int | None) -> bool:
    """Whether a job's process still runs. A child of this process that has exited stays a
    zombie (signal 0 still reaches it) until it is reaped, so it is reaped here first."""
    if not pid:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False  # our child, exited just now
    except ChildProcessError:
        pass  # not our child (another CLI started it): ask the system
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: The module a job's process runs (and the one jobs started before the training stage ran).
JOB_MODULES = ("vector_trainer.training.local_lora.job", "vector_trainer.pipeline.trainers.lora_job")
#: Process ids above this are no process id on any system this runs on.
MAX_PID = 2**31 - 1
#: What a job's status can say.
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")


def _command_line(pid: int) -> list[str] | None:
    """A process's arguments: from ``/proc`` where there is one, else from ``ps``; ``None`` when
    neither says."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        pass
    try:
        done = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True,
                              timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.split() or None


def _runs_job(pid: int, job_dir: Path) -> bool:
    """Whether process ``pid`` is this job's training process: its command line runs the job
    module on this job directory. A pid the system gave to another program since (a reboot, a
    crash) is not, and is never signalled."""
    args = _command_line(pid)
    if not args or not any(module in args for module in JOB_MODULES):
        return False
    target = job_dir.resolve()
    return any(arg and (arg == job_dir.name or Path(arg).resolve() == target) for arg in args[-2:])


def _job_pid(status: dict[str, Any], path: Path) -> int | None:
    """The ``pid`` a job's status records, checked.

    Raises:
        TrainerError: If it is there and no process id.
    """
    pid = status.get("pid")
    if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or not 1 < pid <= MAX_PID):
        raise TrainerError(f"{path}: 'pid' must be a process id, got {pid!r}; nothing stopped")
    return pid


class LocalLoRATrainer(BaseTrainer):
    """LoRA fine-tuning on this machine (CPU, or GPU where available).

    Args:
        model: A Hugging Face causal LM: a local directory (or a hub id already in the cache).
        jobs_dir: Where job directories are created.
        n_epochs: Training epochs.
        learning_rate: Optimiser learning rate.
        batch_size: Per-device batch size.
        max_length: Longest tokenized example; ``None`` takes the data's longest. An example
            longer than it (or than the model's context) is refused by name, never truncated.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling.
        lora_dropout: LoRA dropout.
        target_modules: Modules to adapt (default ``all-linear``).
        max_steps: Stop after this many optimiser steps (``None``: run the epochs).
        seed: Training seed.
        method: ``sft`` trains on chat examples (TRL ``SFTTrainer``); ``dpo`` on preference pairs
            in OpenAI's format, such as a run's ``preferences.jsonl`` (TRL ``DPOTrainer``).
        dpo_beta: DPO's beta: how far the tuned model may move from its base.
    """

    name: ClassVar[str] = "local-lora"

    def __init__(
        self,
        model: str | None = _D.model,
        jobs_dir: str | os.PathLike[str] = _D.jobs_dir,
        n_epochs: int = _D.n_epochs,
        learning_rate: float = _D.learning_rate,
        batch_size: int = _D.batch_size,
        max_length: int | None = _D.max_length,
        lora_r: int = _D.lora_r,
        lora_alpha: int = _D.lora_alpha,
        lora_dropout: float = _D.lora_dropout,
        target_modules: str | list[str] = _D.target_modules,
        max_steps: int | None = _D.max_steps,
        seed: int = _D.seed,
        method: str = _D.method,
        dpo_beta: float = _D.dpo_beta,
    ) -> None:
        self.hyperparameters = {
            "n_epochs": n_epochs,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "max_length": max_length,
            "lora_r": lora_r,
            "lora_alpha": lora_alpha,
            "lora_dropout": lora_dropout,
            "target_modules": target_modules,
            "max_steps": max_steps,
            "seed": seed,
            "method": method,
            "dpo_beta": dpo_beta,
        }
        check_values(_D, "trainer", {"model": model, "jobs_dir": os.fspath(jobs_dir), **self.hyperparameters})
        self.model = model
        self.jobs_dir = Path(jobs_dir)

    def _job_dir(self, job_id: str) -> Path:
        path = self.jobs_dir / job_id
        if not (path / "job.json").exists():
            raise TrainerError(f"no local training job '{job_id}' under {self.jobs_dir}")
        return path

    def prepare_data(self, jsonl_path: str | os.PathLike[str], *, client_token: str | None = None) -> str:
        """Validate the chat file (the preference file with ``method="dpo"``); its file id is its
        absolute path.

        Raises:
            InputError: ``file:line`` of the first example that fails the format checks.
        """
        path = Path(jsonl_path).resolve()
        dpo = self.hyperparameters["method"] == "dpo"
        count = 0
        for line_no, example in iter_jsonl(path):
            if dpo:
                errors = check_preference(example)
            else:
                errors = [i.message for i in check_example(example) if i.severity == "error"]
            if errors:
                kind = "preference pair (method dpo)" if dpo else "chat example"
                raise InputError(f"{path}:{line_no}: not a valid {kind}: {'; '.join(errors)}")
            count += 1
        if count == 0:
            raise InputError(f"{path}: no training examples")
        return str(path)

    def check_ready(self) -> None:
        """Raises:
        ConfigError: Without a base model.
        """
        if not self.model:
            raise ConfigError(
                "trainer.model: the local-lora trainer needs a base model: a Hugging Face model directory or a "
                "cached hub id (--model PATH, or model = ... under [trainer])"
            )

    def plan_lengths(self, training_file: str | os.PathLike[str], max_length: int | None = None) -> LengthPlan:
        """The sequence length training uses: the file's longest example as the model's chat
        template renders it (``max_length``, when given, must hold every example).

        Raises:
            InputError: Naming the examples whose reply would be cut off (exit code 2).
        """
        from transformers import AutoConfig

        base = resolve_base_model(str(self.model))
        tokenizer = load_tokenizer(base)
        rows_of = preference_rows if self.hyperparameters["method"] == "dpo" else example_rows
        _, lengths = rows_of(iter_jsonl(training_file), tokenizer)
        context = model_context(AutoConfig.from_pretrained(base), tokenizer)
        return plan_max_length(lengths, max_length, context, os.fspath(training_file))

    def find_job(self, client_token: str) -> str | None:
        """The job started with this token, if its process was launched."""
        job_id = f"lora-{client_token}"
        status = read_job_file(self.jobs_dir / job_id / "status.json")
        return job_id if status.get("pid") else None

    def start_training(self, file_id: str, *, client_token: str | None = None, **hyperparameters: Any) -> str:
        self.check_ready()
        missing = [name for name in REQUIRED_PACKAGES if _find_spec(name) is None]
        if missing:
            raise MissingDependencyError(", ".join(missing), "local", "The local LoRA trainer")
        training_file = Path(file_id)
        if not training_file.is_file():
            raise TrainerError(f"training file {training_file} does not exist (prepare_data returns its path)")
        params = {**self.hyperparameters, **{k: v for k, v in hyperparameters.items() if k != "validation_file"}}
        params["max_length"] = self.plan_lengths(training_file, params["max_length"]).max_length
        if client_token:
            job_id = f"lora-{client_token}"  # a re-run after a kill reuses the directory (find_job)
        else:
            digest = hashlib.sha256(f"{file_id}{time.time_ns()}".encode()).hexdigest()[:8]
            job_id = f"lora-{datetime.now(timezone.utc):%Y%m%d%H%M%S}-{digest}"
        job_dir = self.jobs_dir / job_id
        job_dir.mkdir(parents=True, exist_ok=client_token is not None)
        atomic_write_json(
            job_dir / "job.json",
            {
                "job_id": job_id,
                "model": resolve_base_model(str(self.model)),
                "model_given": self.model,
                "training_file": str(training_file),
                "validation_file": hyperparameters.get("validation_file"),
                "hyperparameters": params,
                "created_at": utc_now(),
            },
        )
        atomic_write_json(job_dir / "status.json", {"status": "queued", "created_at": utc_now()})
        with (job_dir / "train.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "vector_trainer.training.local_lora.job", str(job_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C on the CLI leaves the job running; re-run resumes
            )
        status = read_job_file(job_dir / "status.json")
        status.setdefault("pid", process.pid)
        atomic_write_json(job_dir / "status.json", {**status, "pid": process.pid})
        return job_id

    def get_status(self, job_id: str) -> dict[str, Any]:
        job_dir = self._job_dir(job_id)
        status = read_job_file(job_dir / "status.json")
        state = status.get("status", "queued")
        if state not in JOB_STATES:
            raise TrainerError(
                f"{job_dir / 'status.json'}: 'status' must be one of {', '.join(JOB_STATES)}, got {state!r}; "
                "restore it or remove the job directory"
            )
        pid = _job_pid(status, job_dir / "status.json")
        if state in ("queued", "running") and pid and not (_pid_alive(pid) and _runs_job(pid, job_dir)):
            time.sleep(0.2)  # the child may be writing its final status right now
            status = read_job_file(job_dir / "status.json")
            state = status.get("status", state)
            if state in ("queued", "running"):
                status = {
                    **status,
                    "status": "failed",
                    "error": f"training process {status['pid']} died; see train.log",
                }
                atomic_write_json(job_dir / "status.json", status)
                state = "failed"
        return {
            "id": job_id,
            "status": state,
            "model": self.model,
            "fine_tuned_model": str(job_dir / "adapter") if state == "succeeded" else None,
            "error": status.get("error"),
            "compute_seconds": status.get("compute_seconds"),
            "device": status.get("device"),
        }

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        path = self._job_dir(job_id) / "metrics.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
        return rows

    def get_result(self, job_id: str) -> dict[str, Any]:
        status = self.get_status(job_id)
        if status["status"] == "failed":
            raise TrainerError(f"local training job {job_id} failed: {status['error']}")
        if status["status"] == "cancelled":
            raise TrainerError(f"local training job {job_id} was cancelled")
        job_dir = self._job_dir(job_id)
        return {
            **status,
            "adapter_dir": str(job_dir / "adapter"),
            "loss_curve": str(job_dir / "loss_curve.csv"),
            "metrics": self.metrics(job_id),
        }

    def cancel(self, job_id: str) -> dict[str, Any]:
        job_dir = self._job_dir(job_id)
        status = read_job_file(job_dir / "status.json")
        pid = _job_pid(status, job_dir / "status.json")
        running = pid is not None and status.get("status") in ("queued", "running") and _pid_alive(pid)
        if running and pid is not None and _runs_job(pid, job_dir):  # never a process the job does not own
            os.killpg(os.getpgid(pid), signal.SIGTERM)
        atomic_write_json(job_dir / "status.json", {**status, "status": "cancelled", "finished_at": utc_now()})
        return {"id": job_id, "status": "cancelled"}

    def describe(self) -> dict[str, Any]:
        return {"trainer": self.name, "model": self.model, "hyperparameters": self.hyperparameters}

    @classmethod
    def run_options(cls, run_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """A run keeps its jobs, so their adapters, inside it: ``<run>/jobs``."""
        return {"jobs_dir": str(Path(run_dir) / RUN_JOBS_DIRNAME)}

    @classmethod
    def chat_model(
        cls,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = GateConfig.timeout_s,
        max_tokens: int = GateConfig.max_tokens,
    ) -> ChatModel:
        """The model loaded here, with no server: a job's ``adapter`` directory on its base model,
        or a base model alone (a directory, a cached hub id, a GGUF file or ``pypi:<package>``)
        as the incumbent. ``base_url``, ``api_key`` and ``timeout_s`` are not used."""
        if (Path(model) / "adapter_config.json").is_file():
            return LocalChatModel(adapter_dir=model, max_tokens=max_tokens)
        return LocalChatModel(model, max_tokens=max_tokens)


def _find_spec(name: str) -> Any:
    """Where an optional package is installed (``None`` if it is not); patched in tests."""
    return importlib.util.find_spec(name)
