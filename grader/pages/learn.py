"""The learners' pages: the exercise list, an exercise with its editor, submitting, the result
(live with JavaScript, by ``<meta refresh>`` without), and the history of attempts with diffs.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from common.records import ExerciseInfo, SubmissionRecord
from common.spec import MODULES
from common.submission import SubmissionError
from grader.catalogue import get_catalogue
from grader.intake import QueueUnavailable
from grader.limits import limiter, submit_limit
from grader.pages.attempts import Attempt, attempts, best_scores, diff
from grader.pages.forms import SubmitForm
from grader.pages.results import result_view
from grader.pages.session import current_account, login_required, signed_in
from grader.pages.statement import render_markdown
from grader.pages.submit import enqueue, read_source
from grader.storage import get_store
from grader.waiting import page_status

bp = Blueprint("learn", __name__)

MODULE_TITLES = {m.key: m.title for m in MODULES}


def _exercise(slug: str) -> ExerciseInfo:
    info = get_catalogue().get(slug)
    if info is None:
        abort(404, f"There is no exercise {slug!r}.")
    return info


def _submission(submission_id: str) -> SubmissionRecord:
    """A submission the signed-in account may see: its own, or any for an instructor."""
    account = signed_in()
    record = get_store().get_submission(submission_id) if len(submission_id) <= 64 else None
    if record is None or not (account.is_instructor or record.learner == account.username):
        abort(404, "There is no such submission.")
    return record


def _learner_param() -> str:
    """Whose history to show: one's own, or (instructors) ``?learner=``."""
    account = signed_in()
    learner = request.args.get("learner")
    if learner and learner != account.username:
        if not account.is_instructor:
            abort(403, "You can only see your own attempts.")
        return learner
    return account.username


@bp.get("/")
@login_required
def exercises() -> str:
    """Every exercise grouped by module in the notebook's order, with the learner's best."""
    account = signed_in()
    history = get_store().history(account.username, 1000)
    best = best_scores(history)
    tried = {r.exercise for r in history}
    groups: list[tuple[str, list[ExerciseInfo]]] = []
    by_module: dict[str, list[ExerciseInfo]] = {}
    for info in get_catalogue().all():
        by_module.setdefault(info.module, []).append(info)
    for module in MODULES:
        if module.key in by_module:
            groups.append((module.title, by_module.pop(module.key)))
    groups.extend((key, infos) for key, infos in by_module.items())
    return render_template("exercises.html", groups=groups, best=best, tried=tried)


def _submit_form() -> SubmitForm:
    form = SubmitForm()
    form.attempt_key.data = secrets.token_urlsafe(16)
    return form


def _attempts_context(info: ExerciseInfo, mine: list[Attempt]) -> dict[str, Any]:
    return {"exercise": info, "recent": list(reversed(mine))[:5],
            "attempt_count": sum(not a.is_regrade for a in mine)}


def _exercise_page(info: ExerciseInfo, form: SubmitForm, status: int = 200) -> tuple[str, int]:
    account = signed_in()
    mine = attempts(get_store(), account.username, info.slug)
    if not form.code.data:
        last = next((a for a in reversed(mine) if not a.is_regrade), None)
        source = get_store().get_source(last.record.id) if last else None
        form.code.data = source or info.starter
    return render_template(
        "exercise.html", module_title=MODULE_TITLES.get(info.module, info.module),
        statement=render_markdown(info.statement), form=form,
        best=best_scores([a.record for a in mine]).get(info.slug),
        **_attempts_context(info, mine),
    ), status


@bp.get("/exercises/<slug>")
@login_required
def exercise(slug: str) -> tuple[str, int]:
    """The statement, the visible cases and the editor."""
    return _exercise_page(_exercise(slug), _submit_form())


def _learner_limit_key() -> str:
    account = current_account()
    return f"learner:{account.username}" if account else f"addr:{request.remote_addr}"


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _submission_urls(record: SubmissionRecord) -> dict[str, str]:
    return {
        "page_url": url_for("learn.submission", submission_id=record.id),
        "status_url": url_for("learn.submission_status", submission_id=record.id),
        "panel_url": url_for("learn.submission_panel", submission_id=record.id),
    }


