"""Signing in and out, and accepting an invitation (``/signin``, ``/signout``,
``/invite/<token>``)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from grader.accounts import AccountError, HashingBusy
from grader.limits import limiter
from grader.pages.forms import AcceptInvitationForm, PostForm, SignInForm
from grader.pages.session import current_account, get_accounts, safe_next, sign_in, sign_out

bp = Blueprint("auth", __name__)


def _signin_key() -> str:
    return f"signin:{request.remote_addr}"


def _account_key() -> str:
    # Per account too: guessing one account's password from many addresses is limited alike.
    username = (request.form.get("username") or "").strip().lower()[:128]
    return f"signin-account:{username}"


def _address_limit() -> str:
    return str(current_app.config["SIGNIN_RATE_LIMIT"])


def _account_limit() -> str:
    return str(current_app.config["SIGNIN_ACCOUNT_RATE_LIMIT"])


def _failed(response: Response) -> bool:
    # Only failed sign-ins count: a successful one must not lock anyone out.
    return response.status_code == 401


def _home() -> str:
    account = current_account()
    if account is not None and account.is_instructor:
        return url_for("teach.dashboard")
    return url_for("learn.exercises")


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(_address_limit, key_func=_signin_key, methods=["POST"], deduct_when=_failed)
@limiter.limit(_account_limit, key_func=_account_key, methods=["POST"], deduct_when=_failed)
def signin() -> Response | str | tuple[str, int]:
    """The sign-in form; on success, back to where the visitor was going."""
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_account() is not None:
            return redirect(safe_next(form.next.data) or _home())
    if form.validate_on_submit():
        try:
            account = get_accounts().authenticate(form.username.data or "",
                                                  form.password.data or "")
        except HashingBusy:
            abort(503, "Too many people are signing in at once. Try again in a moment.")
        if account is not None:
            sign_in(account)
            return redirect(safe_next(form.next.data) or _home())
        form.password.errors = ["Unknown username or wrong password."]
        return render_template("signin.html", form=form), 401
    return render_template("signin.html", form=form)


@bp.post("/signout")
def signout() -> Response:
    """End the session (a POST with the CSRF token, so no page can sign you out)."""
    if PostForm().validate_on_submit():
        sign_out()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.signin"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(_address_limit, key_func=_signin_key, methods=["POST"])
def invitation(token: str) -> Response | str | tuple[str, int]:
    """Accept an invitation: choose a password, and be signed in."""
    accounts = get_accounts()
    invited = accounts.invitation(token)
    if invited is None:
        return render_template("invitation.html", invitation=None, form=None), 404
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            account = accounts.accept(token, form.password.data or "")
        except AccountError as exc:
            form.password.errors = [str(exc)]
        except HashingBusy:
            abort(503, "Too many people are signing in at once. Try again in a moment.")
        else:
            sign_in(account)
            flash(f"Welcome, {account.display_name}! Your account is ready.", "success")
            return redirect(_home())
    return render_template("invitation.html", invitation=invited, form=form)
