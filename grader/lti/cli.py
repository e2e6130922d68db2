"""``grader lti ...``: register platforms and manage the tool's keys from the command line
(on the Redis of ``GRADER_REDIS_URL``, like ``grader token``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import ValidationError

from common.lti.keys import ToolKeys
from common.lti.models import Registration
from common.lti.store import LtiStore
from common.store import Store


def add_parser(sub: Any) -> None:
    """Add ``lti`` and its actions to the ``grader`` parser."""
    lti = sub.add_parser("lti", help="LTI 1.3: register platforms, manage the tool's keys")
    actions = lti.add_subparsers(dest="action", required=True)
    register = actions.add_parser("register", help="register (or update) an LMS platform")
    register.add_argument("--issuer", required=True, help="the platform's issuer (iss)")
    register.add_argument("--client-id", required=True, help="the client id the LMS gave")
    register.add_argument("--deployment-id", required=True, action="append",
                          help="a deployment id (repeat for several)")
    register.add_argument("--auth-url", required=True, help="the OIDC authorization URL")
    register.add_argument("--token-url", required=True, help="the OAuth2 access token URL")
    register.add_argument("--jwks-url", required=True, help="the platform's public keyset URL")
    register.add_argument("--audience", help="the token endpoint's audience, if not its URL")
    register.add_argument("--frame-origin", action="append", default=[],
                          help="another origin allowed to frame the grader (repeat)")
    register.add_argument("--name", default="", help="a name to show")
    actions.add_parser("list", help="the registered platforms, as JSON lines")
    remove = actions.add_parser("remove", help="forget a platform registration")
    remove.add_argument("--issuer", required=True)
    remove.add_argument("--client-id", required=True)
    keys = actions.add_parser("keys", help="the tool's signing keys")
    key_actions = keys.add_subparsers(dest="key_action", required=True)
    key_actions.add_parser("list", help="the keys (kid, created, active or retired)")
    key_actions.add_parser("rotate", help="a new active key; the old one stays in the JWKS "
                                          "for a week")
    key_actions.add_parser("prune", help="forget retired keys past their week")


def run(args: argparse.Namespace, store: Store) -> int:
    """Run ``grader lti ...``; returns the exit status."""
    lti = LtiStore(store)
    if args.action == "register":
        try:
            registration = Registration(
                issuer=args.issuer, client_id=args.client_id,
                deployment_ids=args.deployment_id, auth_url=args.auth_url,
                token_url=args.token_url, jwks_url=args.jwks_url, audience=args.audience,
                frame_origins=args.frame_origin, name=args.name)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"])
                print(f"grader: {field}: {error['msg']}", file=sys.stderr)
            return 2
        added = lti.put_registration(registration)
        print(f"{'registered' if added else 'updated'} {registration.issuer} "
              f"(client id {registration.client_id})")
        ToolKeys(store).active()  # the JWKS has a key before the platform first asks
        return 0
    if args.action == "list":
        for registration in lti.registrations():
            print(json.dumps(registration.model_dump(mode="json"), sort_keys=True))
        return 0
    if args.action == "remove":
        if lti.remove_registration(args.issuer, args.client_id):
            print(f"removed {args.issuer} (client id {args.client_id})")
            return 0
        print(f"grader: no registration of {args.issuer} with client id {args.client_id}",
              file=sys.stderr)
        return 1
    ring = ToolKeys(store)
    if args.key_action == "rotate":
        active_key, retired = ring.rotate()
        print(f"active key {active_key.kid}")
        if retired is not None:
            print(f"retired key {retired.kid} (kept in the JWKS for a week)")
        return 0
    if args.key_action == "prune":
        for kid in ring.prune():
            print(f"forgot {kid}")
        return 0
    active = ring.active().kid
    for key in ring.all():
        state = "active" if key.kid == active else f"retired {key.retired_at:.0f}"
        print(f"{key.kid}  created {key.created_at:.0f}  {state}")
    return 0
