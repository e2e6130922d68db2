"""The ``grader`` command.

Grading subcommands (``check``, ``exercises``) run in a fresh interpreter as ``python -m
worker.cli``: the web package never imports the grading code, and the grading code never
imports the web package.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

GRADING_COMMANDS = ("check", "exercises")

USAGE = """usage: grader [--exercises DIR] COMMAND ...

commands:
  check SLUG FILE [--json]     grade a submission (.py, .ipynb, or - for stdin)
  exercises list [--json]      the exercises, grouped by module
  exercises validate [SLUG...] prove exercises before they go live
"""


def _command(argv: Sequence[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--exercises":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Dispatch to the grading side or the web side."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _command(args)
    if command in GRADING_COMMANDS:
        os.execv(sys.executable, [sys.executable, "-m", "worker.cli", *args])
    if command is None and any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE)
        sys.exit(0)
    sys.stderr.write(USAGE)
    sys.stderr.write(f"grader: unknown command {command!r}\n" if command else "")
    sys.exit(2)
