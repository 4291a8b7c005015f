"""Consultancy pages (its clients, offers to serve a business, the same audit for several clients) and the business's
page of the consultancies that have access to it, plus the public link a business owner opens to accept an offer."""

from __future__ import annotations

from datetime import timedelta

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from shopper.checklists.models import Checklist
from shopper.checklists.sharing import published_checklists
from shopper.clients import service
from shopper.clients.forms import (
    AcceptClientForm,
    BulkAuditForm,
    ClientInviteForm,
    LinkRoleForm,
    NewClientForm,
    OwnerInviteForm,
)
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.forms import ConfirmForm
from shopper.mail import mail_enabled
from shopper.orgs.access import (
    current_access,
    current_org,
    get_or_404,
    members_only,
    org_blueprint,
    people,
    require_role,
)
from shopper.orgs.models import ClientLink, Role
from shopper.orgs.service import OrgError
from shopper.orgs.views import flash_mailed
from shopper.security import rate_limit
from shopper.timeutil import utcnow

bp = org_blueprint("clients", __name__, "/clients")
consultants = org_blueprint("consultants", __name__, "/consultants")
public = Blueprint("client_invites", __name__)


@bp.before_request
def _consultancies_only():
    if not current_org().is_consultancy:
        abort(404)


@consultants.before_request
def _businesses_only():
    if current_org().is_consultancy:
        abort(404)


def _lifetime() -> timedelta:
    return timedelta(days=current_app.config["INVITE_LIFETIME_DAYS"])


def _qr(link: str | None) -> str | None:
    return segno.make(link, error="m").svg_inline(scale=5, title="Invitation link") if link else None


# The consultancy's clients -------------------------------------------------------------------------------------


def _clients_page(status: int = 200, *, new_form=None, invite_form=None, link=None, link_for=None):
    org = current_org()
    manages = current_access().role_enum.at_least(Role.MANAGER)
    return render_template(
        "clients/index.html",
        links=service.clients_of(org.id),
        invites=service.pending_client_invites(org.id, utcnow()) if manages else [],
        manages=manages,
        new_form=new_form or NewClientForm(),
        invite_form=invite_form or ClientInviteForm(),
        owner_form=OwnerInviteForm(),
        confirm=ConfirmForm(),
        invite_link=link,
        invite_link_for=link_for,
        invite_qr=_qr(link),
    ), status


@bp.get("/")
def index():
    return _clients_page()


@bp.post("/")
@require_role(Role.MANAGER)
def create():
    form = NewClientForm()
    if not form.validate_on_submit():
        return _clients_page(400, new_form=form)
    try:
        link = service.create_client(current_access(), name=form.name.data, site_name=form.site_name.data, now=utcnow())
    except OrgError as e:
        form.name.errors.append(str(e))
        return _clients_page(e.status, new_form=form)
    flash(f"{link.client.name} is your client. Invite its owner when you are ready.", "success")
    return redirect(url_for(".index", _anchor=f"client-{link.client_id}"))


@bp.post("/<int:link_id>/owner-invite")
@require_role(Role.MANAGER)
@rate_limit("RATE_LIMIT_INVITING", per_person=True)
def invite_owner(link_id: int):
    link = get_or_404(ClientLink, link_id, parent=current_org(), via=ClientLink.consultancy)
    form = OwnerInviteForm()
    if not form.validate_on_submit():
        for error in form.email.errors:
            flash(error, "error")
        return _clients_page(400)
    try:
        new = service.invite_client_owner(
            current_access(), link, email=form.email.data or None, now=utcnow(), lifetime=_lifetime()
        )
    except OrgError as e:
        flash(str(e), "error")
        return _clients_page(e.status)
    url = url_for("orgs_public.accept_invite", token=new.token, _external=True)
    if new.invite.email:
        flash_mailed(
            new.invite.email,
            f"{link.client.name} on Shopper",
            f"{current_user.name} of {current_org().name} set up {link.client.name} on Shopper and invites you "
            f"as its owner.\n\nOpen this link to accept (it works once, for "
            f"{current_app.config['INVITE_LIFETIME_DAYS']} days):\n{url}\n",
        )
    return _clients_page(201, link=url, link_for=f"the owner of {link.client.name}")


@bp.post("/invites")
@require_role(Role.MANAGER)
@rate_limit("RATE_LIMIT_INVITING", per_person=True)
def invite_business():
    form = ClientInviteForm()
    if not form.validate_on_submit():
        return _clients_page(400, invite_form=form)
    try:
        new = service.invite_business(
            current_access(), role=form.role.data, email=form.email.data or None, now=utcnow(), lifetime=_lifetime()
        )
    except OrgError as e:
        flash(str(e), "error")
        return _clients_page(e.status, invite_form=form)
    url = url_for("client_invites.accept", token=new.token, _external=True)
    if new.invite.email:
        flash_mailed(
            new.invite.email,
            f"{current_org().name} asks to work with your business on Shopper",
            f"{current_user.name} of {current_org().name} asks for {new.invite.role_enum.label.lower()} access to "
            f"your business on Shopper.\n\nIf you own the business, open this link to accept (it works once, for "
            f"{current_app.config['INVITE_LIFETIME_DAYS']} days). You can revoke the access at any time:\n{url}\n",
        )
    return _clients_page(201, link=url, link_for="the owner of the business")


