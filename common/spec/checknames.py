"""The names of the registered checks, known without importing them (the web process validates
uploaded exercises and must not import torch). ``tests/core/test_spec.py`` keeps this list equal
to the registry of :mod:`worker.checks`."""

from __future__ import annotations

import difflib

CHECK_NAMES = frozenset({
    "all_finite", "device", "dtype", "grad_cleared", "grad_fn", "gradcheck", "gradients",
    "input_unchanged", "is_leaf", "is_view_of", "modified_in_place", "no_shared_memory",
    "requires_grad", "returns", "rng_unchanged", "shape", "shares_memory", "strides", "values",
})


def did_you_mean(name: str, known: frozenset[str] | set[str] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
