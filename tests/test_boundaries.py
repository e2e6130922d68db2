"""The import boundaries of design.md, enforced on the source (AST) and at run time.

- the web package ``grader`` imports only torch-free worker modules (listed below) and never
  torch, numpy or cv2;
- the worker package never imports flask or ``grader``;
- the torch-free worker modules stay torch-free, transitively.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_FREE_WORKER_MODULES = {"worker", "worker.protocol", "worker.spec", "worker.submission",
                             "worker.scoring", "worker.store"}
HEAVY = ("torch", "numpy", "cv2")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _allowed_from_web(name: str) -> bool:
    if not name.startswith("worker"):
        return True
    return any(name == m or name.startswith(m + ".") for m in TORCH_FREE_WORKER_MODULES - {
        "worker"}) or name == "worker"


@pytest.mark.parametrize("path", _package_files("grader"), ids=lambda p: str(p.relative_to(ROOT)))
def test_web_package_imports_no_grading_code(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in HEAVY, f"{path}: the web side must not import {name}"
        assert _allowed_from_web(name), f"{path}: the web side may not import {name}"


@pytest.mark.parametrize("path", _package_files("worker"), ids=lambda p: str(p.relative_to(ROOT)))
def test_worker_package_imports_no_web_code(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in ("flask", "grader", "werkzeug", "flask_limiter", "spectree"), (
            f"{path}: the worker must not import {name}"
        )


def test_torch_free_modules_load_without_torch() -> None:
    modules = sorted(m for m in TORCH_FREE_WORKER_MODULES if (
        (ROOT / (m.replace(".", "/") + ".py")).exists()
        or (ROOT / m.replace(".", "/") / "__init__.py").exists()))
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "import grader, grader.cli\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"torch-free modules pulled in: {out.stdout.strip()}"
