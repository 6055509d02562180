"""Issue 30: the snags a new user hit, each with a clear message and nothing left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vector_trainer.cli import main
from vector_trainer.config import load_config
from vector_trainer.errors import ConfigError, InputError
from vector_trainer.pipeline.loop import _read_state
from vector_trainer.sources.ingest import read_records
from vector_trainer.training.chat_models import capped


def test_a_failed_ingest_leaves_no_empty_store(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"function_name": "f", "input": "q", "status": "SUCCESS"}\n')
    store = tmp_path / "new.db"
    assert main(["ingest", str(bad), "--store", str(store)]) == 2
    assert not store.exists() and not list(tmp_path.glob("new.db*"))
    assert "missing field 'output'" in capsys.readouterr().err


def test_bom_and_semicolon_csv_read_like_any_other(tmp_path: Path) -> None:
    jsonl = tmp_path / "excel.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"function_name": "f", "input": "q", "output": "a",
                                                     "status": "SUCCESS"}).encode() + b"\n")  # fmt: skip
    assert read_records(jsonl)[0][1].function_name == "f"
    csv = tmp_path / "excel.csv"
    csv.write_bytes(b"\xef\xbb\xbffunction_name;input;output;status\nf;How do I pay?;Like this.;SUCCESS\n")
    [(_, log)] = read_records(csv)
    assert (log.function_name, log.inputs, log.output) == ("f", {"input": "How do I pay?"}, "Like this.")


@pytest.mark.parametrize(
    ("record", "hint"),
    [
        (
            {"prompt": "q", "response": "a", "status": "SUCCESS", "function_name": "f"},
            "did you mean 'input' for 'prompt'",
        ),
        ({"name": "f", "input": "q", "output": "a", "status": "SUCCESS"}, "'function_name' for 'name'"),
        ({"function_name": "f", "messages": [], "status": "SUCCESS"}, "looks like a conversation log"),
    ],
)
def test_other_field_names_get_a_pointer(tmp_path: Path, record: dict, hint: str) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(InputError, match=hint):
        read_records(path, log_format="records")


def test_run_right_after_demo_points_at_the_demo_store(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warm"]) == 0
    capsys.readouterr()
    assert main(["run"]) == 2
    assert "add --store .vectortrainer/demo.db" in capsys.readouterr().err


def test_fifos_and_directories_where_files_belong_are_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "loop.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        _read_state(fifo)
    with pytest.raises(ConfigError, match=r"--config: .* is a directory"):
        load_config(tmp_path)
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(config)


def test_interval_is_checked_before_any_cycle(tmp_path: Path, capsys) -> None:
    for bad in ("-1", "nan", "inf"):
        assert main(["loop", "--interval", bad, "--store", str(tmp_path / "none.db"), "--out", str(tmp_path)]) == 2
        assert "loop.interval_s: must be in [1, 604800]" in capsys.readouterr().err


def test_a_live_dir_the_loop_would_ignore_is_refused_by_name(tmp_path: Path, capsys) -> None:
    """Issue 29: the loop replaced ``[pipeline] live_dir`` with --out without a word."""
    config = tmp_path / "c.toml"
    config.write_text('[pipeline]\nlive_dir = "elsewhere"\n', encoding="utf-8")
    args = ["loop", "--once", "--config", str(config), "--store", str(tmp_path / "none.db"), "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pipeline.live_dir: the loop keeps live hooks and registries in its home" in err
    assert "remove pipeline.live_dir or pass --out elsewhere" in err
    config.write_text(f'[pipeline]\nlive_dir = "{tmp_path}/./"\n', encoding="utf-8")  # --out itself, spelt otherwise
    main(args)  # fails later, on the missing store: the same folder is no conflict
    assert "pipeline.live_dir" not in capsys.readouterr().err


def test_a_huge_answer_is_truncated_with_a_note() -> None:
    answer = capped("x" * 50_000_000, max_tokens=512)
    assert len(answer) < 10_000 and answer.endswith("longer than max_tokens allows]")
    assert capped("short", 512) == "short"


def test_the_word_alignment_is_bounded_and_exact_below_the_bound() -> None:
    """A 100,000-character feedback pair took 331 s (quadratic alignment): a long differing middle
    is one rewrite; below the bound the opcodes are SequenceMatcher's own."""
    from difflib import SequenceMatcher

    from vector_trainer.synthesizer.diff import MAX_ALIGNED_TOKENS, aligned, tokenize

    a = tokenize("Dear customer, your order 1234 ships today. Thanks!")
    b = tokenize("Hi friend, your order 1234 ships tomorrow. Thanks!")
    assert aligned(a, b) == SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    long_a, long_b = ["x", *["a", " "] * MAX_ALIGNED_TOKENS, "y"], ["x", *["b", " "] * MAX_ALIGNED_TOKENS, "y"]
    assert aligned(long_a, long_b) == [
        ("equal", 0, 1, 0, 1),
        ("replace", 1, len(long_a) - 2, 1, len(long_b) - 2),  # the last " " and "y" are a common suffix
        ("equal", len(long_a) - 2, len(long_a), len(long_b) - 2, len(long_b)),
    ]


def test_a_missing_extra_is_exit_2_even_inside_a_stage(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["demo", "--out", "warm"]) == 0
    monkeypatch.setattr("vector_trainer.training.local_lora.trainer._find_spec", lambda name: None)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    code = main(["run", "--store", ".vectortrainer/demo.db", "--out", "out", "--function", "support_faq",
                 "--trainer", "local-lora", "--model", "model"])  # fmt: skip
    assert code == 2 and 'pip install ".[local]"' in capsys.readouterr().err


def test_a_huge_field_is_refused_without_being_loaded(tmp_path: Path) -> None:
    from vector_trainer.fileio import MAX_LINE_BYTES

    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"function_name": "f", "input": "q", "output": "a", "status": "SUCCESS"}) + "\n")
        handle.write('{"function_name": "f", "input": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')
    with pytest.raises(InputError, match=r"big\.jsonl:2: a line of over 32 MiB"):
        read_records(path)
