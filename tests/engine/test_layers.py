"""The layers of labrunner point one way (issue 16; the Architecture section of README.md).

Every module of the package is parsed with ast; every import counts, also one inside a function
(it runs when the function does), except those under `if TYPE_CHECKING:` (never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import labrunner

PACKAGE = Path(labrunner.__file__).parent
# Argument parsing and exit codes: nobody but the program's entry points may import it.
CLI = "labrunner.cli"
CLI_IMPORTERS = {"labrunner.cli", "labrunner.__main__"}
# Start the local AWS: target opening for a command, and the CLI's `labrunner local start|serve|…`.
LOCAL_STARTERS = {"labrunner.target", "labrunner.cli"}
# Commands take a typed options object, never argparse.Namespace.
COMMAND_MODULES = (
    "labrunner.classroom",
    "labrunner.class_command",
    "labrunner.class_workers",
    "labrunner.watch",
    "labrunner.watch_command",
    "labrunner.run_command",
    "labrunner.reset",
    "labrunner.doctor",
    "labrunner.dashboard",
)


# The layers, top to bottom (README "Architecture"); a module imports only from its own layer or below.
CLI_LAYER = {"labrunner.cli", "labrunner.__main__"}
COMMANDS_LAYER = {
    "labrunner.options",
    "labrunner.run_command",
    "labrunner.class_command",
    "labrunner.watch_command",
    "labrunner.reset",
    "labrunner.reset.command",
    "labrunner.doctor.command",
    "labrunner.dashboard",  # and its modules
}
TARGET_LAYER = {"labrunner.target"}
AWS_LAYER = {"labrunner.aws"}
MODEL_LAYER = {"labrunner", "labrunner.model", "labrunner.errors", "labrunner.paths", "labrunner.output_path"}
LOCAL = "labrunner.local"  # a peer: uses the aws helpers and the model, is started by target opening
# Who may import the local AWS from outside it: the CLI (`labrunner local`), target opening, and the
# local target's port (options.local_port; the dashboard's local AWS keeps its default port).
LOCAL_IMPORTERS = {"labrunner.cli", "labrunner.target", "labrunner.options", "labrunner.dashboard.command"}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer(module: str) -> int:
    """0 the CLI, 1 commands, 2 runner / labs / reporting / reset / class, 3 target opening, 4 aws helpers, 5 model."""
    if module in CLI_LAYER:
        return 0
    if module in COMMANDS_LAYER or _in(module, "labrunner.dashboard"):
        return 1
    if module in TARGET_LAYER:
        return 3
    if any(_in(module, package) for package in AWS_LAYER):
        return 4
    if module in MODEL_LAYER:
        return 5
    return 2


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for orelse in child.orelse:  # the else branch does run
                yield from _import_nodes_of(orelse)
            continue
        yield from _import_nodes_of(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _import_nodes(node)


def _resolve(importer: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    known = modules()
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:
        package = importer if modules()[importer].name == "__init__.py" else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in known else base


@cache
def graph() -> dict[str, frozenset[str]]:
    """Each labrunner module → the labrunner modules it imports (at module level or in a function)."""
    known = modules()
    edges: dict[str, frozenset[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = {target for node in _import_nodes(tree) for target in _resolve(name, node)}
        edges[name] = frozenset(t for t in targets if t in known and t != name)
    return edges


def _cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    edges = graph()
    assert "labrunner.aws.errors" in edges["labrunner.runner"] or any(
        _in(t, "labrunner.aws") for t in edges["labrunner.runner"]
    )
    assert "labrunner.cli" in edges["labrunner.__main__"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(graph()) == []


def test_imports_point_down_the_layers() -> None:
    offending = {
        f"{module} → {target}"
        for module, targets in graph().items()
        if not _in(module, LOCAL)
        for target in targets
        if not _in(target, LOCAL) and layer(target) < layer(module)
    }
    assert offending == set()


def test_the_local_aws_is_a_peer() -> None:
    """It may use the aws helpers and the model; only the CLI, target opening and options reach into it."""
    inward = {
        f"{module} → {target}"
        for module, targets in graph().items()
        if not _in(module, LOCAL) and module not in LOCAL_IMPORTERS
        for target in targets
        if _in(target, LOCAL)
    }
    outward = {
        f"{module} → {target}"
        for module, targets in graph().items()
        if _in(module, LOCAL)
        for target in targets
        if not _in(target, LOCAL) and layer(target) < 4
    }
    assert inward == set()
    assert outward == set()


def test_aws_helpers_do_not_import_the_local_aws() -> None:
    offending = {
        f"{module} → {target}"
        for module, targets in graph().items()
        if _in(module, "labrunner.aws")
        for target in targets
        if _in(target, "labrunner.local")
    }
    assert offending == set()


def test_only_target_opening_starts_the_local_aws() -> None:
    """The local AWS is a peer: target opening starts it for a command, and `labrunner local` by hand."""
    starters = {"labrunner.local.lifecycle", "labrunner.local.server"}
    offending = {
        module
        for module, targets in graph().items()
        if not _in(module, "labrunner.local") and targets & starters and module not in LOCAL_STARTERS
    }
    assert offending == set()


def test_only_the_entry_points_import_the_cli() -> None:
    offending = {module for module, targets in graph().items() if CLI in targets and module not in CLI_IMPORTERS}
    assert offending == set()


def test_no_argparse_namespace_in_the_commands() -> None:
    offending = {
        name
        for name, path in modules().items()
        if any(_in(name, package) for package in COMMAND_MODULES)
        and ("argparse" in (text := path.read_text()) or "Namespace" in text)
    }
    assert offending == set()
