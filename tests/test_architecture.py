"""Dependencies point one way: agents → support, knowledge, resolver; never back. Walks every
import statement (lazy ones inside functions too) of the apps' code with ast."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Apps that must never import the agent, lazily or not.
BELOW_AGENTS = ("support", "knowledge", "resolver")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def app_code(app: str) -> list[Path]:
    return [
        path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def test_support_knowledge_and_resolver_never_import_agents() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for app in BELOW_AGENTS
        for path in app_code(app)
        for module in sorted(imported_modules(path))
        if module == "agents" or module.startswith("agents.")
    ]
    assert offenders == []


def test_the_walker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from agents.actors import process_message\n    import agents\n"
    )
    assert imported_modules(module) == {"agents.actors", "agents"}
