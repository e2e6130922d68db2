"""The instructors' pages (``/instructor``): the exercises with their statistics and regrading,
uploading an exercise, the gradebook, accounts and API tokens."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from common.records import ExerciseInfo, SubmissionRecord
from common.spec import MODULES
from grader.accounts import AccountError
from grader.catalogue import get_catalogue
from grader.gradebook import gradebook_csv
from grader.gradings import (
    HISTORY_LIMIT,
    course_records,
    current_gradebook,
    current_gradings,
    learner_accounts,
    learners_of,
    stats_of,
    submissions_of,
    verdicts_of,
)
from grader.installs import (
    BundleTooLarge,
    ExerciseBusy,
    InstallError,
    InvalidExercise,
    ValidationFailed,
    ValidationTimeout,
    install,
)
from grader.intake import QueueUnavailable
from grader.pages import analytics
from grader.pages.bundles import BundleError, UploadedExercise, from_files, from_zip
from grader.pages.charts import Bar, bar_chart, score_bars
from grader.pages.forms import (
    AccountForm,
    ExerciseUploadForm,
    InvitationForm,
    PostForm,
    TokenForm,
)
from grader.pages.regrade import RegradeStore, out_of_date, start_regrade
from grader.pages.session import get_accounts, instructor_required, signed_in
from grader.statistics import Statistics
from grader.storage import get_store
from grader.tokens import TokenStore

bp = Blueprint("teach", __name__, url_prefix="/instructor")
MODULE_TITLES = {m.key: m.title for m in MODULES}


@bp.before_request
@instructor_required
def _instructors_only() -> None:
    """Every page here is for instructors (the decorator answers the others)."""


def _exercise(slug: str) -> ExerciseInfo:
    info = get_catalogue().get(slug)
    if info is None:
        abort(404, f"There is no exercise {slug!r}.")
    return info


@bp.get("/")
def dashboard() -> str:
    """Every exercise with its number of graded submissions and full-marks share."""
    store = get_store()
    accounts = get_accounts().all()
    learners = sorted({a.username for a in accounts}
                      | {learner for learner, _ in Statistics(store).gradebook()})
    by_learner, _ = course_records(store, learners, HISTORY_LIMIT)
    # Each learner's own submissions, each with its current grading (regrades not counted).
    current = current_gradings(r for records in by_learner.values() for r in records)
    rows = []
    for info in get_catalogue().all():
        graded = [r for r in current if r.exercise == info.slug and r.status == "graded"]
        rows.append((info, len(graded), sum(1 for r in graded if r.passed)))
    return render_template("teach/dashboard.html", rows=rows, module_titles=MODULE_TITLES,
                           accounts=len(accounts))


def _records(slug: str) -> list[SubmissionRecord]:
    accounts = [a.username for a in get_accounts().all()]
    store = get_store()
    return submissions_of(store, slug, learners_of(store, slug, accounts))


@bp.get("/exercises/<slug>")
def exercise_stats(slug: str) -> str:
    """Pass rate per check, the most common failures, the score distribution, attempts
    before full marks, and regrading."""
    info = _exercise(slug)
    store = get_store()
    records = _records(slug)
    verdicts = verdicts_of(store, records)
    # From the current gradings: a regrade replaces what it regrades (the store's counters
    # count every grading).
    stats = stats_of(slug, verdicts)
    reaching = analytics.attempts_to_full_marks(records)
    attempts_chart = bar_chart(
        [Bar(f"{n} attempt{'s' if n != 1 else ''}", c) for n, c in reaching.counts.items()],
        "Learners by attempts needed for full marks", height=180,
    ) if reaching.counts else None
    regrades = RegradeStore(store)
    latest = regrades.latest(slug)
    return render_template(
        "teach/exercise.html", exercise=info, stats=stats,
        score_chart=bar_chart(score_bars(stats.score_buckets),
                              f"Score distribution of {info.title}"),
        failing=analytics.failing_checks(verdicts),
        tampering=analytics.tampering_reports(records, store.get_result),
        reaching=reaching, attempts_chart=attempts_chart,
        stale=len(out_of_date(records, info.content_hash)),
        regrade=regrades.progress(latest) if latest else None,
        submissions=len(current_gradings(records)), form=PostForm(),
    )


@bp.post("/exercises/<slug>/regrade")
def regrade(slug: str) -> BaseResponse:
    """Queue every out-of-date submission of the exercise again."""
    info = _exercise(slug)
    if not PostForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    try:
        job = start_regrade(get_store(), info, _records(slug), f"account:{signed_in().username}")
    except QueueUnavailable:
        flash("The grading queue is unavailable; nothing was regraded.", "error")
        return redirect(url_for("teach.exercise_stats", slug=slug))
    count = len(job.submission_ids)
    flash(f"Regrading {count} submission{'s' if count != 1 else ''}." if count
          else "Every submission is already graded against this version.", "info")
    return redirect(url_for("teach.exercise_stats", slug=slug) + "#regrade")


@bp.get("/regrades/<job_id>.json")
def regrade_progress(job_id: str) -> Response:
    """A regrade's progress, for the progress bar's script."""
    regrades = RegradeStore(get_store())
    job = regrades.get(job_id)
    if job is None:
        abort(404, "There is no such regrade.")
    return jsonify(regrades.progress(job).as_json())


def _uploaded(form: ExerciseUploadForm) -> UploadedExercise:
    reference = None
    if form.reference.data and form.reference.data.filename:
        raw = form.reference.data.stream.read(4 * 2**20 + 1)
        try:
            reference = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise BundleError("the reference solution is not UTF-8 text") from exc
    if form.archive.data and form.archive.data.filename:
        return from_zip(form.archive.data.stream.read(16 * 2**20 + 1), reference)
    files = [f for f in (form.files.data or []) if getattr(f, "filename", "")]
    if not files:
        raise BundleError("choose a zip of the exercise folder, or its files")
    return from_files(files, reference)


@bp.route("/exercises/upload", methods=["GET", "POST"])
def upload() -> str | tuple[str, int]:
    """Add or replace an exercise; it goes live only if it passes validation."""
    form = ExerciseUploadForm()
    if not form.validate_on_submit():
        return render_template("teach/upload.html", form=form, outcome=None)
    try:
        uploaded = _uploaded(form)
        installed = install(uploaded.slug, uploaded.files, uploaded.reference,
                            f"account:{signed_in().username}")
    except BundleError as exc:
        outcome = {"ok": False, "lines": [], "problems": [],
                   "message": "The upload has a problem, shown below at its line."
                   if exc.problems else str(exc),
                   "errors": [p.as_dict() for p in exc.problems]}
        return render_template("teach/upload.html", form=form, outcome=outcome), 422
    except InstallError as exc:
        return render_template("teach/upload.html", form=form,
                               outcome=_refused(exc)), _status(exc)
    info = installed.info
    outcome = {"ok": True, "created": installed.created, "slug": info.slug,
               "title": info.title, "lines": installed.report.lines,
               "problems": installed.report.problems,
               "message": ("Added" if installed.created else "Replaced")
               + f" {info.title!r}: it passed validation and is live."}
    return render_template("teach/upload.html", form=ExerciseUploadForm(formdata=None),
                           outcome=outcome)


def _refused(exc: InstallError) -> dict[str, object]:
    """What the upload page shows of a refused exercise: authoring errors located (file,
    line, field, caret), validation problems as text, the validation report's lines."""
    if isinstance(exc, InvalidExercise):
        count = len(exc.problems)
        return {"ok": False, "lines": [], "problems": [], "errors": exc.problems,
                "message": f"The exercise has {count} problem{'s' if count != 1 else ''}; each "
                           "is shown below at its line."}
    if isinstance(exc, ValidationFailed):
        return {"ok": False, "lines": exc.report.lines, "problems": exc.report.problems,
                "errors": [], "message": str(exc)}
    return {"ok": False, "lines": [], "problems": [], "errors": [], "message": str(exc)}


