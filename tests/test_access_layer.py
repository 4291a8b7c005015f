"""The access layer's verbs, asked directly as a view asks them (inside a request of the organization):
`get_or_404` for an organization's rows, for child rows through their parent (`parent=`, `via=`) and among a query
function's rows (`among=`), and `scoped`, which applies a model's own `visible_to` rule (who sees which audit and
which action, by role)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from shopper.actions.models import Action
from shopper.audits.models import Audit, Finding
from shopper.checklists import sharing
from shopper.checklists.models import Checklist
from shopper.clients import service as clients
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.orgs.access import access_for, get_or_404, may_see_all_audits, scoped
from shopper.orgs.models import ClientLink, LinkRole, Role
from shopper.timeutil import utcnow

WALK = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}


@pytest.fixture
def as_member(app, database):
    """`with as_member(user, org):` runs the block as a view of `org` signed in as `user` runs."""

    @contextmanager
    def acting(user, org):
        with app.test_request_context(f"/o/{org.slug}/"):
            access = access_for(user.id, org.slug)
            assert access is not None
            g.org, g.access = access.org, access
            yield access

    return acting


@pytest.fixture
def world(make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    walker, colleague = make.member(org, Role.AUDITOR), make.member(org, Role.AUDITOR)
    checklist, site = make.checklist(org, by=owner), make.site(org)
    mine = make.submitted_audit(org, walker, WALK, checklist=checklist, site=site)
    theirs = make.submitted_audit(org, colleague, WALK, checklist=checklist, site=site)
    other = make.org("Other Dental")
    other_owner = make.member(other, Role.OWNER)
    elsewhere = make.submitted_audit(other, other_owner, WALK)
    return {
        "org": org,
        "owner": owner,
        "walker": walker,
        "mine": mine,
        "theirs": theirs,
        "other": other,
        "elsewhere": elsewhere,
        "actions": {
            "on mine": make.action(mine, "transfers", by=owner).id,
            "on theirs": make.action(theirs, "transfers", by=owner).id,
            "on theirs, for the walker": make.action(theirs, "answer-time", by=owner, assignee=walker).id,
        },
    }


def finding_ids(audit_id: int) -> list[int]:
    return list(db.session.scalars(select(Finding.id).where(Finding.audit_id == audit_id).order_by(Finding.id)))


def test_a_child_row_loads_only_through_the_parent_it_belongs_to(as_member, world):
    with as_member(world["owner"], world["org"]):
        mine, theirs = get_or_404(Audit, world["mine"].id), get_or_404(Audit, world["theirs"].id)
        first = finding_ids(mine.id)[0]
        assert get_or_404(Finding, first, parent=mine).audit_id == mine.id
        with pytest.raises(NotFound):
            get_or_404(Finding, first, parent=theirs)  # the same organization's, but another audit's
        with pytest.raises(NotFound):
            get_or_404(Finding, finding_ids(world["elsewhere"].id)[0], parent=mine)
        with pytest.raises(NotFound):
            get_or_404(Audit, world["elsewhere"].id)  # another organization's parent is a 404 before any child


def test_a_parent_named_twice_by_the_child_needs_via(app, as_member, make):
    consultancy, business = make.consultancy("Clear Line"), make.org("Harbour Physio")
    owner = make.member(consultancy, Role.OWNER)
    make.member(business, Role.OWNER, user=owner)
    link_id = make.client_link(consultancy, business, LinkRole.CONSULTANT_MANAGER).id
    with app.app_context():
        offer = clients.invite_business(
            access_for(owner.id, consultancy.slug),
            role=LinkRole.CONSULTANT_AUDITOR,
            email=None,
            now=utcnow(),
            lifetime=timedelta(days=7),
        ).invite.id
        db.session.commit()  # services flush; the caller commits
    with as_member(owner, consultancy) as access:
        assert get_or_404(ClientInvite, offer, parent=access.org, via=ClientInvite.consultancy).id == offer
        with pytest.raises(TypeError, match="ClientLink has 2 keys to Organization"):
            get_or_404(ClientLink, link_id, parent=access.org)
        assert get_or_404(ClientLink, link_id, parent=access.org, via=ClientLink.consultancy).client_id == business.id
        with pytest.raises(NotFound):
            get_or_404(ClientLink, link_id, parent=access.org, via=ClientLink.client)  # the consultancy is no client
    with as_member(owner, business) as access:
        assert get_or_404(ClientLink, link_id, parent=access.org, via=ClientLink.client).id == link_id
        with pytest.raises(NotFound):
            get_or_404(ClientInvite, offer, parent=access.org, via=ClientInvite.consultancy)


def test_auditors_see_the_audits_they_walk_and_owners_every_audit(as_member, world):
    mine, theirs = world["mine"].id, world["theirs"].id
    with as_member(world["walker"], world["org"]):
        assert not may_see_all_audits()
        assert set(db.session.scalars(scoped(Audit).with_only_columns(Audit.id))) == {mine}
        assert get_or_404(Audit, mine).version is not None
        with pytest.raises(NotFound):
            get_or_404(Audit, theirs)
        with pytest.raises(NotFound):
            get_or_404(Finding, finding_ids(theirs)[0], parent=get_or_404(Audit, theirs))
    with as_member(world["owner"], world["org"]):
        assert may_see_all_audits()
        assert set(db.session.scalars(scoped(Audit).with_only_columns(Audit.id))) == {mine, theirs}


def test_auditors_see_the_actions_of_their_walks_and_those_they_are_responsible_for(as_member, world):
    actions = world["actions"]
    with as_member(world["walker"], world["org"]):
        seen = set(db.session.scalars(scoped(Action).with_only_columns(Action.id)))
        assert seen == {actions["on mine"], actions["on theirs, for the walker"]}
        with pytest.raises(NotFound):
            get_or_404(Action, actions["on theirs"])
    with as_member(world["owner"], world["org"]):
        assert set(db.session.scalars(scoped(Action).with_only_columns(Action.id))) == set(actions.values())


def test_among_picks_from_a_query_functions_rows_and_not_from_the_organizations(as_member, make):
    consultancy, business = make.consultancy("Clear Line"), make.org("Harbour Physio")
    make.member(consultancy, Role.OWNER)
    owner = make.member(business, Role.OWNER)
    make.client_link(consultancy, business)
    shared = make.share(make.checklist(consultancy), "all")
    with as_member(owner, business) as access:
        looked_at = get_or_404(Checklist, shared.id, among=sharing.visible_to(access.org_id))
        assert looked_at.org_id == consultancy.id
        with pytest.raises(NotFound):
            get_or_404(Checklist, shared.id)  # the editor's door: its own checklists only
