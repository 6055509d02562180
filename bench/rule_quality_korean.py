"""Rule quality on Korean persona replies (issue 27): particles, emoji endings, compounds.

A fan-chat persona should call its fans "스텔라리", not "팬 여러분", and speak 반말 ("고마워",
not "감사합니다"). Replies are generated from templates in which the corrected words are followed
by the particles Korean attaches to them (께, 의, 들, 에게, ...), end with varied emoji, and
sit beside compounds that must stay untouched (팬미팅, 팬클럽, 팬카페). Feedback pairs are made
from a training share of the replies (bad -> fixed); the store's own logged replies, mistakes
included, are the known-good text, as the pipeline passes them. Reported:

* held-out fix rate: held-out bad replies the hook turns exactly into their fixed form (users
  corrected only replies with the bare word; held-out replies carry every particle);
* replies with a particle after a corrected word that are fixed (the part the old word-boundary
  rules never matched);
* compound changes: known-correct replies holding 팬미팅/팬클럽/팬카페 that the hook changes (goal 0);
* the store's logged mistakes fixed by the hook.

    python bench/rule_quality_korean.py [--replies 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from vector_trainer.synthesizer import HookScriptGenerator, RuleSetSynthesizer
from vector_trainer.synthesizer.hook_file import run_hook_file
from vector_trainer.types import FeedbackPair

PARTICLES = ["", "께", "의", "들", "에게", "도", "랑", "한테", "이랑", "분들"]
#: What users corrected: replies with the bare word only; held-out replies use every particle.
TRAIN_PARTICLES = [""]
EMOJI = ["💫", "🎉", "✨", "💕", "🥰", "!!", "~", ""]
TOPICS = ["콘서트", "새 앨범", "생일 라이브", "연습", "겨울 휴가", "뮤직비디오"]
COMPOUNDS = ["팬미팅", "팬클럽", "팬카페"]


def reply(rng: random.Random, particles: list[str]) -> tuple[str, str, bool]:
    """``(bad, fixed, has_particle)``: a persona reply with the two mistakes, and its fix."""
    particle = rng.choice(particles)
    topic = rng.choice(TOPICS)
    ending = rng.choice(EMOJI)
    opening = rng.choice(["안녕 {fans}{p}!", "{fans}{p} 보고 싶었어.", "오늘도 {fans}{p} 생각했어."])
    body = f"{topic} 준비 열심히 하고 있어. 항상 {{thanks}} {ending}".rstrip()
    bad = (opening.format(fans="팬 여러분", p=particle) + " " + body.format(thanks="감사합니다")).strip()
    fixed = (opening.format(fans="스텔라리", p=particle) + " " + body.format(thanks="고마워")).strip()
    return bad, fixed, bool(particle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--train", type=int, default=40, help="replies corrected by users (feedback pairs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    train = [reply(rng, TRAIN_PARTICLES) for _ in range(args.train)]
    held = [reply(rng, PARTICLES) for _ in range(args.replies - args.train)]
    replies = train + held
    pairs = [FeedbackPair(bad, fixed, sequence=i) for i, (bad, fixed, _) in enumerate(train)]
    compounds = [f"{c} 일정은 다음 주에 알려줄게 {rng.choice(EMOJI)}".strip() for c in COMPOUNDS for _ in range(20)]
    store = [bad for bad, _, _ in replies] + compounds  # the logged replies, mistakes and all
    result = RuleSetSynthesizer().synthesize(pairs, known_good=store)
    with tempfile.TemporaryDirectory() as tmp:  # the real hook file, self-tested, run isolated
        hook = HookScriptGenerator().generate(
            result.rules, Path(tmp) / "generated_prompt_hook.py", feedback_pairs=pairs, enable_versioning=False
        )
        outputs = run_hook_file(hook.path, [bad for bad, _, _ in held])
        compound_out = run_hook_file(hook.path, compounds)
        logged = run_hook_file(hook.path, store[: args.replies])
    exact = sum(out == fixed for out, (_, fixed, _) in zip(outputs, held, strict=True))
    with_particle = [(out, fixed) for out, (_, fixed, p) in zip(outputs, held, strict=True) if p]
    compound_changes = sum(out != text for out, text in zip(compound_out, compounds, strict=True))
    fixed_logged = sum(out == fixed for out, (_, fixed, _) in zip(logged, replies, strict=True))
    print(json.dumps({
        "replies": args.replies, "feedback_pairs": len(pairs), "held_out": len(held),
        "rules": [{"kind": r.kind.value, "target": r.target, "replacement": r.replacement, "scope": r.scope}
                  for r in result.rules if r.rule_id not in {d.rule_id for d in hook.dropped}],
        "damage_check": [d.to_dict() for d in result.damage],
        "held_out_fix_rate": round(exact / len(held), 4),
        "held_out_fix_rate_after_a_particle": round(sum(o == f for o, f in with_particle) / len(with_particle), 4),
        "compound_replies_changed": f"{compound_changes} of {len(compounds)}",
        "logged_mistakes_fixed": f"{fixed_logged} of {args.replies}",
    }, ensure_ascii=False, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
