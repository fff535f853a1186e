"""The package's import structure, read from the source with ``ast`` (nothing of wce is imported).

The shape we aim for (docs and STYLE.md): layers import downward only and never in a circle,

    _validation, _optional  <  weights  <  losses  <  shared array math (_array*)
        <  backends (torch, jax, keras, gbdt, xgboost, lightgbm, sklearn, huggingface)
        <  reporting  <  experiments  <  cli

``reporting`` imports nothing from ``experiments`` or ``cli``; only ``wce.__main__``
imports ``wce.cli``; and ``import wce`` loads no framework. The graph includes imports
inside functions (a lazy import still ties the two modules together and is one refactor
away from a circular import at start-up); imports under ``if TYPE_CHECKING:`` never run
and are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "wce"

# Lowest first. A module belongs to the first layer with a matching pattern:
# "x" matches the module x and everything under it; "x*" any module whose name starts with x.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("validation", ("wce._validation", "wce._optional", "wce._types")),
    ("weights", ("wce.weights",)),
    ("losses", ("wce.losses",)),
    ("array math", ("wce._array*",)),
    ("backends", ("wce.torch*", "wce._torch*", "wce.jax", "wce.keras", "wce.gbdt*", "wce._gbdt*",
                  "wce.xgboost", "wce.lightgbm", "wce.sklearn", "wce.huggingface")),
    ("reporting", ("wce.reporting",)),
    ("experiments", ("wce.experiments",)),
    ("cli", ("wce.cli", "wce.__main__")),
]
# The top-level package re-exports the public API of every layer; nothing inside imports it.
TOP = (PACKAGE,)


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported wce module
    path: str  # file, relative to src/
    line: int
    in_function: bool
    names: str = ""  # for `from X import a, b`: "a, b"

    def where(self) -> str:
        return f"{self.path}:{self.line}{' (inside a function)' if self.in_function else ''}"


# --------------------------------------------------------------------------- the graph


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package under ``root``."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """(node, inside a function?) for every import statement that can run, at any depth."""
    stack = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, in_function) for child in node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, in_function
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) == "import_module")):
            yield node, in_function
        nested = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((child, nested) for child in ast.iter_child_nodes(node))


def _resolve(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The wce modules an import statement loads (``from p import m`` names p.m when it is a module)."""
    if isinstance(node, ast.Call):  # importlib.import_module("wce.x")
        candidates = [node.args[0].value]
    elif isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        candidates = []
        for alias in node.names:
            sub = f"{origin}.{alias.name}"
            candidates.append(sub if sub in known else origin)
    found = []
    for name in candidates:
        # `import wce.a.b` loads wce.a.b; a name that is not a module is an attribute of its parent.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name.split(".")[0] == PACKAGE and name not in found:
            found.append(name)
    return found


def import_graph(root: Path = SRC, package: str = PACKAGE) -> tuple[dict[str, Path], list[Import]]:
    modules = module_names(root, package)
    known = set(modules)
    imports = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function in _import_nodes(tree):
            for target in _resolve(node, name, path.name == "__init__.py", known):
                if target != name:
                    names = ", ".join(a.name for a in getattr(node, "names", ())
                                      if isinstance(node, ast.ImportFrom))
                    imports.append(Import(name, target, str(path.relative_to(root)), node.lineno,
                                          in_function, names))
    return modules, sorted(imports, key=lambda i: (i.source, i.target, i.line))


def find_cycles(imports: list[Import]) -> list[list[Import]]:
    """Circular imports: for each module on a circle, the shortest one through it (Tarjan + BFS)."""
    graph: dict[str, dict[str, Import]] = {}
    for imp in imports:
        graph.setdefault(imp.source, {}).setdefault(imp.target, imp)
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def strongconnect(v):  # iterative would be longer; the package has ~100 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = {}
    for component in components:
        for start in sorted(component):  # the shortest cycle through each module of the component
            parents = {start: None}
            queue = deque([start])
            while queue:
                v = queue.popleft()
                if start in graph.get(v, {}):
                    chain = [graph[v][start]]
                    while parents[v] is not None:
                        chain.append(parents[v])
                        v = parents[v].source
                    chain.reverse()
                    first = min(range(len(chain)), key=lambda i: chain[i].source)
                    chain = chain[first:] + chain[:first]
                    cycles.setdefault(tuple(i.source for i in chain), chain)
                    break
                for w in sorted(graph.get(v, {})):
                    if w in component and w not in parents:
                        parents[w] = graph[v][w]
                        queue.append(w)
    return [cycles[key] for key in sorted(cycles)]


def describe_cycle(cycle: list[Import]) -> str:
    steps = [f"{imp.source} --[{imp.where()}]--> " for imp in cycle]
    return "".join(steps) + cycle[0].source


