"""The import layering of plait (shared/reviews/architecture.md §2.1) and its dependency rules, checked by code.

- The import-linter contracts in pyproject.toml, one test each, so `pytest` alone catches a broken rule (`make test`
  also runs `lint-imports`). A new contract there is picked up here without an edit.
- No import cycle between plait's top-level parts, by an AST walk that names the chain (file:line per step) and
  needs no import-linter. Every import counts, including one inside a function: a lazy import hides a cycle, it
  does not remove it.
- Every module imports without the optional extras installed, so `--doctest-modules` collects on a machine
  that has only torch and numpy.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plait"


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["importlinter"]["contracts"]


def _lint_imports(config: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    try:
        import importlinter  # noqa: F401
    except ImportError:
        pytest.skip("import-linter is not installed (requirements.txt pins it); `pip install import-linter`")
    # The command line in a child process, as `make test` runs it: the same report, and no import-linter state
    # (its rich console, its settings) left in this test process. --no-cache keeps .import_linter_cache away.
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         str(config), *args, "--no-cache", "--no-logo"],
        cwd=cwd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "120"})


@pytest.mark.parametrize("contract", _contracts(), ids=lambda c: c["id"])
def test_import_linter_contract(contract):
    done = _lint_imports(ROOT / "pyproject.toml", "--contract", contract["id"])
    report = done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken." in report and done.returncode == 0, (
        f"The layering contract {contract['name']!r} (pyproject.toml, id {contract['id']!r}) is broken:\n{report}")


def test_import_linter_counts_imports_inside_functions(tmp_path):
    # The contracts rely on it: a function-level import is a dependency. A toy package whose only cycle is lazy.
    package = tmp_path / "toy"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("def f():\n    from toy import b\n    return b\n")
    (package / "b.py").write_text("import toy.a\n")
    config = tmp_path / "contracts.toml"
    config.write_text('[tool.importlinter]\nroot_package = "toy"\n\n[[tool.importlinter.contracts]]\n'
                      'id = "c"\nname = "no cycles"\ntype = "acyclic_siblings"\nancestors = ["toy"]\ndepth = 0\n')
    done = _lint_imports(config, cwd=tmp_path)
    assert done.returncode == 1 and "No cycles are allowed in toy" in done.stdout, done.stdout + done.stderr


# ------------------------------------------------------------------------------------------- cycles, by AST
def _part(module: str) -> str | None:
    """'plait.training.loop' -> 'training'; 'plait.config' -> 'config'; 'plait' itself is no part."""
    bits = module.split(".")
    if bits[0] != "plait" or len(bits) < 2:
        return None
    return bits[1] if (PACKAGE / bits[1]).is_dir() or (PACKAGE / f"{bits[1]}.py").is_file() else None


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    # `from plait import config` imports the module plait.config; `from plait.x import name` imports plait.x.
    return [base] + [f"{base}.{alias.name}" for alias in node.names if base == "plait"]


def part_graph() -> dict[str, dict[str, list[str]]]:
    """part -> imported part -> ['plait/file.py:line', ...], over every import in plait/ (lazy ones too)."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        source = _part(module)
        if source is None or source == "__main__":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for imported in _imported_modules(node, module, path.name == "__init__.py"):
                target = _part(imported)
                if target is not None and target != source:
                    edges[source][target].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return edges


def find_cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """One shortest cycle through each part that is on a cycle (as [a, b, ..., a]), found by breadth-first search."""
    cycles, covered = [], set()
    for start in sorted(edges):
        if start in covered:
            continue
        previous, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for node in frontier:
                for target in sorted(edges.get(node, {})):
                    if target == start:
                        found = node
                        break
                    if target not in previous:
                        previous[target] = node
                        nxt.append(target)
                if found is not None:
                    break
            frontier = nxt
        if found is not None:
            chain, node = [start], found
            while node is not None and node != start:
                chain.insert(1, node)
                node = previous[node]
            chain.append(start)
            cycles.append(chain)
            covered.update(chain)
    return cycles


def test_no_import_cycle_between_top_level_parts():
    edges = part_graph()
    cycles = find_cycles(edges)
    lines = []
    for chain in cycles:
        lines.append(" -> ".join(chain))
        for a, b in zip(chain, chain[1:]):
            where = edges[a][b]
            lines.append(f"    {a} -> {b}: {', '.join(where[:3])}{' ...' if len(where) > 3 else ''}")
    assert not cycles, ("Import cycles between plait's top-level parts (imports inside functions count):\n"
                        + "\n".join(lines))


def test_the_cycle_finder_finds_a_lazy_cycle():
    # The checker itself: a cycle closed by a function-level import, and a chain through a third part.
    tree = ast.parse("def f():\n    from plait.training import loop\n")
    assert _imported_modules(tree.body[0].body[0], "plait.saving.io", False) == ["plait.training"]
    assert _imported_modules(ast.parse("from plait import config, __version__").body[0], "plait.x", False) == [
        "plait", "plait.config", "plait.__version__"]
    assert _imported_modules(ast.parse("from ..saving import io").body[0], "plait.models.model", False) == [
        "plait.saving"]
    edges = {"a": {"b": ["x:1"]}, "b": {"c": ["y:2"]}, "c": {"a": ["z:3"]}, "d": {"a": ["w:4"]}}
    assert find_cycles(edges) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b": ["x:1"]}}) == []


# --------------------------------------------------------------------------- optional dependencies stay optional
OPTIONAL = ["matplotlib", "tensorboard", "torch.utils.tensorboard", "onnx", "onnxscript", "onnxruntime", "sklearn",
            "scipy", "pandas", "safetensors", "torchmetrics", "tqdm", "rich", "IPython", "ipykernel", "nbformat",
            "nbclient"]

_IMPORT_ALL = """
import importlib, pkgutil, sys

BLOCKED = set(sys.argv[1].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED or any(name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is blocked: an optional dependency imported when the module was imported")
        return None

sys.meta_path.insert(0, Blocker())
import plait
for info in pkgutil.walk_packages(plait.__path__, "plait."):
    if not info.name.endswith("__main__"):  # runs the command line; pytest's doctest collection skips it too
        importlib.import_module(info.name)
print("imported", len(sys.modules))
"""


def test_every_module_imports_without_the_optional_extras():
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL, ",".join(OPTIONAL)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (
        "A plait module imports an optional dependency at import time (move the import into the function that "
        "needs it, as the plotting and TensorBoard code does):\n" + done.stderr[-3000:])
