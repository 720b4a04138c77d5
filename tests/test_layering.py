"""The floors of the house: no import runs from a lower package up to a higher one.

    odtool.cli        the command line: parses options, calls odtool.api, prints
    odtool            the public Python API (odtool.api)
    android_harness   devices, the native and Python runners, the bench
    export            exporters and inference graphs
    toolchain         data, models, compression, training, artifacts

benchmarks/ and tests/ stand beside the house: they may import any floor, no floor imports
them. Every import in every .py file counts, also those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["toolchain", "export", "android_harness", "odtool", "odtool.cli"]  # lowest first
BESIDE = ("benchmarks", "tests")


def floor_of(module: str) -> int | None:
    """The floor of a dotted module name (the deepest prefix in FLOORS), None outside the house."""
    best = None
    for i, name in enumerate(FLOORS):
        if module == name or module.startswith(name + "."):
            best = i if best is None or len(name) > len(FLOORS[best]) else best
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from odtool import cli` imports odtool.cli
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"))):
            found.append((node.lineno, node.args[0].value))
    return found


def house_files() -> list[Path]:
    roots = sorted({name.split(".")[0] for name in FLOORS})
    return sorted(p for r in roots for p in (ROOT / r).rglob("*.py"))


def _is_package(module: str) -> bool:
    """``odtool.cli`` names a floor only as a module path: ``from odtool import api`` is odtool's."""
    path = ROOT.joinpath(*module.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def test_the_house_has_its_floors():
    for name in FLOORS:
        assert (ROOT.joinpath(*name.split(".")) / "__init__.py").is_file(), name
    assert len(house_files()) > 50


def test_no_import_runs_upward():
    upward = []
    for path in house_files():
        own = floor_of(module_name(path))
        for line, target in imports(path):
            top = target.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line}"
            if top in BESIDE:
                upward.append(f"{where} imports {target} (beside the house)")
                continue
            floor = floor_of(target)
            if floor is not None and floor > own and _is_package(target):
                upward.append(f"{where} imports {target}: {FLOORS[own]} is below {FLOORS[floor]}")
    assert not upward, "imports from a lower floor up to a higher one:\n" + "\n".join(upward)


def test_nothing_in_the_house_imports_the_entry_point():
    """``odtool.cli.main`` imports every command module; none of them, nor the demo, imports it back."""
    found = [f"{p.relative_to(ROOT)}:{line}" for p in house_files() if module_name(p) != "odtool.cli.main"
             for line, target in imports(p) if target == "odtool.cli.main"]
    assert not found, found


@pytest.mark.parametrize("module, floor", [("toolchain.cli", 0), ("export.pipeline", 1), ("odtool.api", 3),
                                           ("odtool.cli.demo", 4), ("odtoolx", None), ("android_harness", 2)])
def test_floor_of(module, floor):
    assert floor_of(module) == floor


def import_graph() -> dict[str, set[str]]:
    """Module -> the house modules it imports (anywhere in the file; a package import counts
    as its ``__init__``, ``from a import b`` as ``a.b`` when that is a module)."""
    mods = {module_name(p): p for p in house_files()}

    def resolve(target: str) -> str | None:
        parts = target.split(".")
        return next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in mods), None)

    return {m: {r for _, t in imports(p) if (r := resolve(t)) not in (None, m)} for m, p in mods.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_circles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]


#: rooms of the ground floor that must not reach into others (room -> rooms it must not import)
ROOMS_APART = {
    "toolchain.artifact": ("toolchain.training", "toolchain.stages"),  # artifacts load without training
    "export": ("toolchain.training", "toolchain.stages"),  # nor do exports
    "toolchain.compression": ("toolchain.artifact", "toolchain.training", "toolchain.models"),
    "toolchain.models": ("toolchain.artifact", "toolchain.training"),
}


@pytest.mark.parametrize("room", sorted(ROOMS_APART))
def test_rooms_keep_apart(room):
    found = []
    for path in house_files():
        here = module_name(path)
        if here != room and not here.startswith(room + "."):
            continue
        for line, target in imports(path):
            if any(target == bad or target.startswith(bad + ".") for bad in ROOMS_APART[room]):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not found, f"{room} reaches into a room it must not:\n" + "\n".join(found)
