"""An exercise bundle (:class:`common.store.ExerciseBundle`'s files and reference) from what an
instructor uploads: a zip of the exercise folder, or its files one by one.

A zip may hold the exercise folder alone or a whole course folder; ``exercise.yaml`` marks the
exercise, and the reference is ``reference/<slug>.py`` or ``reference.py`` anywhere in it (or a
file of its own). Loose files go where ``exercise.yaml`` names them (``golden:`` entries), any
other Python file under ``golden/``, and ``<slug>.py`` or ``reference.py`` is the reference.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml
from werkzeug.datastructures import FileStorage

from common.records import MAX_BUNDLE_BYTES, MAX_BUNDLE_FILES
from common.spec.problems import SpecProblem, yaml_problem

ROOT_FILES = {"exercise.yaml", "statement.md", "starter.py"}
REFERENCE_NAMES = {"reference.py"}


class BundleError(ValueError):
    """The upload cannot be read as an exercise; the message says why (``problems``: located
    ones, when it is a file's content that is wrong)."""

    def __init__(self, message: str, problems: list[SpecProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(frozen=True)
class UploadedExercise:
    """An exercise's slug, its folder's files by relative path, and its reference source."""

    slug: str
    files: dict[str, str]
    reference: str


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{name} is not UTF-8 text") from exc


def _metadata(files: dict[str, str]) -> dict[str, object]:
    if "exercise.yaml" not in files:
        raise BundleError("the upload has no exercise.yaml")
    try:
        meta = yaml.safe_load(files["exercise.yaml"])
    except yaml.YAMLError as exc:
        problem = yaml_problem(files["exercise.yaml"], "exercise.yaml", exc)
        raise BundleError(problem.render(), [problem]) from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("slug"), str):
        raise BundleError("exercise.yaml names no slug ('slug: my-exercise')")
    return meta


def from_zip(data: bytes, reference: str | None = None) -> UploadedExercise:
    """Read a zip of an exercise folder (or of a course folder holding one exercise)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BundleError("the archive is not a zip file") from exc
    entries = [i for i in archive.infolist() if not i.is_dir()
               and not any(p.startswith((".", "__")) for p in PurePosixPath(i.filename).parts)]
    if len(entries) > MAX_BUNDLE_FILES:
        raise BundleError(f"the zip holds more than {MAX_BUNDLE_FILES} files")
    if sum(i.file_size for i in entries) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the zip unpacks to more than {MAX_BUNDLE_BYTES // 2**20} MB")
    markers = sorted((PurePosixPath(i.filename) for i in entries
                      if PurePosixPath(i.filename).name == "exercise.yaml"),
                     key=lambda p: len(p.parts))
    if not markers:
        raise BundleError("the zip has no exercise.yaml")
    root = markers[0].parent
    files: dict[str, str] = {}
    others: dict[PurePosixPath, bytes] = {}
    total = 0
    for info in entries:
        path = PurePosixPath(info.filename)
        try:
            with archive.open(info) as member:  # read capped: a header's size can lie
                content = member.read(MAX_BUNDLE_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                RuntimeError) as exc:  # bad CRC, truncated data, unknown method, encrypted
            raise BundleError(f"{info.filename} in the zip cannot be read: it is damaged, "
                              "encrypted or compressed in a way this grader does not read"
                              ) from exc
        total += len(content)
        if total > MAX_BUNDLE_BYTES:
            raise BundleError(f"the zip unpacks to more than {MAX_BUNDLE_BYTES // 2**20} MB")
        if root in path.parents:
            files[str(path.relative_to(root))] = _text(str(path), content)
        else:
            others[path] = content
    meta = _metadata(files)
    slug = str(meta["slug"])
    if reference is None:
        found = [p for p in others if p.name in REFERENCE_NAMES | {f"{slug}.py"}]
        in_root = [p for p in files if PurePosixPath(p).name in REFERENCE_NAMES]
        if found:
            reference = _text(str(found[0]), others[found[0]])
        elif in_root:
            reference = files.pop(in_root[0])
    if reference is None:
        raise BundleError(f"the zip has no reference solution: add reference/{slug}.py, or "
                          "choose it as the reference file")
    return UploadedExercise(slug, files, reference)


def from_files(uploads: list[FileStorage], reference: str | None = None) -> UploadedExercise:
    """Place loose files where the exercise expects them."""
    by_name: dict[str, str] = {}
    for upload in uploads:
        name = PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if not name:
            continue
        by_name[name] = _text(name, upload.stream.read(MAX_BUNDLE_BYTES + 1))
    if len(by_name) > MAX_BUNDLE_FILES:
        raise BundleError(f"upload at most {MAX_BUNDLE_FILES} files")
    meta = _metadata(by_name)
    slug = str(meta["slug"])
    if reference is None:
        for name in (f"{slug}.py", *REFERENCE_NAMES):
            if name in by_name:
                reference = by_name.pop(name)
                break
    if reference is None:
        raise BundleError(f"choose the reference solution ({slug}.py) too")
    golden = meta.get("golden")
    named = {PurePosixPath(str(g.get("file", ""))).name: str(g.get("file"))
             for g in golden if isinstance(g, dict)} if isinstance(golden, list) else {}
    files: dict[str, str] = {}
    for name, text in by_name.items():
        if name in ROOT_FILES:
            files[name] = text
        elif name in named:
            files[named[name]] = text
        elif name.endswith(".py"):
            files[f"golden/{name}"] = text
        else:
            files[name] = text
    return UploadedExercise(slug, files, reference)
