"""Checks on what came back: its type, shape, dtype, device and strides."""

from __future__ import annotations

from worker.checks.base import (
    CheckContext,
    CheckOutcome,
    failed,
    passed,
    register,
    shape_text,
    what,
)

KIND_WORDS = {
    "tensor": "a torch.Tensor",
    "ndarray": "a NumPy array",
    "float": "a Python float",
    "int": "a Python int",
    "bool": "a Python bool",
    "tuple": "a tuple",
    "list": "a list",
    "none": "None",
}


def _kind_of(ctx_value_kind: str, type_name: str) -> str:
    if ctx_value_kind in ("scalar", "sequence"):
        return type_name
    return ctx_value_kind


@register("returns", details=("got",))
def returns(ctx: CheckContext, type: str | None = None, target: str = "result") -> CheckOutcome:
    """The returned object has the right type: ``tensor`` (a plain ``torch.Tensor``, not a
    subclass), ``ndarray``, ``float``, ``int``, ``bool``, ``tuple``, ``list`` or ``none``.
    Without ``type``, the reference's type is expected.

    Example::

        - name: returns
          args: {type: tensor}
    """
    got, expected = ctx.pair(target)
    if type is None:
        if expected is None:
            return failed("the reference returned nothing here; please report this exercise")
        type = _kind_of(expected.kind, expected.facts.type)
    want = KIND_WORDS.get(type, type)
    if got is None:
        return failed(f"expected {want}, got nothing")
    have = _kind_of(got.kind, got.facts.type)
    if got.kind == "too_large":
        have = "tensor" if "Tensor" in got.facts.type else "ndarray"
    if have == type:
        return passed()
    if got.kind == "other" and "Tensor" in got.facts.type:
        return failed(
            f"expected {want}, got an object of type {got.facts.type}: return a plain "
            "torch.Tensor, not a subclass or wrapper",
            got=got.facts.type,
        )
    return failed(f"expected {want}, got {got.describe()}", got=have)


@register("shape", details=("got", "expected", "transposed"))
def shape(
    ctx: CheckContext, target: str = "result", expected: list[int] | None = None
) -> CheckOutcome:
    """The target's shape equals the reference's (or ``expected``, when given).

    Example::

        - name: shape
          args: {target: result}
    """
    got, reference = ctx.pair(target)
    want = tuple(expected) if expected is not None else None
    if want is None and reference is not None:
        want = reference.facts.shape
    if got is None or got.facts.shape is None:
        return failed(f"expected something of shape {shape_text(want)}, got {what(got)}")
    have = got.facts.shape
    if have == want:
        return passed()
    transposed = want is not None and len(have) > 1 and have == tuple(want)[::-1]
    return failed(
        f"expected shape {shape_text(want)}, got {shape_text(have)}",
        got=shape_text(have),
        expected=shape_text(want),
        transposed=transposed,
    )


def _dtype_name(dtype: str | None) -> str:
    return (dtype or "").removeprefix("torch.")


@register("dtype", details=("got", "expected"))
def dtype(ctx: CheckContext, target: str = "result", expected: str | None = None) -> CheckOutcome:
    """The target's dtype equals the reference's (or ``expected``, e.g. ``float32``).

    Example::

        - name: dtype
          args: {expected: float32}
    """
    got, reference = ctx.pair(target)
    want = _dtype_name(expected) if expected else _dtype_name(reference.facts.dtype if reference
                                                              else None)
    if got is None or got.facts.dtype is None:
        return failed(f"expected dtype {want}, got {what(got)}")
    have = _dtype_name(got.facts.dtype)
    if have == want:
        return passed()
    return failed(f"expected dtype {want}, got {have}", got=have, expected=want)


@register("device", details=("got", "expected"))
def device(ctx: CheckContext, target: str = "result") -> CheckOutcome:
    """The target lives on the same device as the reference's result (the device the case ran
    on: ``cuda:0`` on a GPU worker, ``cpu`` otherwise).

    Example::

        - name: device
    """
    got, reference = ctx.pair(target)
    want = reference.facts.device if reference else None
    if got is None or got.facts.device is None:
        return failed(f"expected a tensor on {want}, got {what(got)}")
    if got.facts.device == want:
        return passed()
    return failed(
        f"expected a tensor on {want}, got one on {got.facts.device}",
        got=got.facts.device,
        expected=want,
    )


@register("strides", details=("got", "expected"))
def strides(ctx: CheckContext, target: str = "result") -> CheckOutcome:
    """The target's strides (in elements) equal the reference's: e.g. a broadcast view has
    stride 0 on the dimension it expands.

    Example::

        - name: strides
    """
    got, reference = ctx.pair(target)
    want = reference.facts.stride if reference else None
    if got is None or got.facts.stride is None:
        return failed(f"expected a tensor with strides {want}, got {what(got)}")
    if got.facts.stride == want:
        return passed()
    if reference is not None and got.facts.shape != reference.facts.shape:
        return failed(
            f"expected a tensor of shape {shape_text(reference.facts.shape)} with strides {want}, "
            f"got shape {shape_text(got.facts.shape)} with strides {got.facts.stride}",
            got=str(got.facts.stride),
            expected=str(want),
        )
    zero = [d for d, s in enumerate(want or ()) if s == 0]
    why = (f": a broadcast view repeats data with stride 0 (on dimension {zero[0]}) instead of "
           "copying it" if zero else "")
    return failed(
        f"expected strides {want}, got {got.facts.stride}{why}",
        got=str(got.facts.stride),
        expected=str(want),
    )
