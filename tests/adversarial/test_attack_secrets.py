"""A canary key never reaches a file, an event or the terminal."""

from __future__ import annotations

from pathlib import Path

from vector_trainer.cli import main
from vector_trainer.errors import redact

CANARY = "sk-canary0123456789abcdefXYZ"


def _all_text(root: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in root.rglob("*") if p.is_file())


def test_key_in_base_url_is_never_written_or_printed(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:{CANARY}@127.0.0.1:9/v1")
    assert main(["demo", "--out", "runs", "--store", "d.db"]) == 0
    out = capsys.readouterr()
    assert CANARY not in out.out + out.err
    written = _all_text(tmp_path / "runs")
    assert CANARY not in written and "canary0123" not in written
    assert "***@127.0.0.1" in written  # the URL itself is still there, without its credentials


def test_redaction_covers_keys_urls_and_headers() -> None:
    text = f"key {CANARY}; url https://bob:hunter2@h/v1; Authorization: Bearer abc.def; api_key='zzz'"
    clean = redact(text)
    for secret in (CANARY, "hunter2", "abc.def", "zzz"):
        assert secret not in clean
