"""Typed access to the LTI keys of the store (layout in :mod:`common.lti`)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from common.lti.models import (
    Course,
    GradeTarget,
    LtiPerson,
    PassbackState,
    Registration,
    ScorePolicy,
)
from common.store import Store


def digest(*parts: str) -> str:
    """A short, key-safe digest of text that may hold any character (URLs, issuers)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class LtiStore:
    """Registrations, people, resource links, grade targets, passback states and courses."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._r: Any = store.client

    def key(self, *parts: str) -> str:
        """A key under ``P:lti:``."""
        return self.store.key("lti", *parts)

    # --- registrations ------------------------------------------------------------------------

    def put_registration(self, registration: Registration) -> bool:
        """Add or replace a registration; True when it is new."""
        if not registration.created_at:
            registration = registration.model_copy(update={"created_at": time.time()})
        return bool(self._r.hset(self.key("registrations"), registration.key,
                                 registration.model_dump_json()))

    def registration(self, issuer: str, client_id: str | None) -> Registration | None:
        """The registration of ``(issuer, client_id)``; without a client id, the issuer's only
        registration (None when it has none or several)."""
        if client_id:
            raw = self._r.hget(self.key("registrations"), f"{issuer}\x1f{client_id}")
            return Registration.model_validate_json(raw) if raw else None
        found = [r for r in self.registrations() if r.issuer == issuer]
        return found[0] if len(found) == 1 else None

    def registrations(self) -> list[Registration]:
        """Every registration, by issuer and client id."""
        raws = self._r.hvals(self.key("registrations"))
        return sorted((Registration.model_validate_json(r) for r in raws),
                      key=lambda r: (r.issuer, r.client_id))

    def remove_registration(self, issuer: str, client_id: str) -> bool:
        """Forget a registration; True if there was one."""
        return bool(self._r.hdel(self.key("registrations"), f"{issuer}\x1f{client_id}"))

    # --- people and resource links ------------------------------------------------------------

    def put_person(self, username: str, person: LtiPerson) -> None:
        """Remember which platform user an account stands for."""
        self._r.hset(self.key("people"), username, person.model_dump_json())

    def person(self, username: str) -> LtiPerson | None:
        """The platform user behind ``username``, if it came from a launch."""
        raw = self._r.hget(self.key("people"), username)
        return LtiPerson.model_validate_json(raw) if raw else None

    def people(self) -> dict[str, LtiPerson]:
        """Every account made by a launch."""
        return {u: LtiPerson.model_validate_json(v)
                for u, v in self._r.hgetall(self.key("people")).items()}

    def bound_link(self, issuer: str, client_id: str, deployment_id: str,
                   link_id: str) -> str | None:
        """The exercise a resource link is bound to, if it was launched before."""
        value = self._r.get(self.key("link", digest(issuer, client_id, deployment_id, link_id)))
        return str(value) if value else None

    def bind_link(self, issuer: str, client_id: str, deployment_id: str, link_id: str,
                  slug: str) -> str:
        """Bind a resource link to the exercise of its first launch; returns the exercise the
        link is bound to (which differs from ``slug`` when the link was edited to point
        elsewhere)."""
        key = self.key("link", digest(issuer, client_id, deployment_id, link_id))
        self._r.set(key, slug, nx=True)
        return str(self._r.get(key))

    # --- grade targets ------------------------------------------------------------------------

    def put_target(self, target: GradeTarget) -> None:
        """Record (or refresh) where a learner's score for an exercise goes."""
        existing = {t.key: t for t in self.targets(target.learner, target.exercise)}
        known = existing.get(target.key)
        update: dict[str, Any] = {"updated_at": time.time()}
        if known is not None and known.resolved and not target.resolved:
            update["resolved"] = known.resolved  # keep the line item the worker made
        target = target.model_copy(update=update)
        self._r.hset(self.key("targets", target.learner, target.exercise), target.key,
                     target.model_dump_json())

    def targets(self, learner: str, slug: str) -> list[GradeTarget]:
        """The line items a learner's score for ``slug`` is posted to."""
        raws = self._r.hvals(self.key("targets", learner, slug))
        return [GradeTarget.model_validate_json(r) for r in raws]

    # --- passback states ----------------------------------------------------------------------

    def set_passback(self, learner: str, slug: str, lineitem: str,
                     state: PassbackState) -> None:
        """Record how posting to one line item went."""
        state = state.model_copy(update={"updated_at": time.time()})
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(self.key("passback", learner, slug), lineitem, state.model_dump_json())
        pipe.zadd(self.key("passbacks"), {f"{learner}:{slug}": state.updated_at})
        pipe.execute()

    def passbacks(self, learner: str, slug: str) -> dict[str, PassbackState]:
        """Line item -> state, for one learner and exercise."""
        raws = self._r.hgetall(self.key("passback", learner, slug))
        return {k: PassbackState.model_validate_json(v) for k, v in raws.items()}

    def recent_passbacks(self, limit: int = 200) -> list[tuple[str, str, str, PassbackState]]:
        """(learner, slug, line item, state), most recently changed first."""
        rows = []
        for member in self._r.zrevrange(self.key("passbacks"), 0, limit - 1):
            learner, _, slug = str(member).partition(":")
            for lineitem, state in self.passbacks(learner, slug).items():
                rows.append((learner, slug, lineitem, state))
        return rows

    # --- courses ------------------------------------------------------------------------------

    def put_course(self, course: Course) -> Course:
        """Record a course seen in a launch, keeping its policy; returns the stored one."""
        existing = self.course(course.issuer, course.context_id)
        if existing is not None:
            course = course.model_copy(update={"policy": existing.policy,
                                               "memberships_url": course.memberships_url
                                               or existing.memberships_url})
        self._r.hset(self.key("courses"), course.key, course.model_dump_json())
        return course

    def course(self, issuer: str, context_id: str) -> Course | None:
        """A course, or None."""
        raw = self._r.hget(self.key("courses"), f"{issuer}\x1f{context_id}")
        return Course.model_validate_json(raw) if raw else None

    def courses(self) -> list[Course]:
        """Every course, by title."""
        raws = self._r.hvals(self.key("courses"))
        return sorted((Course.model_validate_json(r) for r in raws),
                      key=lambda c: (c.title, c.context_id))

    def set_policy(self, issuer: str, context_id: str, policy: ScorePolicy) -> bool:
        """Set a course's score policy; False when the course is unknown."""
        course = self.course(issuer, context_id)
        if course is None:
            return False
        self._r.hset(self.key("courses"), course.key,
                     course.model_copy(update={"policy": policy}).model_dump_json())
        return True

    def policy(self, issuer: str, context_id: str) -> ScorePolicy:
        """The course's score policy (``best`` unless an instructor chose ``latest``)."""
        course = self.course(issuer, context_id)
        return course.policy if course is not None else "best"

    # --- platforms' key sets ------------------------------------------------------------------

    def cached_jwks(self, url: str) -> dict[str, Any] | None:
        """A platform's JWKS fetched recently, if any."""
        raw = self._r.get(self.key("jwks", digest(url)))
        return dict(json.loads(raw)) if raw else None

    def cache_jwks(self, url: str, key_set: dict[str, Any], ttl_s: int) -> None:
        """Keep a platform's JWKS for a while."""
        self._r.set(self.key("jwks", digest(url)), json.dumps(key_set), ex=ttl_s)

    def drop_jwks(self, url: str) -> None:
        """Forget a platform's JWKS (it rotated its keys)."""
        self._r.delete(self.key("jwks", digest(url)))

    # --- service tokens and rosters -----------------------------------------------------------

    def cached_token(self, scope_key: str) -> str | None:
        """A platform access token still valid for these scopes, if cached."""
        value = self._r.get(self.key("token", scope_key))
        return str(value) if value else None

    def cache_token(self, scope_key: str, token: str, ttl_s: int) -> None:
        """Keep a platform access token until shortly before it expires."""
        if ttl_s > 0:
            self._r.set(self.key("token", scope_key), token, ex=ttl_s)

    def drop_token(self, scope_key: str) -> None:
        """Forget a token the platform refused."""
        self._r.delete(self.key("token", scope_key))

    def put_roster(self, course: Course, members: list[dict[str, Any]]) -> None:
        """Keep the course's NRPS members (user_id, name, email, roles, status)."""
        self._r.set(self.key("roster", digest(course.issuer, course.context_id)),
                    json.dumps({"fetched_at": time.time(), "members": members}))

    def roster(self, course: Course) -> tuple[float, list[dict[str, Any]]] | None:
        """(fetched at, members) of the course's last fetched roster."""
        raw = self._r.get(self.key("roster", digest(course.issuer, course.context_id)))
        if not raw:
            return None
        data = json.loads(raw)
        return float(data["fetched_at"]), list(data["members"])
