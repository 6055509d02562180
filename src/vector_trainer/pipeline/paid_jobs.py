"""One paid training job per distinct training set, ever.

Two mechanisms, both written down before any paid call returns:

* inside a run directory, ``state.json``'s ``training`` entry (the file's hash, a client token
  written before the first paid call, the upload and job ids the moment they exist): a re-run
  finds what an interrupted one paid for, and keeps the very golden set it uploaded
  (:func:`kept_training_input`), so logs that arrived since wait for the next cycle;
* across the runs of one function (a gated pipeline's live directory), ``jobs.json``
  (:class:`JobLedger`): every job by the content hash of its training file, so a cycle whose
  training data is byte-identical to a job already running or trained reuses it instead of
  paying again. Failed and cancelled jobs are recorded too, but never reused: they cost nothing,
  and reusing one would fail the new cycle for good.
"""

from __future__ import annotations

import inspect
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vector_trainer._layout import GOLDEN_FILENAME, STATE_FILENAME
from vector_trainer._shared import sha256_file, utc_now
from vector_trainer.errors import InputError
from vector_trainer.fileio import StateDocument
from vector_trainer.pipeline.results import ExtractResult
from vector_trainer.pipeline.rundir import RunDirectory, TrainingInput
from vector_trainer.training.base import BaseTrainer

JOBS_FILENAME = "jobs.json"
#: Job states in which a job may still give (or has given) a model: such a job is reused.
REUSABLE = frozenset({"queued", "validating_files", "running", "succeeded", "submitted"})


