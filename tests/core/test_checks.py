"""Every registered check, on a passing and a failing learner function."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import worker.checks as checks
from tests.core.observe import context
from worker.checks import REGISTRY, call_check


def arr() -> dict[str, Any]:
    return {"arr": np.arange(6, dtype=np.float32).reshape(2, 3)}


def mat() -> dict[str, Any]:
    return {"t": torch.arange(12, dtype=torch.float32).reshape(3, 4)}


def leaf() -> dict[str, Any]:
    return {"x": torch.linspace(-3, 3, 7, dtype=torch.float64).requires_grad_(True)}


def image() -> dict[str, Any]:
    return {"image": torch.zeros(2, 3, 3, dtype=torch.int32)}


def sgd_state() -> dict[str, Any]:
    w = torch.ones(3, requires_grad=True)
    w.grad = torch.full((3,), 0.5)
    return {"w": w}


def _bump_and_zero(w: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
    return w


def _bump_keep_grad(w: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        w -= 0.1 * w.grad
    return w


def _draw_global(**_: Any) -> torch.Tensor:
    return torch.rand(3)


def _draw_local(**_: Any) -> torch.Tensor:
    return torch.rand(3, generator=torch.Generator().manual_seed(0))


def _naive_softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + torch.exp(x * 1000))


class _WrongGrad(torch.autograd.Function):
    """Forward is the identity; backward claims the gradient is 2."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad * 2


@dataclass
class Case:
    check: str
    args: dict[str, Any]
    inputs: Callable[[], dict[str, Any]]
    reference: Callable[..., Any]
    good: Callable[..., Any]
    bad: Callable[..., Any]
    says: str  # a fragment the failure message must contain
    probes: tuple[str, ...] = ()


CASES = [
    Case("returns", {"type": "tensor"}, arr, lambda arr: torch.from_numpy(arr),
         lambda arr: torch.as_tensor(arr),
         lambda arr: arr.tolist(), "expected a torch.Tensor, got a list"),
    Case("shape", {}, mat, lambda t: t.reshape(3, 4), lambda t: t + 0, lambda t: t.T,
         "expected shape (3, 4), got (4, 3)"),
    Case("dtype", {"expected": "float32"}, arr, lambda arr: torch.from_numpy(arr),
         lambda arr: torch.from_numpy(arr),
         lambda arr: torch.from_numpy(arr.astype(np.float64)), "expected dtype float32, got "
         "float64"),
    Case("device", {}, mat, lambda t: t * 2, lambda t: t * 2, lambda t: (t * 2).to("meta"),
         "expected a tensor on cpu, got one on meta"),
    Case("strides", {}, lambda: {"m": torch.ones(3, 4, dtype=torch.bool)},
         lambda m: m.expand(2, 3, 4), lambda m: m[None].expand(2, 3, 4),
         lambda m: m.repeat(2, 1, 1), "expected strides (0, 4, 1), got (12, 4, 1)"),
    Case("values", {}, mat, lambda t: t * 2, lambda t: t + t, lambda t: t * 2 + (t == 5),
         "values differ at index (1, 1): expected 10.0, got 11.0"),
    Case("all_finite", {}, leaf, lambda x: torch.nn.functional.softplus(x * 1000),
         lambda x: torch.nn.functional.softplus(x * 1000), _naive_softplus,
         "are inf or nan"),
    Case("shares_memory", {"input": "arr"}, arr, lambda arr: torch.from_numpy(arr),
         lambda arr: torch.as_tensor(arr), lambda arr: torch.tensor(arr),
         "does not share memory with `arr`"),
    Case("no_shared_memory", {"input": "arr"}, arr, lambda arr: torch.tensor(arr),
         lambda arr: torch.from_numpy(arr.copy()), lambda arr: torch.from_numpy(arr),
         "shares memory with `arr`"),
    Case("is_view_of", {"input": "t", "same_data_ptr": True}, mat, lambda t: t.view(-1),
         lambda t: t.reshape(-1), lambda t: t.flatten().clone(), "not a view of `t`"),
    Case("input_unchanged", {}, mat, lambda t: t * 2, lambda t: t * 2, lambda t: t.mul_(2),
         "changed its input `t`"),
    Case("modified_in_place", {"input": "image"}, image, lambda image: image.add_(5),
         lambda image: image.__iadd__(5), lambda image: image + 5,
         "`image` was not modified"),
    Case("requires_grad", {"expected": False}, leaf, lambda x: x.detach(), lambda x: x.detach(),
         lambda x: x * 1, "expected requires_grad=False, got requires_grad=True"),
    Case("grad_fn", {"present": False}, leaf, lambda x: x.detach() * 2,
         lambda x: (x * 2).detach(), lambda x: x * 2, "grad_fn=MulBackward0"),
    Case("is_leaf", {"expected": True}, leaf, lambda x: x.detach().requires_grad_(True),
         lambda x: x.detach().clone().requires_grad_(True), lambda x: x * 1,
         "expected is_leaf=True, got is_leaf=False"),
    Case("gradients", {"input": "x"}, leaf, torch.nn.functional.softplus,
         lambda x: torch.logaddexp(x, torch.zeros_like(x)),
         lambda x: torch.tensor(np.log1p(np.exp(x.detach().numpy())), requires_grad=True),
         "autograd found no path", probes=("grad_of_sum",)),
    Case("gradcheck", {}, leaf, torch.nn.functional.softplus, torch.nn.functional.softplus,
         lambda x: _WrongGrad.apply(x), "gradcheck failed", probes=("gradcheck",)),
    Case("grad_cleared", {"input": "w"}, sgd_state, _bump_and_zero, _bump_and_zero,
         _bump_keep_grad, "`w.grad` still holds a gradient"),
    Case("rng_unchanged", {}, lambda: {}, _draw_local, _draw_local, _draw_global,
         "changed the global random state (torch"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.check)
def test_check_passes_on_a_correct_answer(case: Case) -> None:
    ctx = context(case.good, case.reference, case.inputs, case.probes)
    outcome = call_check(case.check, ctx, case.args)
    assert outcome.passed, outcome.message


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.check)
def test_check_fails_on_a_wrong_answer_and_says_why(case: Case) -> None:
    ctx = context(case.bad, case.reference, case.inputs, case.probes)
    outcome = call_check(case.check, ctx, case.args)
    assert not outcome.passed
    assert case.says in outcome.message


