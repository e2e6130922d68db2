"""The GPU as one job sees it, set up in the learner's process before their code loads.

A ``cuda`` job initialises CUDA here (the sandboxed child is the first process of its line to do
so: the zygote never does, so forking stays safe), and caps torch's caching allocator at a share
of each visible card's memory, so that one learner's runaway allocation ends as that job's
``memory_limit`` rather than as out-of-memory errors in every other job on the card. The setter
is then replaced by one that can lower the cap but not raise it.

A ``cpu`` job sees no GPU at all, whatever the machine: a CPU exercise is graded the same on a
worker with a GPU as on one without (``.cuda()`` fails the same way on both), and its process
never creates a CUDA context on a card that GPU jobs share.

Both are guards against mistakes, not walls against an attacker: code that loads the CUDA
driver itself (ctypes) is not held by torch's allocator, and the environment can be changed
before CUDA starts. The hard limits are the card's partitioning (MIG) or an MPS server's
per-client memory limit; see docs/deploy.md.
"""

from __future__ import annotations

import os
import resource
from typing import Any

import torch

# The error type a run reports when its GPU could not be set up (the pipeline then grades
# nothing: the submission fails with the grader's message instead of scoring zero).
GPU_UNAVAILABLE = "GpuUnavailable"


class GpuSetupError(RuntimeError):
    """CUDA could not be set up for a ``cuda`` job (the grader's fault, not the learner's)."""


def hide_gpus() -> None:
    """Make this process see no CUDA device (before anything initialises CUDA)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") != "":  # a zygote without GPUs hid them once
        os.environ["CUDA_VISIBLE_DEVICES"] = ""


def gpu_devices_present() -> bool:
    """Whether this machine has NVIDIA device nodes (where CUDA jobs could run)."""
    try:
        return any(name.startswith("nvidia") for name in os.listdir("/dev"))
    except OSError:
        return False


def cap_gpu_memory(fraction: float) -> None:
    """Initialise CUDA and cap each visible device at ``fraction`` of its memory; afterwards
    ``torch.cuda.set_per_process_memory_fraction`` accepts only values up to ``fraction``."""
    if not 0 < fraction <= 1:
        raise GpuSetupError(f"GPU memory fraction {fraction!r} is not in (0, 1]")
    try:
        count = torch.cuda.device_count()
        if count == 0:
            nodes = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
            raise GpuSetupError(
                "this worker has no usable CUDA device (CUDA_VISIBLE_DEVICES="
                f"{os.environ.get('CUDA_VISIBLE_DEVICES')!r}, device nodes {nodes})")
        for device in range(count):
            torch.cuda.set_per_process_memory_fraction(fraction, device)
    except GpuSetupError:
        raise
    except Exception as exc:
        # CUDA reserves much address space when it starts: say what the limit was.
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        limit = "none" if soft == resource.RLIM_INFINITY else f"{soft / 2**30:.1f} GiB"
        raise GpuSetupError(f"CUDA could not be initialised: {type(exc).__name__}: {exc} "
                            f"(address-space limit {limit})") from exc
    _guard_setter(fraction)


def gpu_share_bytes(fraction: float) -> int:
    """What ``fraction`` of every visible card comes to, in bytes (after CUDA started): the
    address space a job's GPU allocations may map on top of its host memory."""
    return sum(int(torch.cuda.get_device_properties(d).total_memory * fraction)
               for d in range(torch.cuda.device_count()))


def _guard_setter(cap: float) -> None:
    """``torch.cuda.memory.set_per_process_memory_fraction`` calls this binding by name on each
    call, so replacing it covers the public function too."""
    real = torch._C._cuda_setMemoryFraction

    def set_memory_fraction(fraction: Any, device: Any) -> None:
        if float(fraction) > cap:
            raise RuntimeError(f"the grader caps each job's GPU memory at {cap:g} of the card; "
                               f"{float(fraction):g} is not allowed")
        real(fraction, device)

    torch._C._cuda_setMemoryFraction = set_memory_fraction


def prepare_device(job: dict[str, Any]) -> None:
    """What a job's device needs before learner code loads: hidden GPUs for ``cpu``, the memory
    cap for ``cuda``. Raises GpuSetupError when a ``cuda`` job cannot have its GPU."""
    if job.get("device") == "cuda":
        cap_gpu_memory(float(job["gpu_memory_fraction"]))
    else:
        hide_gpus()
