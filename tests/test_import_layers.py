"""dartslib's modules import each other without cycles, and its core never imports the book's own code.

Every import counts: those inside functions (a lazy import only hides a cycle from import time) and those under
``if TYPE_CHECKING:`` (an annotation that names a module above is a dependency for the reader and for a type
checker, and a cycle through one is a cycle). :func:`import_graph` with ``annotations=False`` leaves the latter
out, for the controls that show the difference.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dartslib"
#: code that exists for the book; the library's core must not depend on it
BOOK_ONLY = ("dartslib.book",)
#: the layers, bottom first: a module may import its own layer and the layers below it, never one above.
#: (Within a layer the cycle test above keeps the imports one-way.)
LAYERS = [
    # leaves: method hooks; data and batches; devices; progress bars
    ("dartslib.hooks", "dartslib.data", "dartslib.device", "dartslib.progress"),
    ("dartslib.space",),                       # ops, spaces, op-weight forms, the supernet
    ("dartslib.arch",),                        # genotypes, NB201 strings, derivation, networks, counting
    ("dartslib.methods",),                     # presets and one module per switch
    ("dartslib.engine",),                      # config, steps, the loop, training, checkpoints, run folders
    ("dartslib.diagnostics",),                 # measures, Hessian, landscape, gradient correlation, recorder
    ("dartslib.viz",),                         # style, cell drawings, figures
    ("dartslib.sweep", "dartslib.cli", "dartslib.__main__"),   # the command line
    ("dartslib.book",),                        # the book's own code: chapter setup, toys, results
]


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def import_graph(root: Path = PACKAGE, annotations: bool = True) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, for every module under ``root``; ``annotations=False``
    leaves out the imports under ``if TYPE_CHECKING:``."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        skip = set() if annotations else _type_checking_nodes(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            else:
                continue
            deps.update(t for t in targets if t in modules and t != name and t != root.name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
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


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_core_does_not_import_the_book():
    graph = import_graph()
    offenders = {m: sorted(d for d in deps if d.startswith(BOOK_ONLY))
                 for m, deps in graph.items() if not m.startswith(BOOK_ONLY) and m != "dartslib"}
    assert {m: d for m, d in offenders.items() if d} == {}


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of ``module`` (None for the package's own ``__init__``)."""
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def upward_imports(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{module: the modules of a higher layer it imports}``."""
    out = {}
    for module, deps in graph.items():
        mine = layer_of(module)
        if mine is None:
            continue
        up = sorted(d for d in deps if (layer_of(d) or 0) > mine)
        if up:
            out[module] = up
    return out


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if m != "dartslib" and layer_of(m) is None] == []


def test_the_layers_import_only_downwards():
    assert upward_imports(import_graph()) == {}


def test_the_layer_check_finds_an_upward_import():
    """Control: the space layer importing the engine is an upward import."""
    graph = {"dartslib.space.supernet": {"dartslib.engine.config"}, "dartslib.engine.config": set()}
    assert upward_imports(graph) == {"dartslib.space.supernet": ["dartslib.engine.config"]}


@pytest.mark.parametrize("lazy", [False, True])
def test_the_checks_find_a_cycle_and_a_book_import(tmp_path, lazy):
    """Control: a package with a cycle (made only by a lazy import, or at import time) is caught."""
    pkg = tmp_path / "dartslib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    body = "def f():\n    from .a import y\n" if lazy else "from .a import y\n"
    (pkg / "b.py").write_text(body + "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import z\n")
    (pkg / "c.py").write_text("from .b import w\n")
    assert cycles(import_graph(pkg, annotations=False)) == [["dartslib.a", "dartslib.b"]]  # b -> c: annotation only
    assert cycles(import_graph(pkg)) == [["dartslib.a", "dartslib.b", "dartslib.c"]]  # counted: one circle of three


@pytest.mark.parametrize("guard", ["TYPE_CHECKING", "typing.TYPE_CHECKING"])
def test_a_cycle_made_only_by_type_checking_imports_is_found(tmp_path, guard):
    """Control: the circle ``hooks -> engine.loop -> hooks`` that typing a hook's argument as the ``Search``
    once made, with the upward half only under ``if TYPE_CHECKING:`` (spelled either way), is a cycle, and the
    upward import is one too; leaving annotations out (what this file did before) misses both."""
    pkg = tmp_path / "dartslib"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("")
    (pkg / "engine" / "loop.py").write_text("from dartslib.hooks import SearchHook\n")
    (pkg / "hooks.py").write_text(f"import typing\nfrom typing import TYPE_CHECKING\nif {guard}:\n"
                                  "    from dartslib.engine.loop import Search\n")
    graph = import_graph(pkg)
    assert cycles(graph) == [["dartslib.engine.loop", "dartslib.hooks"]]
    assert upward_imports(graph) == {"dartslib.hooks": ["dartslib.engine.loop"]}
    blind = import_graph(pkg, annotations=False)
    assert cycles(blind) == [] and upward_imports(blind) == {}