@bp.post("/exercises/<slug>/submissions")
@login_required
@limiter.limit(submit_limit, key_func=_learner_limit_key, override_defaults=False)
def submit(slug: str) -> Response | tuple[str, int] | tuple[Response, int]:
    """Accept the editor's code or an uploaded file; answers JSON to the page's script and
    redirects to the result page otherwise."""
    info = _exercise(slug)
    account = signed_in()
    form = SubmitForm()
    problem = None
    record = None
    if not form.validate_on_submit():
        problem = "; ".join(e for errors in form.errors.values() for e in errors) or (
            "the form is not valid; reload the page and try again")
    else:
        try:
            source, filename = read_source(form.code.data, form.file.data)
            record = enqueue(info, account.username, source, filename,
                             f"page:{account.username}", form.attempt_key.data)
        except SubmissionError as exc:
            problem = str(exc)
        except QueueUnavailable:
            problem = "the grading queue is unavailable; try again in a minute"
    if record is None:
        if _wants_json():
            return jsonify({"error": {"message": problem}}), 422
        form.code.errors = [problem or ""]
        form.attempt_key.data = secrets.token_urlsafe(16)
        return _exercise_page(info, form, 422)
    if _wants_json():
        body: dict[str, Any] = {"id": record.id, "status": record.status,
                                "next_attempt_key": secrets.token_urlsafe(16),
                                **_submission_urls(record)}
        return jsonify(body), 202
    return redirect(url_for("learn.submission", submission_id=record.id), code=303)


def _panel_context(record: SubmissionRecord) -> dict[str, Any]:
    verdict = get_store().get_result(record.id) if record.status == "graded" else None
    return {"record": record, "result": result_view(record, verdict) if record.finished else None,
            **_submission_urls(record)}


@bp.get("/submissions/<submission_id>")
@login_required
def submission(submission_id: str) -> str:
    """One submission: its status until graded (refreshing itself), then its result."""
    record = _submission(submission_id)
    info = get_catalogue().get(record.exercise)
    source = get_store().get_source(record.id) or ""
    history = attempts(get_store(), record.learner, record.exercise)
    here = next((a for a in history if a.record.id == record.id), None)
    previous = _previous(history, here)
    return render_template("submission.html", exercise=info, slug=record.exercise,
                           attempt=here, previous=previous, source=source,
                           **_panel_context(record))


def _previous(history: list[Attempt], here: Attempt | None) -> Attempt | None:
    if here is None:
        return None
    own = [a for a in history if not a.is_regrade]
    earlier = [a for a in own if a.number < here.number]
    return earlier[-1] if earlier else None


@bp.get("/submissions/<submission_id>/status.json")
@login_required
def submission_status(submission_id: str) -> Response:
    """Where grading is, for the page's script to poll; ``?since=STATUS`` answers once the
    status is another (or after a while), without holding a thread meanwhile."""
    record = page_status(get_store(), _submission(submission_id), request.args.get("since"),
                         _learner_limit_key())
    return jsonify({"id": record.id, "status": record.status, "finished": record.finished,
                    "score": record.score, "max_score": record.max_score,
                    **_submission_urls(record)})


@bp.get("/submissions/<submission_id>/panel")
@login_required
def submission_panel(submission_id: str) -> str:
    """The result panel alone, for the page's script to put in place."""
    return render_template("_result.html", **_panel_context(_submission(submission_id)))


@bp.get("/exercises/<slug>/attempts")
@login_required
def attempts_panel(slug: str) -> str:
    """The exercise page's list of recent attempts, for the page's script to refresh."""
    info = _exercise(slug)
    mine = attempts(get_store(), signed_in().username, slug)
    return render_template("_attempts.html", **_attempts_context(info, mine))


@bp.get("/exercises/<slug>/history")
@login_required
def history(slug: str) -> str:
    """Every attempt at one exercise, newest first, with links to compare them."""
    learner = _learner_param()
    info = get_catalogue().get(slug)
    found = attempts(get_store(), learner, slug)
    if info is None and not found:
        abort(404, f"There is no exercise {slug!r}.")
    return render_template("history.html", exercise=info, slug=slug, learner=learner,
                           attempts=list(reversed(found)),
                           is_self=learner == signed_in().username)


@bp.get("/exercises/<slug>/diff")
@login_required
def compare(slug: str) -> str:
    """What changed between two attempts (``?a=<id>&b=<id>``)."""
    old = _submission(request.args.get("a", ""))
    new = _submission(request.args.get("b", ""))
    if old.exercise != slug or new.exercise != slug or old.learner != new.learner:
        abort(404, "These attempts are not of the same exercise and learner.")
    store = get_store()
    history = {a.record.id: a for a in attempts(store, new.learner, slug)}
    lines = diff(store.get_source(old.id) or "", store.get_source(new.id) or "")
    return render_template("diff.html", slug=slug, exercise=get_catalogue().get(slug),
                           old=history.get(old.id), new=history.get(new.id),
                           old_record=old, new_record=new, lines=lines,
                           added=sum(line.kind == "added" for line in lines),
                           removed=sum(line.kind == "removed" for line in lines),
                           learner=new.learner)
