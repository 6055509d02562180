"""What may become an instruction in every prompt: never text that reads like a command.

Rules' texts and LLM-proposed instructions are read as a command filter must read them: NFKC
normalised (fullwidth letters are letters) and without format characters (zero-width spaces and
joiners, bidi marks), so a rephrased or disguised injection is caught like the plain one.
"""

from __future__ import annotations

import re
import unicodedata

#: Text that reads like an instruction to the model is never turned into one (prompt injection).
#: Matched on the text as :func:`command_text` normalises it, so fullwidth letters or zero-width
#: characters do not hide a word.
INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignor\w*|disregard\w*|forget\w*|forgot|overrid\w*|pretend\w*|jailbreak\w*|bypass\w*|reveal\w*"
    r"|leak\w*|exfiltrat\w*)\b|system\s+prompt|you\s+are\s+now|\bact\s+as\b|developer\s+mode|\binstructions?\b"
    r"|\bprompt\b|\b(?:system|assistant|developer|user)\s*:|\b(?:previous|earlier|prior|above)\s+"
    r"(?:guidance|rules?|directions?|messages?|context)\b|\bpass(?:word|wd|phrase)s?\b|\bcredentials?\b"
    r"|\b(?:api|secret|private)\s*keys?\b",
    re.IGNORECASE,
)


def command_text(text: str) -> str:
    """``text`` as a command filter must read it: NFKC-normalised (fullwidth ``ｉｇｎｏｒｅ`` is
    ``ignore``), format characters (zero-width spaces and joiners, bidi marks) removed."""
    normal = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in normal if unicodedata.category(ch) != "Cf")


def reads_like_command(text: str) -> bool:
    """Whether a text reads like an instruction to the model (see :data:`INSTRUCTION_LIKE`)."""
    return INSTRUCTION_LIKE.search(command_text(text)) is not None
