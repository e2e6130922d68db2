"""Submissions as .py files, pasted code and Jupyter notebooks."""

from __future__ import annotations

import io
import json

import nbformat
import pytest

from common.submission import (
    MAX_UPLOAD_BYTES,
    SubmissionError,
    SubmissionTooLarge,
    UnsupportedUpload,
    read_submission,
    source_from_notebook,
    source_from_text,
    source_from_upload,
)
from worker.pipeline import Pipeline


def notebook(*cells: tuple[str, str]) -> bytes:
    nb = nbformat.v4.new_notebook()
    for kind, text in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(text))
    return nbformat.writes(nb).encode()


NOTEBOOK = notebook(
    ("markdown", "# My solution"),
    ("code", "%matplotlib inline\n!pip install torch\nimport torch\nfiles = !ls\ntorch.zeros?"),
    ("code", "%%bash\necho this cell is shell"),
    ("code", "%%time\ndef share_from_numpy(arr):\n    return torch.from_numpy(arr)"),
    ("code", "share_from_numpy??"),
)


def test_notebook_code_cells_are_joined_without_magics() -> None:
    source = source_from_notebook(NOTEBOOK)
    assert "import torch" in source and "def share_from_numpy" in source
    code = [line.split("#")[0] for line in source.splitlines()]  # removed lines become comments
    for shell in ("!pip", "%matplotlib", "echo this cell", "%%time", "= !ls", "??"):
        assert not any(shell in line for line in code), shell
    assert "echo this cell" not in source  # a %%bash cell is dropped whole
    compile(source, "nb.py", "exec")


def test_notebook_submission_gets_graded(tiny_pipeline: Pipeline) -> None:
    verdict = tiny_pipeline.grade("tiny-share", source_from_upload("work.ipynb", NOTEBOOK))
    assert verdict.status == "passed"


@pytest.mark.parametrize("data, says", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"metadata": {}}).encode(), "not a Jupyter notebook"),
    (json.dumps({"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5,
                 "metadata": {}}).encode(), "not a valid Jupyter notebook"),
    (notebook(("markdown", "only words")), "no code cells"),
], ids=["not-json", "not-a-notebook", "not-valid", "no-code-cells"])  # cell ids are random
def test_invalid_notebook_gets_a_clear_error(data: bytes, says: str) -> None:
    with pytest.raises(SubmissionError, match=says):
        source_from_notebook(data)


def test_uploads_must_be_python_or_notebooks() -> None:
    assert source_from_upload("a.py", b"x = 1\n") == "x = 1\n"
    with pytest.raises(SubmissionError, match=r"\.py file or a Jupyter notebook"):
        source_from_upload("a.txt", b"x = 1\n")
    with pytest.raises(SubmissionError, match="not UTF-8"):
        source_from_text(b"\xff\xfe\x00x")
    with pytest.raises(SubmissionError, match="empty"):
        source_from_text("  \n")


def test_one_reader_takes_pasted_code_or_an_uploaded_file() -> None:
    assert read_submission("x = 1\n", None, None, 100) == ("x = 1\n", None)
    assert read_submission(None, io.BytesIO(b"x = 2\n"), "mine.py", 100) == ("x = 2\n",
                                                                             "mine.py")


def test_the_reader_says_which_limit_or_kind_an_upload_breaks() -> None:
    with pytest.raises(SubmissionTooLarge, match="larger than 1 KB"):
        read_submission("x = 1\n" * 400, None, None, 1024)
    with pytest.raises(SubmissionTooLarge, match="larger than 2 MB"):
        read_submission(None, io.BytesIO(b"#" * (MAX_UPLOAD_BYTES + 1)), "big.py", 1024)
    with pytest.raises(UnsupportedUpload, match=r"\.py file or a Jupyter notebook"):
        read_submission(None, io.BytesIO(b"x = 1\n"), "notes.txt", 1024)
