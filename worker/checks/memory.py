"""Checks on memory: does the result share memory with an input, or is it a view of it.

Pointers are observed in the process that ran the function: the inputs' right before the call
(their storage kept alive until observed, so its address cannot be reused), the result's right
after it. An input is judged as it was passed in: one whose storage the function swapped
(``x.data = ...``, ``x.set_(...)``) does not make a copy look shared.
"""

from __future__ import annotations

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register, what
from worker.observation import Value, ValueFacts


def overlaps(a: Value | None, b: Value | None) -> bool:
    """Whether the elements of two tensors/arrays occupy overlapping bytes of memory."""
    if a is None or b is None or a.facts.mem is None or b.facts.mem is None:
        return False
    (a_low, a_high), (b_low, b_high) = a.facts.mem, b.facts.mem
    return a_low < b_high and b_low < a_high


def _memory_value(value: Value | None) -> bool:
    return value is not None and value.kind in ("tensor", "ndarray", "too_large")


def _empty(*values: Value | None) -> bool:
    # An empty tensor or array has no elements to share: memory checks hold vacuously (and its
    # pointers mean nothing: an empty tensor's storage pointer is often 0).
    return any(v is not None and v.facts.nbytes == 0 for v in values)


NOTHING_TO_SHARE = "empty: no elements, so nothing to share"


def as_passed(ctx: CheckContext, input: str) -> Value | None:
    """The input ``input`` as it was passed in (its memory before the call); the value after
    the call when no facts from before exist (observations of older harnesses)."""
    after = ctx.got.target(f"input.{input}")
    before = ctx.got.header.inputs_before.get(input)
    if before is None or after is None:
        return after
    return Value(facts=before, data=after.data)


def swapped(ctx: CheckContext, input: str) -> bool:
    """Whether the function gave the input ``input`` other memory than it was passed in with
    (``x.data = other``, ``x.set_(storage)``): another storage, or another first element."""
    before = ctx.got.header.inputs_before.get(input)
    after = ctx.got.target(f"input.{input}")
    if before is None or after is None or after.kind not in ("tensor", "ndarray", "too_large"):
        return False
    if _no_elements(before) and _no_elements(after.facts):
        return False
    if before.storage_ptr is not None and after.facts.storage_ptr != before.storage_ptr:
        return True
    return after.facts.data_ptr != before.data_ptr or after.facts.mem != before.mem


def _no_elements(facts: ValueFacts) -> bool:
    return facts.nbytes == 0


def swapped_message(input: str) -> str:
    """What a learner is told when an input's memory was swapped during the call."""
    return (
        f"your function replaced the memory of its input `{input}` (by assigning to "
        f"`{input}.data` or calling `{input}.set_(...)`), so `{input}` now points elsewhere; "
        f"memory checks compare with `{input}` as it was passed in, and it must stay as it was"
    )


@register("shares_memory", details=("swapped", "copied"))
def shares_memory(ctx: CheckContext, input: str, target: str = "result") -> CheckOutcome:
    """The target shares memory with the input ``input``: a write to one shows in the other.

    Example::

        - name: shares_memory
          args: {input: arr}
    """
    got = ctx.got.target(target)
    source = as_passed(ctx, input)
    if not _memory_value(got):
        return failed(f"expected a tensor or array sharing memory with `{input}`, got {what(got)}")
    if _empty(got, source):
        return passed(NOTHING_TO_SHARE)
    if swapped(ctx, input):
        return failed(swapped_message(input), swapped=True)
    if overlaps(got, source):
        return passed()
    return failed(
        f"your result does not share memory with `{input}`: it is a copy, so a change to "
        f"`{input}` would not show in it",
        copied=True,
    )


@register("no_shared_memory", details=("shared",))
def no_shared_memory(ctx: CheckContext, input: str, target: str = "result") -> CheckOutcome:
    """The target does NOT share memory with the input ``input`` (an independent copy).

    Example::

        - name: no_shared_memory
          args: {input: arr}
    """
    got = ctx.got.target(target)
    source = as_passed(ctx, input)
    if not _memory_value(got):
        return failed(f"expected an independent tensor or array, got {what(got)}")
    if _empty(got, source) or not overlaps(got, source):
        return passed()
    return failed(
        f"your result shares memory with `{input}`: a change to `{input}` would change your "
        "result too; it must be an independent copy",
        shared=True,
    )


@register("is_view_of", details=("swapped", "copied", "offset"))
def is_view_of(
    ctx: CheckContext, input: str, target: str = "result", same_data_ptr: bool = False
) -> CheckOutcome:
    """The target is a view of the tensor ``input``: the same storage, no data copied (and,
    with ``same_data_ptr``, starting at the same element).

    Example::

        - name: is_view_of
          args: {input: t, same_data_ptr: true}
    """
    got = ctx.got.target(target)
    source = as_passed(ctx, input)
    if got is None or got.kind not in ("tensor", "too_large") or source is None:
        return failed(f"expected a view of the tensor `{input}`, got {what(got)}")
    if _empty(got, source):
        return passed(NOTHING_TO_SHARE)
    if swapped(ctx, input):
        return failed(swapped_message(input), swapped=True)
    if got.facts.storage_ptr != source.facts.storage_ptr:
        return failed(
            f"your result is not a view of `{input}`: it has its own storage, so the data was "
            "copied",
            copied=True,
        )
    if same_data_ptr and got.facts.data_ptr != source.facts.data_ptr:
        return failed(
            f"your result uses `{input}`'s storage but starts at a different element "
            f"(offset {got.facts.storage_offset} instead of {source.facts.storage_offset})",
            offset=True,
        )
    return passed()
