from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from shopper.accounts import service
from shopper.accounts.forms import LoginForm, PasswordChangeForm, SignUpForm
from shopper.accounts.models import User
from shopper.errors import error_response
from shopper.extensions import db, login_manager
from shopper.timeutil import utcnow

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Ids carry the user's session version: a password change signs out every other session."""
    ident, _, version = user_id.partition(":")
    if not ident.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(ident))
    return user if user is not None and user.session_version == int(version) else None


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (open redirect). No whitespace either: browsers drop tabs and
    line breaks from a URL, so "/<tab>/evil.example" is "//evil.example" to them, and a line break in a header is a
    500."""
    if not target or any(character.isspace() for character in target):
        return None
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def min_length() -> int:
    return current_app.config["PASSWORD_MIN_LENGTH"]


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user, org = service.sign_up(
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                org_name=form.org_name.data,
                org_kind=form.org_kind.data,
                min_length=min_length(),
            )
        except service.EmailTaken as e:
            form.email.errors.append(str(e))
        except service.AccountError as e:
            form.password.errors.append(str(e))
        else:
            login_user(user)
            flash(f"Welcome to Shopper. {org.name} is ready: add your sites, then walk your first journey.", "success")
            return redirect(url_for("orgs.home", org_slug=org.slug))
    return render_template("accounts/signup.html", form=form), 400 if form.errors else 200


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    if form.validate_on_submit():
        config = current_app.config
        policy = service.ThrottlePolicy(
            window=timedelta(seconds=config["LOGIN_WINDOW_SECONDS"]),
            max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
            max_per_ip=config["LOGIN_MAX_FAILURES_PER_IP"],
        )
        try:
            user = service.authenticate(
                email=form.email.data,
                password=form.password.data,
                ip=request.remote_addr or "unknown",
                policy=policy,
                now=utcnow(),
            )
        except service.Throttled as e:
            return error_response(429, e.message, retry_after=e.retry_after)
        except service.BadCredentials as e:
            form.password.errors.append(str(e))
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    return render_template("accounts/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            service.change_password(current_user, current=form.current.data, new=form.new.data, min_length=min_length())
        except service.WrongPassword as e:
            form.current.errors.append(str(e))
        except service.AccountError as e:
            form.new.errors.append(str(e))
        else:
            login_user(current_user)  # the session version changed: re-issue this device's session
            flash("Password changed. Other devices have been signed out.", "success")
            return redirect(url_for("home.index"))
    return render_template("accounts/password.html", form=form), 400 if form.errors else 200
