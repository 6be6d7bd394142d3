"""The layers of flowdeck: every module imports on its own, packages form no cycle, storage imports nothing above it.

Architecture: facade → services → storage (DESIGN §2). The checks read the source with ``ast`` (imports
inside functions count; imports under ``if TYPE_CHECKING:`` do not, as they never run), so a new
import that closes a cycle fails here before it fails for a user who happens to import modules in
another order.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import flowdeck

SRC = Path(flowdeck.__file__).resolve().parent
ROOT = SRC.parent
# What storage/ may import besides itself: the base modules that import nothing of flowdeck's layers.
STORAGE_MAY_IMPORT = {"flowdeck.errors", "flowdeck.config", "flowdeck.formats"}
# Modules not imported on their own: the CLI entry point runs the CLI on import; the Alembic
# environment and revisions only run inside Alembic.
NOT_IMPORTED = {"flowdeck.__main__"}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "migrations" in parts:
            continue
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _statements(body: list[ast.stmt], *, nested: bool) -> Iterator[ast.stmt]:
    """The statements of ``body`` that run: all of them with ``nested``, else those run at import time."""
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _statements(stmt.orelse, nested=nested)
            continue
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not nested:
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            children = getattr(stmt, field, None)
            if isinstance(children, list):
                inner = [c for c in children if isinstance(c, ast.stmt)]
                inner += [s for h in children if isinstance(h, ast.ExceptHandler) for s in h.body]
                yield from _statements(inner, nested=nested)


def _imports(name: str, *, nested: bool) -> set[str]:
    """The flowdeck modules ``name`` imports (``from pkg import x`` names pkg itself unless x is a module)."""
    path, is_package = MODULES[name]
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for stmt in _statements(ast.parse(path.read_text()).body, nested=nested):
        if isinstance(stmt, ast.Import):
            targets = [alias.name for alias in stmt.names]
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parts = package.split(".")[: len(package.split(".")) - stmt.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in stmt.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target.startswith("flowdeck") and target != name:
                found.add(target)
    return found


def _group(module: str) -> str:
    """The package a module belongs to: ``flowdeck.<package>``, or the top-level module itself."""
    parts = module.split(".")
    if len(parts) >= 2 and (SRC / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _edges_between(graph: dict[str, set[str]], members: list[str], detail: dict[tuple[str, str], set[str]]) -> str:
    lines = []
    for a in members:
        for b in sorted(graph[a] & set(members)):
            lines.append(f"  {a} -> {b}: {', '.join(sorted(detail.get((a, b), {f'{a} -> {b}'})))}")
    return "\n".join(lines)


def package_graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], set[str]]]:
    """Imports between packages (function-level imports included), with the module imports behind each."""
    graph: dict[str, set[str]] = defaultdict(set)
    detail: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name in MODULES:
        for target in _imports(name, nested=True):
            a, b = _group(name), _group(target)
            if a != b:
                graph[a].add(b)
                detail[a, b].add(f"{name} imports {target}")
    return graph, detail


def test_the_graph_check_finds_a_cycle_and_an_upward_import() -> None:
    # The checks below pass only if nothing is found; make sure they can find something.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _group("flowdeck.storage.records.runs") == "flowdeck.storage"
    assert _group("flowdeck.errors") == "flowdeck.errors"
    # Real imports the checks must see, at module level and inside a function body.
    assert "flowdeck.storage.deployment" in _imports("flowdeck.store.runs", nested=False)
    assert "flowdeck.store.outputs" in _imports("flowdeck.store.pages", nested=True)
    assert "flowdeck.store.outputs" not in _imports("flowdeck.store.pages", nested=False)
    # Type-only imports never run, so they are not edges.
    assert "flowdeck.flow.runner" not in _imports("flowdeck.errors", nested=True)


def test_no_cycle_between_packages() -> None:
    graph, detail = package_graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles between packages:\n" + "\n".join(
        _edges_between(graph, members, detail) for members in cycles
    )


def test_no_module_level_import_cycle() -> None:
    graph = {name: _imports(name, nested=False) for name in MODULES}
    # Importing a.b.c first runs a/__init__ and a/b/__init__: a module depends on its packages too.
    for name in list(graph):
        for target in list(graph[name]):
            parts = target.split(".")
            graph[name].update(
                ".".join(parts[:i]) for i in range(2, len(parts)) if not name.startswith(".".join(parts[:i]) + ".")
            )
    cycles = _cycles(graph)
    assert not cycles, "modules importing each other at import time:\n" + "\n".join(
        _edges_between(graph, members, {}) for members in cycles
    )


def test_storage_imports_nothing_above_it() -> None:
    upward = sorted(
        f"{name} imports {target}"
        for name in MODULES
        if _group(name) == "flowdeck.storage"
        for target in _imports(name, nested=True)
        if _group(target) != "flowdeck.storage" and target not in STORAGE_MAY_IMPORT
    )
    assert not upward, (
        "storage/ must import only itself and " + ", ".join(sorted(STORAGE_MAY_IMPORT)) + ":\n" + ("\n".join(upward))
    )


_IMPORT_EACH = textwrap.dedent(
    """
    import importlib, os, sys, traceback
    # Third-party libraries are loaded once up front; flowdeck itself is imported afresh in each child.
    for lib in sys.argv[1].split(","):
        try:
            importlib.import_module(lib)
        except Exception:
            pass
    assert not [m for m in sys.modules if m == "flowdeck" or m.startswith("flowdeck.")]
    failed = 0
    for name in sys.argv[2].split(","):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            code = 0
            try:
                importlib.import_module(name)
            except BaseException:
                os.write(write, traceback.format_exc().encode())
                code = 1
            os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            output = fh.read().decode()
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed += 1
            print(f"--- importing {name} first failed:\\n{output}")
    sys.exit(1 if failed else 0)
    """
)


def _third_party() -> list[str]:
    names: set[str] = set()
    for path, _ in MODULES.values():
        for stmt in ast.walk(ast.parse(path.read_text())):
            if isinstance(stmt, ast.Import):
                names.update(a.name.split(".")[0] for a in stmt.names)
            elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
                names.add(stmt.module.split(".")[0])
    return sorted(n for n in names if n != "flowdeck" and n not in sys.stdlib_module_names)


def _sdk_backend_modules() -> list[str]:
    """The modules of ``predict_backend``, the SDK's import path onto flowdeck."""
    import predict_backend

    return [
        info.name
        for info in pkgutil.walk_packages(predict_backend.__path__, "predict_backend.")
        if not info.name.endswith("__main__")
    ]


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """No import cycle breaks whichever module of flowdeck (or of ``predict_backend``) loads first."""
    modules = [*sorted(set(MODULES) - NOT_IMPORTED), "predict_backend", *sorted(_sdk_backend_modules())]
    assert "flowdeck.storage.deployment" in modules and "flowdeck.server.routes_runs" in modules
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, ",".join(_third_party()), ",".join(modules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