@bp.post("/invites/<int:client_invite_id>/withdraw")
@require_role(Role.MANAGER)
def withdraw_invite(client_invite_id: int):
    invite = get_or_404(ClientInvite, client_invite_id, parent=current_org(), via=ClientInvite.consultancy)
    if not ConfirmForm().validate_on_submit():
        return _clients_page(400)
    service.withdraw_client_invite(current_access(), invite, utcnow())
    flash("Invitation withdrawn: its link no longer works.", "success")
    return redirect(url_for(".index"))


def _bulk_form() -> BulkAuditForm:
    org = current_org()
    form = BulkAuditForm()
    form.checklist_id.choices = [SelectChoice(c.id, c.title) for c in published_checklists(org.id)]
    form.client_ids.choices = [
        SelectChoice(link.client_id, link.client.name) for link in service.clients_of(org.id) if link.active
    ]
    form.auditor_id.choices = [SelectChoice(p.id, p.name) for p in db.session.execute(people(org.id))]
    if request.method == "GET":
        form.auditor_id.data = current_user.id
    return form


@bp.route("/audits", methods=["GET", "POST"])
@require_role(Role.MANAGER)
def bulk_audits():
    form = _bulk_form()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                audits = service.start_for_clients(
                    current_access(),
                    get_or_404(Checklist, form.checklist_id.data),
                    form.client_ids.data,
                    auditor_id=form.auditor_id.data,
                    scenario=form.scenario.data or "",
                    due_on=form.due_on.data,
                    now=utcnow(),
                )
            except OrgError as e:
                form.client_ids.errors.append(str(e))
                status = e.status
            else:
                return render_template("clients/bulk_done.html", audits=audits), 201
    return render_template("clients/bulk.html", form=form), status


# The business's consultancies ----------------------------------------------------------------------------------


def _consultants_page(status: int = 200):
    return render_template(
        "clients/consultants.html",
        links=service.consultancies_of(current_org().id),
        is_owner=current_access().role_enum == Role.OWNER,
        role_form=LinkRoleForm(),
        confirm=ConfirmForm(),
    ), status


@consultants.get("/")
@members_only
def consultancies():
    return _consultants_page()


@consultants.post("/<int:link_id>/revoke")
@members_only
@require_role(Role.OWNER)
def revoke(link_id: int):
    link = get_or_404(ClientLink, link_id, parent=current_org(), via=ClientLink.client)
    if not ConfirmForm().validate_on_submit():
        return _consultants_page(400)
    try:
        service.revoke_link(current_access(), link, utcnow())
    except OrgError as e:
        flash(str(e), "error")
        return _consultants_page(e.status)
    flash(
        f"{link.consultancy.name} no longer has access. What they made here (audits, reports) stays with you.",
        "success",
    )
    return redirect(url_for(".consultancies"))


@consultants.post("/<int:link_id>/role")
@members_only
@require_role(Role.OWNER)
def change_role(link_id: int):
    link = get_or_404(ClientLink, link_id, parent=current_org(), via=ClientLink.client)
    form = LinkRoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the listed kinds of access.", "error")
        return _consultants_page(400)
    try:
        service.change_link_role(current_access(), link, form.role.data, utcnow())
    except OrgError as e:
        flash(str(e), "error")
        return _consultants_page(e.status)
    flash(f"{link.consultancy.name} now has {link.role_enum.label.lower()} access.", "success")
    return redirect(url_for(".consultancies"))


# Accepting an offer --------------------------------------------------------------------------------------------


@public.route("/serve/<token>", methods=["GET", "POST"])
@login_required
@rate_limit("RATE_LIMIT_LINKS")
def accept(token: str):
    now = utcnow()
    try:
        invite = service.find_client_invite(token, now)
    except OrgError as e:
        return render_template("orgs/invite_invalid.html", message=str(e)), 404
    businesses = service.businesses_owned_by(current_user, invite.consultancy_id)
    form = AcceptClientForm()
    form.client_id.choices = [SelectChoice(org.id, org.name) for org in businesses]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                link = service.accept_client_invite(
                    invite, current_user, form.client_id.data, now, require_confirmed=mail_enabled()
                )
            except OrgError as e:
                form.client_id.errors.append(str(e))
                status = e.status
            else:
                flash(
                    f"{link.consultancy.name} now has {link.role_enum.label.lower()} access to {link.client.name}. "
                    "You can revoke it here at any time.",
                    "success",
                )
                return redirect(url_for("consultants.consultancies", org_slug=link.client.slug))
    return render_template("clients/accept.html", invite=invite, form=form, businesses=businesses), status
