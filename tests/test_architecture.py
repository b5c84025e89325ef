"""Layer rules the code must keep (the import-linter contracts in pyproject.toml cover the rest, in `make lint`).

- No module imports another module's private name (`from x import _name`, or `x._name` on an imported module):
  what another module may use is public and named so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("api", "classifiers", "corpora", "endpoints", "htc_app", "jobs", "projects", "review", "taxonomies")


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def private_imports(source: str) -> list[str]:
    """`module.name` for every private name of one of our modules that `source` imports or reads."""
    tree = ast.parse(source)
    found, module_names = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in APPS:
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{node.module}.{alias.name}")
                elif _is_module(f"{node.module}.{alias.name}"):
                    module_names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in APPS:
                    module_names[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_names
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{module_names[node.value.id]}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "source",
    ["from taxonomies.services import _lock", "from classifiers import services\nservices._chunks([], 1)"],
)
def test_the_check_finds_a_private_import(source):
    assert private_imports(source)


def test_no_module_imports_another_modules_private_names():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}" for path in _modules() for name in private_imports(path.read_text())
    ]
    assert offenders == []
