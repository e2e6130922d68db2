"""The pages' forms (Flask-WTF: each carries a CSRF token, checked on every POST)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    HiddenField,
    MultipleFileField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from common.records import LEARNER_PATTERN
from grader.accounts import MIN_PASSWORD_LENGTH

USERNAME = [DataRequired(), Length(max=128),
            Regexp(LEARNER_PATTERN.pattern,
                   message="letters, digits and . _ @ + - only, starting with a letter or digit")]


class SignInForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=128)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class AcceptInvitationForm(FlaskForm):
    """Choose the password of an invited account."""

    password = PasswordField("Choose a password",
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                                                max=1024)])
    confirm = PasswordField("Repeat it", validators=[DataRequired(),
                                                     EqualTo("password", "the passwords differ")])


class PostForm(FlaskForm):
    """A button that only needs the CSRF token (sign out, regrade, revoke)."""


class SubmitForm(FlaskForm):
    """Code pasted into the editor, or a ``.py`` / ``.ipynb`` file."""

    code = TextAreaField("Your code", validators=[Optional()])
    file = FileField("Or upload a .py or .ipynb file", validators=[Optional()])
    # A fresh key per page view: sending the same form twice (a double click, a re-POST after
    # Back) gives the same submission, not two.
    attempt_key = HiddenField()


ROLE_CHOICES = [("learner", "Learner"), ("instructor", "Instructor")]


class AccountForm(FlaskForm):
    """An instructor creates an account with a first password."""

    username = StringField("Username", validators=USERNAME)
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="learner")
    password = PasswordField("Password",
                             validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                                                max=1024)])


class InvitationForm(FlaskForm):
    """An instructor invites someone, who chooses their own password."""

    username = StringField("Username", validators=USERNAME)
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="learner")


class TokenForm(FlaskForm):
    """An API token: its role, a name to recognise it, and for a learner token the learner."""

    role = SelectField("Role", choices=[("learner", "Learner (acts for one learner)"),
                                        ("lms", "LMS (acts for any learner)"),
                                        ("instructor", "Instructor (everything)")],
                       default="lms")
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    learner = StringField("Learner (learner tokens only)",
                          validators=[Optional(), Length(max=128),
                                      Regexp(LEARNER_PATTERN.pattern, message="not a learner id")])


class ExerciseUploadForm(FlaskForm):
    """An exercise as a zip of its folder, or as its files one by one, plus the reference."""

    archive = FileField("A zip of the exercise folder", validators=[Optional()])
    files = MultipleFileField("Or its files (exercise.yaml, statement.md, starter.py, golden "
                              "submissions)", validators=[Optional()])
    reference = FileField("Reference solution (.py)", validators=[Optional()])
