"""The layout rules the design card promises: no import cycle, no Python file over 400 lines."""

from __future__ import annotations

import ast
import graphlib
import pathlib

import pytest
from shared_data import REPO_ROOT

PACKAGES = ("poison_tf", "pipelines")
MAX_LINES = 400


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: dict[str, pathlib.Path]) -> set[str]:
    """Project modules imported anywhere in `tree` (function bodies too), except type-only ones."""
    targets: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    targets.add(full)
                elif node.module in modules:
                    targets.add(node.module)
        stack.extend(ast.iter_child_nodes(node))
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports."""
    modules = _modules()
    return {
        name: _imports(ast.parse(path.read_text()), modules) - {name}
        for name, path in modules.items()
    }


def _descendants(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return seen


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert sum(len(t) for t in graph.values()) > 100  # the parser found the real imports
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {error.args[1]}")


def test_the_framework_knows_no_study():
    graph = import_graph()
    framework = [n for n in graph if n.startswith("poison_tf.dag")]
    assert framework
    leaks = {
        (n, t)
        for n in framework
        for t in _descendants(graph, n)
        if t.startswith(("poison_tf.components", "pipelines", "poison_tf.data", "poison_tf.tasks"))
    }
    assert leaks == set()


@pytest.mark.parametrize("package", (*PACKAGES, "tests", "benchmarks", "experiments"))
def test_no_python_file_is_over_400_lines(package):
    long = {
        str(path.relative_to(REPO_ROOT)): n
        for path in (REPO_ROOT / package).rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _readme_tree() -> list[str]:
    """The paths of README.md's layout tree (first block after '## Layout'), nested by indent."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    paths, stack = [], []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0].rstrip(",")
        stack = stack[:depth] + [name]
        paths.append("".join(stack))
    return paths


def test_the_readme_tree_matches_the_code():
    tree = set(_readme_tree())
    folders = {
        str(p.parent.relative_to(REPO_ROOT)) + "/"
        for p in (REPO_ROOT / "poison_tf").rglob("__init__.py")
    }
    assert folders - {"poison_tf/"} <= tree  # every package folder has its line
    listed = {p for p in tree if p.endswith("/")}
    assert all((REPO_ROOT / p).is_dir() for p in listed), sorted(
        p for p in listed if not (REPO_ROOT / p).is_dir()
    )
    assert "poison_tf/types.py" in tree
