"""Posting a graded submission to its ``callback_url``, signed with HMAC-SHA256.

The body is JSON (:func:`callback_body`); the header ``X-Grader-Signature: sha256=<hex>`` is
the HMAC-SHA256 of the exact body bytes under the shared secret (``GRADER_CALLBACK_SECRET``).
A receiver recomputes it over the raw body and compares in constant time
(:func:`verify_signature`), and deduplicates by ``id``: delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
from collections.abc import Iterable
from typing import Any

from common.callback_policy import (
    CallbackRefused,
    IPNetwork,
    Resolver,
    Target,
    resolve_target,
    system_resolver,
)
from common.protocol import Verdict
from common.records import SubmissionRecord

__all__ = ["SIGNATURE_HEADER", "CallbackError", "CallbackRefused", "callback_body", "deliver",
           "sign", "verify_signature"]

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Grader-Signature"
MAX_RESPONSE_BYTES = 64 * 1024
UNREACHABLE = "the receiver could not be reached"


class CallbackError(Exception):
    """The receiver could not be reached or did not answer 2xx; worth retrying. The message
    is safe to show the submitter (no network detail)."""


def callback_body(record: SubmissionRecord, verdict: Verdict | None) -> bytes:
    """The JSON posted to the callback URL."""
    payload: dict[str, Any] = {
        "event": "submission.finished",
        "id": record.id,
        "exercise": record.exercise,
        "learner": record.learner,
        "status": record.status,
        "score": record.score,
        "max_score": record.max_score,
        "passed": record.passed,
        "error": record.error,
        "content_hash": record.content_hash,
        "created_at": record.created_at,
        "finished_at": record.finished_at,
        "result": None if verdict is None else verdict.model_dump(mode="json"),
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret``."""
    return hmac.compare_digest(sign(secret, body), header)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to ``host`` (its Host header) over a connection to a checked ``address``."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` (certificate and SNI for the name) over a checked ``address``."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def deliver(url: str, body: bytes, secret: str, timeout_s: float, submission_id: str,
            attempt: int, allowed: Iterable[IPNetwork] = (),
            resolver: Resolver = system_resolver) -> int:
    """POST the body to ``url`` once; returns the status.

    The host is resolved once and every address checked (:func:`resolve_target`) before any
    connection; the connection goes to the checked address. Redirects are not followed (a
    redirect could point at an internal address). Raises CallbackRefused when the policy
    refuses the target, CallbackError when it is unreachable or does not answer 2xx; their
    messages carry no network detail (they are shown to the submitter), the log has it.
    """
    try:
        target = resolve_target(url, allowed, resolver)
    except CallbackRefused:
        raise
    except (OSError, ValueError) as exc:  # no such name, or one IDNA cannot encode
        logger.info("callback %s (attempt %d): %s does not resolve: %s", submission_id,
                    attempt, url, exc)
        raise CallbackError(UNREACHABLE) from exc
    connection: http.client.HTTPConnection = (
        _PinnedHTTPSConnection(target, timeout_s) if target.scheme == "https"
        else _PinnedHTTPConnection(target, timeout_s))
    try:
        connection.request("POST", target.path, body=body, headers={
            "Content-Type": "application/json",
            "User-Agent": "grader-callback/1",
            SIGNATURE_HEADER: sign(secret, body),
            "X-Grader-Submission": submission_id,
            "X-Grader-Attempt": str(attempt),
        })
        response = connection.getresponse()
        status = int(response.status)
        response.read(MAX_RESPONSE_BYTES)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        logger.info("callback %s (attempt %d) to %s failed: %s", submission_id, attempt, url,
                    exc)
        raise CallbackError(UNREACHABLE) from exc
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise CallbackError(f"the receiver answered HTTP {status}")
    return status
