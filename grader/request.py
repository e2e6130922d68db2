"""The app's JSON provider: request bodies that Python can parse but the grader cannot use are
refused as malformed (Flask answers the ValueError with 400), not left to fail later as a 500.

- nesting deep enough to exhaust the parser's recursion (``[[[[...]]]]`` 10,000 deep);
- strings holding lone surrogates (``"\\ud800"``): valid JSON escapes, but not Unicode text, so
  they could not be encoded for Redis, a file or a response.
"""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import FileStorage


def refuse_surrogates(value: Any) -> None:
    """Raise ValueError if a string anywhere in a parsed JSON value is not valid Unicode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError("the JSON holds a string that is not valid Unicode "
                                 "(a lone surrogate)") from exc
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _default(value: Any) -> Any:
    # spectree serialises pydantic's errors, whose 'input' may hold an uploaded file.
    if isinstance(value, FileStorage):
        return f"<file {value.filename!r}>"
    return DefaultJSONProvider.default(value)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with ``loads`` refusing what is described above (and uploaded files
    written as their name rather than failing to serialise)."""

    default = staticmethod(_default)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; ValueError for malformed, too deeply nested or non-Unicode JSON."""
        try:
            value = super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON is nested too deeply") from exc
        refuse_surrogates(value)
        return value
