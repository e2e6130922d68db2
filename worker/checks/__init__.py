"""The checks library: one facade for every check an exercise can name.

Each check is a pure function ``check(ctx, **args) -> CheckOutcome`` registered by name with
the details it reports; see :mod:`worker.checks.base`. ``exercise.yaml`` chooses checks by their
registered name; :data:`CONTRACT` binds its arguments and misconceptions to them at load.
"""

from worker.checks.autograd import (
    grad_cleared,
    grad_fn,
    gradcheck,
    gradients,
    is_leaf,
    requires_grad,
)
from worker.checks.base import (
    REGISTRY,
    Check,
    CheckArgumentError,
    CheckBug,
    CheckContext,
    CheckOutcome,
    UnknownCheckError,
    call_check,
    get_check,
    register,
)
from worker.checks.contract import CONTRACT, checked_library
from worker.checks.memory import is_view_of, no_shared_memory, shares_memory
from worker.checks.mutation import input_unchanged, modified_in_place
from worker.checks.state import rng_unchanged
from worker.checks.structure import device, dtype, returns, shape, strides
from worker.checks.values import all_finite, tolerance, values

__all__ = [
    "CONTRACT",
    "REGISTRY",
    "Check",
    "CheckArgumentError",
    "CheckBug",
    "CheckContext",
    "CheckOutcome",
    "UnknownCheckError",
    "all_finite",
    "call_check",
    "checked_library",
    "device",
    "dtype",
    "get_check",
    "grad_cleared",
    "grad_fn",
    "gradcheck",
    "gradients",
    "input_unchanged",
    "is_leaf",
    "is_view_of",
    "modified_in_place",
    "no_shared_memory",
    "register",
    "requires_grad",
    "returns",
    "rng_unchanged",
    "shape",
    "shares_memory",
    "strides",
    "tolerance",
    "values",
]
