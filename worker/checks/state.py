"""Checks on global state the function must leave alone."""

from __future__ import annotations

from worker.checks.base import CheckContext, CheckOutcome, failed, passed, register


@register("rng_unchanged", details=("changed",))
def rng_unchanged(ctx: CheckContext) -> CheckOutcome:
    """The global random number generators (torch, NumPy, Python's ``random``) are in the same
    state after the call as before: randomness came from a local ``torch.Generator``.

    Example::

        - name: rng_unchanged
    """
    changed = ctx.got.header.rng_changed
    if not changed:
        return passed()
    return failed(
        f"your function changed the global random state ({', '.join(changed)}); other code "
        "relying on it would now draw different numbers. Draw from a local generator: "
        "`g = torch.Generator().manual_seed(seed)` and `torch.rand(..., generator=g)`",
        changed=",".join(changed),
    )
