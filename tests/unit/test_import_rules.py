"""Import arrows run one way: the product never imports the demo, and no module of
`observatorio/`, `ingestion/` or `expectations/` imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("observatorio", "ingestion", "expectations")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every absolute import, at module level or inside functions (TYPE_CHECKING included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    return {
        name: {dep for dep in map(owner, _imports(path)) if dep and dep != name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_product_never_imports_the_simulator():
    offenders = {
        name: sorted(i for i in _imports(path) if i == "simulator" or i.startswith("simulator."))
        for name, path in _modules().items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_check_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# The layers of the house, bottom up: what each package may import (besides itself). The
# README's map says the same in words; a new arrow is a design decision, made here.
_ALLOWED = {
    "observatorio.core": set(),
    # The definitions take the active country profile's publication rules.
    "observatorio.indicators": {"observatorio.core"},
    "ingestion": {"observatorio.core"},
    "observatorio.transform": {"observatorio.core", "ingestion", "observatorio.indicators"},
    "observatorio.lineage": {
        "observatorio.core",
        "observatorio.transform",
        "observatorio.indicators",
    },
    "expectations": {"observatorio.core", "ingestion", "observatorio.lineage"},
    "observatorio.linkage": {"observatorio.core", "ingestion"},
    "observatorio.delivery": {
        "observatorio.core",
        # The definitions give the extracts' dictionary, labels and publication rules.
        "observatorio.indicators",
        "observatorio.transform",
        "observatorio.lineage",
    },
    # The BI client reads the `bi` schema through a BI login: the warehouse, nothing else.
    "observatorio.bi_client": {"observatorio.core"},
    "observatorio.orchestration": {
        "observatorio.core",
        "observatorio.indicators",
        "ingestion",
        "expectations",
        "observatorio.transform",
        "observatorio.lineage",
        "observatorio.linkage",
        "observatorio.delivery",
    },
}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "observatorio" and len(parts) > 1 else parts[0]


def test_imports_follow_the_layers():
    crossing: dict[str, set[str]] = {}
    for name, deps in _graph().items():
        package = _package(name)
        if package not in _ALLOWED:
            continue  # the CLI may use every layer; observatorio/__init__ imports nothing
        wrong = {_package(dep) for dep in deps} - _ALLOWED[package] - {package}
        if wrong:
            crossing[name] = wrong
    assert crossing == {}
