"""The shape of the code (issue 13, docs/architecture.md), checked on the source with ast.

* no module over 600 lines in evodesign/ or operators/;
* no import cycle between modules (annotation-only imports under ``TYPE_CHECKING`` do not
  count: they never run);
* one direction: operators/ never imports evodesign;
* benchmarks/ uses public names only: no ``from x import _private`` of another module and
  no ``obj._attr`` on anything but ``self``/``cls``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evodesign", "operators")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(node: ast.AST, module: str, is_package: bool) -> set[str]:
    """The names an import statement brings in (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return {base} | {f"{base}.{alias.name}" for alias in node.names}


def _imports(path: Path, module: str, module_level: bool) -> set[str]:
    """Modules of ours that ``module`` imports when it runs, never counting ``if
    TYPE_CHECKING:`` blocks; ``module_level``: only at import time (not inside
    functions), else anywhere (a function's import runs when the function does)."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if module_level and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            found.update(_imported(child, module, is_package))
            visit(child)

    visit(tree)
    return {name for name in found if name in MODULES and name != module}


def _runtime_imports(path: Path, module: str) -> set[str]:
    return _imports(path, module, module_level=False)


def _module_level_imports(path: Path, module: str) -> set[str]:
    return _imports(path, module, module_level=True)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def _parents(module: str) -> set[str]:
    """A module's packages, whose __init__ runs first (an import of them is not a cycle)."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_module_over_600_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("kind", ["module level", "anywhere"])
def test_no_import_cycle(kind):
    read = _module_level_imports if kind == "module level" else _runtime_imports
    graph = {m: read(p, m) - _parents(m) for m, p in MODULES.items()}
    # a package importing its own submodules (re-exports) is structure, not a cycle
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    assert _cycles(graph) == []


def test_operators_never_import_evodesign():
    offenders = {
        m: sorted(d for d in _runtime_imports(p, m) if d.startswith("evodesign"))
        for m, p in MODULES.items()
        if m.startswith("operators")
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_benchmarks_use_public_names_only():
    problems = []
    for module, path in MODULES.items():
        if not module.startswith("evodesign.benchmarks"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("evodesign.benchmarks") and node.level == 0:
                problems += [f"{module}: from {node.module} import {a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    problems.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert problems == []


def test_the_checks_can_fail(tmp_path):
    """The cycle finder and the import reader catch what they are meant to catch."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from evodesign.problem import DesignProblem\n"
        "if TYPE_CHECKING:\n    from evodesign.search import mating\n"
        "def f():\n    from evodesign.campaign import runner\n"
    )
    assert _module_level_imports(module, "x") == {"evodesign.problem"}
    assert _runtime_imports(module, "x") == {"evodesign.problem", "evodesign.campaign", "evodesign.campaign.runner"}
