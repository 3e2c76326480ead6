"""Dependencies point one way (ARCHITECTURE.md): resolver ← knowledge ← support ← agents ← evals,
and the project's wiring (URLs, socket routes, the API's routers, /metrics) on top of them all.
Walks every import statement of the apps' code (lazy ones inside functions too) with ast."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("resolver", "knowledge", "support", "agents", "evals")
# The composition root: modules of the project package that mount every app's views, routers
# and consumers. No app imports them; they are the only part of `resolver` that imports apps.
WIRING = {"resolver.urls", "resolver.routing", "resolver.asgi", "resolver.api", "resolver.metrics"}
# Which apps each app may import. `resolver` is the platform and imports no app.
MAY_IMPORT: dict[str, set[str]] = {
    "resolver": set(),
    "knowledge": {"resolver"},
    "support": {"resolver", "knowledge"},
    "agents": {"resolver", "knowledge", "support"},
    "evals": {"resolver", "knowledge", "support", "agents"},
    "wiring": set(APPS),
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(path: Path, *, runtime_only: bool = False) -> set[str]:
    """Every module named by an import in the file; with runtime_only, not those under
    `if TYPE_CHECKING:` (annotations only: they cannot make an import circle at run time)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node):
                skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from support import review` imports the module support.review
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def app_code(app: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def component(module: str) -> str:
    """The app a module belongs to, or "wiring" for the project's composition root."""
    return "wiring" if module in WIRING else module.split(".")[0]


def import_graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    """Module → the project modules it imports (a name resolved to its longest known prefix)."""
    files = {module_name(path): path for app in APPS for path in app_code(app)}

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {known(name) for name in imported_modules(path, runtime_only=runtime_only)}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the directed graph as a path that returns to its start, or []."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str]:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return []
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            if cycle := visit(target):
                return cycle
        visiting.pop()
        done.add(node)
        return []

    for node in sorted(graph):
        if cycle := visit(node):
            return cycle
    return []


def app_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(importing app, imported app) → the module imports that make that edge."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            pair = (component(module), component(target))
            if pair[0] != pair[1]:
                edges.setdefault(pair, []).append(f"{module} → {target}")
    return edges


def offending(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    return sorted(
        line
        for (source, target), lines in edges.items()
        if target not in MAY_IMPORT[source]
        for line in lines
    )


def _agent_imports(apps: Iterable[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for app in apps
        for path in app_code(app)
        for module in sorted(imported_modules(path))
        if module == "agents" or module.startswith("agents.")
    ]


def test_support_knowledge_and_resolver_never_import_agents() -> None:
    # Type-checking imports included: "lazily or not".
    assert _agent_imports(("support", "knowledge", "resolver")) == []


def test_every_import_between_apps_points_down() -> None:
    assert offending(app_edges(import_graph())) == []


def test_no_import_circle_between_apps() -> None:
    edges = app_edges(import_graph())
    apps_graph: dict[str, set[str]] = {}
    for source, target in edges:
        apps_graph.setdefault(source, set()).add(target)
    assert find_cycle(apps_graph) == [], edges


def test_no_import_circle_between_modules() -> None:
    # Lazy imports count (they only hide a circle); type-checking ones cannot run.
    assert find_cycle(import_graph(runtime_only=True)) == []


def test_only_the_wiring_of_the_project_package_imports_apps() -> None:
    # `resolver` would otherwise depend on support while support depends on resolver.
    graph = import_graph()
    assert graph.keys() >= WIRING, "a wiring module was renamed: update WIRING and ARCHITECTURE.md"
    no_app_imported = {
        module: sorted(t for t in targets if component(t) not in ("resolver", "wiring"))
        for module, targets in graph.items()
        if component(module) == "resolver"
    }
    assert {module: found for module, found in no_app_imported.items() if found} == {}


def test_the_walker_sees_lazy_imports_and_type_checking_ones(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from support.models import Draft\n"
        "def f():\n    from agents.actors import process_message\n    import agents\n"
    )
    assert imported_modules(module) == {
        "typing",
        "typing.TYPE_CHECKING",
        "support.models",
        "support.models.Draft",
        "agents.actors",
        "agents.actors.process_message",
        "agents",
    }
    assert "support.models" not in imported_modules(module, runtime_only=True)


def test_the_checks_catch_a_circle_and_an_upward_import() -> None:
    graph = {"support.a": {"agents.b"}, "agents.b": {"support.a"}, "resolver.c": {"support.a"}}
    assert find_cycle(graph) == ["agents.b", "support.a", "agents.b"]
    assert offending(app_edges(graph)) == ["resolver.c → support.a", "support.a → agents.b"]
    assert find_cycle({"x": {"y"}, "y": set()}) == []
