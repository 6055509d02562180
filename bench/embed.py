"""Embedding throughput, and what a second import of the same texts costs (issue 31).

On the 10,003 Banking77 train queries of ``../shared/data`` (real short queries), in one run:

* **model**: the bundled all-MiniLM-L6-v2 (sentence-transformers, all cores) embedding every
  text, no cache: texts/s;
* **cache, cold**: the same through :class:`~vector_trainer.sources.embedding_cache.CachedEmbedder`
  with an empty cache file (the model's work plus the writes);
* **cache, warm**: the same texts again (a re-ingest, a ``reembed``): texts/s with no model call;
* the steady coverage (the dev protocol of ``bench/selection_real.py``: 77 picks, intents
  covered) from the vectors computed here, beside the shipped vectors' figure, and the largest
  difference between the cached and the freshly computed vectors (0: the cache returns the
  model's own vectors).

    python bench/embed.py [--data ../shared/data] [--n 10003]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines import normalize_rows
from vector_trainer.sources.embedders import SentenceTransformerEmbedder
from vector_trainer.sources.embedding_cache import CachedEmbedder

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
STEADY_PICKS = 77


def coverage(X: np.ndarray, intents: list[str]) -> int:
    picks = DensityBasedExtractor(MemorySource(as_logs(X)), top_k=STEADY_PICKS).select_steady_state("fn")
    return len({intents[int(p.uuid)] for p in picks})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=10_003, help="train queries embedded")
    args = parser.parse_args()
    rows = json.loads((args.data / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    shipped_all = np.load(args.data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32)
    train = [i for i, r in enumerate(rows) if r[2] == "train"][: args.n]
    texts, intents = [rows[i][0] for i in train], [rows[i][1] for i in train]
    model = SentenceTransformerEmbedder()
    model.embed(texts[:64])  # load and warm up

    start = time.perf_counter()
    fresh = model.embed(texts)
    model_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        cached = CachedEmbedder(model, Path(tmp) / "embeddings.db")
        start = time.perf_counter()
        cold = cached.embed(texts)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        warm = cached.embed(texts)
        warm_s = time.perf_counter() - start
    report = {
        "texts": len(texts),
        "model_texts_per_s": round(len(texts) / model_s),
        "cache_cold_texts_per_s": round(len(texts) / cold_s),
        "cache_warm_texts_per_s": round(len(texts) / warm_s),
        "warm_over_model_speedup": round(model_s / warm_s, 1),
        "max_abs_difference_cached_vs_model": float(max(np.abs(cold - fresh).max(), np.abs(warm - fresh).max())),
        "steady_intents_of_77_from_these_vectors": coverage(normalize_rows(fresh), intents),
        "steady_intents_of_77_from_shipped_vectors": coverage(normalize_rows(shipped_all[train]), intents),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
