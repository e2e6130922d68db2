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

from worker.observation import RNG_NAMES, Encoder, requires_grad_of, rng_states

# Captured before learner code is loaded (see worker.observation).
_autograd_grad = torch.autograd.grad
_gradcheck = torch.autograd.gradcheck
_perf_counter = time.perf_counter
_requires_grad = requires_grad_of

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


_tensor_sum = torch.Tensor.sum


def grad_of_sum(result: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Gradients of ``result.sum()`` for each input that requires grad (tensors, or an error).

    Runs where the function ran (it may run the learner's ``backward``)."""
    wanted = {
        name: value
        for name, value in inputs.items()
        if type(value) is torch.Tensor and _requires_grad(value)
    }
    if type(result) is not torch.Tensor:
        return {"error": "the function did not return a tensor, so no gradient flows"}
    if not _requires_grad(result):
        return {"error": "the returned tensor does not require grad: the graph was broken"}
    try:
        grads = _autograd_grad(_tensor_sum(result), list(wanted.values()), allow_unused=True)
    except BaseException as exc:
        return {"error": f"backward through your result failed: {type(exc).__name__}: {exc}"}
    return {"tensors": dict(zip(wanted, grads, strict=True))}


def encode_grads(probe: dict[str, Any], encoder: Encoder) -> dict[str, Any]:
    """The gradient probe as facts (see :func:`grad_of_sum`)."""
    if "tensors" not in probe:
        return probe
    return {"grads": {name: None if grad is None else encoder.encode(grad)
                      for name, grad in probe["tensors"].items()}}


def gradcheck_probe(fn: Callable[..., Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """``torch.autograd.gradcheck`` on float64 copies of the inputs that require grad."""
    names = [
        n for n, v in inputs.items()
        if type(v) is torch.Tensor and _requires_grad(v) and v.is_floating_point()
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


def call(fn: Callable[..., Any], inputs: dict[str, Any], probes: Iterable[str],
         source_file: str | None = None) -> dict[str, Any]:
    """Call ``fn(**inputs)`` once and run the requested probes: the part of an observation that
    runs the observed code (in the sandbox, on the learner's thread). Returns raw results:
    ``duration_s``, then ``error`` (facts) or ``result``, ``rng_after`` and the probes'
    outcomes. Never raises for what ``fn`` does."""
    raw: dict[str, Any] = {}
    start = _perf_counter()
    try:
        result = fn(**inputs)
    except BaseException as exc:
        raw["duration_s"] = _perf_counter() - start
        raw["error"] = error_facts(exc, source_file)
        return raw
    raw["duration_s"] = _perf_counter() - start
    raw["rng_after"] = rng_states()
    raw["result"] = result
    wanted = set(probes)
    if "grad_of_sum" in wanted:
        raw["grad_of_sum"] = grad_of_sum(result, inputs)
    if "gradcheck" in wanted:
        raw["gradcheck"] = gradcheck_probe(fn, inputs)
    return raw


def observe(
    raw: dict[str, Any],
    case_name: str,
    inputs: dict[str, Any],
    before: dict[str, Any],
    rng_before: dict[str, object],
    encoder: Encoder,
) -> dict[str, Any]:
    """The observation header of a call (see :func:`call`), with ``before`` the inputs' facts
    taken before it (their storage, for the memory checks)."""
    header: dict[str, Any] = {"case": case_name, "inputs_before": before,
                              "duration_s": raw["duration_s"]}
    if "error" in raw:
        header["status"] = "raised"
        header["error"] = raw["error"]
        header["inputs_after"] = {n: encoder.encode(v) for n, v in inputs.items()}
        return header
    result = raw["result"]
    rng_after = raw["rng_after"]
    header["status"] = "returned"
    header["rng_changed"] = [k for k in RNG_NAMES if rng_before[k] != rng_after[k]]
    header["result_is"] = [n for n, v in inputs.items() if v is result]
    header["result"] = encoder.encode(result)
    header["inputs_after"] = {n: encoder.encode(v) for n, v in inputs.items()}
    if "grad_of_sum" in raw:
        header["grad_of_sum"] = encode_grads(raw["grad_of_sum"], encoder)
    if "gradcheck" in raw:
        header["gradcheck"] = raw["gradcheck"]
    return header


def invoke(
    fn: Callable[..., Any],
    case_name: str,
    inputs: dict[str, Any],
    probes: Iterable[str],
    max_bytes: int,
    source_file: str | None = None,
) -> tuple[dict[str, Any], Encoder]:
    """Call ``fn(**inputs)`` once and observe the result, the inputs and the requested probes,
    all in this thread (the trusted side observing the reference; the sandbox splits it into
    :func:`call` on the learner's thread and :func:`observe` on its own).

    Returns the observation header and the encoder holding its arrays. Exceptions raised by
    ``fn`` (any BaseException, ``SystemExit`` and ``KeyboardInterrupt`` included) are recorded,
    not propagated.
    """
    encoder = Encoder(max_bytes)
    before = {n: encoder.encode(v, with_data=False) for n, v in inputs.items()}
    rng_before = rng_states()
    raw = call(fn, inputs, probes, source_file)
    return observe(raw, case_name, inputs, before, rng_before, encoder), encoder
