"""A generated hook file: checked against its template, read as data, run in isolation.

A hook is the template with only literal data changed (:func:`validate_hook_source`); its rules
are read without executing it (:func:`hook_rules`), and it is only ever run in a fresh isolated
interpreter on a checked copy (:func:`run_hook_file`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from vector_trainer import _layout
from vector_trainer.errors import HookValidationError

#: Seconds a hook may run on its inputs in the isolated interpreter (self-test included).
RUN_TIMEOUT_S = 60
_LITERAL_NAMES = ("METADATA", "INJECT_INSTRUCTIONS", "INSTRUCTION_HEADER", "INSTRUCTIONS", "RULES")


def template_source() -> str:
    """The hook template's source."""
    return resources.files("vector_trainer.synthesizer").joinpath("hook_template.py").read_text(encoding="utf-8")


def _strip_literals(tree: ast.Module) -> str:
    """AST dump with the values of the data assignments blanked, to compare code shape."""
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            node.value = ast.Constant(value=None)
    return ast.dump(tree, include_attributes=False)


def validate_hook_source(source: str) -> None:
    """Check that ``source`` is the hook template with only literal data changed.

    Raises:
        HookValidationError: On a syntax error, a non-literal data value, or any statement that
            differs from the template.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise HookValidationError(f"generated hook does not parse: {exc}") from exc
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in _LITERAL_NAMES:
            try:
                ast.literal_eval(node.value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise HookValidationError(f"{node.target.id} is not a pure literal") from exc
    if _strip_literals(tree) != _strip_literals(ast.parse(template_source())):
        raise HookValidationError("generated hook contains code beyond its template")


def hook_rules(hook_path: str | os.PathLike[str]) -> tuple[dict[str, Any], ...]:
    """The rule data of a generated hook file, read as literals (the file is validated against
    the template first and never executed).

    Raises:
        HookValidationError: If the file is not a generated hook.
    """
    path = Path(hook_path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HookValidationError(f"{path} cannot be read ({exc}); pass a generated_prompt_hook.py") from exc
    validate_hook_source(source)
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "RULES":
            return tuple(ast.literal_eval(node.value))  # type: ignore[arg-type]
    return ()


_APPLY_SCRIPT = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("vectortrainer_hook_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
outputs = [module.intercept_output(text, {}) for text in json.load(sys.stdin)]
if not all(isinstance(out, str) for out in outputs):
    raise TypeError("hook returned a non-string")
json.dump(outputs, sys.stdout)
"""


def run_hook_file(
    hook_path: str | os.PathLike[str],
    texts: Sequence[str],
    *,
    python: str | None = None,
    timeout_s: float = RUN_TIMEOUT_S,
) -> list[str]:
    """``intercept_output`` of a hook file on each text, run in a fresh isolated interpreter (a
    hook is never imported into the caller's process). The file is read once and checked against
    the template first; what runs is that checked copy, so a planted or edited file never executes.

    Raises:
        HookValidationError: If the hook is missing, is not a generated hook, fails to import,
            raises, returns a non-string or runs past ``timeout_s``.
    """
    path = Path(hook_path)
    if not path.is_file():
        raise HookValidationError(f"{path} is not a hook file; pass a generated_prompt_hook.py")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HookValidationError(f"{path} cannot be read ({exc}); pass a generated_prompt_hook.py") from exc
    validate_hook_source(source)
    with tempfile.TemporaryDirectory(prefix="vectortrainer-hook-") as scratch:
        checked = Path(scratch) / _layout.HOOK_FILENAME
        checked.write_text(source, encoding="utf-8")
        outputs = run_isolated(
            python or sys.executable,
            _APPLY_SCRIPT,
            checked,
            list(texts),
            timeout_s,
            timed_out=f"hook {path} did not finish {len(texts)} texts in {timeout_s:g} s",
            failed=f"hook {path} failed in an isolated interpreter",
        )
    return list(outputs)


def run_isolated(
    python: str,
    script: str,
    hook_path: Path,
    payload: Any,
    timeout_s: float,
    *,
    timed_out: str,
    failed: str,
    cwd: Path | None = None,
) -> Any:
    """Run ``script`` on a hook file in a fresh isolated interpreter (``payload`` as JSON on its
    stdin) and return what it writes as JSON; the hook is never imported into this process."""
    try:
        proc = subprocess.run(
            [python, "-I", "-c", script, str(hook_path)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout_s,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HookValidationError(timed_out) from exc
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise HookValidationError(f"{failed}: {tail[0]}")
    return json.loads(proc.stdout)
