"""Turning what a learner handed in (a ``.py`` file, pasted code, a Jupyter notebook) into
Python source. Torch-free: the web process uses it to refuse a bad upload at once.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

MAX_UPLOAD_BYTES = 2 * 2**20

# Cell magics whose body is still plain Python; any other cell magic (%%bash, %%writefile...)
# drops its cell.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_HELP = re.compile(r"^\s*[A-Za-z_][\w.]*\s*\?{1,2}\s*$|^\s*\?{1,2}\s*[A-Za-z_][\w.]*\s*$")
_ASSIGNED_SHELL = re.compile(r"^\s*[A-Za-z_][\w, ]*=\s*[!%]")


class SubmissionError(ValueError):
    """What was handed in cannot be read as a submission; the message says why."""


class SubmissionTooLarge(SubmissionError):
    """The code, or the uploaded file, is over its size limit (the API answers 413)."""


class UnsupportedUpload(SubmissionError):
    """The uploaded file is neither a ``.py`` file nor a notebook (the API answers 415)."""


class Upload(Protocol):
    """An uploaded file as the web hands it over (werkzeug's ``FileStorage``)."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes of the file."""
        ...


def _strip_ipython(cell: str) -> str:
    lines = cell.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split()[0] if lines[0].lstrip()[2:].split() else ""
        if magic not in PYTHON_CELL_MAGICS:
            return ""
        lines = lines[1:]
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or _HELP.match(line) or _ASSIGNED_SHELL.match(line):
            # Keep the line count (tracebacks point at the right line) but not the command.
            indent = line[: len(line) - len(stripped)]
            kept.append(f"{indent}pass  # removed IPython command: {stripped[:60]}")
        else:
            kept.append(line)
    return "\n".join(kept)


def source_from_notebook(text: str | bytes) -> str:
    """The code cells of a notebook joined in order, with IPython magics and shell escapes
    removed. An invalid notebook raises SubmissionError."""
    import nbformat  # imported here: only notebook uploads need it

    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"the notebook is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or "cells" not in raw:
        raise SubmissionError("the file is not a Jupyter notebook (no 'cells')")
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises several unrelated types
        raise SubmissionError(f"the notebook is not a valid Jupyter notebook: {exc}") from exc
    cells = [_strip_ipython(cell.source) for cell in notebook.cells if cell.cell_type == "code"]
    source = "\n\n".join(cell for cell in cells if cell.strip())
    if not source.strip():
        raise SubmissionError("the notebook has no code cells")
    return source + "\n"


def source_from_upload(filename: str, data: bytes) -> str:
    """Source code from an uploaded ``.py`` or ``.ipynb`` file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise SubmissionTooLarge(f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    name = filename.lower()
    if name.endswith(".ipynb"):
        return source_from_notebook(data)
    if name.endswith(".py"):
        return source_from_text(data)
    raise UnsupportedUpload("upload a .py file or a Jupyter notebook (.ipynb)")


def read_submission(code: str | None, upload: Upload | None, filename: str | None,
                    max_bytes: int) -> tuple[str, str | None]:
    """The source handed in and its file name (None for pasted code): the uploaded file when
    there is one, else ``code``. The API and the pages both read submissions through here.

    Raises :class:`SubmissionTooLarge` when the file or the code is over its limit
    (``max_bytes`` for the code, :data:`MAX_UPLOAD_BYTES` for a file before it is read as
    code), :class:`UnsupportedUpload` for a file of another kind, and
    :class:`SubmissionError` for anything else that cannot be read.

    >>> read_submission("x = 1\n", None, None, 100)
    ('x = 1\n', None)
    """
    name: str | None = None
    if upload is not None:
        name = filename or ""
        # One byte more than allowed tells a file at the limit from one over it, without
        # reading an arbitrarily large upload into memory.
        data = upload.read(MAX_UPLOAD_BYTES + 1)
        source = source_from_upload(name, data)
        name = name[:200]
    else:
        source = source_from_text(code or "")
    # errors="replace": pasted text may hold lone surrogates, which still count as bytes.
    if len(source.encode("utf-8", errors="replace")) > max_bytes:
        raise SubmissionTooLarge(f"the code is larger than {max_bytes // 1024} KB")
    return source, name


def source_from_text(data: str | bytes) -> str:
    """Pasted or uploaded Python source, checked to be UTF-8 text."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SubmissionError(f"the file is not UTF-8 text: {exc}") from exc
    if not data.strip():
        raise SubmissionError("the submission is empty")
    return data
