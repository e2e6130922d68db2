"""Running learner code away from the process that grades it.

A :class:`Runner` takes a :class:`Job` (the learner's source, the function, the cases) and
returns a :class:`RunOutcome`: observations as validated data, captured output, and how the
run ended. :class:`~worker.process_runner.ProcessRunner` starts a fresh Python per job; the
hardened sandbox (:mod:`worker.sandbox`) implements the same protocol.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from common.spec import CaseSpec
from worker.harness.frames import FrameReader, new_key
from worker.observation import ErrorFacts, Observation, ObservationError, decode

RunStatus = Literal[
    "completed", "load_error", "timeout", "memory_limit", "output_limit", "crashed",
    "protocol_error", "tampering",
]
# The share of each GPU's memory one job may allocate through torch's caching allocator
# (``GRADER_GPU_MEMORY_FRACTION``; applied in the learner's process, worker/harness/gpu.py).
DEFAULT_GPU_MEMORY_FRACTION = 0.25


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run."""

    time_s: float = 5.0
    memory_bytes: int = 4 * 2**30
    output_bytes: int = 64 * 2**10
    observation_bytes: int = 64 * 2**20
    open_files: int = 256
    # How long the process may take to be ready for the learner's code (interpreter start,
    # imports); the time limit proper starts when it is.
    startup_s: float = 60.0
    gpu_memory_fraction: float = DEFAULT_GPU_MEMORY_FRACTION


@dataclass(frozen=True)
class Job:
    """One run of learner code: the source, the function and the cases to call it on."""

    source: str
    function: str
    cases: tuple[CaseSpec, ...]
    device: str = "cpu"
    probes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    limits: Limits = Limits()

    def _fields(self, source_path: str, key: bytes) -> dict[str, Any]:
        return {
            "key": key.hex(),
            "source_path": source_path,
            "function": self.function,
            "cases": [c.model_dump() for c in self.cases],
            "device": self.device,
            "probes": {k: list(v) for k, v in self.probes.items()},
            "max_observation_bytes": self.limits.observation_bytes,
            "gpu_memory_fraction": self.limits.gpu_memory_fraction,
        }

    def payload(self, source_path: str, key: bytes) -> bytes:
        """The job as the harness reads it on stdin, with the run's MAC key."""
        return json.dumps(self._fields(source_path, key)).encode()

    @property
    def phases(self) -> int:
        """1, or 2 when the job holds visible and hidden cases: each part has its own time
        limit, as if it were a run of its own."""
        return 2 if len({c.visible for c in self.cases}) == 2 else 1

    def sandbox_payload(self, key: bytes, shared_inputs: list[list[Any]] | None = None) -> bytes:
        """The job as a sandboxed child reads it: with the source (written inside the sandbox,
        never on the host), the run's MAC key and the limits it applies to itself before
        loading the code."""
        fields = self._fields("", key)
        fields["source"] = self.source
        fields["shared_inputs"] = shared_inputs or []
        fields["limits"] = {
            "time_s": self.limits.time_s * self.phases,
            "memory_bytes": self.limits.memory_bytes,
            "output_bytes": self.limits.output_bytes,
            "file_size_bytes": file_size_limit(self.limits),
            "open_files": self.limits.open_files,
        }
        return json.dumps(fields).encode()


@dataclass
class RunOutcome:
    """How a run ended, what it observed (by case name) and what it printed."""

    status: RunStatus
    observations: dict[str, Observation] = field(default_factory=dict)
    stdout: str = ""
    message: str = ""
    load_error: ErrorFacts | None = None
    running_case: str | None = None
    notices: list[str] = field(default_factory=list)
    tampering: str | None = None  # the event the tripwire saw, and where
    # The run got as far as its hidden cases (a job may hold visible and hidden ones): what
    # went wrong after that is told as of a hidden case.
    hidden_reached: bool = False


