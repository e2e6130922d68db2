"""Checks on what the function did to its inputs: left them alone, or changed them in place."""

from __future__ import annotations

import numpy as np

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register, what
from worker.checks.memory import swapped, swapped_message
from worker.observation import Value


def _same_numbers(a: Value, b: Value) -> tuple[bool, str]:
    if a.data is None or b.data is None:
        return a.facts.kind == b.facts.kind and a.facts.type == b.facts.type, ""
    if a.data.shape != b.data.shape or a.data.dtype != b.data.dtype:
        return False, f"its shape or dtype changed to {b.describe()}"
    same = (a.data == b.data) | (np.isnan(a.data) & np.isnan(b.data)
                                 if a.data.dtype.kind in "fc" else False)
    if np.all(same):
        return True, ""
    first = tuple(int(i) for i in np.argwhere(~np.asarray(same))[0]) if a.data.ndim else ()
    return False, (
        f"first changed element at index {first}: was {a.data[first].item()!r}, "
        f"now {b.data[first].item()!r}"
    )


@register("input_unchanged", details=("changed", "swapped"))
def input_unchanged(ctx: CheckContext, input: str | None = None) -> CheckOutcome:
    """The function left its inputs (or just ``input``) exactly as they were.

    Example::

        - name: input_unchanged
          args: {input: img}
    """
    names = [input] if input else list(ctx.originals)
    for name in names:
        before = ctx.originals.get(name)
        after = ctx.got.target(f"input.{name}")
        if before is None or after is None:
            continue
        if swapped(ctx, name):
            return failed(swapped_message(name), changed=name, swapped=True)
        same, where = _same_numbers(before, after)
        if not same:
            return failed(
                f"your function changed its input `{name}` ({where}); it must leave its inputs "
                "as they were: work on a copy or use out-of-place operations",
                changed=name,
            )
    return passed()


@register("modified_in_place",
          details=("new_storage", "unchanged", "returned_other"))
def modified_in_place(ctx: CheckContext, input: str, target: str = "result") -> CheckOutcome:
    """The function modified the tensor ``input`` in place and returned that same tensor: same
    object, same storage, and its version counter went up. (Whether the new values are right
    is the ``values`` check on ``input.<name>``.)

    Example::

        - name: modified_in_place
          args: {input: image}
    """
    before = ctx.got.header.inputs_before.get(input)
    after = ctx.got.target(f"input.{input}")
    if before is None or after is None or after.kind not in ("tensor", "too_large"):
        return failed(f"expected the tensor `{input}` to be modified in place, got {what(after)}")
    if after.facts.storage_ptr != before.storage_ptr:
        return failed(
            f"`{input}` got new storage (e.g. by assigning to `.data`); modify its elements in "
            "place instead",
            new_storage=True,
        )
    original = ctx.originals.get(input)
    # Writes through `.data` do not bump `_version`; changed values still show the change.
    changed_values = original is not None and not _same_numbers(original, after)[0]
    if before.version is not None and after.facts.version == before.version and (
            not changed_values):
        return failed(
            f"`{input}` was not modified: your function left it unchanged (did it build and "
            "return a new tensor?); change it in place, e.g. with `add_`, `clamp_` or "
            "`t[mask] += ...`",
            unchanged=True,
        )
    if target == "result" and input not in ctx.got.header.result_is:
        return failed(
            f"`{input}` was modified, but your function returned {what(ctx.got.result)} instead "
            f"of `{input}` itself; return the tensor you modified",
            returned_other=True,
        )
    return passed()
