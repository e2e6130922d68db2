"""``flask --app 'grader.app:create_app()' accounts ...``: accounts from the command line (the
first instructor, above all). Reads ``GRADER_REDIS_URL`` and ``GRADER_KEY_PREFIX`` like the
app."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from grader.accounts import ACCOUNT_ROLES, AccountError
from grader.pages.session import get_accounts

accounts = AppGroup("accounts", help="Create and list the accounts of the web pages.")


@accounts.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ACCOUNT_ROLES), default="learner", show_default=True)
@click.option("--name", default="", help="The name the pages greet.")
@click.password_option(help="The first password (prompted when left out).")
def create(username: str, role: str, name: str, password: str) -> None:
    """Create an account with a password."""
    try:
        account = get_accounts().create(username, password, role, name,  # type: ignore[arg-type]
                                        created_by="command line")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created the {account.role} account {account.username!r}")


@accounts.command("invite")
@click.argument("username")
@click.option("--role", type=click.Choice(ACCOUNT_ROLES), default="learner", show_default=True)
@click.option("--name", default="")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the pages are served, for the link.")
def invite(username: str, role: str, name: str, base_url: str) -> None:
    """Print a one-time link with which USERNAME chooses a password."""
    try:
        token, _ = get_accounts().invite(username, role, "command line", name)  # type: ignore[arg-type]
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{base_url.rstrip('/')}/invite/{token}")


@accounts.command("list")
def list_accounts() -> None:
    """Every account: username, role, name."""
    for account in get_accounts().all():
        click.echo(f"{account.username}\t{account.role}\t{account.name}")


@accounts.command("password")
@click.argument("username")
@click.password_option()
def password(username: str, password: str) -> None:
    """Set a new password (ends the account's sessions)."""
    try:
        get_accounts().set_password(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"changed the password of {username!r}")
