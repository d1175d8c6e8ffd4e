"""The shape of the package: no import cycles anywhere (imports inside functions included),
no runtime import of tests or benchmarks, a docstring on every subpackage, small modules.
The layer contracts themselves are import-linter's (`lint-imports`, pyproject.toml)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[2] / "bucketpipe"
MAX_LINES = 400


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    assert cycles(grimp.build_graph("bucketpipe", cache_dir=None)) == []


def test_cycles_are_found() -> None:
    """The check above can fail: a graph with a cycle through a function-level import."""
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert cycles(graph) == [["p.a", "p.b", "p.c"]]


def python_files() -> Iterable[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_runtime_imports_no_tests_or_benchmarks() -> None:
    graph = grimp.build_graph("bucketpipe", include_external_packages=True, cache_dir=None)
    imported = {
        (importer, name)
        for importer in graph.modules
        if importer.startswith("bucketpipe")
        for name in graph.find_modules_directly_imported_by(importer)
        if name.split(".")[0] in {"tests", "benchmarks"}
    }
    assert imported == set()
    # Nor by name, behind importlib.
    dynamic = re.compile(r"""import_module\(\s*["'](tests|benchmarks)\b""")
    assert [p.name for p in python_files() if dynamic.search(p.read_text())] == []


def test_every_subpackage_says_what_it_owns() -> None:
    missing = [
        str(init.parent.relative_to(PACKAGE.parent))
        for init in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in init.parts and not init.read_text().startswith('"""')
    ]
    assert missing == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in python_files()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
