"""One run in a warm child, from the runner's side: the job in, frames out, the end.

The runner writes the job to the child's pipe and reads sealed frames under the run's deadline
(:class:`~worker.runner.OutcomeBuilder`); however the run ends, the child's PID namespace is
killed through its pidfd. How the process ended comes from the zygote, its parent, which reaps
it; what the visible cases printed is read back from the capture memfd.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import select
import signal

from common.spec import CaseSpec
from worker import shared_inputs
from worker.cases import build_inputs
from worker.harness.capture import sealed
from worker.observation import ObservationError
from worker.runner import (
    Job,
    Limits,
    OutcomeBuilder,
    RunOutcome,
    RunStatus,
    collect,
    protocol_message,
    signal_status,
)
from worker.sandbox.warm import WarmChild


def _oom_kills() -> int:
    try:
        with open("/proc/vmstat", "rb") as handle:
            for line in handle:
                if line.startswith(b"oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _write_job(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    with contextlib.suppress(BrokenPipeError):
        while view:
            view = view[os.write(fd, view):]


def drive(child: WarmChild, job: Job) -> RunOutcome:
    """Give ``child`` the job, read its frames until the run ends, then end the child and read
    back what the visible cases printed."""
    limits = job.limits
    slots = _share_inputs(child, job)
    builder = OutcomeBuilder(limits, tuple(c.name for c in job.cases),
                             hidden=frozenset(c.name for c in job.cases if not c.visible),
                             seal_check=lambda: sealed(child.output), slots=len(slots))
    oom_before = _oom_kills()
    _write_job(child.job, job.sandbox_payload(builder.key, [s.as_list() for s in slots]))
    os.close(child.job)
    child.job = -1
    status, message = collect(child.result, builder)
    if status is None and not builder.done:
        status, message = _exit_status(child, builder, limits, oom_before)
    child.kill()
    outcome = builder.finish(status, message)
    if slots:
        _numbers_from_slots(child, slots, outcome, limits)
    if _output_unsafe(builder, outcome):
        outcome.stdout = "[output not shown: the run ended between its visible and hidden cases]"
        return outcome
    data = os.pread(child.output, limits.output_bytes + 1, 0)
    text = data[: limits.output_bytes].decode("utf-8", errors="replace")
    outcome.stdout = text + ("\n[output cut: over the limit]" if len(data) > limits.output_bytes
                             else "")
    return outcome


def _numbers_from_slots(child: WarmChild, slots: tuple[shared_inputs.Slot, ...],
                        outcome: RunOutcome, limits: Limits) -> None:
    """Read the inputs segment once the child is dead: the numbers of every value that lies in
    it, and of every input that kept its memory, are what the runner reads there."""
    segment = os.pread(child.inputs, shared_inputs.size(slots), 0)
    try:
        shared_inputs.fill(segment, slots, outcome.observations, limits.observation_bytes)
    except ObservationError as exc:
        outcome.observations.clear()
        if outcome.status != "tampering":
            outcome.status, outcome.message = "protocol_error", protocol_message(exc)
        return
    shared_inputs.read_back(segment, slots, outcome.observations)


def _share_inputs(child: WarmChild, job: Job) -> tuple[shared_inputs.Slot, ...]:
    """Lay out the job's inputs in the child's segment (CPU jobs), sealed at its size."""
    if job.device != "cpu":
        return ()
    slots, image = _slots(tuple(c.model_dump_json() for c in job.cases))
    os.ftruncate(child.inputs, len(image))
    fcntl.fcntl(child.inputs, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    view = memoryview(image)
    while view:
        view = view[os.pwrite(child.inputs, view, len(image) - len(view)):]
    return slots


@functools.lru_cache(maxsize=64)
def _slots(cases: tuple[str, ...]) -> tuple[tuple[shared_inputs.Slot, ...], bytes]:
    # The inputs depend on the case specs only (generation is deterministic): built once.
    specs = [CaseSpec.model_validate_json(c) for c in cases]
    inputs = {c.name: build_inputs(c, "cpu") for c in specs}
    slots = shared_inputs.plan(inputs)
    return slots, shared_inputs.image(inputs, slots)


def _output_unsafe(builder: OutcomeBuilder, outcome: RunOutcome) -> bool:
    """Whether the visible capture may hold hidden cases' output: the run had hidden cases, got
    past its visible ones, and did not end with the capture sealed and approved."""
    if not builder.split or outcome.status in ("completed", "load_error"):
        return False
    visible_done = all(c in outcome.observations for c in builder.cases or ()
                       if c not in builder.hidden)
    # hidden_reached is set only once the runner's own seal check passed (OutcomeBuilder).
    return visible_done and not outcome.hidden_reached


def _exit_status(child: WarmChild, builder: OutcomeBuilder, limits: Limits,
                 oom_before: int) -> tuple[RunStatus | None, str]:
    """How the learner's process ended, as the zygote (its parent) reports on reaping it.

    The result channel closed without "done": the process ended, or closed the channel and
    carries on, in which case the time limit still applies.
    """
    ready, _, _ = select.select([child.status], [], [], max(0.0, builder.time_left()))
    if not ready:
        return builder.overtime()
    raw = os.read(child.status, 64)
    try:
        status = int(raw.strip())
    except ValueError:
        return "crashed", "the sandboxed process ended without a status"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and _oom_kills() > oom_before:
            return "memory_limit", "your code used more memory than the machine could give"
        return signal_status(-sig, limits) or ("crashed", f"signal {sig}")
    code = os.WEXITSTATUS(status)
    return None, (f"the process exited with status {code} before finishing "
                  "(sys.exit or os._exit in your code?)")