class JobLedger:
    """The paid jobs of one function, by training-file hash (``<home>/jobs.json``, locked, atomic).

    Args:
        home: The function's live directory.
    """

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home)
        self.path = self.home / JOBS_FILENAME

    def _document(self) -> StateDocument:
        return StateDocument(
            self.path,
            "restore it, or move it away (jobs may then be paid again)",
            check=_ledger_problem,
            lock_path=self.home / ".jobs.lock",
        )

    def _read(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self._document().read({"jobs": []})["jobs"]
        return jobs

    def _update(self, change: Callable[[list[dict[str, Any]]], None]) -> None:
        self._document().update({"jobs": []}, lambda data: change(data["jobs"]))

    def jobs(self) -> list[dict[str, Any]]:
        """Every recorded job, oldest first."""
        return self._read()

    def reusable(self, file_sha256: str, trainer: str) -> dict[str, Any] | None:
        """The latest job of the same trainer on byte-identical training data that may still give a model."""
        return next(
            (
                job
                for job in reversed(self._read())
                if job.get("file_sha256") == file_sha256
                and job.get("trainer") == trainer
                and job.get("status", "submitted") in REUSABLE
            ),
            None,
        )

    def record(self, job: dict[str, Any]) -> None:
        """Add a job, or update the one with the same id."""

        def change(jobs: list[dict[str, Any]]) -> None:
            for entry in jobs:
                if entry["job_id"] == job["job_id"]:
                    entry.update(job)
                    return
            jobs.append(job)

        self._update(change)


def kept_training_input(run: RunDirectory) -> tuple[TrainingInput, ExtractResult] | None:
    """The golden set a run already started paying for (a client token is written before the
    first paid call), when its file is still the one recorded: a resumed run trains on it. With
    it, the extraction that wrote it, as ``state.json`` keeps it.

    Raises:
        InputError: Naming ``state.json``, when its ``extract`` entry is damaged.
    """
    training = run.state.get("training")
    if not isinstance(training, dict) or not (training.get("client_token") or training.get("job_id")):
        return None
    train = run.dir / GOLDEN_FILENAME
    if not train.is_file() or sha256_file(train) != training.get("file_sha256"):
        return None
    try:
        kept = ExtractResult.from_dict(run.state.get("extract") or {})
    except InputError as exc:
        raise InputError(
            f"{run.path(STATE_FILENAME)}: 'extract' is damaged ({exc}); restore it, or move the run "
            "directory away to start afresh (its training job may then be paid again)"
        ) from None
    validation = Path(kept.validation_path) if kept.validation_path else None
    return TrainingInput(train, validation, kept.examples), kept


def ensure_job(trainer: BaseTrainer, inputs: TrainingInput, run: RunDirectory, ledger: JobLedger | None) -> str:
    """The job training on ``inputs``: the run's own (resumed), one the ledger holds for the same
    data, or a new one (uploaded and created with a client token, recorded at once).

    Raises:
        TrainerError: From the trainer's paid calls.
    """
    hub, state = run.hub, run.state
    digest = sha256_file(inputs.train_path)
    training = state.get("training") or {}
    if training.get("file_sha256") != digest or training.get("trainer") != trainer.name:
        if training.get("job_id"):
            state.setdefault("previous_jobs", []).append(training)
        training = {"mode": "submitted", "trainer": trainer.name, "file_sha256": digest}
    endpoint = trainer.serving_endpoint()[0]
    if endpoint:  # status and cancel reach the job where it was made (state files are redacted)
        training["base_url"] = endpoint
    state["training"] = training
    if training.get("job_id"):
        hub.log(f"resuming: job {training['job_id']} already exists for this training file; not uploading again")
        return str(training["job_id"])
    earlier = ledger.reusable(digest, trainer.name) if ledger is not None else None
    if earlier is not None:
        hub.log(
            f"job {earlier['job_id']} already trains on byte-identical data (sha256 {digest[:12]}); not paying again"
        )
        training.update(job_id=earlier["job_id"], file_id=earlier.get("file_id"), reused_from=earlier.get("run_dir"))
        run.persist()
        return str(earlier["job_id"])
    if not training.get("client_token"):  # written before any paid call: a re-run finds what it made
        training["client_token"] = secrets.token_hex(8)
        run.persist()
    token = str(training["client_token"])
    training["file_id"] = _ensure_upload(trainer, training, "file_id", inputs.train_path, token, run)
    if inputs.validation_path:
        training["validation_file_id"] = _ensure_upload(
            trainer, training, "validation_file_id", inputs.validation_path, f"{token}-validation", run
        )
    hyper: dict[str, Any] = {}
    if training.get("validation_file_id"):
        hyper["validation_file"] = training["validation_file_id"]
    found = trainer.find_job(token)
    if found:
        hub.log(f"resuming: job {found} was created by an interrupted run; not creating another")
        training["job_id"] = found
    else:
        training["job_id"] = with_token(trainer.start_training, token, training["file_id"], **hyper)
        hub.log(f"started fine-tuning job {training['job_id']}")
    training["created_at"] = utc_now()
    run.persist()
    if ledger is not None:
        ledger.record({"job_id": training["job_id"], "trainer": trainer.name, "file_sha256": digest,
                       "file_id": training["file_id"], "run_dir": str(run.dir), "created_at": training["created_at"],
                       "status": "submitted"})  # fmt: skip
    return str(training["job_id"])


def _ensure_upload(
    trainer: BaseTrainer, training: dict[str, Any], key: str, path: Path, token: str, run: RunDirectory
) -> str:
    if training.get(key):
        run.hub.log(f"resuming: file {training[key]} already uploaded")
        return str(training[key])
    found = trainer.find_upload(path, token)
    if found:
        run.hub.log(f"resuming: file {found} was uploaded by an interrupted run; not uploading again")
        training[key] = found
    else:
        training[key] = with_token(trainer.prepare_data, token, path)
    run.persist()
    return str(training[key])


def with_token(method: Callable[..., str], token: str, *args: Any, **kwargs: Any) -> str:
    """Call a trainer method with ``client_token`` when it takes one (trainers written before
    tokens existed keep working, without the resume-after-kill lookup)."""
    if "client_token" in inspect.signature(method).parameters:
        kwargs["client_token"] = token
    return method(*args, **kwargs)


def _ledger_problem(data: Any) -> str | None:
    jobs = data.get("jobs") if isinstance(data, dict) else None
    valid = isinstance(jobs, list) and all(isinstance(j, dict) and isinstance(j.get("job_id"), str) for j in jobs)
    return None if valid else "not a job ledger (a 'jobs' list of objects with a 'job_id')"
