"""Embedding throughput beside the selection quality of the vectors made (issue 31).

In one run, on real text from ``../shared/data``:

* **short queries**: the 10,003 Banking77 train queries and the protocol's 200 NLU++ hotel
  queries (``default_rng(0).choice(997, 200)``), 10,203 texts;
* **conversations**: ``--conversations`` support conversations of ``bench/conversations.py``
  (long system prompt, retrieved context, earlier turns in four languages, tool calls) on the
  first train queries, each embedded as its ``history`` view (the last user turn and the turns
  before it, 1,000 characters).

Embedders, each the bundled all-MiniLM-L6-v2 on this machine's cores:

* ``sentence-transformers encode, float32``: ``SentenceTransformer.encode`` as VectorTrainer
  called it before issue 31 (the baseline);
* ``VectorTrainer local, float32``: :class:`~vector_trainer.sources.embedders.SentenceTransformerEmbedder`
  in float32 (texts tokenised once, batched by token count, inference mode);
* ``VectorTrainer local, auto``: the same with ``precision = "auto"`` (bfloat16 where the CPU
  multiplies it natively: AMX or AVX-512 BF16; float32 elsewhere, and the row says which);
* ``VectorTrainer static``: :class:`~vector_trainer.sources.static_embedder.StaticEmbedder`,
  model2vec distilled from the same model at the start of the run (the distillation's seconds
  are reported): the explicit speed option, in its own 256-d space (no cosine to the baseline).

Timings are interleaved over ``--rounds`` rounds (the machine's speed drifts); each figure is
the median round, each speed-up the median of the per-round ratios. For each embedder's vectors
of the short queries: steady intents covered by 77 picks and anomaly P@200 (the dev protocol of
``bench/selection_real.py``), beside the shipped vectors' figures and random picks, and the
smallest cosine to the baseline's vector. Last, the embedding cache: a cold and a warm pass of
the short queries (a re-ingest or ``reembed`` of the same texts).

    python bench/embed.py [--data ../shared/data] [--rounds 3] [--conversations 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.sources.embedders import SentenceTransformerEmbedder
from vector_trainer.sources.embedding_cache import CachedEmbedder
from vector_trainer.sources.static_embedder import StaticEmbedder
from vector_trainer.sources.views import EmbeddingView

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from conversations import build_calls  # noqa: E402  (a sibling bench script)

DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
STEADY_PICKS = 77
ANOMALY_PICKS = 200
BASELINE = "sentence-transformers encode, float32"
Embed = Callable[[Sequence[str]], np.ndarray]


def steady_intents(X: np.ndarray, intents: np.ndarray) -> int:
    picks = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=STEADY_PICKS).select_steady_state("fn")
    return len({intents[int(p.uuid)] for p in picks})


def anomaly_precision(X: np.ndarray, is_new: np.ndarray) -> float:
    picks = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=ANOMALY_PICKS).select_anomalies("fn")
    return float(is_new[[int(p.uuid) for p in picks]].sum()) / ANOMALY_PICKS


def quality(X: np.ndarray, n_train: int, intents: np.ndarray) -> tuple[int, float]:
    """(steady intents of 77 on the train rows, anomaly P@200 on all rows)."""
    is_new = np.r_[np.zeros(n_train, bool), np.ones(len(X) - n_train, bool)]
    return steady_intents(X[:n_train], intents), anomaly_precision(X, is_new)


def timed_rounds(embedders: dict[str, Embed], texts: list[str], rounds: int) -> tuple[dict, dict]:
    """Per embedder: the vectors and each round's seconds, rounds interleaved."""
    seconds: dict[str, list[float]] = {name: [] for name in embedders}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, embed in embedders.items():
            start = time.perf_counter()
            vectors[name] = np.asarray(embed(texts), dtype=np.float32)
            seconds[name].append(time.perf_counter() - start)
    return vectors, seconds


def speed_rows(seconds: dict[str, list[float]], count: int) -> list[dict]:
    base = seconds[BASELINE]
    return [
        {
            "embedder": name,
            "texts_per_s": round(count / statistics.median(runs)),
            "speedup_vs_baseline": round(statistics.median(b / r for b, r in zip(base, runs, strict=True)), 2),
            "rounds_texts_per_s": [round(count / r) for r in runs],
        }
        for name, runs in seconds.items()
    ]


