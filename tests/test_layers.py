"""The server's layers hold: the HTTP edge imports the domain, the domain imports the base, never back.

edge:   server.web (routes, views, error pages), server.app and server.cli (they assemble it all)
domain: server.guidance, server.people, server.acknowledgments, server.push, server.mail, server.bootstrap, server.config_check
base:   everything else under server/ (models, settings, db, clock, errors, params, lru, migrations)

Every import statement of every module under server/ is read (those inside functions too). A
domain or base module may not import the edge or starlette; a base module may not import the
domain; and the packages' imports form no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from server.settings import ROOT

SERVER = ROOT / "server"
EDGE = {"server.web", "server.app", "server.cli"}
DOMAIN = {"server.guidance", "server.people", "server.acknowledgments", "server.push", "server.mail", "server.bootstrap", "server.config_check"}
HTTP_LIBRARIES = {"starlette"}
LAYER = {"base": 0, "domain": 1, "edge": 2}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement of a file, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                # `from server import clock` imports the module server.clock.
                sub = f"{base}.{alias.name}"
                found.append((sub if is_package(base) and is_module(sub) else base, node.lineno))
    return found


def is_module(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def component(name: str) -> str:
    """The unit the layers are drawn between: server.<package or module>."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def layer(comp: str) -> str:
    return "edge" if comp in EDGE else "domain" if comp in DOMAIN else "base"


def server_imports() -> dict[str, list[tuple[str, str, int]]]:
    """Per module of server/: (imported module, its file, line)."""
    out = {}
    for path in sorted(SERVER.rglob("*.py")):
        out[module_name(path)] = [(target, str(path.relative_to(ROOT)), line) for target, line in imports_of(path)]
    return out


def test_the_walk_sees_the_imports():
    found = server_imports()
    assert ("server.web.errors", "server/app.py") in {(t, f) for t, f, _ in found["server.app"]}
    assert "server.clock" in {t for t, _, _ in found["server.acknowledgments.ledger"]}
    assert {"server.guidance", "server.people", "server.acknowledgments", "server.push"} <= {
        component(m) for m in found
    }


def test_the_domain_and_the_base_know_nothing_of_http_or_the_edge():
    wrong = []
    for module, targets in server_imports().items():
        here = layer(component(module))
        for target, path, line in targets:
            if target.split(".")[0] in HTTP_LIBRARIES and here != "edge":
                wrong.append(f"{path}:{line}: the {here} imports {target}")
            elif target.startswith("server") and LAYER[layer(component(target))] > LAYER[here]:
                wrong.append(f"{path}:{line}: the {here} imports {target} ({layer(component(target))})")
    assert wrong == [], "\n".join(wrong)


def test_no_import_cycle_between_the_packages():
    graph: dict[str, set[str]] = {}
    for module, targets in server_imports().items():
        source = component(module)
        graph.setdefault(source, set())
        for target, _, _ in targets:
            if target.startswith("server.") and component(target) != source:
                graph[source].add(component(target))
    cycles = []
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                path = trail + [node]
                cycles.append(" → ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == [], "import cycles between packages:\n" + "\n".join(cycles)
