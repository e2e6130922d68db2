"""The OpenAPI 3.1 document and request/response validation (spectree).

The document is served at ``/api/v1/docs/openapi.json``. A request that fails validation is
answered 422 in the API's error format, with spectree's list of problems as ``details``.
"""

from __future__ import annotations

from typing import Any

from flask import request
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import SecureType

from grader.api.models import ErrorBody
from grader.errors import ApiError


def validated(part: str) -> Any:
    """The validated model of one part of the request (``json``, ``form``, ``query``,
    ``headers``), or None when that part was not sent."""
    return getattr(getattr(request, "context", None), part, None)


def _before(request: Any, response: Any, error: Exception | None, instance: Any,
            adapter: Any) -> None:
    if error is None:
        return
    # Only what locates and names each problem: pydantic's 'input' may hold an uploaded file
    # (not JSON) or echo a large body back.
    problems = [{k: item[k] for k in ("loc", "msg", "type") if k in item}
                for item in adapter.validation_errors(error)]
    summary = "; ".join(
        f"{'.'.join(str(p) for p in item.get('loc', ())) or 'body'}: {item.get('msg')}"
        for item in problems[:5]
    )
    raise ApiError(422, f"the request is not valid: {summary}", details=problems)


api_spec = SpecTree(
    "flask",
    title="Grader REST API",
    version="1.0.0",
    description="Grades learners' PyTorch, NumPy and OpenCV code. Authenticate with "
                "'Authorization: Bearer <token>'. Errors are {\"error\": {\"code\", \"message\"}}.",
    path="api/v1/docs",
    filename="openapi.json",
    openapi_version="3.1.0",
    mode="strict",
    annotations=False,
    before=_before,
    validation_error_model=ErrorBody,
    security_schemes=[SecurityScheme(
        name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
)
