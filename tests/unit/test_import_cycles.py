"""No import cycles anywhere in src/switchboard.

Every ``import`` and ``from … import`` statement counts: at the top of a module, under
``if TYPE_CHECKING:`` and inside functions (an import that only runs later is still a
dependency, and the one that hides a cycle most easily). Relative imports are resolved against
the importing module's package, and ``from package import name`` depends on the module
``package.name`` when there is one, else on the package.

An import depends on the module it names, not on that module's parent packages: the package
``__init__`` files of src/switchboard hold no imports, which ``test_package_inits_import_nothing``
keeps true (with imports there, every submodule would depend on them).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT_PACKAGE = "switchboard"

Graph = Mapping[str, Iterable[str]]


def module_names(src: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``src``, by dotted name (a package by its own)."""
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
              known: Mapping[str, Path]) -> list[str]:
    """The modules of ``known`` an import statement in ``module`` depends on."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            # The package a relative import starts from: a module's own package, or for a
            # package's __init__ the package itself; each further dot goes one level up.
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        names = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}" if base else alias.name
            names.append(submodule if submodule in known else base)
    found = []
    for name in names:
        # ``import a.b.c`` where only ``a.b`` is ours (or a name inside ``a.b``): ``a.b``.
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            found.append(name)
    return found


def import_graph(src: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports, from every import statement."""
    known = module_names(src, package)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges.update(_imported(node, module, path.name == "__init__.py", known))
        graph[module] = edges
    return graph


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle per strongly connected component that has one, each as a closed path
    (``[a, b, a]``), in a stable order. Tarjan's algorithm, iteratively."""
    nodes = sorted(set(graph) | {n for edges in graph.values() for n in edges})
    successors = {n: sorted(set(graph.get(n, ()))) for n in nodes}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = successors[node]
            if i < len(edges):
                work.append((node, i + 1))
                nxt = edges[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
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
                if len(component) > 1 or node in successors[node]:
                    components.append(sorted(component))
    return sorted(_cycle_in(component, successors) for component in components)


def _cycle_in(component: list[str], successors: Mapping[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    members = set(component)
    start = component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in successors[node]:
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [
                        start, start]
                if nxt in members and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")  # pragma: no cover


def describe(cycles: list[list[str]]) -> str:
    return "\n".join(" -> ".join(cycle) for cycle in cycles)


# ---------------------------------------------------------------------- the project


def test_no_import_cycles_in_switchboard() -> None:
    graph = import_graph(SRC, ROOT_PACKAGE)
    assert "switchboard.routing.engine" in graph, "the package was not found"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles in src/switchboard:\n" + describe(cycles)


def test_package_inits_import_nothing() -> None:
    """Parent packages are not counted as dependencies (see the module docstring): that is
    only sound while no package's __init__ imports anything."""
    for module, path in module_names(SRC, ROOT_PACKAGE).items():
        if path.name == "__init__.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imports = [node for node in ast.walk(tree)
                       if isinstance(node, ast.Import | ast.ImportFrom)
                       and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
            assert not imports, f"{module} imports at line {imports[0].lineno}"


def routing_layers() -> list[str]:
    """The routing modules in the order ``routing/__init__.py`` lists them, top first."""
    doc = ast.get_docstring(ast.parse((SRC / ROOT_PACKAGE / "routing" / "__init__.py")
                                      .read_text(encoding="utf-8"))) or ""
    section = doc.split("Modules and their dependencies", 1)[1]
    return re.findall(r"^``(\w+)``$", section, flags=re.MULTILINE)


def test_routing_modules_import_only_modules_listed_below_them() -> None:
    """The routing package's docstring lists its modules in dependency order; keep it true."""
    layers = routing_layers()
    graph = import_graph(SRC, ROOT_PACKAGE)
    prefix = f"{ROOT_PACKAGE}.routing."
    modules = {m.removeprefix(prefix) for m in graph if m.startswith(prefix)}
    assert modules == set(layers), "routing/__init__.py lists other modules than there are"
    upward = [f"{module} imports {imported.removeprefix(prefix)}"
              for module in layers
              for imported in sorted(graph[prefix + module])
              if imported.startswith(prefix)
              and layers.index(imported.removeprefix(prefix)) <= layers.index(module)]
    assert not upward, "imports up the list of routing/__init__.py:\n" + "\n".join(upward)


# ---------------------------------------------------------------------- the checker itself


def test_find_cycles_names_each_cycle() -> None:
    graph = {
        "a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(),  # a -> b -> c -> a
        "e": {"f"}, "f": {"e"},  # e -> f -> e
        "g": {"g"},  # imports itself
        "h": {"a", "d"},  # reaches a cycle without being in one
    }
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"], ["g", "g"]]
    assert describe(find_cycles(graph)).splitlines()[0] == "a -> b -> c -> a"
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_find_cycles_gives_a_shortest_cycle_of_a_tangle() -> None:
    graph = {"a": {"b", "x"}, "b": {"c"}, "c": {"d"}, "d": {"a"}, "x": {"a"}}
    assert find_cycles(graph) == [["a", "x", "a"]]


def test_every_kind_of_import_is_seen(tmp_path: Path) -> None:
    """A synthetic package whose only cycles go through the kinds of import that are easy to
    miss: relative, ``from package import module``, under TYPE_CHECKING, inside a function."""
    files = {
        "pkg/__init__.py": "",
        "pkg/base.py": "from typing import TYPE_CHECKING\n"
                       "if TYPE_CHECKING:\n    from pkg.top import Top\n",
        "pkg/top.py": "from . import base\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/one.py": "def later():\n    from ..sub import two\n    return two\n",
        "pkg/sub/two.py": "import pkg.sub.one as one\nimport json\nfrom pkg.sub import x\n",
        "pkg/plain.py": "from pkg.base import VALUE\nfrom pkg import top, nothing\n",
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.plain"] == {"pkg.base", "pkg.top", "pkg"}
    assert graph["pkg.sub.two"] == {"pkg.sub.one", "pkg.sub"}
    assert find_cycles(graph) == [["pkg.base", "pkg.top", "pkg.base"],
                                  ["pkg.sub.one", "pkg.sub.two", "pkg.sub.one"]]
