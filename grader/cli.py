"""The ``grader`` command.

Grading subcommands (``check``, ``exercises``) run in a fresh interpreter as ``python -m
worker.cli``: the web package never imports the grading code, and the grading code never
imports the web package. Service subcommands (``serve``, ``web``, ``worker``, ``token``) are
handled here; ``web`` and ``worker`` exec gunicorn and Celery.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.tokens import TokenStore

if TYPE_CHECKING:
    from common.store import Store

GRADING_COMMANDS = ("check", "exercises")
SERVICE_COMMANDS = ("serve", "web", "worker", "token", "lti")

USAGE = """usage: grader [--exercises DIR] COMMAND ...

commands:
  check SLUG FILE [--json]     grade a submission (.py, .ipynb, or - for stdin)
  exercises list [--json]      the exercises, grouped by module
  exercises validate [SLUG...] prove exercises before they go live
  exercises export SLUG DIR    write an exercise (the uploaded one, else the course's) to DIR
  exercises import DIR [SLUG...]
                               validate exercises of DIR and make them live in the service
  serve [--host H] [--port P]  run everything on this machine (web, worker, Redis)
  web [--host H] [--port P]    run the web app (gunicorn)
  worker [--queues cpu,gpu] [--concurrency N]
                               run a grading worker (Celery)
  token create --role ROLE --name NAME [--learner ID]
  token list | token revoke ID API tokens (in GRADER_REDIS_URL's Redis)
  lti register --issuer ... --client-id ... --deployment-id ... --auth-url ...
      --token-url ... --jwks-url ...   register an LMS (LTI 1.3); see docs/lti.md
  lti list | lti remove | lti keys list|rotate|prune
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="The grader's service commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="web app, worker and Redis on this machine")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data", type=Path, default=None,
                       help="data folder (Redis files, dev token); default GRADER_DATA_DIR "
                            "or ~/.local/share/grader")
    serve.add_argument("--concurrency", type=int, default=max(os.cpu_count() or 1, 1),
                       help="grading processes (default: one per CPU)")
    web = sub.add_parser("web", help="the web app under gunicorn")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--workers", type=int, default=2)
    web.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent",
                     help="gevent (default): long polls hold no thread; gthread: threads")
    web.add_argument("--connections", type=int, default=2000,
                     help="requests one gevent worker holds at once (long polls included)")
    web.add_argument("--threads", type=int, default=16, help="threads of a gthread worker")
    web.add_argument("--access-log", action="store_true")
    worker = sub.add_parser("worker", help="a Celery grading worker")
    worker.add_argument("--queues", default="cpu,gpu",
                        help="grading queues to consume: cpu, gpu or cpu,gpu (every worker "
                             "also delivers callbacks)")
    worker.add_argument("--concurrency", type=int, default=max(os.cpu_count() or 1, 1))
    worker.add_argument("--pool", choices=("prefork", "solo"), default="prefork")
    worker.add_argument("--loglevel", default="info")
    token = sub.add_parser("token", help="create, list or revoke API tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--role", choices=("learner", "instructor", "lms"), required=True)
    create.add_argument("--name", required=True, help="who holds it (shown in 'token list')")
    create.add_argument("--learner", help="the learner a learner token acts for")
    actions.add_parser("list", help="live tokens (ids, roles, names; never the tokens)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id")
    from grader.lti import cli as lti_cli

    lti_cli.add_parser(sub)
    return parser


def _store() -> Store:
    from common.store import Store
    from grader.config import Config

    return Store.from_url(os.environ.get("GRADER_REDIS_URL", Config.REDIS_URL),
                          os.environ.get("GRADER_KEY_PREFIX", Config.KEY_PREFIX))


def cmd_token(args: argparse.Namespace) -> int:
    """``grader token create|list|revoke``."""
    from common.records import LEARNER_PATTERN

    store = _store()
    if args.action == "create":
        if args.role == "learner" and not args.learner:
            print("grader: a learner token needs --learner ID", file=sys.stderr)
            return 2
        if args.learner and not LEARNER_PATTERN.fullmatch(args.learner):
            print("grader: a learner id is 1-128 letters, digits and . _ @ + -", file=sys.stderr)
            return 2
        token, record = TokenStore(store).create_token(args.role, args.name, args.learner)
        print(token)
        print(f"id {record.id}, role {record.role}: keep the token; it is not shown again",
              file=sys.stderr)
        return 0
    if args.action == "list":
        for record in TokenStore(store).list_tokens():
            learner = f" learner={record.learner}" if record.learner else ""
            print(f"{record.id}  {record.role:<10} {record.name}{learner}")
        return 0
    if TokenStore(store).revoke_token(args.id):
        print(f"revoked {args.id}")
        return 0
    print(f"grader: no token with id {args.id!r}", file=sys.stderr)
    return 1


def run_service(argv: Sequence[str]) -> int:
    """Run a service subcommand; returns the exit status (``web``/``worker`` exec)."""
    from grader.processes import parse_queues, web_command, worker_command

    args = _parser().parse_args(argv)
    if args.command == "token":
        return cmd_token(args)
    if args.command == "lti":
        from grader.lti import cli as lti_cli

        return lti_cli.run(args, _store())
    if args.command == "web":
        command = web_command(args.host, args.port, args.workers, args.threads,
                              args.access_log, args.worker_class, args.connections)
        os.execv(command[0], command)
    if args.command == "worker":
        try:
            queues = parse_queues(args.queues)
        except ValueError as exc:
            print(f"grader: {exc}", file=sys.stderr)
            return 2
        command = worker_command(queues, args.concurrency, args.pool, args.loglevel)
        os.execv(command[0], command)
    from grader.serve import ServeOptions, default_data_dir, serve

    return serve(ServeOptions(host=args.host, port=args.port,
                              data_dir=args.data or default_data_dir(),
                              concurrency=args.concurrency))


def main(argv: Sequence[str] | None = None) -> None:
    """Dispatch to the grading side or the service commands."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = _command(args)
    if command in GRADING_COMMANDS:
        os.execv(sys.executable, [sys.executable, "-m", "worker.cli", *args])
    if command in SERVICE_COMMANDS:
        sys.exit(run_service(args))
    if command is None and any(a in ("-h", "--help") for a in args):
        sys.stdout.write(USAGE)
        sys.exit(0)
    sys.stderr.write(USAGE)
    sys.stderr.write(f"grader: unknown command {command!r}\n" if command else "")
    sys.exit(2)


if __name__ == "__main__":
    main()
