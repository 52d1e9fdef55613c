"""The tree keeps its shape: no import cycles, short functions, a pinned public surface."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import chime_bulk

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "chime_bulk"

#: Every public name, pinned: adding or removing one is a deliberate change of this list.
PUBLIC_NAMES = [
    "Adaptive",
    "AttendeeResult",
    "AttendeeState",
    "BatchExcept",
    "BrownoutPolicy",
    "BulkUpdater",
    "Capabilities",
    "ChimeBulkError",
    "CircuitPolicy",
    "ConcurrencyPolicy",
    "ConfigurationError",
    "ErrorKind",
    "Failure",
    "FixedRate",
    "InvalidLine",
    "Journal",
    "JournalError",
    "ListingFailed",
    "Media",
    "MeetingFeatures",
    "NullProgress",
    "Pacer",
    "Pacing",
    "Plan",
    "PlanError",
    "PlanProblem",
    "PreflightFailed",
    "ProgressListener",
    "RedisQuota",
    "Report",
    "RetryPolicy",
    "RunAborted",
    "Status",
    "Summary",
    "Unpaced",
    "Update",
    "__version__",
    "capability_problems",
    "load_journal",
    "read_plan",
    "write_plan",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(tree: ast.Module) -> Iterator[ast.ImportFrom | ast.Import]:
    """Every import that runs, at module level or inside functions (a lazy import still
    closes a cycle when it runs); imports under `if TYPE_CHECKING:` never run."""

    def walk(node: ast.AST) -> Iterator[ast.ImportFrom | ast.Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                yield from (i for n in child.orelse for i in walk_one(n))
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[ast.ImportFrom | ast.Import]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from walk(node)

    yield from walk(tree)


def import_graph() -> dict[str, set[str]]:
    """chime_bulk module → the chime_bulk modules it imports at run time."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                # `from package import submodule` depends on the submodule; any other name
                # is an attribute of the module itself.
                submodules = [f"{module}.{alias.name}" for alias in node.names]
                targets = [t for t in submodules if t in modules]
                if len(targets) < len(submodules):
                    targets.append(module)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path that ends where it starts, or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(graph[node]):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        on_path.discard(path.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below can fail: a three-module cycle is found and named."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle() -> None:
    """No chime_bulk module imports, directly or through others, one that imports it back."""
    graph = import_graph()
    assert "chime_bulk._model.report" in graph["chime_bulk._engine.updater"]  # the graph is real
    assert find_cycle(graph) is None


def test_the_model_does_not_reach_up_the_layers() -> None:
    """The model imports no engine, AWS or CLI code: it is data, usable on its own."""
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("chime_bulk._model"):
            upward = {t for t in targets if t.startswith(("chime_bulk._engine", "chime_bulk._aws"))}
            upward |= {t for t in targets if t.startswith(("chime_bulk.cli", "chime_bulk._policy"))}
            assert upward == set(), module


def _functions() -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{path.relative_to(SRC)}:{node.lineno} {node.name}", node


def test_no_function_is_longer_than_60_lines() -> None:
    """Every function in src/ fits on a screen (its decorators, such as click's options, aside)."""
    long = {
        where: node.end_lineno - node.lineno + 1
        for where, node in _functions()
        if node.end_lineno is not None and node.end_lineno - node.lineno + 1 > 60
    }
    assert long == {}


def test_public_surface_is_pinned() -> None:
    """`chime_bulk.__all__` is exactly the pinned public names, each importable."""
    assert chime_bulk.__all__ == PUBLIC_NAMES
    for name in PUBLIC_NAMES:
        assert hasattr(chime_bulk, name), name


@pytest.mark.parametrize(
    "name", [n for n in PUBLIC_NAMES if n[0].isupper() and n != "Pacer" and n != "Pacing"]
)
def test_public_classes_are_defined_in_private_modules_and_documented(name: str) -> None:
    """Each public class has a docstring and lives in a `_` module or a public one named for it."""
    obj = getattr(chime_bulk, name)
    assert obj.__doc__, name
    assert obj.__module__.startswith("chime_bulk.")