class Runner(Protocol):
    """Runs a job somewhere the grading process is safe from it.

    A runner whose ``separates_hidden_output`` attribute is true may be given visible and
    hidden cases in one job (visible first): it returns only what the visible cases printed.
    Others get one job per visibility.
    """

    def run(self, job: Job) -> RunOutcome:
        """Run the job to completion or to its limits; never raises on learner behaviour."""
        ...


class OutcomeBuilder:
    """Turns the frames a harness sent into a RunOutcome (shared by every runner).

    Frames come from the learner's process, so they are checked: sealed with this run's key
    (see :mod:`worker.harness.frames`), within the run's observation budget, ``ready`` once and
    first, for the job's own cases only, each case at most once. Anything else is a protocol
    error. The run's deadline is fixed: the start-up allowance, then the time limit from the
    one ``ready``, and never later than both added to the moment the run began.

    A run of visible and hidden cases (``hidden`` names the hidden ones, which come last) has
    two parts with a time limit each: the hidden part starts at the one ``hidden`` frame, which
    must come after every visible case and before any hidden one, and which ``seal_check``
    (the runner's own look at the visible capture) must approve. Its final deadline adds both
    limits to the start-up allowance, fixed when the run began.
    """

    def __init__(self, limits: Limits, cases: tuple[str, ...] | None = None,
                 key: bytes | None = None, hidden: frozenset[str] = frozenset(),
                 seal_check: Callable[[], bool] | None = None, slots: int = 0) -> None:
        self.limits = limits
        self.slots = slots  # shared inputs slots the run has (see worker.shared_inputs)
        self.cases = cases
        self.key = key if key is not None else new_key()
        self.hidden = hidden
        self.split = bool(hidden) and cases is not None and any(c not in hidden for c in cases)
        self.seal_check = seal_check
        self.hidden_at: float | None = None
        per_frame = limits.observation_bytes + 2**20
        self.reader = FrameReader(self.key, per_frame * (len(cases or ()) + 1), per_frame)
        self.outcome = RunOutcome(status="crashed")
        self.done = False
        self.loaded = False
        self.ready_at: float | None = None
        started = time.monotonic()
        self.startup_deadline = started + limits.startup_s
        parts = 2 if self.split else 1
        self.final_deadline = started + limits.startup_s + limits.time_s * parts

    def time_left(self) -> float:
        """Seconds until the run must end: the start-up allowance until the harness is ready,
        then the time limit counted from that moment, or from the start of the hidden part
        (and never past the final deadline)."""
        now = time.monotonic()
        if self.ready_at is None:
            return self.startup_deadline - now
        part_start = self.ready_at if self.hidden_at is None else self.hidden_at
        return min(part_start + self.limits.time_s, self.final_deadline) - now

    def overtime(self) -> tuple[RunStatus, str]:
        """The status of a run that outlived :meth:`time_left`."""
        if self.ready_at is None:
            return "crashed", "the process that runs your code did not start in time"
        return "timeout", f"your code did not finish within {self.limits.time_s:g} s"

    def feed(self, data: bytes) -> None:
        """Consume bytes from the result channel; a malformed frame ends in protocol_error."""
        for header, arrays in self.reader.feed(data):
            kind = header.get("type")
            if self.ready_at is None and kind != "ready":
                raise ObservationError(f"a {kind!r} frame came before 'ready'")
            if kind == "ready":
                if self.ready_at is not None:
                    raise ObservationError("'ready' came twice")
                self.ready_at = time.monotonic()
            elif kind == "loaded":
                self.loaded = True
            elif kind == "load_error":
                self.outcome.load_error = ErrorFacts.model_validate(header.get("error"))
                self.done = True
            elif kind == "hidden":
                self._enter_hidden_part()
            elif kind == "start":
                self.outcome.running_case = self._expected_case(header.get("case"))
            elif kind == "case":
                observation = decode(header.get("observation") or {}, dict(enumerate(arrays)),
                                     self.slots)
                name = observation.header.case
                if name != self.outcome.running_case:
                    raise ObservationError(f"an observation of case {name!r} was not expected")
                self.outcome.observations[name] = observation
                self.outcome.running_case = None
            elif kind == "done":
                unseen = [c for c in self.cases or () if c not in self.outcome.observations]
                if self.outcome.running_case is not None or unseen:
                    raise ObservationError("the run claimed to be done before all its cases")
                self.done = True
            elif kind == "tampering":
                event, where = str(header.get("event", "?")), str(header.get("where", "?"))
                self.outcome.tampering = f"{event} ({where})"[:400]
                self.done = True
            else:
                raise ObservationError(f"unknown frame type {kind!r}")

    def _enter_hidden_part(self) -> None:
        if not self.split or self.hidden_at is not None:
            raise ObservationError("an unexpected 'hidden' frame")
        visible = [c for c in self.cases or () if c not in self.hidden]
        if self.outcome.running_case is not None or any(
                c not in self.outcome.observations for c in visible):
            raise ObservationError("the hidden cases began before the visible ones ended")
        if self.seal_check is not None and not self.seal_check():
            raise ObservationError("the visible cases' output was not closed before the "
                                   "hidden cases began")
        self.hidden_at = time.monotonic()
        self.outcome.hidden_reached = True

    def _expected_case(self, name: object) -> str:
        if not isinstance(name, str) or (self.cases is not None and name not in self.cases):
            raise ObservationError(f"case {name!r} is not one of this run's")
        if name in self.outcome.observations or self.outcome.running_case is not None:
            raise ObservationError(f"case {name!r} started twice or out of order")
        if self.split and (name in self.hidden) != (self.hidden_at is not None):
            raise ObservationError(f"case {name!r} started in the wrong part of the run")
        return name

    def finish(self, status: RunStatus | None, message: str = "") -> RunOutcome:
        """Settle the final status: tampering above all, then an explicit one, else what the
        frames showed."""
        outcome = self.outcome
        if outcome.tampering is not None:
            outcome.status = "tampering"
            outcome.message = (
                "the grader stopped your code for tampering: it reached for the grader's own "
                f"state ({outcome.tampering}); such a run earns no points"
            )
        elif status is not None:
            outcome.status, outcome.message = status, message
        elif outcome.load_error is not None:
            outcome.status = "load_error"
        elif self.done:
            outcome.status = "completed"
        else:
            outcome.status = "crashed"
            outcome.message = message or "the process ended before all cases had run"
        return outcome