def _matches(module: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return module.startswith(pattern[:-1])
    return module == pattern or module.startswith(pattern + ".")


def layer_of(module: str) -> int | None:
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(_matches(module, p) for p in patterns):
            return rank
    return None


# --------------------------------------------------------------------------- the checks


@pytest.fixture(scope="module")
def graph():
    modules, imports = import_graph()
    assert f"{PACKAGE}.losses" in modules and len(imports) > 20, "the source tree was not found"
    return modules, imports


def test_no_import_cycles(graph):
    _, imports = graph
    cycles = find_cycles(imports)
    assert not cycles, (
        f"{len(cycles)} import cycle(s) between wce modules; each line is one circle "
        "(file:line of the import that closes each step):\n  "
        + "\n  ".join(describe_cycle(c) for c in cycles))


def test_every_module_belongs_to_a_layer(graph):
    modules, _ = graph
    unplaced = sorted(m for m in modules if m not in TOP and layer_of(m) is None)
    assert not unplaced, (
        f"modules outside every layer of the architecture: {unplaced}. Add them to LAYERS in "
        "tests/test_architecture.py (and the architecture page of the docs).")


def _own_submodule(source: str, target: str, modules: dict[str, Path]) -> bool:
    """A package ``__init__`` importing a module below it (a re-export) is always fine."""
    return modules[source].name == "__init__.py" and target.startswith(source + ".")


def test_layers_import_downward_only(graph):
    modules, imports = graph
    upward = []
    for imp in imports:
        if _own_submodule(imp.source, imp.target, modules) or imp.source in TOP:
            continue
        if imp.target in TOP:
            upward.append(f"{imp.source} imports {imp.names or 'the package'} from the top-level "
                          f"package {imp.target} ({imp.where()}), which imports every layer; "
                          "import the module that defines the name instead (or the name is "
                          "a module that no longer exists)")
            continue
        low, high = layer_of(imp.target), layer_of(imp.source)
        if low is not None and high is not None and low > high:
            upward.append(f"{imp.source} ({LAYERS[high][0]}) imports {imp.target} "
                          f"({LAYERS[low][0]}) at {imp.where()}")
    order = " < ".join(name for name, _ in LAYERS)
    assert not upward, (f"{len(upward)} import(s) go up the layers ({order}):\n  "
                        + "\n  ".join(upward))


def test_reporting_imports_neither_experiments_nor_cli(graph):
    _, imports = graph
    bad = [f"{imp.source} imports {imp.target} at {imp.where()}" for imp in imports
           if _matches(imp.source, "wce.reporting")
           and (_matches(imp.target, "wce.experiments") or _matches(imp.target, "wce.cli"))]
    assert not bad, ("wce.reporting renders results it is given; it must not import "
                     "wce.experiments or wce.cli:\n  " + "\n  ".join(bad))


def test_experiments_do_not_import_cli(graph):
    _, imports = graph
    bad = [f"{imp.source} imports {imp.target} at {imp.where()}" for imp in imports
           if _matches(imp.source, "wce.experiments") and _matches(imp.target, "wce.cli")]
    assert not bad, ("wce.experiments is used by the command line, not the reverse:\n  "
                     + "\n  ".join(bad))


def test_only_main_imports_cli(graph):
    _, imports = graph
    bad = [f"{imp.source} imports {imp.target} at {imp.where()}" for imp in imports
           if _matches(imp.target, "wce.cli") and not _matches(imp.source, "wce.cli")
           and imp.source != "wce.__main__"]
    assert not bad, "only wce.__main__ may import wce.cli:\n  " + "\n  ".join(bad)


HEAVY = ("torch", "jax", "tensorflow", "keras", "xgboost", "lightgbm", "sklearn", "pandas")


def test_import_wce_loads_no_framework():
    code = f"import wce, sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "[]", (
        f"`import wce` imported {result.stdout.strip()}; frameworks must load only when their "
        "backend module is imported")


# --------------------------------------------------------------------------- the checker itself


def test_checker_sees_relative_and_function_level_imports_and_reports_the_cycle(tmp_path):
    """A tiny package with a cycle closed by a lazy, relative import: the checker must find it."""
    pkg = tmp_path / "wce"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("from .sub import b\nimport os\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .. import c\n"
        "def f():\n    from ..a import something\n    return something\n")
    (pkg / "c.py").write_text("import importlib\nimportlib.import_module('wce.sub.b')\n")
    modules, imports = import_graph(tmp_path, "wce")
    assert set(modules) == {"wce", "wce.a", "wce.sub", "wce.sub.b", "wce.c"}
    edges = {(i.source, i.target, i.in_function) for i in imports}
    assert edges == {("wce", "wce.a", False), ("wce.a", "wce.sub.b", False),
                     ("wce.sub.b", "wce.a", True), ("wce.c", "wce.sub.b", False)}
    (cycle,) = find_cycles(imports)
    assert describe_cycle(cycle) == (
        "wce.a --[wce/a.py:1]--> wce.sub.b --[wce/sub/b.py:5 (inside a function)]--> wce.a")
