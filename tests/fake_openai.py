"""A local stand-in for OpenAI's HTTP API, for the real ``openai`` client to talk to.

It speaks the endpoints VectorTrainer uses (files, fine-tuning jobs, events, cancel, chat
completions) on 127.0.0.1 with an ephemeral port, records every request, and can be scripted
to answer 429 then succeed, 401 for a wrong key, 403 ``training_not_available`` for a model,
or to fail a job. Request loops are bounded by the tests; the server stops with the fixture.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VALID_KEY = "sk-test-local-0123456789abcdef"


@dataclass
class Script:
    """How the server behaves; tests change it between calls."""

    rate_limit_first: dict[str, int] = field(default_factory=dict)  # path prefix -> 429s before success
    refused_models: set[str] = field(default_factory=set)  # 403 training_not_available
    job_outcome: str = "succeeded"  # or "failed"
    polls_before_done: int = 2  # retrieves that answer "running" before the outcome
    hold_running: bool = False  # keep jobs running until released
    chat_reply: Callable[[dict[str, Any]], str] | None = None
    # (method, path) -> seconds to hold the answer after the action is done: the client's call
    # is "in flight" while the server has already acted, which is where a kill hurts most.
    stall: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass
class FakeOpenAI:
    """State of the fake service."""

    script: Script = field(default_factory=Script)
    requests: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    base_url: str = ""

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(path_prefix))


def _job_view(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def make_handler(state: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._pending.append((status, body, headers))

        def _write(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out during a scripted stall: what a real server sees too

        def _error(self, status: int, message: str, code: str | None, kind: str) -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": code, "param": None}})

        def _body(self) -> bytes:
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self, method: str) -> None:
            self._pending: list[tuple[int, dict[str, Any], dict[str, str] | None]] = []
            path, _, query = self.path.partition("?")
            self._locked(method, path, query, self._body())
            hold = state.script.stall.get((method, path), 0.0)
            if hold:
                time.sleep(hold)  # outside the lock: other clients are served meanwhile
            for answer in self._pending:
                self._write(*answer)

        def _locked(self, method: str, path: str, query: str, body: bytes) -> None:
            with state.lock:
                state.requests.append((method, path))
                if self.headers.get("authorization") != f"Bearer {VALID_KEY}":
                    return self._error(
                        401, "Incorrect API key provided: sk-***", "invalid_api_key", "invalid_request_error"
                    )
                for prefix, remaining in list(state.script.rate_limit_first.items()):
                    if path.startswith(prefix) and remaining > 0:
                        state.script.rate_limit_first[prefix] = remaining - 1
                        self._send(
                            429,
                            {
                                "error": {
                                    "message": "Rate limit reached",
                                    "type": "requests",
                                    "code": "rate_limit_exceeded",
                                    "param": None,
                                }
                            },
                            {"retry-after-ms": "10"},
                        )
                        return None
                return self._route(method, path, body, query)

        def _route(self, method: str, path: str, body: bytes, query: str = "") -> None:
            now = int(time.time())
            params = dict(urllib.parse.parse_qsl(query))
            if method == "GET" and path == "/v1/files":
                files = [f for f in state.files.values() if params.get("purpose") in (None, f["purpose"])]
                return self._send(200, {"object": "list", "data": files, "has_more": False})
            if method == "GET" and path == "/v1/fine_tuning/jobs":
                wanted = {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")}
                jobs = [
                    _job_view(j)
                    for j in state.jobs.values()
                    if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())
                ]
                return self._send(200, {"object": "list", "data": jobs[::-1], "has_more": False})
            if method == "POST" and path == "/v1/files":
                file_id = f"file-{next(state.ids)}"
                match = re.search(rb'filename="([^"]+)"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n', body)
                content = body[match.end() : body.index(b"\r\n--", match.end())] if match else body
                record = {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": now,
                    "filename": match.group(1).decode() if match else "upload.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
                state.files[file_id] = record
                return self._send(200, record)
            if method == "POST" and path == "/v1/fine_tuning/jobs":
                request = json.loads(body or b"{}")
                if request.get("model") in state.script.refused_models:
                    return self._error(
                        403,
                        "Fine-tuning is not available for your organization.",
                        "training_not_available",
                        "invalid_request_error",
                    )
                if request.get("training_file") not in state.files:
                    return self._error(400, "invalid training_file", "invalid_file", "invalid_request_error")
                job_id = f"ftjob-{next(state.ids)}"
                state.jobs[job_id] = {
                    "id": job_id,
                    "object": "fine_tuning.job",
                    "created_at": now,
                    "finished_at": None,
                    "model": request["model"],
                    "fine_tuned_model": None,
                    "organization_id": "org-test",
                    "result_files": [],
                    "status": "validating_files",
                    "validation_file": request.get("validation_file"),
                    "training_file": request["training_file"],
                    "hyperparameters": request.get("hyperparameters") or {},
                    "trained_tokens": None,
                    "error": None,
                    "seed": 0,
                    "suffix": request.get("suffix"),
                    "metadata": request.get("metadata"),
                }
                state.polls[job_id] = 0
                return self._send(200, _job_view(state.jobs[job_id]))
            match = re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)(/events|/cancel)?", path)
            if match:
                return self._job_route(method, match.group(1), match.group(2), now)
            if method == "POST" and path == "/v1/chat/completions":
                request = json.loads(body or b"{}")
                content = state.script.chat_reply(request) if state.script.chat_reply else "{}"
                return self._send(
                    200,
                    {
                        "id": f"chatcmpl-{next(state.ids)}",
                        "object": "chat.completion",
                        "created": now,
                        "model": request.get("model", "m"),
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )
            return self._error(404, f"no route {method} {path}", None, "invalid_request_error")

        def _job_route(self, method: str, job_id: str, action: str | None, now: int) -> None:
            job = state.jobs.get(job_id)
            if job is None:
                return self._error(404, f"no job {job_id}", None, "invalid_request_error")
            if action == "/cancel" and method == "POST":
                job["status"] = "cancelled"
                return self._send(200, _job_view(job))
            if action == "/events":
                steps = min(state.polls[job_id], 3)
                data = [
                    {
                        "id": f"ftevent-{job_id}-{s}",
                        "object": "fine_tuning.job.event",
                        "created_at": now + s,
                        "level": "info",
                        "message": f"Step {s}/3: training loss={1.0 / s:.3f}",
                        "type": "metrics",
                        "data": {"step": s, "train_loss": 1.0 / s, "train_mean_token_accuracy": 0.5 + 0.1 * s},
                    }
                    for s in range(steps, 0, -1)
                ]
                return self._send(200, {"object": "list", "data": data, "has_more": False})
            if job["status"] not in ("succeeded", "failed", "cancelled"):
                state.polls[job_id] += 1
                if state.script.hold_running or state.polls[job_id] <= state.script.polls_before_done:
                    job["status"] = "running"
                elif state.script.job_outcome == "failed":
                    job.update(
                        status="failed",
                        finished_at=now,
                        error={
                            "code": "invalid_training_file",
                            "message": "Training file has 3 bad lines",
                            "param": "training_file",
                        },
                    )
                else:
                    job.update(
                        status="succeeded",
                        finished_at=now,
                        trained_tokens=1234,
                        fine_tuned_model=f"ft:{job['model']}:org-test::{job_id[-4:]}",
                        result_files=["file-results"],
                    )
            return self._send(200, _job_view(job))

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


class FakeOpenAIServer:
    """Context manager running :class:`FakeOpenAI` on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.state = FakeOpenAI()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.state.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
