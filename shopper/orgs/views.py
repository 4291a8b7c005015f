from __future__ import annotations

from datetime import timedelta

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from shopper.accounts import service as accounts
from shopper.accounts.forms import NewMemberForm
from shopper.accounts.views import bp as accounts_bp
from shopper.accounts.views import min_length, send_confirmation, signed_in
from shopper.extensions import db
from shopper.forms import ConfirmForm
from shopper.mail import mail_enabled, send_later
from shopper.orgs import security_log, service
from shopper.orgs.access import (
    current_access,
    current_org,
    get_or_404,
    members_only,
    org_blueprint,
    require_role,
    scoped,
)
from shopper.orgs.forms import InviteForm, RoleForm, SignUpForm, SiteForm
from shopper.orgs.models import Invite, Membership, Role, Site
from shopper.security import rate_limit
from shopper.timeutil import utcnow

bp = Blueprint("orgs_public", __name__)
org_bp = org_blueprint("orgs", __name__)


@accounts_bp.route("/signup", methods=["GET", "POST"], endpoint="signup")
@rate_limit("RATE_LIMIT_SIGN_UP", methods=["POST"])
def signup():
    """Signing up opens an organization, so the page lives here, above accounts; it is on the accounts blueprint,
    so its address and its endpoint (`accounts.signup`) stay."""
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
        except accounts.EmailTaken as e:
            form.email.errors.append(str(e))
        except accounts.AccountError as e:
            form.password.errors.append(str(e))
        else:
            if mail_enabled():
                send_confirmation(user)
            flash(f"Welcome to Shopper. {org.name} is ready: add your sites, then walk your first journey.", "success")
            return signed_in(redirect(url_for("orgs.home", org_slug=org.slug)), user)
    return render_template("accounts/signup.html", form=form), 400 if form.errors else 200


