"""Rule quality benchmark (issue 5).

Generates feedback from a known set of consistent corrections plus noise, learns rules from a
training split, generates the real hook file, imports it, and applies ``intercept_output`` to
the held-out bad outputs. Reports:

* exact-fix rate: held-out (non-noise) bad outputs turned exactly into their fixed outputs;
* mean reduction of normalised edit distance to the fixed outputs;
* damage rate: already-correct texts that the hook changed (must be 0).

    python bench/rule_quality.py [--pairs 400] [--noise 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import tempfile
from pathlib import Path

import Levenshtein

from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer
from vector_trainer.types import FeedbackPair

SUBJECTS = ["The order", "Your parcel", "The refund", "The invoice", "Your ticket", "The upgrade", "The new plan"]
VERBS = ["ships", "arrives", "is processed", "gets approved", "is ready", "is activated", "is confirmed"]
COLOURS = ["red", "blue", "green", "grey", "black"]
SPELLING = {"color": "colour", "favorite": "favourite", "organize": "organise", "center": "centre"}
EXTRAS = [
    "Your favorite color is {colour}.",
    "We organize everything at our center.",
    "The color of the box is {colour}.",
    "Visit the help center any time.",
]
PREFIX = "As an AI language model, "
GREETING_BAD, GREETING_FIXED = "Dear customer, ", "Hi there, "


def correct_sentence(rng: random.Random) -> tuple[str, dict[str, bool]]:
    """A correct reply and which mistakes may be injected into it."""
    hours = rng.choice([2, 4, 12, 24, 48, 72])
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} within {hours} hours."
    if rng.random() < 0.6:
        extra = rng.choice(EXTRAS).format(colour=rng.choice(COLOURS))
        for us, uk in SPELLING.items():
            extra = extra.replace(us, uk)
        text += " " + extra
    greet = rng.random() < 0.4
    return (GREETING_FIXED + text[0].lower() + text[1:] if greet else text), {"greet": greet}


def inject_mistakes(fixed: str, flags: dict[str, bool], rng: random.Random) -> str:
    bad = fixed
    for us, uk in SPELLING.items():
        if uk in bad and rng.random() < 0.8:
            bad = bad.replace(uk, us)
    if " hours" in bad and rng.random() < 0.7:
        bad = bad.replace(" hours", " hrs")
    if flags["greet"] and rng.random() < 0.8:
        bad = GREETING_BAD + bad[len(GREETING_FIXED) :]
    if rng.random() < 0.4:
        bad = PREFIX + bad
    return bad


def make_pairs(n: int, noise: float, seed: int) -> list[tuple[FeedbackPair, bool]]:
    rng = random.Random(seed)
    pairs: list[tuple[FeedbackPair, bool]] = []
    while len(pairs) < n:
        fixed, flags = correct_sentence(rng)
        bad = inject_mistakes(fixed, flags, rng)
        if bad == fixed:
            continue
        is_noise = rng.random() < noise
        if is_noise:  # an unrelated, idiosyncratic rewrite
            fixed = " ".join(rng.sample(fixed.split(), k=len(fixed.split())))
        pairs.append((FeedbackPair(bad, fixed, sequence=len(pairs)), is_noise))
    return pairs


def normalised_distance(a: str, b: str) -> float:
    return Levenshtein.distance(a, b) / max(len(a), len(b), 1)


def load_hook(path: Path):
    spec = importlib.util.spec_from_file_location("bench_hook", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--min-support", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = make_pairs(args.pairs, args.noise, args.seed)
    cut = int(len(data) * args.train_fraction)
    train, test = data[:cut], [p for p, noisy in data[cut:] if not noisy]
    synthesis = RuleSetSynthesizer(min_support=args.min_support).synthesize([p for p, _ in train])
    with tempfile.TemporaryDirectory() as tmp:
        hook_path = Path(tmp) / "generated_prompt_hook.py"
        HookScriptGenerator().generate(
            synthesis.rules, hook_path, feedback_pairs=synthesis.consistent_pairs([p for p, _ in train])
        )
        hook = load_hook(hook_path)
        outputs = [hook.intercept_output(p.bad_output, {}) for p in test]
        rng = random.Random(args.seed + 1)
        clean = [correct_sentence(rng)[0] for _ in range(500)]
        damaged = sum(hook.intercept_output(text, {}) != text for text in clean)
    before = [normalised_distance(p.bad_output, p.fixed_output) for p in test]
    after = [normalised_distance(out, p.fixed_output) for out, p in zip(outputs, test, strict=True)]
    report = {
        "pairs": args.pairs,
        "noise": args.noise,
        "train_pairs": len(train),
        "held_out_pairs": len(test),
        "rules": len(synthesis.rules),
        "inactive_rules": len(synthesis.inactive),
        "conflicts": len(synthesis.conflicts),
        "pruned": len(synthesis.pruned),
        "exact_fix_rate": round(sum(o == p.fixed_output for o, p in zip(outputs, test, strict=True)) / len(test), 4),
        "mean_normalised_distance_before": round(sum(before) / len(before), 4),
        "mean_normalised_distance_after": round(sum(after) / len(after), 4),
        "mean_reduction": round((sum(before) - sum(after)) / len(before), 4),
        "damage_rate_on_correct_texts": round(damaged / len(clean), 4),
        "rule_list": [
            f"{r.kind.value}: {r.target!r} -> {r.replacement!r} (support {r.support})" for r in synthesis.rules
        ],
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
