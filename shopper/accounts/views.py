"""Sign-up, sign-in and out, the account page (signed-in devices, address confirmation, new password), and the
"forgot your password" links."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from shopper.accounts import service, sessions
from shopper.accounts.forms import (
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    ResetPasswordForm,
)
from shopper.errors import error_response
from shopper.extensions import login_manager
from shopper.forms import ConfirmForm
from shopper.links import LinkRefused
from shopper.mail import mail_enabled, send_later
from shopper.security import rate_limit, same_site_path
from shopper.text import clean_text
from shopper.timeutil import utcnow

bp = Blueprint("accounts", __name__)

login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"
login_manager.user_loader(sessions.load)


@bp.app_template_filter("device_name")
def device_name(user_agent: str) -> str:
    return service.device_words(user_agent)


def min_length() -> int:
    return current_app.config["PASSWORD_MIN_LENGTH"]


def _client() -> service.Client:
    """Who is asking. Headers are not cleaned at the edge like form fields, and may carry any byte but a line
    break: a NUL in a User-Agent made signing in a 500 on PostgreSQL, so what is stored is cleaned here."""
    return service.Client(
        ip=clean_text(request.remote_addr or "unknown", single_line=True),
        device_token=request.cookies.get(sessions.DEVICE_COOKIE),
        user_agent=clean_text(request.user_agent.string or "", single_line=True),
    )


def signed_in(response, user, remember: bool = False):
    """Open a device session for `user` on this browser, sign it in, and give the browser its device cookie."""
    client = _client()
    token = client.device_token or sessions.new_device_token()
    service.sign_in(user, service.Client(client.ip, token, client.user_agent), utcnow())
    login_user(user, remember=remember)
    if token != client.device_token:
        response.set_cookie(
            sessions.DEVICE_COOKIE,
            token,
            max_age=int(timedelta(days=sessions.DEVICE_COOKIE_DAYS).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


def send_confirmation(user) -> None:
    token = service.verification_token(user, current_app.config["SECRET_KEY"])
    link = url_for("accounts.confirm_email", token=token, _external=True)
    send_later(
        user.email,
        "Confirm your address for Shopper",
        f"Hello {user.name},\n\nPlease confirm that this is your address by opening this link (it works for "
        f"{current_app.config['EMAIL_CONFIRMATION_DAYS']} days):\n{link}\n\nIf you did not make a Shopper account, "
        "you can ignore this message.\n",
    )


@bp.route("/login", methods=["GET", "POST"])
@rate_limit("RATE_LIMIT_SIGN_IN", methods=["POST"])
def login():
    form = LoginForm()
    target = same_site_path(request.args.get("next")) or url_for("home.index")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    if form.validate_on_submit():
        config = current_app.config
        policy = service.ThrottlePolicy(
            window=timedelta(seconds=config["LOGIN_WINDOW_SECONDS"]),
            max_per_client=config["LOGIN_MAX_FAILURES_PER_CLIENT"],
            max_per_ip=config["LOGIN_MAX_FAILURES_PER_IP"],
            max_per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        )
        try:
            user = service.authenticate(
                email=form.email.data, password=form.password.data, client=_client(), policy=policy, now=utcnow()
            )
        except service.Throttled as e:
            return error_response(429, e.message, retry_after=e.retry_after)
        except service.BadCredentials as e:
            form.password.errors.append(str(e))
        else:
            return signed_in(redirect(target), user, remember=form.remember.data)
    return render_template("accounts/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    """Ends this device's session: its session and remember-me cookies stop working wherever a copy of them is."""
    if current_user.is_authenticated:
        service.sign_out(current_user, utcnow())
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.get("/account")
@login_required
def account():
    return render_template(
        "accounts/account.html",
        devices=sessions.open_sessions(current_user),
        this_device=current_user.device_session_id,
        confirm=ConfirmForm(),
        mail=mail_enabled(),
    )


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for(".account"))
    service.sign_out_everywhere(current_user, utcnow())
    logout_user()
    flash("You are signed out on every device, this one included. Sign in again to go on.", "info")
    return redirect(url_for(".login"))


@bp.post("/account/confirm-email")
@login_required
@rate_limit("RATE_LIMIT_MAIL", per_person=True)
def resend_confirmation():
    if ConfirmForm().validate_on_submit() and mail_enabled() and not current_user.email_verified:
        send_confirmation(current_user)
        flash(f"We are sending a confirmation link to {current_user.email}.", "success")
    return redirect(url_for(".account"))


@bp.get("/account/confirm/<token>")
@rate_limit("RATE_LIMIT_LINKS")
def confirm_email(token: str):
    config = current_app.config
    try:
        user = service.verify_email(
            token,
            config["SECRET_KEY"],
            int(timedelta(days=config["EMAIL_CONFIRMATION_DAYS"]).total_seconds()),
            utcnow(),
        )
    except LinkRefused as e:
        return render_template("orgs/invite_invalid.html", message=str(e)), 404
    flash(f"Thank you: {user.email} is confirmed.", "success")
    return redirect(url_for("home.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                current_user, current=form.current.data, new=form.new.data, min_length=min_length(), now=utcnow()
            )
        except service.WrongPassword as e:
            form.current.errors.append(str(e))
        except service.AccountError as e:
            form.new.errors.append(str(e))
        else:
            login_user(current_user)  # a new generation: this device's cookies are issued again
            flash("Password changed. Other devices have been signed out.", "success")
            return redirect(url_for(".account"))
    return render_template("accounts/password.html", form=form), 400 if form.errors else 200


# Forgot your password ------------------------------------------------------------------------------------------


def _address_asked_for() -> str:
    return "reset:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@rate_limit("RATE_LIMIT_MAIL", methods=["POST"])
@rate_limit("RATE_LIMIT_MAIL", methods=["POST"], key=_address_asked_for)
def forgot_password():
    form = ForgotPasswordForm()
    mail = mail_enabled()
    if mail and form.validate_on_submit():
        hours = current_app.config["PASSWORD_RESET_HOURS"]
        new = service.request_reset(form.email.data, utcnow(), timedelta(hours=hours))
        if new is not None:
            link = url_for(".reset_password", token=new.token, _external=True)
            send_later(
                new.reset.email,
                "Choose a new Shopper password",
                f"Someone (we hope you) asked to choose a new password for your Shopper account.\n\nOpen this link "
                f"to choose it (it works once, for {hours} hours):\n{link}\n\nIf it was not you, ignore this "
                "message: your password stays as it is.\n",
            )
        return render_template("accounts/reset_sent.html", email=form.email.data)
    return render_template("accounts/forgot.html", form=form, mail=mail), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@rate_limit("RATE_LIMIT_LINKS")
def reset_password(token: str):
    now = utcnow()
    try:
        reset = service.find_reset(token, now)
    except LinkRefused as e:
        return render_template("orgs/invite_invalid.html", message=str(e)), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = service.reset_password(reset, form.new.data, min_length=min_length(), now=now)
        except LinkRefused as e:
            return render_template("orgs/invite_invalid.html", message=str(e)), 409
        except service.AccountError as e:
            form.new.errors.append(str(e))
        else:
            flash("Your new password is set, and you are signed out everywhere else.", "success")
            return signed_in(redirect(url_for("home.index")), user)
    return render_template("accounts/reset.html", form=form, reset=reset), 400 if form.errors else 200
