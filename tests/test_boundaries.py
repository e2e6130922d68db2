"""The import boundaries of design.md, enforced on the source (AST) and at run time.

- the web package ``grader`` imports, of the grader's own packages, only ``common`` (never
  ``worker``), and never torch, numpy or cv2;
- the worker package never imports Flask or ``grader``;
- ``common`` (what both sides share) imports neither side, nor torch, Flask or the sandbox, and
  stays torch-free transitively.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "numpy", "cv2")
WEB = ("flask", "werkzeug", "flask_limiter", "flask_wtf", "spectree", "gunicorn", "grader")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _package_files("grader"), ids=_ids)
def test_web_package_imports_no_grading_code(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in HEAVY, f"{path}: the web side must not import {name}"
        assert top != "worker", f"{path}: the web side may not import {name} (use common)"


@pytest.mark.parametrize("path", _package_files("worker"), ids=_ids)
def test_worker_package_imports_no_web_code(path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] not in WEB, f"{path}: the worker must not import {name}"


@pytest.mark.parametrize("path", _package_files("common"), ids=_ids)
def test_common_package_imports_neither_side(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in (*HEAVY, *WEB, "worker"), f"{path}: common must not import {name}"


def test_common_and_the_web_load_without_torch() -> None:
    modules = sorted({".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(
        ".__init__") for p in _package_files("common")})
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "import grader, grader.cli, grader.app\n"
        f"bad = [m for m in {(*HEAVY, 'worker')!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "", f"torch-free modules pulled in: {out.stdout.strip()}"


def test_submissions_are_taken_in_by_one_module() -> None:
    # The API, the pages, regrades and LTI launches all go through grader/intake.py, so a
    # submission is recorded, made idempotent and dispatched one way only.
    writers = sorted(str(p.relative_to(ROOT)) for p in _package_files("grader")
                     if ".create_submission(" in p.read_text(encoding="utf-8")
                     or "GRADE_TASK" in p.read_text(encoding="utf-8"))
    assert writers == ["grader/intake.py"]


def test_exercises_are_installed_by_one_module() -> None:
    # The API's PUT and the instructors' upload page both go through grader/installs.py.
    writers = sorted(str(p.relative_to(ROOT)) for p in _package_files("grader")
                     if ".put_exercise(" in p.read_text(encoding="utf-8")
                     or "VALIDATE_TASK" in p.read_text(encoding="utf-8"))
    assert writers == ["grader/installs.py"]


@pytest.mark.parametrize("path", _package_files("grader/pages"), ids=_ids)
def test_pages_use_the_web_services_not_the_api(path: Path) -> None:
    # The pages map domain errors (grader.intake, grader.installs) to HTML; only the blueprint
    # registry may name the API's blueprint (to exempt its bearer tokens from CSRF).
    allowed = {"grader.api.blueprint"} if path.name == "__init__.py" else set()
    api = {n for n in _imports(path) if n.split(".")[:2] == ["grader", "api"]} - allowed
    assert not api, f"{path}: the pages must not import the API ({sorted(api)})"
