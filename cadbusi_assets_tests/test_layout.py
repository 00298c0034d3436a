"""The runtime package is product code only (issue 12): the demo generator (`cadbusi_demo`),
the benchmarks (`benchmarks/`) and the maintenance tools (`tools/`) live beside it, and the
runtime never imports them, except the two demo commands, lazily."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = ("cadbusi_demo", "benchmarks", "tools")
#: the only places allowed to load the demo generator: the commands that build the demo
ALLOWED = {("cli.py", "cmd_demo"), ("cli.py", "cmd_demo_data")}


def _imports(tree: ast.AST):
    """(enclosing function or None, imported module) for every import in ``tree``."""

    def visit(node: ast.AST, function: str | None):
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield function, alias.name
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                yield function, child.module
            yield from visit(child, name)

    yield from visit(tree, None)


def test_the_runtime_package_does_not_import_demo_bench_or_tools():
    found = []
    for path in sorted((ROOT / "cadbusi_assets").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for function, module in _imports(tree):
            if module.split(".")[0] in OUTSIDE:
                where = (path.relative_to(ROOT / "cadbusi_assets").as_posix(), function)
                if where not in ALLOWED:
                    found.append(f"{where[0]}:{function}: {module}")
    assert found == []


def test_no_benchmark_or_generator_modules_are_left_inside_the_runtime_package():
    names = {p.name for p in (ROOT / "cadbusi_assets").rglob("*.py")}
    assert not names & {"bench.py", "textbench.py", "tablegen.py"}
    assert not (ROOT / "cadbusi_assets" / "demo").exists()


def test_loading_the_code_location_loads_no_demo_or_benchmark_module(tmp_path):
    code = (
        "import sys, cadbusi_assets.definitions as d; d.defs(); "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {OUTSIDE!r}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADBUSI_", "DAGSTER_"))}
    env["CADBUSI_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout[-2000:]
