"""Jinja filters of the pages: scores, times and case arguments written for people."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from grader.pages.statement import highlight_python


def points(value: float | None) -> str:
    """``6.67``, ``10``; a dash for no score."""
    if value is None:
        return "–"
    return f"{round(value, 2):g}"


def when(timestamp: float | None) -> str:
    """A time as ``2026-11-26 10:45 UTC``."""
    if not timestamp:
        return "–"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(timestamp: float | None) -> str:
    """A time for ``<time datetime=...>``."""
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def case_argument(value: Any) -> str:
    """A case argument from ``exercise.yaml``: a generator spec as ``array(shape=[2, 3],
    dtype=float64)``, a literal as itself."""
    if isinstance(value, dict) and isinstance(value.get("gen"), str):
        rest = ", ".join(f"{k}={json.dumps(v)}" for k, v in value.items() if k != "gen")
        return f"{value['gen']}({rest})".replace('"', "")
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 account``, ``2 accounts`` (``words``: an irregular plural)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def percent(part: float, whole: float) -> int:
    """``part`` as a whole percentage of ``whole`` (0 when ``whole`` is 0)."""
    return round(100 * part / whole) if whole else 0


def init_app(app: Flask) -> None:
    """Register the filters."""
    for name, function in (("points", points), ("when", when), ("iso_time", iso_time),
                           ("case_argument", case_argument),
                           ("highlight_python", highlight_python)):
        app.add_template_filter(function, name)
    app.add_template_global(percent, "percent")
    app.add_template_filter(plural, "plural")