def _min_cosine(X: np.ndarray, baseline: np.ndarray) -> float | None:
    """The smallest cosine between an embedder's vector and the baseline's (``None`` for vectors
    of another space, like the static embedder's)."""
    return round(float((X * baseline).sum(axis=1).min()), 5) if X.shape == baseline.shape else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=2000)
    args = parser.parse_args()
    rows = json.loads((args.data / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    bank = np.load(args.data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32)
    hotel_texts = json.loads((args.data / "nluplusplus_hotels" / "hotels_texts.json").read_text(encoding="utf-8"))
    hotel_vectors = np.load(args.data / "nluplusplus_hotels" / "hotels_minilm_f16.npy").astype(np.float32)
    train = [i for i, r in enumerate(rows) if r[2] == "train"]
    hotel_rows = np.random.default_rng(0).choice(len(hotel_texts), ANOMALY_PICKS, replace=False)
    texts = [rows[i][0] for i in train] + [hotel_texts[int(i)] for i in hotel_rows]
    intents = np.asarray([rows[i][1] for i in train])
    shipped = normalize_rows(np.vstack([bank[train], hotel_vectors[hotel_rows]]))

    baseline = SentenceTransformerEmbedder(precision="float32")
    fast32 = SentenceTransformerEmbedder(precision="float32")
    auto = SentenceTransformerEmbedder()
    static_dir = tempfile.mkdtemp(prefix="vectortrainer-static-")
    start = time.perf_counter()
    static = StaticEmbedder(static_dir=static_dir)
    distill_s = time.perf_counter() - start
    embedders: dict[str, Embed] = {
        BASELINE: lambda t: baseline._model.encode(list(t), normalize_embeddings=True, convert_to_numpy=True),
        "VectorTrainer local, float32": fast32.embed,
        f"VectorTrainer local, auto ({auto.precision} here)": auto.embed,
        "VectorTrainer static (model2vec)": static.embed,
    }
    for embed in embedders.values():
        embed(texts[:64])  # load and warm up

    vectors, seconds = timed_rounds(embedders, texts, args.rounds)
    short = speed_rows(seconds, len(texts))
    for row in short:
        X = vectors[row["embedder"]]
        row["steady_intents_of_77"], row["anomaly_p_at_200"] = quality(normalize_rows(X), len(train), intents)
        row["min_cosine_to_baseline"] = _min_cosine(X, vectors[BASELINE])
    steady_shipped, anomaly_shipped = quality(shipped, len(train), intents)
    random_picks = np.random.default_rng(0).choice(len(train), STEADY_PICKS, replace=False)

    view = EmbeddingView("history")
    calls = build_calls([rows[i][0] for i in train[: args.conversations]], intents[: args.conversations].tolist())
    conversation_texts = [view.text({"messages": c["messages"], "tools": c["tools"]}, c["reply"]) for c in calls]
    conversation_vectors, conversation_seconds = timed_rounds(embedders, conversation_texts, max(1, args.rounds - 1))
    conversations = speed_rows(conversation_seconds, len(conversation_texts))
    for row in conversations:
        row["min_cosine_to_baseline"] = _min_cosine(
            conversation_vectors[row["embedder"]], conversation_vectors[BASELINE]
        )

    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedEmbedder(auto, Path(tmp) / "embeddings.db")
        start = time.perf_counter()
        cold = cached.embed(texts)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        warm = cached.embed(texts)
        warm_s = time.perf_counter() - start
    report = {
        "machine_threads": __import__("torch").get_num_threads(),
        "short_queries": {"texts": len(texts), "embedders": short},
        "static_distillation_s": round(distill_s, 1),
        "short_queries_shipped_vectors": {"steady_intents_of_77": steady_shipped, "anomaly_p_at_200": anomaly_shipped},
        "short_queries_random_77_steady_intents": len(set(intents[random_picks].tolist())),
        "conversations_history_view": {
            "texts": len(conversation_texts),
            "mean_characters": round(float(np.mean([len(t) for t in conversation_texts]))),
            "embedders": conversations,
        },
        "cache": {
            "cold_texts_per_s": round(len(texts) / cold_s),
            "warm_texts_per_s": round(len(texts) / warm_s),
            "warm_over_cold_speedup": round(cold_s / warm_s, 1),
            "warm_equals_cold": bool(np.array_equal(cold, warm)),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
