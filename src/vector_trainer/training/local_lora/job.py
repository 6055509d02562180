"""The child process of a ``local-lora`` job: ``python -m vector_trainer.training.local_lora.job JOB_DIR``.

It reads ``job.json``, trains a PEFT LoRA adapter with TRL (``SFTTrainer`` on prompt-completion
rows, or ``DPOTrainer`` on preference pairs with ``method = "dpo"``), and writes ``status.json``, ``metrics.jsonl``,
``adapter/`` and ``loss_curve.csv`` in the job directory. torch, transformers, trl, peft and
datasets are imported here only.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from vector_trainer._shared import utc_now
from vector_trainer.fileio import atomic_write_json, iter_jsonl
from vector_trainer.training.local_lora.chat_rows import example_rows, load_tokenizer, plan_max_length
from vector_trainer.training.local_lora.preference_rows import preference_rows
from vector_trainer.training.local_lora.trainer import read_job_file


def run_job(job_dir: Path) -> int:
    """Train one job (runs in the child process). Returns the process exit code."""
    spec = read_job_file(job_dir / "job.json")
    started = time.monotonic()
    status: dict[str, Any] = {**read_job_file(job_dir / "status.json"), "status": "running", "pid": os.getpid()}
    status["started_at"] = utc_now()
    atomic_write_json(job_dir / "status.json", status)
    try:
        device = _train(job_dir, spec)
    except Exception as exc:
        status.update(status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utc_now())
        status["compute_seconds"] = round(time.monotonic() - started, 2)
        atomic_write_json(job_dir / "status.json", status)
        return 1
    status.update(status="succeeded", finished_at=utc_now(), device=device)
    status["compute_seconds"] = round(time.monotonic() - started, 2)
    atomic_write_json(job_dir / "status.json", status)
    return 0


def _metrics_callback(metrics_path: Path) -> Any:
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **_: Any) -> None:
            if logs and "loss" in logs:
                row = {
                    "step": state.global_step,
                    "train_loss": float(logs["loss"]),
                    "train_accuracy": logs.get("mean_token_accuracy", logs.get("rewards/accuracies")),
                    "learning_rate": logs.get("learning_rate"),
                    "epoch": logs.get("epoch"),
                    "total_steps": state.max_steps,
                }
                with metrics_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")

    return MetricsCallback()


def _train(job_dir: Path, spec: dict[str, Any]) -> str:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    hp = spec["hyperparameters"]
    dpo = hp.get("method", "sft") == "dpo"
    tokenizer = load_tokenizer(spec["model"])
    rows, lengths = (preference_rows if dpo else example_rows)(iter_jsonl(spec["training_file"]), tokenizer)
    plan_max_length(lengths, hp["max_length"], None, spec["training_file"])  # planned by the parent; re-checked
    model = AutoModelForCausalLM.from_pretrained(spec["model"])
    use_gpu = torch.cuda.is_available()
    common = {
        "output_dir": str(job_dir / "checkpoints"),
        "num_train_epochs": hp["n_epochs"],
        "max_steps": hp["max_steps"] or -1,
        "per_device_train_batch_size": hp["batch_size"],
        "learning_rate": hp["learning_rate"],
        "max_length": hp["max_length"],
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "seed": hp["seed"],
        "use_cpu": not use_gpu,
        "disable_tqdm": True,
    }
    lora = LoraConfig(
        r=hp["lora_r"],
        lora_alpha=hp["lora_alpha"],
        lora_dropout=hp["lora_dropout"],
        target_modules=hp["target_modules"],
        task_type="CAUSAL_LM",
    )
    if dpo:
        from trl import DPOConfig, DPOTrainer

        trainer_class: Any = DPOTrainer
        config: Any = DPOConfig(**common, beta=hp["dpo_beta"])
    else:
        from trl import SFTConfig, SFTTrainer

        trainer_class = SFTTrainer
        # the loss is on each row's completion: the trained reply only
        config = SFTConfig(**common, completion_only_loss=True)
    trainer = trainer_class(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[_metrics_callback(job_dir / "metrics.jsonl")],
    )
    trainer.train()
    trainer.save_model(str(job_dir / "adapter"))
    _write_loss_curve(job_dir)
    return "cuda" if use_gpu else "cpu"


def _write_loss_curve(job_dir: Path) -> None:
    rows = []
    metrics_path = job_dir / "metrics.jsonl"
    if metrics_path.exists():
        rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tmp = job_dir / ".loss_curve.csv.tmp"
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "train_loss"])
        writer.writerows([row["step"], row["train_loss"]] for row in rows)
    os.replace(tmp, job_dir / "loss_curve.csv")


if __name__ == "__main__":  # pragma: no cover - exercised through start_training in a child process
    sys.exit(run_job(Path(sys.argv[1])))
