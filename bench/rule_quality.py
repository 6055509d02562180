"""Rule quality benchmark (issues 5 and 12).

Generates feedback from a known set of systematic corrections plus noise, mixes in one-off
content corrections (each seen once: "arrive in 3 days" -> "5 days", "make a return" -> "start
a return", ...), learns rules from a training split, generates the real hook file, imports it,
and applies ``intercept_output``. Reports, for the defaults and, in the same run, for the old
behaviour (every edit general, ``general_support=1``):

* exact-fix rate: held-out (non-noise) bad outputs turned exactly into their fixed outputs;
* mean reduction of normalised edit distance to the fixed outputs;
* damage: real, unrelated sentences the hook changes -- the 13,083 Banking77 queries and the
  997 NLU++ hotel queries of ``../shared/data`` -- and generated correct replies.

The damage check's known-good text is a separate sample of generated correct replies (standing
in for the function's own SUCCESS outputs); the real sentences are never shown to it.

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
#: One-off content corrections: true for the sentence they were made on, wrong anywhere else.
ONE_OFFS = [
    ("Your parcel will arrive in 3 days.", "Your parcel will arrive in 5 days."),
    ("You can make a return at any branch.", "You can start a return at any branch."),
    ("Click Save to finish the form.", "Click Submit to finish the form."),
    ("Roses are red, coffee is hot, come to the cafe and drink a lot.", "Steam curls from the cup as the city wakes."),
    ("I can make a transfer for you now.", "I can set up a transfer for you now."),
    ("Your card will be sent to your home address.", "Your card will be sent to your branch."),
    ("The fee is waived for the first month.", "The fee is waived for the first year."),
    ("Open the app and tap Settings.", "Open the app and tap Profile."),
    ("We will call you back tomorrow.", "We will email you tomorrow."),
    ("Your account has been topped up.", "Your balance has been topped up."),
]
SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
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


def real_sentences() -> dict[str, list[str]]:
    """Unrelated real text: Banking77 and NLU++ hotel queries (empty if the data is absent)."""
    found: dict[str, list[str]] = {}
    bank = SHARED_DATA / "banking77" / "banking77_rows.json"
    hotels = SHARED_DATA / "nluplusplus_hotels" / "hotels_texts.json"
    if bank.is_file():
        found["banking77"] = [row[0] for row in json.loads(bank.read_text(encoding="utf-8"))]
    if hotels.is_file():
        found["nlu++ hotels"] = list(json.loads(hotels.read_text(encoding="utf-8")))
    return found


def evaluate(
    train: list[FeedbackPair],
    test: list[FeedbackPair],
    known_good: list[str],
    general_support: int,
    min_support: int,
    texts: dict[str, list[str]],
) -> dict:
    synthesis = RuleSetSynthesizer(min_support=min_support, general_support=general_support).synthesize(
        train, known_good=known_good
    )
    with tempfile.TemporaryDirectory() as tmp:
        hook_path = Path(tmp) / "generated_prompt_hook.py"
        HookScriptGenerator().generate(synthesis.rules, hook_path, feedback_pairs=synthesis.consistent_pairs(train))
        hook = load_hook(hook_path)
        outputs = [hook.intercept_output(p.bad_output, {}) for p in test]
        changed = {name: [(t, hook.intercept_output(t, {})) for t in group] for name, group in texts.items()}
        changed = {name: [(t, out) for t, out in results if out != t] for name, results in changed.items()}
    before = [normalised_distance(p.bad_output, p.fixed_output) for p in test]
    after = [normalised_distance(out, p.fixed_output) for out, p in zip(outputs, test, strict=True)]
    return {
        "rules": len(synthesis.rules),
        "scoped_rules": sum(r.scope == "sentence" for r in synthesis.rules),
        "demoted_or_dropped": len(synthesis.damage),
        "conflicts": len(synthesis.conflicts),
        "pruned": len(synthesis.pruned),
        "exact_fix_rate": round(sum(o == p.fixed_output for o, p in zip(outputs, test, strict=True)) / len(test), 4),
        "mean_reduction": round((sum(before) - sum(after)) / len(before), 4),
        "changed_unrelated": {name: f"{len(found)} of {len(texts[name])}" for name, found in changed.items()},
        "changed_examples": {name: [f"{t!r} -> {out!r}" for t, out in found[:3]] for name, found in changed.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--train-fraction", type=float, default=0.7)
    parser.add_argument("--min-support", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = make_pairs(args.pairs, args.noise, args.seed)
    cut = int(len(data) * args.train_fraction)
    train = [p for p, _ in data[:cut]]
    train += [FeedbackPair(bad, fixed, sequence=len(data) + i) for i, (bad, fixed) in enumerate(ONE_OFFS)]
    test = [p for p, noisy in data[cut:] if not noisy]
    rng = random.Random(args.seed + 1)
    texts = {"generated correct replies": [correct_sentence(rng)[0] for _ in range(500)], **real_sentences()}
    own = random.Random(args.seed + 2)
    known_good = [correct_sentence(own)[0] for _ in range(300)]
    report = {
        "pairs": args.pairs,
        "noise": args.noise,
        "train_pairs": len(train),
        "one_off_corrections_in_train": len(ONE_OFFS),
        "held_out_pairs": len(test),
        "defaults (general_support=2, damage check)": evaluate(train, test, known_good, 2, args.min_support, texts),
        "every edit general (old behaviour)": evaluate(train, test, [], 1, args.min_support, texts),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