def test_every_registered_check_is_tested_exported_and_documented() -> None:
    assert {c.check for c in CASES} == set(REGISTRY)
    for name, check in REGISTRY.items():
        assert getattr(checks, check.function.__name__) is check.function, name
        assert check.function.__name__ in checks.__all__, name
        doc = inspect.getdoc(check.function) or ""
        assert "Example::" in doc and f"name: {name}" in doc, f"{name} lacks a docstring example"


def test_values_are_exact_for_integers_and_tolerant_for_floats() -> None:
    ints = context(lambda t: t + 1, lambda t: t, lambda: {"t": torch.arange(4)})
    assert not call_check("values", ints, {}).passed
    floats = context(lambda t: t * (1 + 1e-7), lambda t: t * 1.0,
                     lambda: {"t": torch.linspace(1, 2, 4)})
    assert call_check("values", floats, {}).passed
    halves = context(lambda t: (t * (1 + 5e-4)).half(), lambda t: t.half(),
                     lambda: {"t": torch.linspace(1, 2, 4)})
    assert call_check("values", halves, {}).passed


def test_values_report_nan_in_the_wrong_place() -> None:
    ctx = context(lambda t: t / 0 * 0, lambda t: t, lambda: {"t": torch.ones(2)})
    outcome = call_check("values", ctx, {})
    assert not outcome.passed and "nan" in outcome.message


def test_returns_rejects_a_tensor_subclass() -> None:
    class LyingTensor(torch.Tensor):
        def __eq__(self, other: object) -> bool:  # type: ignore[override]
            return True

    ctx = context(lambda t: t.as_subclass(LyingTensor), lambda t: t, mat)
    outcome = call_check("returns", ctx, {"type": "tensor"})
    assert not outcome.passed
    assert "not a subclass" in outcome.message
    assert not call_check("values", ctx, {}).passed


def _add_through_data(image: torch.Tensor) -> torch.Tensor:
    image.data.add_(5)
    return image


def test_modified_in_place_sees_writes_through_data_and_new_storage() -> None:
    through_data = context(_add_through_data, lambda image: image.add_(5), image)
    assert call_check("modified_in_place", through_data, {"input": "image"}).passed
    new_storage = context(lambda image: setattr(image, "data", image.data + 5) or image,
                          lambda image: image.add_(5), image)
    outcome = call_check("modified_in_place", new_storage, {"input": "image"})
    assert not outcome.passed and outcome.details == {"new_storage": True}


def test_all_finite_names_gradients_when_it_checks_a_gradient() -> None:
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(x * 1000)

    bad = context(_naive_softplus, reference, leaf, probes=("grad_of_sum",))
    outcome = call_check("all_finite", bad, {"target": "grad.x"})
    assert not outcome.passed
    assert outcome.message.startswith("3 of 7 gradients are inf or nan, the first at index 4")
    assert call_check("all_finite", bad, {}).message.startswith("3 of 7 values are inf or nan")
    good = context(reference, reference, leaf, probes=("grad_of_sum",))
    assert call_check("all_finite", good, {"target": "grad.x"}).passed


def test_values_report_inf_as_the_largest_error() -> None:
    ctx = context(_naive_softplus, lambda x: torch.nn.functional.softplus(x * 1000), leaf)
    outcome = call_check("values", ctx, {})
    assert not outcome.passed and "max abs error inf" in outcome.message
