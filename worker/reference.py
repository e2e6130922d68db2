"""Loading reference solutions: trusted code, read only by the grading pipeline and tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from common.spec import ExerciseError

_CACHE: dict[tuple[str, float], ModuleType] = {}


def load_reference(path: Path) -> ModuleType:
    """Import a reference module from its file (cached until the file changes)."""
    key = (str(path.resolve()), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    name = "grader_reference_" + path.stem.replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExerciseError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ExerciseError(f"{path}: importing the reference failed: {exc!r}") from exc
    _CACHE[key] = module
    return module


def reference_function(module: ModuleType, name: str) -> Callable[..., Any]:
    """A function of a reference module; a missing one names the file."""
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ExerciseError(f"{module.__file__}: defines no function {name!r}")
    return fn  # type: ignore[no-any-return]