@bp.get("/orgs")
@login_required
def choose():
    return render_template(
        "orgs/choose.html",
        memberships=service.memberships_of(current_user),
        clients=service.clients_served_by(current_user),
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
@rate_limit("RATE_LIMIT_LINKS")
def accept_invite(token: str):
    now = utcnow()
    try:
        invite = service.find_invite(token, now)
    except service.OrgError as e:
        return render_template("orgs/invite_invalid.html", message=str(e)), 404
    form = NewMemberForm()
    confirm = ConfirmForm()
    if request.method == "POST":
        if current_user.is_authenticated and confirm.validate_on_submit():
            return _accept(invite, current_user, now)
        if not current_user.is_authenticated and form.validate_on_submit():
            if invite.email and form.email.data.lower() != invite.email:
                form.email.errors.append(f"This invitation is for {invite.email}.")
            else:
                try:
                    user = accounts.create_user(
                        email=form.email.data,
                        name=form.name.data,
                        password=form.password.data,
                        min_length=current_app.config["PASSWORD_MIN_LENGTH"],
                    )
                except accounts.EmailTaken:
                    form.email.errors.append("You already have an account: sign in first, then open this link again.")
                except accounts.AccountError as e:
                    form.password.errors.append(str(e))
                else:
                    return _accept(invite, user, now, new_account=True)
    elif invite.email and not current_user.is_authenticated:
        form.email.data = invite.email
    status = 400 if form.errors else 200
    return render_template("orgs/invite_accept.html", invite=invite, form=form, confirm=confirm), status


def _accept(invite: Invite, user, now, *, new_account: bool = False):
    """Join with the invitation; an account made on the spot is then signed in on this device."""
    try:
        membership = service.accept_invite(invite, user, now, new_account=new_account, require_confirmed=mail_enabled())
    except service.OrgError as e:
        flash(str(e), "error")
        return render_template("orgs/invite_invalid.html", message=str(e)), e.status
    flash(f"Welcome to {membership.org.name}.", "success")
    response = redirect(url_for("orgs.home", org_slug=membership.org.slug))
    return signed_in(response, user) if new_account else response


# Team ---------------------------------------------------------------------------------------------------------


def _team_page(
    status: int = 200,
    invite_link: str | None = None,
    invite_form: InviteForm | None = None,
    reset_link: str | None = None,
    reset_for: str | None = None,
):
    org = current_org()
    access = current_access()
    can_manage = access.role_enum.at_least(Role.MANAGER) and not access.is_consultant
    link = invite_link or reset_link
    return (
        render_template(
            "orgs/members.html",
            members=service.members_of(org),
            invites=service.pending_invites(org, utcnow()) if can_manage else [],
            invite_form=invite_form or InviteForm(),
            role_form=RoleForm(),
            confirm=ConfirmForm(),
            can_manage=can_manage,
            is_owner=access.role_enum == Role.OWNER and not access.is_consultant,
            invite_link=invite_link,
            reset_link=reset_link,
            reset_for=reset_for,
            link_qr=segno.make(link, error="m").svg_inline(scale=5, title="The link as a QR code") if link else None,
        ),
        status,
    )


@org_bp.get("/members")
def members():
    return _team_page()


@org_bp.post("/members/<int:member_id>/role")
@require_role(Role.MANAGER)
def change_role(member_id: int):
    member = get_or_404(Membership, member_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the listed roles.", "error")
        return _team_page(400)
    try:
        service.change_role(current_access(), member, form.role.data, utcnow())
    except service.OrgError as e:
        flash(str(e), "error")
        return _team_page(e.status)
    flash(f"{member.user.name} is now {member.role_enum.label.lower()}.", "success")
    return redirect(url_for(".members"))


@org_bp.post("/members/<int:member_id>/remove")
@require_role(Role.MANAGER)
def remove_member(member_id: int):
    member = get_or_404(Membership, member_id)
    if not ConfirmForm().validate_on_submit():
        return _team_page(400)
    name = member.user.name
    try:
        service.remove_member(current_access(), member, utcnow())
    except service.OrgError as e:
        flash(str(e), "error")
        return _team_page(e.status)
    flash(f"{name} is no longer a member.", "success")
    return redirect(url_for(".members"))


@org_bp.post("/members/<int:member_id>/reset-link")
@require_role(Role.OWNER)
@members_only
def reset_link(member_id: int):
    """A password reset link an owner hands to a member who gets no mail (or whose mail does not arrive)."""
    member = get_or_404(Membership, member_id)
    if not ConfirmForm().validate_on_submit():
        return _team_page(400)
    hours = current_app.config["PASSWORD_RESET_BY_OWNER_HOURS"]
    try:
        new = service.reset_link_for_member(current_user.id, current_org(), member, utcnow(), timedelta(hours=hours))
    except accounts.ResetRefused as e:
        flash(str(e), "error")
        return _team_page(e.status)
    link = url_for("accounts.reset_password", token=new.token, _external=True)
    return _team_page(201, reset_link=link, reset_for=member.user.name)


@org_bp.get("/security")
@require_role(Role.OWNER)
@members_only
def security():
    return render_template("orgs/security.html", events=security_log.events_of(current_org().id))


@org_bp.post("/invites")
@require_role(Role.MANAGER)
@rate_limit("RATE_LIMIT_INVITING", per_person=True)
def create_invite():
    form = InviteForm()
    if not form.validate_on_submit():
        return _team_page(400, invite_form=form)
    try:
        new = service.create_invite(
            current_access(),
            role=form.role.data,
            email=form.email.data or None,
            now=utcnow(),
            lifetime=timedelta(days=current_app.config["INVITE_LIFETIME_DAYS"]),
        )
    except service.OrgError as e:
        flash(str(e), "error")
        return _team_page(e.status, invite_form=form)
    link = url_for("orgs_public.accept_invite", token=new.token, _external=True)
    if new.invite.email:
        flash_mailed(
            new.invite.email,
            f"Join {current_org().name} on Shopper",
            f"{current_user.name} invites you to {current_org().name} on Shopper as "
            f"{new.invite.role}.\n\nOpen this link to accept (it works once, for "
            f"{current_app.config['INVITE_LIFETIME_DAYS']} days):\n{link}\n",
        )
    return _team_page(201, invite_link=link)


def flash_mailed(to: str, subject: str, body: str) -> None:
    """Mail an invitation link when mail is set up, and say so on the page (the link is shown either way)."""
    if send_later(to, subject, body):
        flash(f"We are sending the invitation to {to}. You can also share the link below.", "success")


@org_bp.post("/invites/<int:invite_id>/revoke")
@require_role(Role.MANAGER)
def revoke_invite(invite_id: int):
    invite = get_or_404(Invite, invite_id)
    if not ConfirmForm().validate_on_submit():
        return _team_page(400)
    try:
        service.revoke_invite(current_access(), invite, utcnow())
    except service.OrgError as e:
        flash(str(e), "error")
        return _team_page(e.status)
    flash("Invitation withdrawn: its link no longer works.", "success")
    return redirect(url_for(".members"))


# Sites --------------------------------------------------------------------------------------------------------


def _sites_page(form: SiteForm, status: int = 200):
    all_sites = db.session.scalars(scoped(Site).order_by(Site.archived_at.is_not(None), Site.name)).all()
    return render_template("orgs/sites.html", sites=all_sites, form=form, confirm=ConfirmForm()), status


@org_bp.get("/sites")
def sites():
    return _sites_page(SiteForm())


@org_bp.post("/sites")
@require_role(Role.MANAGER)
def add_site():
    form = SiteForm()
    if not form.validate_on_submit():
        return _sites_page(form, 400)
    try:
        site = service.add_site(current_org(), name=form.name.data, address=form.address.data)
    except service.OrgError as e:
        form.name.errors.append(str(e))
        return _sites_page(form, e.status)
    flash(f"Site {site.name!r} added.", "success")
    return redirect(url_for(".sites"))


@org_bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@require_role(Role.MANAGER)
def edit_site(site_id: int):
    site = get_or_404(Site, site_id)
    form = SiteForm(obj=site)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.update_site(site, name=form.name.data, address=form.address.data)
            except service.OrgError as e:
                form.name.errors.append(str(e))
                status = e.status
            else:
                flash("Site saved.", "success")
                return redirect(url_for(".sites"))
        else:
            status = 400
    return render_template("orgs/site_edit.html", site=site, form=form), status


@org_bp.post("/sites/<int:site_id>/archive")
@require_role(Role.MANAGER)
def archive_site(site_id: int):
    site = get_or_404(Site, site_id)
    if not ConfirmForm().validate_on_submit():
        return _sites_page(SiteForm(), 400)
    archive = request.form.get("archive", "1") == "1"
    service.set_site_archived(site, archive, utcnow())
    flash(f"Site {site.name!r} {'archived' if archive else 'restored'}.", "success")
    return redirect(url_for(".sites"))
