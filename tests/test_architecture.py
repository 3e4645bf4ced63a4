"""The import rules of the repository, read from the source (the AST of every module):
the engine at the bottom, layouts never reaching into callbacks, and no import circle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("layouts", "callbacks", "engine", "data_sources", "damamaya", "api", "security", "push")
ENGINE_MUST_NOT_IMPORT = ("dash", "dash_ag_grid", "dash_leaflet", "dash_extensions", "dash_mantine_components", "flask",
                          "flask_caching", "werkzeug", "data_sources", "damamaya", "layouts", "callbacks", "app")


def project_modules() -> dict[str, Path]:
    modules = {"app": ROOT / "app.py"} if (ROOT / "app.py").exists() else {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `name` imports, anywhere in it (functions too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_one(other)
                continue
            visit_one(child)

    def visit_one(node):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
        visit(node)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    known = project_modules()
    return {name: {i for i in imports_of(name, path, known) if i in known} for name, path in known.items()}


def all_imports() -> dict[str, set[str]]:
    known = project_modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_walk_sees_the_project():
    modules = project_modules()
    assert {"app", "engine.live", "layouts.wall", "callbacks.wall", "engine.wall.model"} <= set(modules)
    assert "layouts.parts.wall" in graph()["layouts.wall"]


def test_layouts_never_import_callbacks():
    wrong = {m: sorted(i for i in imports if _top(i) == "callbacks")
             for m, imports in all_imports().items() if _top(m) == "layouts"}
    assert not {m: i for m, i in wrong.items() if i}


def test_the_engine_imports_nothing_above_it():
    wrong = {m: sorted(i for i in imports if _top(i) in ENGINE_MUST_NOT_IMPORT)
             for m, imports in all_imports().items() if _top(m) == "engine"}
    assert not {m: i for m, i in wrong.items() if i}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(edges, WHITE)
    stack: list[str] = []

    def visit(node) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt) == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(edges):
        if colour[node] == WHITE:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_circle():
    cycle = find_cycle(graph())
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("edges, circular", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a"}}, True),
])
def test_the_circle_finder_finds_circles(edges, circular):
    assert (find_cycle(edges) is not None) == circular


def test_the_walk_sees_imports_inside_functions_and_not_type_checking(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import hidden\n"
                      "def f():\n    from engine import live\n    import flask\n")
    found = imports_of("layouts.m", source, {"engine.live": source})
    assert {"engine.live", "flask"} <= found and "hidden" not in found
