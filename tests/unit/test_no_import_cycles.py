"""No import cycle anywhere in sesh_mesh, counting imports inside functions too.

import-linter's layers contract sees only what crosses a layer; a cycle between two siblings
(daemon.control ↔ daemon.headless) or hidden in a function body (the lazy import that papers over
a circular dependency) slips past it. This builds the module graph with `ast` and fails with every
cycle it finds. Imports under `if TYPE_CHECKING:` do not count: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "sesh_mesh"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth, skipping `if TYPE_CHECKING:` bodies."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = importer.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            stem = ".".join([*base, node.module] if node.module else base)
        else:
            stem = node.module or ""
        # `from pkg import mod` imports the submodule when there is one, else a name of pkg.
        names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
    out = set()
    for name in names:
        # `import a.b.c` binds a module we hold, or the nearest package of ours that contains it.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != importer:
            out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in ROOT.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in _runtime_imports(tree):
            edges |= _targets(node, name, path.name == "__init__.py", known)
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            if children:
                child = children.pop(0)
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(sorted(component))
    return components


def describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "{" + ", ".join(component) + "}: " + "; ".join(edges)


def test_the_graph_sees_function_level_imports_and_skips_type_checking() -> None:
    # A self-check on known edges, so a broken parser cannot pass the real test by finding nothing.
    graph = import_graph()
    assert "sesh_mesh.store.record" in graph["sesh_mesh.store.store"]
    assert "sesh_mesh.config" in graph["sesh_mesh.client"]  # imported inside start_daemon()
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sesh_mesh.cli\n")
    assert [type(node) for node in _runtime_imports(tree)] == [ast.ImportFrom]


def test_the_cycle_finder_names_each_cycle_and_its_edges() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}, "f": set()}
    found = strongly_connected(graph)
    assert found == [["a", "b", "c"], ["d"]]
    assert describe(found[0], graph) == "{a, b, c}: a -> b; b -> c; c -> a"


def test_no_import_cycles_in_sesh_mesh() -> None:
    graph = import_graph()
    cycles = [describe(component, graph) for component in strongly_connected(graph)]
    assert not cycles, "import cycles in sesh_mesh:\n" + "\n".join(cycles)
