"""The layering rule: nothing in mutualnet3d.data imports the engine, the evaluation or
the config object, so the data sets can be built and tested without either."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mutualnet3d.data

PACKAGE = Path(mutualnet3d.data.__file__).parent
FORBIDDEN = ("mutualnet3d.engine", "mutualnet3d.evaluation", "fvcore.common.config")
MODULES = sorted(PACKAGE.rglob("*.py"))


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of what ``source``, a module of ``package``, imports (relative
    imports resolved), with the ``module.name`` of each ``from module import name``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([module] if module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def test_every_module_is_checked() -> None:
    assert {p.name for p in MODULES} >= {"__init__.py", "ava.py", "build.py", "specs.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_data_module_imports_upwards(path: Path) -> None:
    package = ".".join(("mutualnet3d",) + path.parent.relative_to(PACKAGE.parent).parts)
    bad = forbidden(imported_modules(path.read_text(encoding="utf-8"), package))
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    "source, found",
    [
        ("from ..engine.ava_eval import read_labelmap\n", ["mutualnet3d.engine.ava_eval"]),
        ("from .. import engine\n", ["mutualnet3d.engine"]),
        ("import mutualnet3d.evaluation.ava\n", ["mutualnet3d.evaluation.ava"]),
        ("from fvcore.common.config import CfgNode\n", ["fvcore.common.config"]),
        ("def f():\n    from fvcore.common import config\n", ["fvcore.common.config"]),
        ("from . import transforms as T\nfrom ..utils.resample import temporal_indices\n", []),
    ],
)
def test_the_rule_sees_relative_absolute_and_nested_imports(source: str, found: list) -> None:
    names = forbidden(imported_modules(source, "mutualnet3d.data"))
    assert set(found) <= set(names) and bool(names) == bool(found), names
