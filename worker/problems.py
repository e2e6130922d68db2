"""A submission that cannot run at all, described once: the error, its line and a caret.

A syntax error, an exception raised while the module loads, a missing function, loading that
runs out of time, or a function whose parameters are not the signature's: each makes every
check meaningless, so the verdict carries one :class:`~common.protocol.CodeProblem` and the
checks are marked as not run instead of repeating the error on every case.
"""

from __future__ import annotations

import ast
import re

from common.protocol import CodeProblem
from worker.observation import ErrorFacts, Observation
from worker.runner import RunOutcome

MAX_SOURCE_BYTES = 256 * 1024
_TRACEBACK_LINE = re.compile(r'File "[^"]*", line (\d+)')
# The errors Python raises when a function is called with keyword arguments it does not take.
_CALL_MISMATCH = re.compile(
    r"got an unexpected keyword argument|missing \d+ required (?:positional |keyword-only )?"
    r"arguments?|takes \d+ positional arguments? but|got multiple values for argument"
)


def _line_of(source: str, line: int | None) -> str:
    lines = source.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    return lines[line - 1].rstrip()


def syntax_problem(source: str) -> CodeProblem | None:
    """The reason ``source`` cannot be compiled, if any (checked before anything runs)."""
    if len(source.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES:
        return CodeProblem(message=f"your code is larger than {MAX_SOURCE_BYTES // 1024} KB")
    try:
        compile(source, "submission.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        code = (exc.text or "").rstrip("\n")
        # The caret is placed under the stripped line; keep the offset relative to it.
        stripped = code.lstrip()
        column = None if exc.offset is None else exc.offset - (len(code) - len(stripped))
        return CodeProblem(message=f"{type(exc).__name__}: {exc.msg}", line=exc.lineno,
                           code=stripped.rstrip(), column=column if stripped else None)
    except ValueError as exc:  # e.g. null bytes in the source
        return CodeProblem(message=f"your code cannot be read as Python: {exc}")
    return None


def load_problem(error: ErrorFacts, source: str) -> CodeProblem:
    """An exception raised while loading the learner's module (or a missing function)."""
    if error.type == "MissingFunction":
        return CodeProblem(message=error.message)
    lines = _TRACEBACK_LINE.findall(error.traceback)
    line = int(lines[-1]) if lines else None
    return CodeProblem(message=f"loading your code raised {error.type}: {error.message}",
                       line=line, code=_line_of(source, line).strip(),
                       traceback=error.traceback.rstrip())


def unfinished_load(run: RunOutcome) -> CodeProblem | None:
    """A run that ended (time, memory, crash) before its first case started: the module's own
    top-level code is at fault, not any case."""
    if run.status in ("completed", "load_error") or run.observations or run.running_case:
        return None
    return CodeProblem(message=f"your code did not finish loading: {run.message}")


def parameter_names(signature: str) -> list[str]:
    """The parameter names of an exercise's signature (``f(a: int, b) -> T`` gives a, b)."""
    try:
        tree = ast.parse(f"def {signature.strip()}: pass")
    except SyntaxError:
        return []
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    args = fn.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _definition(source: str, function: str) -> tuple[int, str, int] | None:
    """Line, text and caret column of the parameters of ``def function`` in the source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            code = _line_of(source, node.lineno)
            params = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            column = params[0].col_offset if params else code.find("(") + 1
            indent = len(code) - len(code.lstrip())
            return node.lineno, code.strip(), column - indent + 1
    return None


def signature_problem(function: str, signature: str, source: str,
                      observations: list[Observation]) -> CodeProblem | None:
    """Every case raised the same TypeError a call with the signature's keyword arguments
    raises on a function whose parameters were renamed, added or dropped."""
    errors = [o.header.error for o in observations]
    if not errors or any(e is None for e in errors):
        return None
    first = errors[0]
    assert first is not None
    if first.type != "TypeError" or not _CALL_MISMATCH.search(first.message):
        return None
    if not first.message.startswith(f"{function}()") or first.traceback.strip():
        # Raised inside the learner's code (a frame of theirs is in the traceback), not by
        # the grader's call of their function.
        return None
    if any(e is None or e.message != first.message for e in errors):
        return None
    names = parameter_names(signature)
    listed = ", ".join(f"`{n}`" for n in names)
    call = f"{function}({', '.join(f'{n}=...' for n in names)})"
    noun = "parameter" if len(names) == 1 else "parameters"
    where = _definition(source, function)
    line, code, column = where if where is not None else (None, "", None)
    return CodeProblem(
        message=f"your function cannot be called as the signature says: TypeError: "
                f"{first.message}",
        line=line, code=code, column=column,
        hint=(f"keep the parameter names of the signature `{signature}`. The grader calls "
              f"`{call}` with keyword arguments, so your function must have the {noun} "
              f"{listed}, spelled exactly so."),
    )
