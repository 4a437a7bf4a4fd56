"""The package's layering: the config is read at the edge, the floors import downwards.

Checked on the source with ``ast``, so that a new module cannot quietly break the rules
of the layout (docs: README, "What is here").
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mutualnet3d"
LOWER = ("slim", "models", "data", "config", "utils")
UPPER = ("mutualnet3d.engine", "mutualnet3d.evaluation", "mutualnet3d.deploy")
# The engine's edge: run.py reads the config once through spec.py.
EDGE = {"engine/run.py", "engine/spec.py"}
MAX_LINES = 60


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ["mutualnet3d", *path.relative_to(PACKAGE).parent.parts]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("floor", LOWER)
def test_lower_floors_never_import_the_engine_or_the_evaluation(floor):
    for path in (PACKAGE / floor).rglob("*.py"):
        upward = {n for n in _imports(path) if n.startswith(UPPER)}
        assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)}"


@pytest.mark.parametrize("floor", ("engine", "evaluation"))
def test_the_engine_and_the_evaluation_never_import_the_deployment(floor):
    # deploy/ stands on the engine (forward, checkpoints) and the search tables.
    for path in (PACKAGE / floor).rglob("*.py"):
        upward = {n for n in _imports(path) if n.startswith("mutualnet3d.deploy")}
        assert not upward, f"{path.relative_to(PACKAGE)} imports {sorted(upward)}"


def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_engine_function_below_the_edge_takes_the_config():
    for path in [*(PACKAGE / "engine").glob("*.py"), *(PACKAGE / "deploy").glob("*.py")]:
        if str(path.relative_to(PACKAGE)) in EDGE:
            continue
        for function in _functions(path):
            arguments = function.args.args + function.args.kwonlyargs
            names = {a.arg for a in arguments}
            annotations = {ast.unparse(a.annotation) for a in arguments if a.annotation is not None}
            assert "cfg" not in names and "CfgNode" not in annotations, (
                f"{path.relative_to(PACKAGE)}:{function.lineno} {function.name} takes the config"
            )


def _code_lines(function: ast.AST) -> int:
    """Lines of a function without its docstring (signature and decorators included)."""
    length = function.end_lineno - function.lineno + 1
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        length -= first.end_lineno - first.lineno + 1
    return length


def test_functions_are_short_or_say_why():
    long = []
    for path in _modules():
        lines = path.read_text().splitlines()
        for function in _functions(path):
            length = _code_lines(function)
            body = "\n".join(lines[function.lineno - 1 : function.end_lineno])
            if length > MAX_LINES and "# Long:" not in body:
                long.append(
                    f"{path.relative_to(PACKAGE)}:{function.lineno} {function.name} ({length} lines)"
                )
    assert not long, (
        "functions over 60 lines (docstring aside) without a '# Long:' reason: " + ", ".join(long)
    )


@pytest.mark.slow  # a fresh interpreter importing torch, PyTorchVideo and the rest (~10 s)
def test_importing_the_library_prints_no_warning():
    # fvcore's import warns that torch.jit.script is deprecated; the library silences
    # exactly that warning where it imports fvcore.nn, so a run starts clean.
    code = "import mutualnet3d.models, mutualnet3d.engine, mutualnet3d.data, mutualnet3d.evaluation"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
