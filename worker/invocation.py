"""Calling a function on one case's inputs and observing what it did.

Used on both sides of the sandbox: the trusted pipeline observes the reference solution with it,
and the harness inside the sandbox observes the learner's function with it. What it returns is
an observation (header and arrays, see :mod:`worker.observation`), never a verdict.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import torch

from worker.observation import Encoder, rng_fingerprints

# Captured before learner code is loaded (see worker.observation).
_autograd_grad = torch.autograd.grad
_gradcheck = torch.autograd.gradcheck
_perf_counter = time.perf_counter

PROBES = ("grad_of_sum", "gradcheck")


def error_facts(exc: BaseException, source_file: str | None) -> dict[str, str]:
    """An exception as data, with only the learner's frames in its traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if source_file is not None:
        # The learner sees their own frames, never the grader's.
        frames = traceback.StackSummary.from_list(
            [f for f in frames if f.filename == source_file]
        )
    text = "".join(traceback.format_list(frames))
    try:
        message = str(exc)
    except BaseException:  # a learner's exception whose __str__ itself raises
        message = "(the exception's message could not be read)"
    return {"type": type(exc).__name__, "message": message[:2000], "traceback": text[-4000:]}


def _grad_of_sum(result: Any, inputs: dict[str, Any], encoder: Encoder) -> dict[str, Any]:
    wanted = {
        name: value
        for name, value in inputs.items()
        if type(value) is torch.Tensor and value.requires_grad
    }
    if type(result) is not torch.Tensor:
        return {"error": "the function did not return a tensor, so no gradient flows"}
    if not result.requires_grad:
        return {"error": "the returned tensor does not require grad: the graph was broken"}
    try:
        grads = _autograd_grad(result.sum(), list(wanted.values()), allow_unused=True)
    except BaseException as exc:
        return {"error": f"backward through your result failed: {type(exc).__name__}: {exc}"}
    return {
        "grads": {
            name: None if grad is None else encoder.encode(grad)
            for name, grad in zip(wanted, grads, strict=True)
        }
    }


def _gradcheck_probe(fn: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    names = [
        n for n, v in inputs.items()
        if type(v) is torch.Tensor and v.requires_grad and v.is_floating_point()
    ]
    if not names:
        return {"passed": False, "message": "no input requires grad"}
    doubles = [inputs[n].detach().double().requires_grad_(True) for n in names]

    def call(*xs: torch.Tensor) -> Any:
        return fn(**{**inputs, **dict(zip(names, xs, strict=True))})

    try:
        ok = bool(_gradcheck(call, tuple(doubles), eps=1e-6, atol=1e-5, raise_exception=True))
    except BaseException as exc:
        return {"passed": False, "message": f"{type(exc).__name__}: {str(exc)[:1500]}"}
    return {"passed": ok, "message": ""}


def invoke(
    fn: Callable[..., Any],
    case_name: str,
    inputs: dict[str, Any],
    probes: Iterable[str],
    max_bytes: int,
    source_file: str | None = None,
) -> tuple[dict[str, Any], Encoder]:
    """Call ``fn(**inputs)`` once and observe the result, the inputs and the requested probes.

    Returns the observation header and the encoder holding its arrays. Exceptions raised by
    ``fn`` (any BaseException, ``SystemExit`` and ``KeyboardInterrupt`` included) are recorded,
    not propagated.
    """
    encoder = Encoder(max_bytes)
    header: dict[str, Any] = {"case": case_name}
    header["inputs_before"] = {n: encoder.encode(v, with_data=False) for n, v in inputs.items()}
    rng_before = rng_fingerprints()
    start = _perf_counter()
    try:
        result = fn(**inputs)
    except BaseException as exc:
        header["duration_s"] = _perf_counter() - start
        header["status"] = "raised"
        header["error"] = error_facts(exc, source_file)
        header["inputs_after"] = {n: encoder.encode(v) for n, v in inputs.items()}
        return header, encoder
    header["duration_s"] = _perf_counter() - start
    header["status"] = "returned"
    rng_after = rng_fingerprints()
    header["rng_changed"] = sorted(k for k in rng_before if rng_before[k] != rng_after[k])
    header["result_is"] = sorted(n for n, v in inputs.items() if v is result)
    header["result"] = encoder.encode(result)
    header["inputs_after"] = {n: encoder.encode(v) for n, v in inputs.items()}
    wanted = set(probes)
    if "grad_of_sum" in wanted:
        header["grad_of_sum"] = _grad_of_sum(result, inputs, encoder)
    if "gradcheck" in wanted:
        header["gradcheck"] = _gradcheck_probe(fn, inputs)
    return header, encoder
