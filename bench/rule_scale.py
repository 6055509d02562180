"""Synthesizer scale: 50,000 feedback pairs in under 60 s and 1 GB (issue 12).

Each case runs in a fresh process (so peak memory is its own): synthesis (diffs, conflict
groups, pruning, damage check), then hook generation (render, validation, isolated self-test),
timed separately.

* ``distinct``: every pair a different one-off correction (every rule scoped to its sentence);
* ``shared-target``: every pair rewrites the same phrase, to one of three texts (one tournament);
* ``systematic``: the rule-quality bench's generator (systematic corrections plus 10% noise):
  its tiny vocabulary makes every sentence share words with thousands of pairs, and chance
  coincidences among noise pairs make many weak general rules that touch every pair.

    python bench/rule_scale.py [--pairs 50000] [--systematic-pairs 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ("distinct", "shared-target", "systematic")


def make_pairs(case: str, n: int) -> list:
    from vector_trainer.types import FeedbackPair

    rng = random.Random(0)
    if case == "distinct":
        return [
            FeedbackPair(
                f"Order {i} ships to {rng.random():.6f} street {i % 97}.",
                f"Order {i} ships to {rng.random():.6f} avenue {i % 97}.",
                sequence=i,
            )
            for i in range(n)
        ]
    if case == "shared-target":
        fixes = ("the", "tech", "then")
        return [FeedbackPair(f"x teh y {i}", f"x {fixes[i % 3]} y {i}", sequence=i) for i in range(n)]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rule_quality import make_pairs as systematic

    return [p for p, _ in systematic(n, 0.1, 0)]


def child(case: str, n: int) -> None:
    from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer

    pairs = make_pairs(case, n)
    start = time.perf_counter()
    result = RuleSetSynthesizer().synthesize(pairs)
    synth_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        hook = HookScriptGenerator().generate(
            result.rules, Path(tmp) / "h.py", feedback_pairs=result.consistent_pairs(pairs), enable_versioning=False
        )
        hook_s = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "case": case,
                "pairs": n,
                "rules": len(result.rules),
                "synthesize_s": round(synth_s, 1),
                "hook_generation_s": round(hook_s, 1),
                "self_test_exact": f"{hook.self_test.fixed_exactly}/{hook.self_test.pairs}",
                "peak_rss_MiB": round(peak),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--systematic-pairs", type=int, default=50_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    for case in CASES:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                case,
                str(args.systematic_pairs if case == "systematic" else args.pairs),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        print(done.stdout.strip() or done.stderr.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
