"""The engine is closed: no import loop inside ``trajcheck/``, and no import of the
catalogue (``theory``, ``models``, ``properties``) from it.

Every import statement counts, those inside functions included: a lazy import that dodges
a loop at import time is still a loop in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "trajcheck"
CATALOGUE = ("theory", "models", "properties", "trajcheck_catalogue")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, by any import statement in it."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # "from trajcheck import core" imports the module trajcheck.core
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ENGINE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # a module inside a package does not import it: its __init__ runs first anyway
        targets = {
            t for t in _imports(path) if t in modules and t != name and not name.startswith(t + ".")
        }
        # importing a package's submodule runs the package's __init__ first, unless the
        # importer is inside that package (its __init__ is then already running or done)
        parents = {".".join(t.split(".")[:i]) for t in targets for i in range(2, len(t.split(".")))}
        graph[name] = targets | {p for p in parents if not name.startswith(p + ".")} - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None (depth-first search)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = "open", stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        state[node], _ = "done", stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_engine_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_a_lazy_loop() -> None:
    graph = {"trajcheck.a": {"trajcheck.b"}, "trajcheck.b": {"trajcheck.a"}, "trajcheck.c": set()}
    assert _cycle(graph) == ["trajcheck.a", "trajcheck.b", "trajcheck.a"]
    lazy = ast.parse("def f():\n    from trajcheck.runner import run_claim\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(lazy))


def test_the_engine_never_imports_the_catalogue() -> None:
    for path in ENGINE.rglob("*.py"):
        catalogue = {n for n in _imports(path) if n.split(".")[0] in CATALOGUE}
        assert not catalogue, f"{path.relative_to(ENGINE.parent)} imports {sorted(catalogue)}"
