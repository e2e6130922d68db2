"""Checks on autograd: flags, graph, gradients and gradcheck."""

from __future__ import annotations

import numpy as np

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register, what
from worker.checks.values import COMPARISON_DETAILS, compare_values


def _tensor_flag(ctx: CheckContext, target: str, flag: str) -> bool | str | None:
    got = ctx.got.target(target)
    if got is None or got.kind not in ("tensor", "too_large"):
        return None
    value: bool | str | None = getattr(got.facts, flag)
    return value


@register("requires_grad", details=("got",))
def requires_grad(ctx: CheckContext, expected: bool, target: str = "result") -> CheckOutcome:
    """The target's ``requires_grad`` is ``expected``.

    Example::

        - name: requires_grad
          args: {expected: false}
    """
    value = _tensor_flag(ctx, target, "requires_grad")
    if value is None:
        return failed(f"expected a tensor, got {what(ctx.got.target(target))}")
    if value == expected:
        return passed()
    return failed(f"expected requires_grad={expected}, got requires_grad={value}", got=value)


@register("grad_fn", details=("got",))
def grad_fn(ctx: CheckContext, present: bool, target: str = "result") -> CheckOutcome:
    """The target has a ``grad_fn`` (it was recorded in a graph) or, with ``present: false``,
    has none.

    Example::

        - name: grad_fn
          args: {present: false}
    """
    got = ctx.got.target(target)
    if got is None or got.kind not in ("tensor", "too_large"):
        return failed(f"expected a tensor, got {what(got)}")
    fn = got.facts.grad_fn
    if (fn is not None) == present:
        return passed()
    if present:
        return failed("expected a result recorded in the autograd graph, but it has no grad_fn")
    return failed(
        f"expected no autograd history, but the result has grad_fn={fn}: compute it under "
        "`torch.no_grad()` or from a detached tensor",
        got=fn,
    )


@register("is_leaf", details=("got",))
def is_leaf(ctx: CheckContext, expected: bool, target: str = "result") -> CheckOutcome:
    """The target's ``is_leaf`` is ``expected``.

    Example::

        - name: is_leaf
          args: {target: input.w, expected: true}
    """
    value = _tensor_flag(ctx, target, "is_leaf")
    if value is None:
        return failed(f"expected a tensor, got {what(ctx.got.target(target))}")
    if value == expected:
        return passed()
    return failed(f"expected is_leaf={expected}, got is_leaf={value}", got=value)


@register("gradients", probes=("grad_of_sum",),
          details=("broken_graph", *COMPARISON_DETAILS))
def gradients(
    ctx: CheckContext, input: str, rtol: float | None = None, atol: float | None = None
) -> CheckOutcome:
    """The gradient of ``result.sum()`` with respect to ``input``, computed by autograd through
    the learner's result, equals the same gradient through the reference's result.

    Example::

        - name: gradients
          args: {input: x}
    """
    probe = ctx.got.header.grad_of_sum
    if probe is not None and probe.error:
        return failed(f"no gradient could be computed: {probe.error}", broken_graph=True)
    got, expected = ctx.got.grads.get(input), ctx.expected.grads.get(input)
    if got is None:
        return failed(
            f"autograd found no path from your result back to `{input}`: the graph was broken "
            "(by `.item()`, `.detach()`, NumPy or a new tensor)",
            broken_graph=True,
        )
    return compare_values(got, expected, rtol, atol, ctx.device, noun="gradients")


@register("gradcheck", probes=("gradcheck",))
def gradcheck(ctx: CheckContext) -> CheckOutcome:
    """``torch.autograd.gradcheck`` passes on float64 copies of the inputs that require grad:
    the analytical gradients of the learner's function match finite differences.

    Example::

        - name: gradcheck
          cases: [small]
    """
    probe = ctx.got.header.gradcheck
    if probe is None:
        return failed("gradcheck did not run")
    if probe.passed:
        return passed()
    return failed(f"torch.autograd.gradcheck failed in float64: {probe.message}")


@register("grad_cleared", details=("stale_grad",))
def grad_cleared(ctx: CheckContext, input: str) -> CheckOutcome:
    """The tensor ``input`` has no accumulated gradient left: ``.grad`` is None or all zeros.

    Example::

        - name: grad_cleared
          args: {input: w}
    """
    after = ctx.got.target(f"input.{input}")
    if after is None:
        return failed(f"`{input}` could not be inspected")
    grad = after.grad
    if grad is None or grad.data is None or not np.any(grad.data):
        return passed()
    return failed(
        f"`{input}.grad` still holds a gradient (max |grad| {float(np.abs(grad.data).max()):.4g}):"
        f" zero it after the update (`{input}.grad.zero_()` or `{input}.grad = None`), or the "
        "next backward pass will add to it",
        stale_grad=True,
    )
