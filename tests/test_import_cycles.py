"""No import cycles in the product (bot/, rules/): each module can be read, and imported, after
the modules it uses.

The graph is read from the source with ``ast``, so it holds every import a module can run: at
the top, inside a function (an import deferred to break a cycle still closes it), and under
``if TYPE_CHECKING:`` (a cycle that only annotations close still ties two modules together).
Importing ``a.b.c`` from outside the package ``a.b`` runs ``a/b/__init__.py`` first, so such an
import is an edge to the package too: a package whose ``__init__`` imports a module that imports
the package back is a cycle at runtime even though no line names it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "rules")


def modules_of(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module under ``packages`` by dotted name (a package by its own name)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported_names(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """``(module, line)`` for each import in the file, wherever it sits in it."""
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # ``from a.b import c`` imports the module a.b.c when there is one.
                sub = f"{source}.{alias.name}"
                names.append((sub if sub in modules else source, node.lineno))
    return names


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` within ``packages``."""
    modules = modules_of(root, packages)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imported_names(name, path, modules):
            while target and target not in modules:  # an attribute of a module: the module
                target = target.rpartition(".")[0]
            if not target:
                continue  # outside the product
            # The packages the import initialises on the way, unless this module is inside them.
            parts = target.split(".")
            for depth in range(1, len(parts) + 1):
                step = ".".join(parts[:depth])
                inside = name == step or name.startswith(step + ".")
                if step in modules and step != name and (step == target or not inside):
                    edges.setdefault(step, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    paths = modules_of(ROOT, PACKAGES)
    lines = [" <-> ".join(component)]
    for v in component:
        where = paths[v].relative_to(ROOT)
        lines += [f"  {v} -> {w} ({where}:{n})" for w, n in graph[v].items() if w in component]
    return "\n".join(lines)


def test_the_product_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 80, "the product's modules were not found"
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_describe(graph, c) for c in found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {"p/__init__.py": "", "p/a.py": "import p.b\n", "p/b.py": "from p import a\n"},
            [["p.a", "p.b"]],
            id="top-level",
        ),
        pytest.param(
            {
                "p/__init__.py": "",
                "p/a.py": "from p.b import f\n",
                "p/b.py": "def f():\n    from p.a import g\n    return g\n",
            },
            [["p.a", "p.b"]],
            id="inside-a-function",
        ),
        pytest.param(
            {
                "p/__init__.py": "",
                "p/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
                "p/b.py": "from .a import A\n",
            },
            [["p.a", "p.b"]],
            id="type-checking-and-relative",
        ),
        pytest.param(
            {
                "p/__init__.py": "",
                "p/jobs/__init__.py": "def every():\n    from p.jobs import daily\n",
                "p/jobs/daily.py": "from p.jobs import every\n",
            },
            [["p.jobs", "p.jobs.daily"]],
            id="package-and-its-module",
        ),
        pytest.param(
            {
                "p/__init__.py": "",
                "p/box/__init__.py": "from p.box.store import Store\n",
                "p/box/store.py": "from p.pool import Pool\n",
                "p/pool.py": "from p.box.api import Claim\n",
                "p/box/api.py": "",
            },
            [["p.box", "p.box.store", "p.pool"]],
            id="through-a-package-init",
        ),
        pytest.param(
            {
                "p/__init__.py": "",
                "p/box/__init__.py": "from p.box.store import Store\n",
                "p/box/store.py": "from p.box.pool import Pool\n",
                "p/box/pool.py": "from p.box.api import Claim\nimport json\n",
                "p/box/api.py": "from p import other\n",
                "p/other.py": "",
            },
            [],
            id="layered",
        ),
    ],
)
def test_a_cycle_is_found_wherever_its_imports_sit(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    assert cycles(import_graph(_tree(tmp_path, files), ("p",))) == expected
