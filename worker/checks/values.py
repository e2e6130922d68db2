"""Checks on the numbers: values within dtype-aware tolerances, and finiteness."""

from __future__ import annotations

import numpy as np

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register, what
from worker.observation import Value

# (rtol, atol) by dtype, for float results; integers and booleans compare exactly.
# float32 is a little looser than torch.testing's default, so that equivalent formulas
# (log1p vs logaddexp, say) that differ by a few ulps all pass.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
    "float32": (1e-5, 1e-6),
    "float64": (1e-7, 1e-9),
    "complex64": (1e-5, 1e-6),
    "complex128": (1e-7, 1e-9),
}
# The facts a failed comparison reports (compare_values), for misconceptions to match on.
COMPARISON_DETAILS = ("got_kind", "transposed", "shape_mismatch", "mismatches", "max_abs_error")
# GPU kernels (TF32, different reduction orders) get this factor more relative slack.
DEVICE_RTOL_FACTOR = {"cuda": 10.0}


def tolerance(dtype: str, device: str = "cpu") -> tuple[float, float]:
    """(rtol, atol) for comparing values of ``dtype`` computed on ``device``.

    Example: ``tolerance("torch.float32")`` is ``(1e-05, 1e-06)``; integer dtypes give (0, 0).
    """
    name = dtype.removeprefix("torch.")
    if name not in TOLERANCES:
        return 0.0, 0.0
    rtol, atol = TOLERANCES[name]
    return rtol * DEVICE_RTOL_FACTOR.get(device.split(":")[0], 1.0), atol


def _numbers(value: Value) -> np.ndarray | None:
    if value.kind in ("tensor", "ndarray", "scalar"):
        return value.data
    return None


def number_text(array: np.ndarray, index: tuple[int, ...]) -> str:
    """One element as its own dtype prints it: ``0.61456746`` for float32, not float64's
    ``0.6145674586296082``."""
    return str(array[index] if array.ndim else array[()])


def _index_text(index: tuple[int, ...]) -> str:
    return str(index[0]) if len(index) == 1 else str(tuple(int(i) for i in index))


def compare_values(
    got: Value | None,
    expected: Value | None,
    rtol: float | None = None,
    atol: float | None = None,
    device: str = "cpu",
    noun: str = "values",
) -> CheckOutcome:
    """Compare two values element by element; the message names the first mismatch."""
    if expected is None:
        return failed(f"the reference produced no {noun} here; please report this exercise")
    want = _numbers(expected)
    have = None if got is None else _numbers(got)
    if want is None:
        return failed(f"the reference's {noun} cannot be compared; please report this exercise")
    if have is None:
        return failed(
            f"expected {expected.describe()}, but got {what(got)}",
            got_kind=None if got is None else got.kind,
        )
    if have.shape != want.shape:
        transposed = have.shape == want.shape[::-1] and have.ndim > 1
        return failed(
            f"expected shape {want.shape}, got {have.shape}, so the {noun} cannot be compared",
            transposed=transposed,
            shape_mismatch=True,
        )
    if have.dtype == want.dtype and np.array_equal(have, want,
                                                  equal_nan=want.dtype.kind in "fc"):
        return passed()  # the common case, without converting both to float64
    exact = want.dtype.kind in "biu"
    dtype = expected.facts.dtype or str(want.dtype)
    if expected.kind == "scalar" and dtype == "float64":
        # A Python float usually comes from a float32 tensor (`loss.item()`): judge it so.
        dtype = "float32"
    default_rtol, default_atol = tolerance(dtype, device)
    rtol = 0.0 if exact else (default_rtol if rtol is None else rtol)
    atol = 0.0 if exact else (default_atol if atol is None else atol)
    if want.dtype.kind == "c" or have.dtype.kind == "c":
        a, b = have.astype(np.complex128), want.astype(np.complex128)
    elif exact and have.dtype.kind in "biu":
        a, b = have.astype(np.int64), want.astype(np.int64)
    else:
        a, b = have.astype(np.float64), want.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return passed()
    bad = np.argwhere(~close) if a.ndim else np.zeros((1, 0), dtype=int)
    first = tuple(int(i) for i in bad[0])
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(a - b)
    wrong = error[~close]
    # An inf or nan where a number was expected is the largest error of all.
    max_error = float(wrong.max()) if np.isfinite(wrong).all() else float("inf")
    where = f" at index {_index_text(first)}" if a.ndim else ""
    tol = " (compared exactly)" if exact else f" (tolerance: rtol {rtol:g}, atol {atol:g})"
    return failed(
        f"{noun} differ{where}: expected {number_text(want, first)}, "
        f"got {number_text(have, first)}; "
        f"{int((~close).sum())} of {close.size} differ, max abs error {max_error:.4g}{tol}",
        mismatches=int((~close).sum()),
        max_abs_error=max_error,
        shape_mismatch=False,
    )


@register("values", details=COMPARISON_DETAILS)
def values(
    ctx: CheckContext,
    target: str = "result",
    rtol: float | None = None,
    atol: float | None = None,
) -> CheckOutcome:
    """The learner's numbers equal the reference's: exactly for integer and bool dtypes, within a
    dtype- and device-aware tolerance for floats (see ``TOLERANCES``); NaNs must be in the same
    places. ``target`` picks what to compare (``result``, ``result.0``, ``input.w``,
    ``input.w.grad``).

    Example::

        - name: values
          args: {target: result}
          weight: 2
    """
    got, expected = ctx.pair(target)
    return compare_values(got, expected, rtol, atol, ctx.device)


@register("all_finite", details=("non_finite",))
def all_finite(ctx: CheckContext, target: str = "result") -> CheckOutcome:
    """Every element of the target is finite (no ``inf``, no ``nan``).

    Example::

        - name: all_finite
    """
    got = ctx.got.target(target)
    data = None if got is None else _numbers(got)
    noun = "gradients" if target.startswith("grad.") or target.endswith(".grad") else "values"
    if data is None:
        return failed(f"expected {noun}, got {what(got)}")
    if data.dtype.kind not in "fc":
        return passed()
    finite = np.isfinite(data)
    if finite.all():
        return passed()
    first = tuple(int(i) for i in np.argwhere(~finite)[0]) if data.ndim else ()
    where = f", the first at index {_index_text(first)}" if first else ""
    return failed(
        f"{int((~finite).sum())} of {data.size} {noun} are inf or nan{where}: "
        f"got {number_text(data, first)} there",
        non_finite=int((~finite).sum()),
    )
