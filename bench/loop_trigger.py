"""The loop's anomaly trigger on real data: does a new kind of request start a cycle, and does
more of the usual not?

Data: ``../shared/data/README.md`` (real customer queries, real all-MiniLM-L6-v2 vectors). The
trigger (:mod:`vector_trainer.pipeline.loop_trigger`) measures the density of new logs against the
logs already seen and compares the share under the anomaly cutoff with the seen logs' share.
Its default threshold (``[loop] anomaly_rise`` 0.1) was set before this run and is not tuned here.

Scenarios, each repeated over draws (``--draws``) of the new logs:

1. *More of the usual*: the reference is the 10,003 Banking77 train queries; the new logs are
   ``--new`` Banking77 test queries (the same intents, texts never seen). A cycle here is a false
   trigger.
2. *A new kind of request mixed in*: the same, with a share of the new logs replaced by NLU++
   hotel queries (0%, 5%, 10%, 20%, 50%, 100%).
3. *Roles swapped* (data nothing was tuned on): the reference is the 997 hotel queries; the new
   logs are held-out hotel queries (a reference of the other 797) with Banking77 queries mixed in.

Baseline in the same run: the 1-NN novelty share (a new log is novel when its nearest seen
log is less similar than the 25% quantile of the seen logs' own nearest-neighbour
similarities), with the same 0.1 rise.

    python bench/loop_trigger.py [--data ../shared/data] [--new 200] [--draws 5]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _memory import MemorySource, as_logs
from vector_trainer.config import ExtractorConfig, LoopConfig
from vector_trainer.extractor import DensityBasedExtractor
from vector_trainer.extractor.engines.base import normalize_rows
from vector_trainer.pipeline.loop_trigger import new_anomaly_share, reference_from

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
MIXES = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
QUANTILE = ExtractorConfig.anomaly_quantile
RISE = LoopConfig.anomaly_rise
SWAPPED_REFERENCE = 797
BLOCK = 1024


def load(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = json.loads((data / "banking77" / "banking77_rows.json").read_text(encoding="utf-8"))
    bank = normalize_rows(np.load(data / "banking77" / "banking77_minilm_f16.npy").astype(np.float32))
    hotels = normalize_rows(np.load(data / "nluplusplus_hotels" / "hotels_minilm_f16.npy").astype(np.float32))
    train = np.array([split == "train" for _, _, split in rows])
    return bank[train], bank[~train], hotels


def nearest(queries: np.ndarray, base: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Each query's largest similarity to a base row (blocked)."""
    best = np.empty(len(queries), dtype=np.float32)
    for r0 in range(0, len(queries), BLOCK):
        S = queries[r0 : r0 + BLOCK] @ base.T
        if exclude_self:
            S[np.arange(S.shape[0]), np.arange(r0, r0 + S.shape[0])] = -np.inf
        best[r0 : r0 + BLOCK] = S.max(axis=1)
    return best


class Trigger:
    """Both triggers against one reference set of seen logs."""

    def __init__(self, seen: np.ndarray) -> None:
        self.seen = seen
        self.extractor = DensityBasedExtractor(MemorySource(as_logs(seen)))
        self.reference = reference_from(self.extractor.analyze("fn"), QUANTILE)
        own = nearest(seen, seen, exclude_self=True)
        self.nn_cutoff = float(np.quantile(own, QUANTILE))
        self.nn_share = float(np.mean(own <= self.nn_cutoff))

    def density_rise(self, new: np.ndarray) -> float:
        logs = as_logs(np.vstack([self.seen, new]))
        analysis = DensityBasedExtractor(MemorySource(logs), epsilon=1 - self.reference.threshold).analyze("fn")
        _, share = new_anomaly_share(analysis, self.reference)
        return share - self.reference.share

    def nn_rise(self, new: np.ndarray) -> float:
        return float(np.mean(nearest(new, self.seen) <= self.nn_cutoff)) - self.nn_share


def scenario(name: str, trigger: Trigger, usual: np.ndarray, novel: np.ndarray, n_new: int, draws: int) -> None:
    print(f"\n{name}  (seen {len(trigger.seen)}, new {n_new} per draw, {draws} draws, rise threshold {RISE})")
    print(f"{'novel share':>11} | {'density rise (mean)':>19} {'cycles':>7} | {'1-NN rise (mean)':>16} {'cycles':>7}")
    for mix in MIXES:
        n_novel = round(n_new * mix)
        rises = {"density": [], "nn": []}
        for draw in range(draws):
            rng = np.random.default_rng(draw)
            new = np.vstack(
                [
                    usual[rng.choice(len(usual), n_new - n_novel, replace=False)],
                    novel[rng.choice(len(novel), n_novel, replace=False)],
                ]
            )
            rises["density"].append(trigger.density_rise(new))
            rises["nn"].append(trigger.nn_rise(new))
        d, n = np.array(rises["density"]), np.array(rises["nn"])
        print(
            f"{mix:>11.0%} | {d.mean():>+19.3f} {int((d >= RISE).sum()):>3}/{draws:<3} | "
            f"{n.mean():>+16.3f} {int((n >= RISE).sum()):>3}/{draws:<3}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--new", type=int, default=200, help="new logs per draw")
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    train, test, hotels = load(args.data)
    start = time.perf_counter()
    scenario("Banking77: seen = train queries; usual = test queries; novel = hotel queries",
             Trigger(train), test, hotels, args.new, args.draws)  # fmt: skip
    order = np.random.default_rng(0).permutation(len(hotels))
    seen, held = hotels[order[:SWAPPED_REFERENCE]], hotels[order[SWAPPED_REFERENCE:]]
    scenario("Roles swapped: seen = 797 hotel queries; usual = the other 200; novel = Banking77 test queries",
             Trigger(seen), held, test, min(args.new, len(held)), args.draws)  # fmt: skip
    print(f"\n{time.perf_counter() - start:.1f} s in all")


if __name__ == "__main__":
    main()
