"""The runtime package is product code only (issue 12): the demo generator (`cadbusi_demo`),
the benchmarks (`benchmarks/`) and the maintenance tools (`tools/`) live beside it, and the
runtime never imports them, except the two demo commands, lazily.

The test suite keeps its shared helpers in support modules (``support.py``, ``builders.py``,
``run_support.py``, ``adversarial_pixels.py``, ...): no test module imports another."""

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


TESTS = ROOT / "cadbusi_assets_tests"


def _module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root.parent).with_suffix("").parts)


def _is_test_module(module: str) -> bool:
    return module.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(root: Path, skip: tuple[str, ...] = ()) -> list[tuple[str, int, str]]:
    """(file, line, module) for every import, at any depth, by which a module under ``root``
    (a test package; its folders ``skip`` aside) loads a test module of the package other than
    itself: ``import pkg.test_x``, ``from pkg.test_x import y``, ``from pkg import test_x`` and
    the relative forms. A module importing itself (a subprocess's entry point) is no offender."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip:
            continue
        own = _module_name(path, root)
        package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                is_module = _is_test_module(base)
                targets = [base] if is_module else [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                if target.split(".")[0] == root.name and _is_test_module(target) and target != own:
                    found.append((rel.as_posix(), node.lineno, target))
    return sorted(found)


def test_no_test_module_imports_another_test_module():
    """Shared helpers live in support modules, not in test modules: a test module (or a support
    module) that imports another test module runs that module's import-time code and ties the
    two files' private names together."""
    offenders = [
        f"{path}:{line}: {module}" for path, line, module in imports_of_test_modules(TESTS)
    ]
    assert offenders == [], "move the shared helpers to a support module:\n" + "\n".join(offenders)


def test_the_test_import_check_finds_every_form(tmp_path):
    """The check above can fail: each import form of another test module is reported, a
    module's import of itself and of support modules is not."""
    pkg = tmp_path / "suite"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__.py", "sub/__init__.py", "helpers.py", "test_b.py", "sub/test_c.py"):
        (pkg / name).write_text("X = 1\n")
    (pkg / "test_a.py").write_text(
        "import suite.test_b\n"
        "from suite.sub.test_c import X\n"
        "from suite.sub import test_c\n"
        "from suite.helpers import X as Y\n"
        "from suite.test_a import X as Z\n"
        "def f():\n"
        "    from .test_b import X\n"
    )
    (pkg / "sub" / "test_d.py").write_text("from ..test_b import X\nfrom . import test_c\n")
    (pkg / "skipped").mkdir()
    (pkg / "skipped" / "test_e.py").write_text("from suite.test_b import X\n")
    assert [
        f"{path}:{line}: {module}"
        for path, line, module in imports_of_test_modules(pkg, ("skipped",))
    ] == [
        "sub/test_d.py:1: suite.test_b",
        "sub/test_d.py:2: suite.sub.test_c",
        "test_a.py:1: suite.test_b",
        "test_a.py:2: suite.sub.test_c",
        "test_a.py:3: suite.sub.test_c",
        "test_a.py:7: suite.test_b",
    ]
