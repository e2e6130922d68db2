"""The development fallback runner: a fresh Python per job, with resource limits only.

:class:`ProcessRunner` has no kernel isolation (the hardened sandbox, :mod:`worker.sandbox`,
replaces it in production) and imports torch afresh for every job, so it is slow; it stays as
the portable fallback and for development (``GRADER_RUNNER=process``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from worker.runner import (
    Job,
    Limits,
    OutcomeBuilder,
    RunOutcome,
    RunStatus,
    collect,
    file_size_limit,
    signal_status,
)

# The notice on every result graded without the sandbox (GRADER_RUNNER=process).
PROCESS_RUNNER_NOTICE = (
    "development mode (GRADER_RUNNER=process): learner code ran WITHOUT the sandbox, as the "
    "worker's own user, with resource limits only. Do not grade real submissions like this."
)


def _limit_resources(limits: Limits) -> None:
    # Runs in the child between fork and exec.
    cpu = int(limits.time_s + limits.startup_s) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    size = file_size_limit(limits)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))


def scrubbed_environment(home: str) -> dict[str, str]:
    """The only environment learner code sees: no secrets, single-threaded math libraries."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


def read_capped(path: Path, limit: int) -> tuple[str, bool]:
    """The first ``limit`` bytes of a file as text (invalid UTF-8 replaced), and whether it was cut.

    Never follows a symlink planted where the file should be.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return "", False
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


class ProcessRunner:
    """Runs each job in a fresh Python process with rlimits, a scrubbed environment, its own
    session (so the whole group can be killed) and a wall-clock timer.

    Slow (a fresh ``import torch`` per job) and without kernel isolation: the hardened sandbox
    replaces it in production. It stays as the portable fallback and for development.
    """

    def run(self, job: Job) -> RunOutcome:
        """Run ``job`` in a child process; see :class:`Runner`."""
        workdir = Path(tempfile.mkdtemp(prefix="grader-job-"))
        try:
            return self._run(job, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run(self, job: Job, workdir: Path) -> RunOutcome:
        limits = job.limits
        source_path = workdir / "submission.py"
        source_path.write_text(job.source, encoding="utf-8")
        output_path = workdir / "output.txt"
        read_end, write_end = os.pipe()
        builder = OutcomeBuilder(limits, tuple(c.name for c in job.cases))
        with open(output_path, "wb") as output:
            child = subprocess.Popen(
                [sys.executable, "-I", "-m", "worker.harness", str(write_end)],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                cwd=workdir,
                env=scrubbed_environment(str(workdir)),
                start_new_session=True,
                preexec_fn=lambda: _limit_resources(limits),
            )
        os.close(write_end)
        status: RunStatus | None = None
        message = ""
        try:
            assert child.stdin is not None
            try:
                child.stdin.write(job.payload(str(source_path), builder.key))
                child.stdin.close()
            except BrokenPipeError:
                pass
            status, message = collect(read_end, builder)
        finally:
            os.close(read_end)
            _kill_group(child)
        # After "done" the run is over: the process is killed then (as the sandbox's is), so
        # how it ended says nothing. Before it, a signal or an exit code is what happened.
        if status is None and not builder.done:
            status, message = signal_status(child.returncode, limits) or (None, "")
            if status is None:
                message = f"the process exited with status {child.returncode} before finishing"
        stdout, cut = read_capped(output_path, limits.output_bytes)
        outcome = builder.finish(status, message)
        outcome.stdout = stdout + ("\n[output cut: over the limit]" if cut else "")
        outcome.notices.append(PROCESS_RUNNER_NOTICE)
        return outcome


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    # The learner may have forked; kill the whole session, then reap our child.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
