"""The grading side of the ``grader`` command: ``check`` and ``exercises
list|validate|export|import``.

``grader.cli`` hands these subcommands to this module in a fresh interpreter, so the web
package never imports the grading code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from common.spec import MODULES, ExerciseError, ExerciseLibrary
from common.store import Store
from common.submission import SubmissionError, source_from_text, source_from_upload
from worker.checks import checked_library
from worker.config import ConfigError, WorkerConfig
from worker.pipeline import GraderError, Pipeline
from worker.report import render_text
from worker.runners import SandboxUnavailable, build_runner
from worker.service_config import ServiceSettings
from worker.transfer import TransferError, export_exercise, import_exercise
from worker.validation import validate_exercise

EXIT_FULL_MARKS, EXIT_NOT_FULL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description=__doc__)
    parser.add_argument("--exercises", metavar="DIR", type=Path,
                        help="a course folder (exercises/ and reference/) or its exercises/ "
                             "folder; default: GRADER_EXERCISES_DIR, else the shipped course")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="grade a submission")
    check.add_argument("slug")
    check.add_argument("file", help="a .py file, a .ipynb notebook, or - for code on stdin")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    exercises = sub.add_parser("exercises", help="list or validate exercises")
    actions = exercises.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="exercises grouped by module")
    listing.add_argument("--json", action="store_true")
    validate = actions.add_parser("validate", help="prove exercises before they go live")
    validate.add_argument("slugs", nargs="*")
    export = actions.add_parser("export", help="write an exercise (uploaded to the service, "
                                               "else the course's) as a course folder")
    export.add_argument("slug")
    export.add_argument("dir", type=Path, help="the course folder to write into")
    importing = actions.add_parser("import", help="validate exercises of a course folder and "
                                                  "make them live in the service")
    importing.add_argument("dir", type=Path, help="a course folder (exercises/, reference/)")
    importing.add_argument("slugs", nargs="*", help="default: every exercise of DIR")
    for p in (check, listing, validate, export, importing):
        p.add_argument("--exercises", metavar="DIR", type=Path, default=argparse.SUPPRESS)
    return parser


def _usage_error(message: str) -> int:
    print(f"grader: {message}", file=sys.stderr)
    return EXIT_USAGE


def _read_submission(file: str) -> str:
    if file == "-":
        return source_from_text(sys.stdin.buffer.read())
    path = Path(file)
    if not path.is_file():
        raise SubmissionError(f"{file}: no such file")
    return source_from_upload(path.name, path.read_bytes())


def cmd_check(args: argparse.Namespace, pipeline: Pipeline, source: str) -> int:
    """Grade one submission (already read and checked) and print the report."""
    verdict = pipeline.grade(args.slug, source)
    if args.json:
        print(verdict.model_dump_json())
    else:
        sys.stdout.write(render_text(verdict))
    return EXIT_FULL_MARKS if verdict.full_marks else EXIT_NOT_FULL


def cmd_list(args: argparse.Namespace, library: ExerciseLibrary) -> int:
    """Print the exercises grouped by module, in the course notebook's order; a malformed
    exercise is reported on stderr without hiding the others."""
    exercises, problems = library.scan()
    for slug, problem in problems.items():
        print(f"grader: skipping invalid exercise {slug}: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps([
            {"slug": e.slug, "title": e.title, "module": e.module, "points": e.points,
             "device": e.device} for e in exercises
        ]))
        return EXIT_NOT_FULL if problems else EXIT_FULL_MARKS
    for module in MODULES:
        members = [e for e in exercises if e.module == module.key]
        if not members:
            continue
        print(module.title)
        for e in members:
            device = "  [GPU when available]" if e.device == "cuda" else ""
            print(f"  {e.slug:<28} {e.title}{device}")
    return EXIT_NOT_FULL if problems else EXIT_FULL_MARKS


def cmd_validate(args: argparse.Namespace, pipeline: Pipeline) -> int:
    """Validate the named exercises (all by default, checked to exist); exit 1 if any fails."""
    library = pipeline.library
    slugs = args.slugs or library.slugs()
    failures = 0
    for slug in slugs:
        try:
            exercise = library.load(slug)
        except ExerciseError as exc:
            count = len(exc.problems)
            print(f"FAIL {slug}" + (f" ({count} problems)" if count > 1 else ""))
            for line in str(exc).splitlines():
                print(f"  {line}")
            failures += 1
            continue
        report = validate_exercise(pipeline, exercise)
        print(f"{'ok  ' if report.ok else 'FAIL'} {slug}")
        for line in report.lines:
            print(f"  {line}")
        for problem in report.problems:
            print(f"  problem: {problem}")
        failures += not report.ok
    print(f"{len(slugs) - failures} of {len(slugs)} exercises valid")
    return EXIT_NOT_FULL if failures else EXIT_FULL_MARKS


def _arguments_problem(args: argparse.Namespace, library: ExerciseLibrary) -> str | None:
    """What is wrong with the command line, found before any sandbox starts."""
    if args.command == "exercises" and args.action == "export":
        return None  # an uploaded exercise lives in the service, not in the folder
    slugs = [args.slug] if args.command == "check" else getattr(args, "slugs", [])
    for slug in slugs:
        if slug not in library:
            return f"unknown exercise {slug!r}; known: {', '.join(library.slugs())}"
    return None


def _service_store() -> Store:
    settings = ServiceSettings.from_env()
    return Store.from_url(settings.redis_url, settings.key_prefix)


def cmd_export(args: argparse.Namespace, library: ExerciseLibrary) -> int:
    """Write one exercise as a course folder under DIR."""
    store: Store | None = _service_store()
    if store is not None and not store.ping():  # no service to ask: the folder is all there is
        print(f"grader: the service's Redis does not answer; exporting from "
              f"{library.exercises_dir}", file=sys.stderr)
        store = None
    try:
        folder, origin = export_exercise(args.slug, args.dir, library, store)
    except TransferError as exc:
        return _usage_error(str(exc))
    print(f"exported {args.slug} from {origin} to {folder} (reference: "
          f"{args.dir / 'reference' / (args.slug + '.py')})")
    return EXIT_FULL_MARKS


def cmd_import(args: argparse.Namespace, pipeline: Pipeline) -> int:
    """Validate the exercises of DIR (the pipeline's library) and make those that pass live in
    the service."""
    library = pipeline.library
    slugs = args.slugs or library.slugs()
    store = _service_store()
    failures = 0
    for slug in slugs:
        try:
            report, live = import_exercise(pipeline, slug, store, "cli:import")
        except ExerciseError as exc:
            print(f"FAIL {slug}")
            for line in str(exc).splitlines():
                print(f"  {line}")
            failures += 1
            continue
        print(f"{'live' if live else 'FAIL'} {slug}")
        for line in report.lines:
            print(f"  {line}")
        for problem in report.problems:
            print(f"  problem: {problem}")
        failures += not live
    print(f"{len(slugs) - failures} of {len(slugs)} exercises imported")
    return EXIT_NOT_FULL if failures else EXIT_FULL_MARKS


def main(argv: Sequence[str] | None = None) -> int:
    """Run a grading subcommand; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = WorkerConfig.from_env()
        library = checked_library(args.exercises or config.exercises_dir)
        if args.command == "exercises" and args.action == "import":
            library = checked_library(args.dir)  # the folder being imported is what is graded
    except (ConfigError, ExerciseError) as exc:
        return _usage_error(str(exc))
    problem = _arguments_problem(args, library)
    if problem is not None:
        return _usage_error(problem)
    if args.command == "exercises" and args.action == "list":
        return cmd_list(args, library)
    if args.command == "exercises" and args.action == "export":
        return cmd_export(args, library)
    source = ""
    if args.command == "check":
        try:
            source = _read_submission(args.file)
        except SubmissionError as exc:
            return _usage_error(str(exc))
    try:
        runner = build_runner(config, library)
    except SandboxUnavailable as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_NOT_FULL
    pipeline = Pipeline(library, runner, config.gpu_memory_fraction)
    try:
        if args.command == "check":
            return cmd_check(args, pipeline, source)
        if args.action == "import":
            return cmd_import(args, pipeline)
        return cmd_validate(args, pipeline)
    except (ExerciseError, GraderError) as exc:
        print(f"grader: internal error: {exc}", file=sys.stderr)
        return EXIT_NOT_FULL
    except SandboxUnavailable as exc:  # the sandbox broke down mid-run
        print(f"grader: the sandbox stopped working: {exc}", file=sys.stderr)
        return EXIT_NOT_FULL
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `grader ... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_NOT_FULL)
