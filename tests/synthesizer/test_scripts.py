"""Rules that match how each language works (issue 27, first part): a replacement's own
capitalisation, Korean particles and compounds, Japanese particles, and sentence rules that
trailing emoji or punctuation do not stop."""

from __future__ import annotations

import pytest

from vector_trainer.synthesizer.hook_template import apply_compiled, index_rules, select_rules


def _apply(rules: list[dict], text: str) -> str:
    index = index_rules(tuple(rules))
    return apply_compiled(select_rules(index, text), text)


def _replace(target: str, replacement: str, **extra) -> dict:
    return {"rule_id": target, "kind": "replace", "target": target, "replacement": replacement, **extra}


@pytest.mark.parametrize(
    ("target", "replacement", "text", "expected"),
    [
        ("wifi", "Wi-Fi", "Is the wifi free?", "Is the Wi-Fi free?"),
        ("wifi", "Wi-Fi", "Wifi is free.", "Wi-Fi is free."),
        ("github", "GitHub", "see github for it", "see GitHub for it"),
        ("iphone", "iPhone", "Iphone users", "iPhone users"),
        ("orbit", "ORBIT", "orbit fans", "ORBIT fans"),
        ("colour", "color", "Colour me", "Color me"),
        ("Color", "Colour", "color me", "colour me"),
    ],
)
def test_a_replacement_keeps_its_own_capitalisation(target, replacement, text, expected) -> None:
    assert _apply([_replace(target, replacement)], text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("팬 여러분 오늘도 고마워", "스텔라리 오늘도 고마워"),
        ("팬 여러분께 감사해요", "스텔라리께 감사해요"),
        ("팬 여러분의 응원 덕분이야", "스텔라리의 응원 덕분이야"),
        ("팬 여러분, 안녕!", "스텔라리, 안녕!"),
        ("우리 팬 여러분들 사랑해", "우리 스텔라리들 사랑해"),
    ],
)
def test_korean_targets_match_before_particles(text: str, expected: str) -> None:
    assert _apply([_replace("팬 여러분", "스텔라리")], text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("팬들아 보고 싶었어", "스텔라리들아 보고 싶었어"),
        ("팬을 만나러 갈게", "스텔라리을 만나러 갈게"),  # the particle is kept as written
        ("팬분들 최고", "스텔라리분들 최고"),
        ("팬미팅에서 만나", "팬미팅에서 만나"),  # a compound: untouched
        ("팬클럽 가입했어", "팬클럽 가입했어"),
        ("팬이벤트 공지", "팬이벤트 공지"),  # a particle that is really the start of another word
    ],
)
def test_korean_compounds_stay_untouched(text: str, expected: str) -> None:
    assert _apply([_replace("팬", "스텔라리")], text) == expected


def test_korean_sentence_rules_survive_trailing_emoji() -> None:
    rule = _replace("안녕하세요 팬 여러분", "안녕 스텔라리", scope="sentence")
    assert _apply([rule], "안녕하세요 팬 여러분 💕") == "안녕 스텔라리 💕"
    assert _apply([rule], "안녕하세요 팬 여러분!! 🎉✨") == "안녕 스텔라리!! 🎉✨"
    assert _apply([rule], "안녕하세요 팬 여러분 오늘은") == "안녕하세요 팬 여러분 오늘은"  # another sentence
    stop = _replace("Thanks for waiting.", "Thanks for your patience.", scope="sentence")
    assert _apply([stop], "Thanks for waiting.🙏") == "Thanks for your patience.🙏"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ファンの皆さん、こんにちは", "ステラリの皆さん、こんにちは"),
        ("私はファンです", "私はステラリです"),  # the copula starts like the particle で: the word is still ファン
        ("ファンが来た", "ステラリが来た"),
        ("ファンクラブに入った", "ファンクラブに入った"),  # a katakana compound: untouched
        ("大ファンだよ", "大ファンだよ"),
    ],
)
def test_japanese_targets_match_before_particles(text: str, expected: str) -> None:
    assert _apply([_replace("ファン", "ステラリ")], text) == expected


def test_korean_corrections_seen_with_different_particles_are_one_general_rule() -> None:
    """Found by a trial: 아메리카노를 -> 카페라테를 and 아메리카노가 -> 카페라테가 gave two
    one-off sentence rules (the particle was part of each edit), and 고객 -> 손님 in two pairs
    was widened into two unrelated phrases (two syllables counted as a short edit)."""
    from vector_trainer.synthesizer import RuleSetSynthesizer
    from vector_trainer.synthesizer.simulate import hook_outputs
    from vector_trainer.types import FeedbackPair

    drinks = [
        FeedbackPair("아메리카노를 드릴까요?", "카페라테를 드릴까요?", sequence=0),
        FeedbackPair("오늘은 아메리카노가 좋아요.", "오늘은 카페라테가 좋아요.", sequence=1),
    ]
    rules = RuleSetSynthesizer().synthesize(drinks).rules
    assert [(r.target, r.replacement, r.scope) for r in rules] == [("아메리카노", "카페라테", "general")]
    assert hook_outputs(rules, ["아메리카노 주세요", "아메리카노는 맛있어요", "아메리카노집"]) == [
        "카페라테 주세요",
        "카페라테는 맛있어요",
        "아메리카노집",  # a compound: untouched
    ]
    guests = [
        FeedbackPair("고객 여러분 감사합니다.", "손님 여러분 감사합니다.", sequence=0),
        FeedbackPair("모든 고객 문의는 여기로.", "모든 손님 문의는 여기로.", sequence=1),
    ]
    rules = RuleSetSynthesizer().synthesize(guests).rules
    assert [(r.target, r.replacement, r.scope) for r in rules] == [("고객", "손님", "general")]
    assert hook_outputs(rules, ["고객센터에 전화하세요", "고객이 왔어요"]) == ["고객센터에 전화하세요", "손님이 왔어요"]
