"""The public API documents its arguments and results (Google style), as DESIGN.md asks.

Walks the source of the public packages (models, attacks, poisons, defences, components and the
console-script entry points) with `ast`, so no module is imported: a public function or class
that takes arguments must have an `Args:` section, and a public function that returns a value
a `Returns:` section (`Yields:` for a generator). "Public" means neither the module, the class
nor the function name starts with `_`. A method that overrides one a framework defines (Keras'
`call`, `get_config`, an executor's `Do`, …) or one of a project base class walked here (a
detector's `fit` and `score`, documented on `Detector`) keeps the documentation of the method it
overrides, as Google style allows.

Components are the exception to reading the source: a component's class docstring holds only
its summary (and why / what it does), and `BaseComponent.__init_subclass__` appends the `Args:`
and `Outputs:` sections generated from its spec, so `test_component_docstrings.py` checks them
through their runtime `__doc__`.
"""

from __future__ import annotations

import ast
import pathlib

import pytest
from shared_data import REPO_ROOT

# Folders whose every module is public API, and the console-script modules of setup.py.
PACKAGES = (
    "poison_tf/models",
    "poison_tf/attacks",
    "poison_tf/poison",
    "poison_tf/defences",
    "poison_tf/components",
)
ENTRY_POINTS = (
    "poison_tf/cli.py",
    "poison_tf/hackml_eval.py",
    "poison_tf/seg_val.py",
    "poison_tf/io/import_cli.py",
    "poison_tf/io/export_cli.py",
    "pipelines/main.py",
    "pipelines/demo.py",
)
NOT_YET: set[str] = set()  # files allowed to lack the sections for now (none)
# Methods a framework calls, documented where the framework defines them.
FRAMEWORK_HOOKS = {
    "Do",  # BaseExecutor.Do
    "call",
    "build",
    "get_config",
    "from_config",
    "compute_output_shape",
    "compute_output_spec",
    "get_build_config",
    "build_from_config",
    "train_step",
    "test_step",
    "predict_step",
    "update_state",
    "result",
    "reset_state",
}