def _status(exc: InstallError) -> int:
    """The page's HTTP status for a refused upload."""
    if isinstance(exc, BundleTooLarge):
        return 413
    if isinstance(exc, ExerciseBusy):
        return 409
    if isinstance(exc, ValidationTimeout):
        return 504
    return 422


@bp.get("/gradebook")
def gradebook() -> str:
    """Best score per learner and exercise."""
    exercises = get_catalogue().all()
    store = get_store()
    learners, best = current_gradebook(store, learner_accounts(store), HISTORY_LIMIT)
    return render_template("teach/gradebook.html", exercises=exercises, learners=learners,
                           best=best)


@bp.get("/gradebook.csv")
def gradebook_download() -> Response:
    """The gradebook as CSV (the API's ``/api/v1/gradebook.csv``)."""
    return Response(gradebook_csv(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=gradebook.csv"})


@bp.route("/accounts", methods=["GET", "POST"])
def accounts() -> str | tuple[str, int]:
    """Create accounts, or invitation links that let people choose their password."""
    account_form = AccountForm(prefix="account")
    invite_form = InvitationForm(prefix="invite")
    store = get_accounts()
    me = signed_in().username
    invite_link = None
    status = 200
    if request.method == "POST":
        try:
            if "account-username" in request.form and account_form.validate_on_submit():
                created = store.create(account_form.username.data or "",
                                       account_form.password.data or "",
                                       account_form.role.data,
                                       account_form.name.data or "", created_by=me)
                flash(f"Created the {created.role} account {created.username!r}.", "success")
                return render_template("teach/accounts.html", accounts=store.all(),
                                       account_form=AccountForm(prefix="account",
                                                                formdata=None),
                                       invite_form=invite_form, invite_link=None,
                                       pending=store.pending())
            if "invite-username" in request.form and invite_form.validate_on_submit():
                token, invited = store.invite(invite_form.username.data or "",
                                              invite_form.role.data,
                                              me, invite_form.name.data or "")
                invite_link = url_for("auth.invitation", token=token, _external=True)
                flash(f"Send this link to {invited.username}; it works once, for 7 days.",
                      "success")
                invite_form = InvitationForm(prefix="invite", formdata=None)
            else:
                status = 422
        except AccountError as exc:
            flash(str(exc), "error")
            status = 422
    return render_template("teach/accounts.html", accounts=store.all(),
                           account_form=account_form, invite_form=invite_form,
                           invite_link=invite_link, pending=store.pending()), status


@bp.route("/tokens", methods=["GET", "POST"])
def tokens() -> str | tuple[str, int]:
    """Create and revoke API tokens; a new token is shown once."""
    form = TokenForm()
    store = get_store()
    created = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            role = form.role.data
            learner = (form.learner.data or None) if role == "learner" else None
            if role == "learner" and not learner:
                form.learner.errors = ["a learner token names its learner"]
                status = 422
            else:
                token, record = TokenStore(store).create_token(role, form.name.data or "",
                                                   learner)
                created = (token, record)
                form = TokenForm(formdata=None)
        else:
            status = 422
    return render_template("teach/tokens.html", form=form, created=created,
                           tokens=TokenStore(store).list_tokens(), revoke_form=PostForm()), status


@bp.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> BaseResponse:
    """Revoke a token."""
    if PostForm().validate_on_submit() and TokenStore(get_store()).revoke_token(token_id[:64]):
        flash(f"Revoked token {token_id}.", "success")
    else:
        flash("No such token.", "error")
    return redirect(url_for("teach.tokens"))
