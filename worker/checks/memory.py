"""Checks on memory: does the result share memory with an input, or is it a view of it.

Pointers are observed in the process that ran the function, right after it returned; the
verdict is computed here from those numbers.
"""

from __future__ import annotations

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register, what
from worker.observation import Value


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


@register("shares_memory")
def shares_memory(ctx: CheckContext, input: str, target: str = "result") -> CheckOutcome:
    """The target shares memory with the input ``input``: a write to one shows in the other.

    Example::

        - name: shares_memory
          args: {input: arr}
    """
    got = ctx.got.target(target)
    source = ctx.got.target(f"input.{input}")
    if not _memory_value(got):
        return failed(f"expected a tensor or array sharing memory with `{input}`, got {what(got)}")
    if _empty(got, source):
        return passed(NOTHING_TO_SHARE)
    if overlaps(got, source):
        return passed()
    return failed(
        f"your result does not share memory with `{input}`: it is a copy, so a change to "
        f"`{input}` would not show in it",
        copied=True,
    )


@register("no_shared_memory")
def no_shared_memory(ctx: CheckContext, input: str, target: str = "result") -> CheckOutcome:
    """The target does NOT share memory with the input ``input`` (an independent copy).

    Example::

        - name: no_shared_memory
          args: {input: arr}
    """
    got = ctx.got.target(target)
    source = ctx.got.target(f"input.{input}")
    if not _memory_value(got):
        return failed(f"expected an independent tensor or array, got {what(got)}")
    if _empty(got, source) or not overlaps(got, source):
        return passed()
    return failed(
        f"your result shares memory with `{input}`: a change to `{input}` would change your "
        "result too; it must be an independent copy",
        shared=True,
    )


@register("is_view_of")
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
    source = ctx.got.target(f"input.{input}")
    if got is None or got.kind not in ("tensor", "too_large") or source is None:
        return failed(f"expected a view of the tensor `{input}`, got {what(got)}")
    if _empty(got, source):
        return passed(NOTHING_TO_SHARE)
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