def _files() -> list[pathlib.Path]:
    found = [path for package in PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    found += [REPO_ROOT / path for path in ENTRY_POINTS]
    return [
        path
        for path in found
        if not any(part.startswith("_") and part != "__init__.py" for part in path.parts)
        and str(path.relative_to(REPO_ROOT)) not in NOT_YET
    ]


def _arguments(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if method and names and names[0] in ("self", "cls"):
        names = names[1:]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _own_nodes(node: ast.AST):
    """The nodes of a function body, not those of the functions and classes nested in it."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        yield child
        stack.extend(ast.iter_child_nodes(child))


def _returns_value(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if node.returns is not None:
        annotation = ast.unparse(node.returns)
        if annotation in ("None", "NoReturn", "typing.NoReturn"):
            return False
        return True
    return any(
        isinstance(n, ast.Return)
        and n.value is not None
        and not (isinstance(n.value, ast.Constant) and n.value.value is None)
        for n in _own_nodes(node)
    )


def _is_generator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(node))


def _decorators(node: ast.FunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        names.add(ast.unparse(target).rsplit(".", 1)[-1])
    return names


def _function_gaps(node, where: str, method: bool) -> list[str]:
    decorators = _decorators(node)
    if "property" in decorators or "setter" in decorators or "overload" in decorators:
        return []
    doc = ast.get_docstring(node) or ""
    gaps = []
    if _arguments(node, method) and "Args:" not in doc:
        gaps.append(f"{where}: no Args:")
    if _is_generator(node):
        if "Yields:" not in doc:
            gaps.append(f"{where}: no Yields:")
    elif _returns_value(node) and "Returns:" not in doc:
        gaps.append(f"{where}: no Returns:")
    return gaps


def _dataclass_fields(node: ast.ClassDef) -> list[str]:
    return [
        stmt.target.id
        for stmt in node.body
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and "ClassVar" not in ast.unparse(stmt.annotation)
    ]


def _base_names(node: ast.ClassDef) -> list[str]:
    return [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]


def class_index(paths) -> dict[str, tuple[list[str], set[str]]]:
    """{class name: (base class names, method names)} of the classes defined in `paths`."""
    index = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = {
                    stmt.name
                    for stmt in node.body
                    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
                }
                index[node.name] = (_base_names(node), methods)
    return index


def _inherited(bases: list[str], method: str, index: dict) -> bool:
    """Whether a project base class (or one of its bases) defines `method`."""
    seen, stack = set(), list(bases)
    while stack:
        name = stack.pop()
        if name in seen or name not in index:
            continue
        seen.add(name)
        parents, methods = index[name]
        if method in methods:
            return True
        stack.extend(parents)
    return False


def _class_gaps(node: ast.ClassDef, where: str, index: dict) -> list[str]:
    doc = ast.get_docstring(node) or ""
    methods = {
        stmt.name: stmt
        for stmt in node.body
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    gaps = []
    init = methods.get("__init__")
    bases = _base_names(node)
    if init is not None:
        init_doc = ast.get_docstring(init) or ""
        if _arguments(init, method=True) and "Args:" not in doc + init_doc:
            gaps.append(f"{where}: no Args: (constructor)")
    elif "dataclass" in _decorators(node) or "NamedTuple" in bases:
        # Google style lists a dataclass's fields under Attributes:, which is what they are.
        if _dataclass_fields(node) and "Args:" not in doc and "Attributes:" not in doc:
            gaps.append(f"{where}: no Args:/Attributes: (fields)")
    for name, method in methods.items():
        if name.startswith("_") or name in FRAMEWORK_HOOKS or _inherited(bases, name, index):
            continue
        gaps += _function_gaps(method, f"{where}.{name}", method=True)
    return gaps


def undocumented(
    path: pathlib.Path, root: pathlib.Path = REPO_ROOT, index: dict | None = None
) -> list[str]:
    """Where the public API of one source file lacks an Args:/Returns:/Yields: section.

    Args:
        path: a Python source file.
        root: the folder the reported paths are relative to.
        index: `class_index` of the files whose base classes count (default: `path` alone).

    Returns:
        One line per gap, "<file>:<line> <name>: no <section>".
    """
    index = class_index([path]) if index is None else index
    tree = ast.parse(path.read_text())
    module = path.relative_to(root).as_posix()
    gaps = []
    for node in tree.body:
        if getattr(node, "name", "_").startswith("_"):
            continue
        where = f"{module}:{node.lineno} {node.name}" if hasattr(node, "name") else module
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            gaps += _function_gaps(node, where, method=False)
        elif isinstance(node, ast.ClassDef):
            gaps += _class_gaps(node, where, index)
    return gaps


def test_the_walk_finds_the_public_api():
    files = _files()
    assert len(files) > 80
    names = {p.relative_to(REPO_ROOT).as_posix() for p in files}
    assert "poison_tf/components/patch/patch_optimizer.py" in names
    assert "pipelines/main.py" in names


INDEX = class_index(_files())


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_public_api_has_args_and_returns(path):
    assert undocumented(path, index=INDEX) == []


FAKE_MODULE = """
import dataclasses


def documented(x: int) -> int:
    \"\"\"Doubles.

    Args:
        x: a number.

    Returns:
        2x.
    \"\"\"
    return 2 * x


def no_returns(x: int) -> int:
    \"\"\"Doubles.

    Args:
        x: a number.
    \"\"\"
    return 2 * x


def no_yields(n: int):
    \"\"\"Counts.

    Args:
        n: how far.
    \"\"\"
    yield from range(n)


class NoArgs:
    \"\"\"A thing.\"\"\"

    def __init__(self, size: int):
        self.size = size


@dataclasses.dataclass
class NoAttributes:
    \"\"\"A record.\"\"\"

    size: int


class Base:
    \"\"\"A base.\"\"\"

    def fit(self, x):
        \"\"\"Fits.

        Args:
            x: data.
        \"\"\"

    def get_config(self):
        return {}


class Child(Base):
    \"\"\"Overrides: fit keeps Base's documentation, get_config is a framework hook.\"\"\"

    def fit(self, x):
        pass

    def get_config(self):
        return {"a": 1}

    def extra(self, y):
        return y


def _private(x):
    return x
"""


def test_the_check_catches_a_missing_section(tmp_path):
    source = tmp_path / "module.py"
    source.write_text(FAKE_MODULE)
    gaps = [gap.split(" ", 1)[1] for gap in undocumented(source, root=tmp_path)]
    assert gaps == [
        "no_returns: no Returns:",
        "no_yields: no Yields:",
        "NoArgs: no Args: (constructor)",
        "NoAttributes: no Args:/Attributes: (fields)",
        "Child.extra: no Args:",
        "Child.extra: no Returns:",
    ]
