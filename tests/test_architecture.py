"""Layer rules the code must keep (the import-linter contracts in pyproject.toml cover the rest, in `make lint`).

- No module imports another module's private name (`from x import _name`, relative or not, or `x._name` / `a.b._name`
  on an imported module): what another module may use is public and named so.
- No import cycle between any two of our modules, counting imports inside functions (a cycle hidden in a
  function is still a cycle; break it by moving the shared part down, not by importing late).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)

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


def _dotted(node: ast.expr) -> str | None:
    """'a.b.c' for the expression a.b.c, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and (base := _dotted(node.value)):
        return f"{base}.{node.attr}"
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(source: str) -> list[str]:
    """`module.name` for every private name of one of our modules that `source` imports or reads (relative
    imports are always ours)."""
    tree = ast.parse(source)
    found, module_names = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in APPS):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{module}.{alias.name}")
                elif _is_module(f"{module}.{alias.name}"):
                    module_names[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in APPS:  # `import a.b` binds a; `import a.b as c` binds c to a.b
                    bound = alias.asname or alias.name.split(".")[0]
                    module_names[bound] = alias.name if alias.asname else bound
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and (base := _dotted(node.value)):
            head, _, rest = base.partition(".")
            target = ".".join(filter(None, [module_names.get(head), rest]))
            if head in module_names and _is_module(target):
                found.append(f"{target}.{node.attr}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from taxonomies.services import _lock",
        "from classifiers.services import _texts_and_paths",
        "from .services import _texts_and_paths",
        "from classifiers import services\nservices._chunks([], 1)",
        "import classifiers.services\nclassifiers.services._chunks([], 1)",
        "import classifiers.services as s\ns._chunks([], 1)",
    ],
)
def test_the_check_finds_a_private_import(source):
    assert private_imports(source)


@pytest.mark.parametrize(
    "source",
    [
        "from classifiers.services import run_start",
        "from corpora.models import Document\nDocument._meta",  # a class's attribute, not a module's name
        "from classifiers import services\nservices.__name__",
        "import numpy as np\nnp._private",  # not one of our modules
        "self._cache = {}",
    ],
)
def test_the_check_leaves_public_names_alone(source):
    assert private_imports(source) == []


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in it), packages' own __init__ left out."""
    modules = {_module_name(path): path for path in _modules()}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for target in targets:
                found = known(target) if target.split(".")[0] in APPS else None
                if found and found != name and not name.startswith(found + "."):
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules():
    assert cycles(import_graph()) == []


def test_no_module_imports_another_modules_private_names():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}" for path in _modules() for name in private_imports(path.read_text())
    ]
    assert offenders == []
