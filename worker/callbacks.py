"""Posting a graded submission to its ``callback_url``, signed with HMAC-SHA256.

The body is JSON (:func:`callback_body`); the header ``X-Grader-Signature: sha256=<hex>`` is
the HMAC-SHA256 of the exact body bytes under the shared secret (``GRADER_CALLBACK_SECRET``).
A receiver recomputes it over the raw body and compares in constant time
(:func:`verify_signature`), and deduplicates by ``id``: delivery is at least once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from common.protocol import Verdict
from common.store import SubmissionRecord

SIGNATURE_HEADER = "X-Grader-Signature"


class CallbackError(Exception):
    """The receiver could not be reached or did not answer 2xx; worth retrying."""


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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A callback goes where it was told; a redirect could point it at an internal address.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def deliver(url: str, body: bytes, secret: str, timeout_s: float, submission_id: str,
            attempt: int) -> int:
    """POST the body; returns the status, raises CallbackError unless it is 2xx."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": "grader-callback/1",
        SIGNATURE_HEADER: sign(secret, body),
        "X-Grader-Submission": submission_id,
        "X-Grader-Attempt": str(attempt),
    })
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise CallbackError(f"{url} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise CallbackError(f"{url}: {exc}") from exc
    if not 200 <= status < 300:
        raise CallbackError(f"{url} answered {status}")
    return status
