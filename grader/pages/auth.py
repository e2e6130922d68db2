"""Signing in and out, and accepting an invitation (``/signin``, ``/signout``,
``/invite/<token>``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from grader.accounts import AccountError
from grader.limits import limiter
from grader.pages.forms import AcceptInvitationForm, PostForm, SignInForm
from grader.pages.session import current_account, get_accounts, safe_next, sign_in, sign_out

bp = Blueprint("auth", __name__)


def _signin_key() -> str:
    # Guessing is limited per address and per username, whichever is hit first.
    return f"signin:{request.remote_addr}"


def _home() -> str:
    account = current_account()
    if account is not None and account.is_instructor:
        return url_for("teach.dashboard")
    return url_for("learn.exercises")


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit("20 per minute", key_func=_signin_key, methods=["POST"])
def signin() -> Response | str | tuple[str, int]:
    """The sign-in form; on success, back to where the visitor was going."""
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_account() is not None:
            return redirect(safe_next(form.next.data) or _home())
    if form.validate_on_submit():
        account = get_accounts().authenticate(form.username.data or "", form.password.data or "")
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
@limiter.limit("20 per minute", key_func=_signin_key, methods=["POST"])
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
        else:
            sign_in(account)
            flash(f"Welcome, {account.display_name}! Your account is ready.", "success")
            return redirect(_home())
    return render_template("invitation.html", invitation=invited, form=form)
