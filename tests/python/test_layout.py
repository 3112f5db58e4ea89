"""The Python layout: imports run one way, from the entry points down, with no cycle.

| package      | what                                              | may import            |
|--------------|---------------------------------------------------|-----------------------|
| `tooling/`   | demo generator, emulator, accuracy scorer, bench  | batch, ingestion      |
| `batch/`     | the CLI, the nightly runner and the steps it runs | ingestion             |
| `ingestion/` | the dlt sources and the settings they all read    | itself only           |

Every import counts, also one inside a function or under TYPE_CHECKING: a cycle hidden
in a function is still a cycle a reader has to follow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ingestion.settings import REPO_ROOT

PACKAGES = ("ingestion", "batch", "tooling")
MAY_IMPORT = {"ingestion": {"ingestion"}, "batch": {"batch", "ingestion"}, "tooling": {"tooling", "batch", "ingestion"}}
# the command lines parse and call: they do no I/O of their own
CLI_MODULES = ("batch.cli", "tooling.cli")
IO_LIBRARIES = {"duckdb", "dlt", "requests", "subprocess", "pyarrow", "socket", "http"}


def module_name(path: Path, root: Path = REPO_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = REPO_ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `name` imports (first-party ones resolved to the module, others by top name)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {m if m in known or m.split(".")[0] in PACKAGES else m.split(".")[0] for m in found}


def import_graph(root: Path = REPO_ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: {m for m in imports_of(name, path, known) if m in known and m != name}
            for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports against the direction of the table above, and production code importing tooling."""
    return [f"{source} imports {target}" for source, targets in sorted(graph.items()) for target in sorted(targets)
            if target.split(".")[0] not in MAY_IMPORT[source.split(".")[0]]]


def test_the_project_imports_without_a_cycle_and_one_way():
    graph = import_graph()
    assert {"ingestion.settings", "batch.cli", "batch.runner", "tooling.cli"} <= set(graph)
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    assert layer_violations(graph) == []


def test_the_checks_catch_a_cycle_and_an_import_against_the_layers(tmp_path):
    """The checks fail where they should: a cycle hidden in a function, production code
    importing the demo, a source importing the runner."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "batch" / "cli.py").write_text("from batch.runner import run\n")
    (tmp_path / "batch" / "runner.py").write_text("def run():\n    from batch import cli\n")
    (tmp_path / "ingestion" / "load.py").write_text("from ..batch import runner\n")
    (tmp_path / "batch" / "exports.py").write_text("import tooling.demo\n")
    (tmp_path / "tooling" / "demo.py").write_text("from batch.cli import main\n")
    graph = import_graph(tmp_path)
    assert find_cycle(graph) in (["batch.cli", "batch.runner", "batch.cli"], ["batch.runner", "batch.cli",
                                                                               "batch.runner"])
    assert layer_violations(graph) == ["batch.exports imports tooling.demo", "ingestion.load imports batch.runner"]


@pytest.mark.parametrize("cli", CLI_MODULES)
def test_the_command_lines_only_parse_and_call(cli):
    known = modules()
    third_party = imports_of(cli, known[cli], known) - set(known)
    assert not third_party & IO_LIBRARIES, f"{cli} does I/O itself: {sorted(third_party & IO_LIBRARIES)}"
    tree = ast.parse(known[cli].read_text(encoding="utf-8"))
    assert not [n.name for n in tree.body if isinstance(n, ast.ClassDef)], f"{cli} defines classes"
    # a command is a few statements: read the arguments, call, print, return the status
    long = {f.name: n for f in tree.body if isinstance(f, ast.FunctionDef) and f.name.startswith("cmd_")
            if (n := sum(isinstance(s, ast.stmt) for s in ast.walk(f)) - 1) > 12}
    assert not long, f"{cli}: commands doing work themselves (statements): {long}"


def test_the_package_is_installed_with_its_commands():
    """pyproject.toml declares the packages and console scripts; the venv has them, editable."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"] == {"contacts": "batch.cli:main", "contacts-demo": "tooling.cli:main"}
    bin_dir = Path(sys.executable).parent
    for script in project["project"]["scripts"]:
        assert (bin_dir / script).exists(), f"{script} is not installed: `make venv`"
    # the modules come from this checkout (editable), from any working directory, without a .pth of the repo
    where = subprocess.run([sys.executable, "-c", "import batch.runner, ingestion.landing, tooling.bench; "
                            "print(batch.runner.__file__, ingestion.landing.__file__, tooling.bench.__file__)"],
                           cwd="/", capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert all(Path(p).is_relative_to(REPO_ROOT) for p in where), where
    purelib = Path(subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    assert not (purelib / "contact_enrichment.pth").exists()
