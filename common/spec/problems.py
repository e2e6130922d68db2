"""Authoring errors that point at the right line: file, line, field, the offending line and a
caret, for every problem found, not only the first.

Pydantic reports a location as a path of keys and indexes (``checks.3.name``); the YAML node
tree (``yaml.compose``) maps that path back to the line and column where it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecProblem:
    """One mistake in an exercise's files."""

    file: str  # the path as shown (the upload's relative name, or the path on disk)
    message: str
    field: str = ""  # e.g. "checks.3.name"; empty for a problem with the whole file
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based, where the caret goes
    code: str = ""  # the offending line as written

    def render(self) -> str:
        """``file:line: field x: message``, then the line and a caret under the mistake."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        head = f"{where}: field {self.field}: {self.message}" if self.field else (
            f"{where}: {self.message}")
        lines = [head]
        if self.code:
            number = f"{self.line} | "
            lines.append(f"  {number}{self.code}")
            if self.column is not None:
                lines.append("  " + " " * (len(number) + self.column - 1) + "^")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """The problem as JSON-ready data (the API's ``details``)."""
        return {"file": self.file, "line": self.line, "column": self.column,
                "field": self.field, "message": self.message, "code": self.code}


def render_all(problems: Sequence[SpecProblem]) -> str:
    """Every problem, one block each."""
    return "\n".join(p.render() for p in problems)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of ``part`` under ``node``; for a list item both are the
    item."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
          and 0 <= part < len(node.value)):
        item = node.value[part]
        return item, item
    return None


def locate(text: str, location: Location, at_value: bool = False) -> tuple[int, int] | None:
    """The 1-based line and column of ``location`` in YAML ``text``: the key of the deepest
    part that exists (its value with ``at_value``); None when the text does not parse."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if root is None:
        return None
    node: yaml.Node = root
    mark = root.start_mark
    for index, part in enumerate(location):
        found = _child(node, part)
        if found is None:
            break
        key, node = found
        last = index == len(location) - 1
        mark = (node if (at_value and last) else key).start_mark
    return mark.line + 1, mark.column + 1


def line_text(text: str, line: int | None) -> str:
    """Line ``line`` (1-based) of ``text`` without its line break; empty when out of range."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    return lines[line - 1].rstrip()


def at(text: str, file: str, location: Location, message: str,
       at_value: bool = False) -> SpecProblem:
    """A problem at ``location`` of the YAML ``text``, with its line and caret."""
    found = locate(text, location, at_value)
    line, column = found if found is not None else (None, None)
    return SpecProblem(file=file, message=message,
                       field=".".join(str(p) for p in location), line=line, column=column,
                       code=line_text(text, line))


def yaml_problem(text: str, file: str, error: yaml.YAMLError) -> SpecProblem:
    """A YAML syntax error, at the line and column the parser stopped."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    context_mark = getattr(error, "context_mark", None)
    if (mark is None or not line_text(text, mark.line + 1).strip()) and context_mark is not None:
        mark = context_mark  # the parser ran off the end: point at what was left open
    if mark is None:
        return SpecProblem(file=file, message=message)
    line = mark.line + 1
    return SpecProblem(file=file, message=message, line=line, column=mark.column + 1,
                       code=line_text(text, line))
