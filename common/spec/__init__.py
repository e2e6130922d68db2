"""Exercise specifications: the models of ``exercise.yaml`` and the library that loads them.

Importable by the web process: nothing here imports torch, NumPy or OpenCV.
"""

from common.spec.contract import CheckContract, ContractProblem
from common.spec.library import ExerciseLibrary, default_library_root
from common.spec.model import (
    MODULES,
    CaseSpec,
    CheckSpec,
    Exercise,
    ExerciseError,
    GoldenSpec,
    MisconceptionSpec,
    Module,
)

__all__ = [
    "MODULES",
    "CaseSpec",
    "CheckContract",
    "CheckSpec",
    "ContractProblem",
    "Exercise",
    "ExerciseError",
    "ExerciseLibrary",
    "GoldenSpec",
    "MisconceptionSpec",
    "Module",
    "default_library_root",
]