def protocol_message(exc: Exception) -> str:
    """What a learner is told when the result channel carried something the harness never sends
    (learner code writing to descriptors it did not open, or forging frames)."""
    return f"the grader's result channel carried malformed data ({exc}); did your code write to it?"


def file_size_limit(limits: Limits) -> int:
    """The largest file (captured output included) a run may write: RLIMIT_FSIZE."""
    return limits.output_bytes * 4


def signal_status(returncode: int, limits: Limits) -> tuple[RunStatus, str] | None:
    """The status a learner is told for a child killed by a signal."""
    if returncode >= 0:
        return None
    sig = -returncode
    if sig == signal.SIGXFSZ:
        return "output_limit", (f"your code wrote more than {file_size_limit(limits) // 1024} KB "
                                "(printed output, or a file)")
    if sig == signal.SIGXCPU:
        return "timeout", f"your code used more than {limits.time_s:g} s of CPU time"
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    meaning = signal.strsignal(sig) if sig in signal.Signals._value2member_map_ else None
    what = f" ({meaning.lower()})" if meaning else ""
    return "crashed", f"the process was killed by signal {name}{what}"


def collect(fd: int, builder: OutcomeBuilder) -> tuple[RunStatus | None, str]:
    """Feed the builder what arrives on the result channel ``fd`` until the run is done, the
    channel closes (None: the process's end tells how it went) or the time is up."""
    while not builder.done:
        remaining = builder.time_left()
        if remaining <= 0:
            return builder.overtime()
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        data = os.read(fd, 1 << 20)
        if not data:
            return None, ""
        try:
            builder.feed(data)
        except (ObservationError, ValueError) as exc:  # FrameError is a ValueError
            return "protocol_error", protocol_message(exc)
    return None, ""
