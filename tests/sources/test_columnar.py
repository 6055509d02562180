"""Parquet logs: export from any source, read back page by page, all-or-nothing writes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import make_log, require_modules
from vector_trainer.errors import ConfigError, EmptyDataError, InputError
from vector_trainer.sources import columnar_export
from vector_trainer.sources.columnar import MANIFEST, ParquetLogs, read_vectors
from vector_trainer.sources.columnar_export import export_parquet
from vector_trainer.sources.memory import InMemoryLogs

pytestmark = pytest.mark.usefixtures("needs_pyarrow")


@pytest.fixture
def needs_pyarrow() -> None:
    require_modules(("pyarrow",), "pip install -e '.[distributed]'")


def _logs() -> list:
    rng = np.random.default_rng(0)
    logs = [make_log(i, rng.normal(size=8), function="answer/v2") for i in range(25)]
    logs.append(make_log(99, None, function="answer/v2", status="ERROR"))
    logs.append(make_log(700, rng.normal(size=8), function="other", output={"nested": [1, "two"]}))
    return logs


def test_export_then_read_gives_back_every_log_in_the_sources_order(tmp_path) -> None:
    source = InMemoryLogs(reversed(_logs()))
    summary = export_parquet(source, tmp_path / "pq", rows_per_file=10)
    assert summary.rows == {"answer/v2": 26, "other": 1}
    assert summary.files == {"answer/v2": 3, "other": 1}
    back = ParquetLogs(tmp_path / "pq")
    assert back.list_functions() == ["answer/v2", "other"]
    read = list(back.iter_executions("answer/v2", batch_size=4))
    expected = [log for log in reversed(_logs()) if log.function_name == "answer/v2"]
    assert [log.uuid for log in read] == [log.uuid for log in expected]
    for got, want in zip(read, expected, strict=True):
        assert (got.status, dict(got.inputs), got.output, got.error_message) == (
            want.status, dict(want.inputs), want.output, want.error_message,
        )  # fmt: skip
        if want.vector is None:
            assert got.vector is None
        else:
            np.testing.assert_array_equal(got.vector, want.vector)
    assert next(back.iter_executions("other")).output == {"nested": [1, "two"]}
    files = back.vector_files("answer/v2")
    assert [(f.first_row, f.rows) for f in files] == [(0, 10), (10, 10), (20, 6)]
    assert [log.uuid for log in back.logs_at("answer/v2", [21, 3])] == [expected[21].uuid, expected[3].uuid]


def test_function_names_that_slug_alike_get_their_own_directories(tmp_path) -> None:
    rng = np.random.default_rng(1)
    logs = [make_log(i, rng.normal(size=4), function=name) for i, name in enumerate(["a/b", "a_b", "a-b", "../x"])]
    export_parquet(InMemoryLogs(logs), tmp_path / "pq")
    assert len([p for p in (tmp_path / "pq").iterdir() if p.is_dir()]) == 4
    back = ParquetLogs(tmp_path / "pq")
    assert back.list_functions() == ["../x", "a-b", "a/b", "a_b"]
    assert [log.uuid for log in back.iter_executions("../x")] == ["000003-log"]
    assert not (tmp_path / "x").exists()


def test_a_log_json_cannot_carry_is_refused_and_the_old_export_survives(tmp_path) -> None:
    target = tmp_path / "pq"
    export_parquet(InMemoryLogs(_logs()), target)
    before = sorted(p.name for p in target.rglob("*"))
    bad = [*_logs(), make_log(500, [1.0] * 8, function="zz", output=math.nan)]
    with pytest.raises(InputError, match="NaN or Infinity"):
        export_parquet(InMemoryLogs(bad), target)
    assert sorted(p.name for p in target.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["pq"]  # no staging directory left behind


def test_a_crash_mid_export_leaves_no_half_written_directory(tmp_path, monkeypatch) -> None:
    calls = {"n": 0}
    real = columnar_export._table

    def crash_on_second(pa, logs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(pa, logs)

    monkeypatch.setattr(columnar_export, "_table", crash_on_second)
    with pytest.raises(OSError, match="disk full"):
        export_parquet(InMemoryLogs(_logs()), tmp_path / "pq")
    assert list(tmp_path.iterdir()) == []


def test_vectors_of_another_length_and_missing_ones_are_marked(tmp_path) -> None:
    logs = [make_log(0, [1.0, 2.0]), make_log(1, None), make_log(2, [1.0, 2.0, 3.0]), make_log(3, [4.0, 5.0])]
    export_parquet(InMemoryLogs(logs), tmp_path / "pq")
    path = ParquetLogs(tmp_path / "pq").vector_files("fn")[0].path
    matrix, lengths = read_vectors(path, 2)
    assert lengths.tolist() == [2, -1, 3, 2]
    np.testing.assert_array_equal(matrix, [[1, 2], [0, 0], [0, 0], [4, 5]])


def test_unknown_functions_and_directories_are_named(tmp_path) -> None:
    with pytest.raises(InputError, match="export-logs"):
        ParquetLogs(tmp_path / "missing")
    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq")
    with pytest.raises(EmptyDataError, match="functions: answer/v2, other"):
        ParquetLogs(tmp_path / "pq").vector_files("nope")
    with pytest.raises(EmptyDataError, match="no logs to export"):
        export_parquet(InMemoryLogs(_logs()), tmp_path / "pq2", functions=["nope"])


def test_near_vector_and_golden_registration(tmp_path) -> None:
    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq")
    source = ParquetLogs(tmp_path / "pq")
    first = next(source.iter_executions("answer/v2"))
    hits = source.near_vector("answer/v2", first.vector, limit=3)
    assert hits[0].uuid == first.uuid
    assert source.register_as_golden(first.uuid, note="n") is True
    assert source.register_as_golden(first.uuid) is False


def test_a_truncated_file_is_named_with_the_fix(tmp_path) -> None:
    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq", rows_per_file=10)
    source = ParquetLogs(tmp_path / "pq")
    broken = source.vector_files("answer/v2")[1].path
    broken.write_bytes(broken.read_bytes()[:100])
    with pytest.raises(InputError, match=r"part-00001\.parquet: cannot be read as a log file.*export-logs"):
        list(source.iter_executions("answer/v2"))


def test_export_refuses_to_replace_what_it_did_not_write(tmp_path) -> None:
    source = InMemoryLogs(_logs())
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not an earlier export"):
        export_parquet(source, tmp_path / "keep")
    assert (tmp_path / "keep" / "notes.txt").read_text() == "precious"
    (tmp_path / "afile").write_text("hi")
    with pytest.raises(InputError, match="is a file"):
        export_parquet(source, tmp_path / "afile")
    with pytest.raises(ConfigError, match="rows_per_file must be >= 1"):
        export_parquet(source, tmp_path / "pq", rows_per_file=0)
    with pytest.raises(EmptyDataError, match="holds no logs"):
        export_parquet(InMemoryLogs([]), tmp_path / "pq")
    export_parquet(source, tmp_path / "pq")
    export_parquet(source, tmp_path / "pq", rows_per_file=5)  # an earlier export is replaced
    assert len(ParquetLogs(tmp_path / "pq").vector_files("answer/v2")) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "keep", "pq"]
    assert (tmp_path / "pq").stat().st_mode & 0o055  # readable by others, as a new directory is


def test_export_refuses_a_directory_holding_its_own_store(tmp_path) -> None:
    from vector_trainer.sources.store import SQLiteLogStore

    with SQLiteLogStore(tmp_path / "out" / "logs.db") as store:
        with pytest.raises(InputError, match="lies inside"):
            export_parquet(store, tmp_path / "out")
        with pytest.raises(InputError, match="lies inside"):
            export_parquet(store, tmp_path)  # parent: not an export either, but the store is named
    assert (tmp_path / "out" / "logs.db").exists()


def test_a_file_missing_from_the_export_is_named(tmp_path) -> None:
    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq", rows_per_file=10)
    source = ParquetLogs(tmp_path / "pq")
    source.vector_files("answer/v2")[1].path.unlink()
    with pytest.raises(InputError, match=r"part-00001\.parquet: listed in manifest\.json but missing"):
        source.vector_files("answer/v2")
    (tmp_path / "pq" / MANIFEST).unlink()
    with pytest.raises(InputError, match=r"no manifest\.json"):
        ParquetLogs(tmp_path / "pq")


def test_a_corrupted_page_fails_its_checksum(tmp_path) -> None:
    rng = np.random.default_rng(2)
    logs = [make_log(i, rng.normal(size=64)) for i in range(300)]
    export_parquet(InMemoryLogs(logs), tmp_path / "pq")
    source = ParquetLogs(tmp_path / "pq")
    path = source.vector_files("fn")[0].path
    data = bytearray(path.read_bytes())
    data[20_000:20_064] = bytes(64)  # inside the vector column's pages, away from the footer
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="checksum"):
        list(source.iter_executions("fn"))


def test_a_foreign_manifest_is_not_taken_for_an_export(tmp_path) -> None:
    app = tmp_path / "webapp"
    app.mkdir()
    (app / "manifest.json").write_text('{"name": "my app"}')
    (app / "index.html").write_text("<html></html>")
    with pytest.raises(InputError, match="not an earlier export"):
        export_parquet(InMemoryLogs(_logs()), app)
    assert (app / "index.html").exists()
    with pytest.raises(InputError, match="not a manifest of export-logs"):
        ParquetLogs(app)


def test_an_open_source_sees_a_new_export(tmp_path) -> None:
    export_parquet(InMemoryLogs(_logs()[:10]), tmp_path / "pq")
    source = ParquetLogs(tmp_path / "pq")
    assert sum(f.rows for f in source.vector_files("answer/v2")) == 10
    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq")  # a long-running loop's next check
    assert sum(f.rows for f in source.vector_files("answer/v2")) == 26
    assert source.list_functions() == ["answer/v2", "other"]


def test_an_unknown_function_of_a_parquet_source_is_named_with_the_known_ones(tmp_path, capsys) -> None:
    """The error lists the functions; it no longer sends the user to 'vectortrainer functions',
    which reads embedded stores only (found by this stop's trial)."""
    from vector_trainer.cli import main

    export_parquet(InMemoryLogs(_logs()), tmp_path / "pq")
    code = main(["run", "--source", "parquet", "--store", str(tmp_path / "pq"), "--function", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no logs for --function 'nope' in the source; functions with logs:" in err
    assert "vectortrainer functions" not in err
