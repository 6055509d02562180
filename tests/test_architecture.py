"""The layout's rules, checked on the source: layers point one way, no cycles, small modules,
light imports. The layers, bottom to top, are in ADR-014."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vector_trainer"
HEAVY = (
    "vectorwave", "openai", "streamlit", "torch", "faiss", "transformers", "sentence_transformers", "sklearn", "numba",
    "ray", "pyarrow",
)  # fmt: skip
#: Layer of each top-level part of the package; a module may import only from its own part or lower layers.
LAYERS = {
    "types": 0,
    "errors": 0,
    "_params": 0,
    "_shared": 0,
    "_layout": 0,
    "fileio": 0,
    "chatml": 0,
    "conversation": 0,
    "base_models": 0,
    "config": 0,
    "sources": 1,
    "extractor": 2,
    "synthesizer": 2,
    "training": 2,
    "gate": 3,
    "pipeline": 4,
    "dashboard": 5,
    "cli": 6,
}
STAGES = ("sources", "extractor", "synthesizer", "training", "gate", "pipeline", "dashboard", "cli")


def _module_name(path: Path) -> str:
    parts = ["vector_trainer", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    """Every ``vector_trainer`` module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vector_trainer"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vector_trainer"):
            modules = _modules()
            for alias in node.names:
                if node.module == "vector_trainer" and alias.name == "__version__":
                    continue  # a constant of the facade, which itself imports no stage
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_belongs_to_a_layer() -> None:
    unknown = {m for m in _modules() if m != "vector_trainer" and _part(m) not in LAYERS}
    assert not unknown, f"add these to LAYERS (and ADR-014): {sorted(unknown)}"


def test_imports_point_down_and_stages_do_not_import_each_other() -> None:
    violations = []
    for module, path in _modules().items():
        if module == "vector_trainer":
            continue
        source = _part(module)
        for target in _imports(path):
            if target == "vector_trainer":
                violations.append(f"{module} imports the package facade")
                continue
            dest = _part(target)
            upward = LAYERS[dest] > LAYERS[source]
            sideways = dest != source and LAYERS[dest] == LAYERS[source] and dest in STAGES
            if upward or sideways:
                violations.append(f"{module} -> {target}")
    assert not violations, violations


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail(f"import cycle: {' -> '.join([*trail[trail.index(nxt) :], nxt])}")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def _loaded_after(statement: str) -> list[str]:
    code = f"{statement}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.split()


def test_every_public_module_imports_without_heavy_packages() -> None:
    # The web app is a Streamlit script and _web_* its parts (they need streamlit by design);
    # __main__ runs the CLI; _tile_kernel and _greedy_kernel are compiled code, which the engine
    # and the selection import on first use.
    skipped = {
        "vector_trainer.dashboard.webapp",
        "vector_trainer.cli.__main__",
        "vector_trainer.extractor.engines.exact._tile_kernel",
        "vector_trainer.extractor._greedy_kernel",
    }
    public = [m for m in _modules() if m not in skipped and not m.startswith("vector_trainer.dashboard._web_")]
    loaded = _loaded_after("; ".join(f"import {m}" for m in public))
    heavy = sorted({m.split(".")[0] for m in loaded} & set(HEAVY))
    assert heavy == [], f"importing every module loaded {heavy}"


def test_config_loads_no_stage() -> None:
    loaded = _loaded_after("import vector_trainer.config")
    stages = sorted(m for m in loaded if m.startswith("vector_trainer.") and _part(m) in STAGES)
    assert stages == [], stages
    assert not {"Levenshtein", "filelock"} & {m.split(".")[0] for m in loaded}


def _facades() -> dict[str, Path]:
    return {m: p for m, p in _modules().items() if p.name == "__init__.py" and "_EXPORTS" in p.read_text()}


@pytest.mark.parametrize("module", sorted(_facades()))
def test_a_facade_tells_type_checkers_the_names_it_loads_lazily(module: str) -> None:
    """Each lazily exported name is imported under ``TYPE_CHECKING`` from the same module (with
    ``as`` so strict mypy sees a re-export), so a typo in a public name fails the type check."""
    tree = ast.parse(_facades()[module].read_text(encoding="utf-8"))
    exports: dict[str, str] = {}
    typed: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_EXPORTS" for t in node.targets):
            exports = ast.literal_eval(node.value)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names:
                    assert alias.asname == alias.name, f"{module}: import {alias.name} as {alias.name}"
                    typed[alias.name] = imp.module
    assert exports and typed == exports


@pytest.mark.parametrize("module", sorted(_facades()))
def test_a_facade_lists_its_lazy_names(module: str) -> None:
    """``dir()`` (tab completion, "did you mean") sees the names a facade loads on first use."""
    facade = importlib.import_module(module)
    assert set(facade._EXPORTS) <= set(dir(facade))
