"""Invitations and other links that work once, tried as a hostile user would (issue 12): a consultancy's take-over of
a client, invitations whose maker lost the right, and two people using one link at the same moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shopper.accounts.models import User
from shopper.clients import service as clients
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.orgs import service as orgs
from shopper.orgs.access import access_for
from shopper.orgs.models import ClientLink, Invite, LinkRole, Membership, Organization, OrgKind, Role
from shopper.orgs.security_log import SecurityEvent
from shopper.reports import share
from shopper.timeutil import utcnow
from tests.committed import committed_database, race
from tests.factories import PASSWORD_HASH

WEEK = timedelta(days=7)


@pytest.fixture
def set_up_client(app, make):
    """A consultancy that set up a client business (no owner yet), and the consultant who manages it."""
    firm = make.consultancy("Clear Line")
    consultant = make.member(firm, Role.OWNER)
    with app.app_context():
        link = clients.create_client(
            access_for(consultant.id, firm.slug), name="Harbour Physio", site_name=None, now=utcnow()
        )
        client_org = db.session.get(Organization, link.client_id)
        db.session.expunge(client_org)
        link_id = link.id
        db.session.commit()
    return firm, consultant, client_org, link_id


def owner_invite(app, consultant, firm, link_id, email=None):
    with app.app_context():
        link = db.session.get(ClientLink, link_id)
        result = clients.invite_client_owner(
            access_for(consultant.id, firm.slug), link, email=email, now=utcnow(), lifetime=WEEK
        )
        db.session.commit()
        return result


def new_account(client, token, email, name="Riya Owner"):
    return client.post(f"/invite/{token}", data={"name": name, "email": email, "password": "a long new sentence"})


def test_a_left_over_owner_invitation_cannot_be_used_once_the_real_owner_joined(
    app, client, make, login, set_up_client
):
    firm, consultant, business, link_id = set_up_client
    first = owner_invite(app, consultant, firm, link_id)
    second = owner_invite(app, consultant, firm, link_id)
    assert new_account(app.test_client(), first.token, "riya@example.com").status_code == 302
    login(consultant)
    refused = client.post(f"/invite/{second.token}")
    assert refused.status_code == 404 and b"has its owner now" in refused.data
    with app.app_context():
        owners = db.session.scalars(
            select(Membership.user_id).where(Membership.org_id == business.id, Membership.role == Role.OWNER)
        ).all()
        assert owners == [make.find(User, email="riya@example.com").id]
    assert not [i for i in db_invites(app, business.id) if i.id == second.invite.id and i.accepted_at]


def db_invites(app, org_id):
    with app.app_context():
        return db.session.scalars(select(Invite).where(Invite.org_id == org_id)).all()


def test_an_owner_through_a_consultancy_never_removes_or_demotes_another_owner(app, client, make, login, set_up_client):
    firm, consultant, business, link_id = set_up_client
    invite = owner_invite(app, consultant, firm, link_id)
    login(consultant)
    assert client.post(f"/invite/{invite.token}").status_code == 302  # the consultant took the first seat
    consultant_seat = make.membership(business, consultant)
    assert consultant_seat.via_consultancy_id == firm.id
    handover = client.post(f"/o/{business.slug}/invites", data={"role": "owner"})  # inviting the real owner is fine
    assert handover.status_code == 201
    token = handover.get_data(as_text=True).split("/invite/")[1].split('"')[0]
    assert new_account(app.test_client(), token, "riya@example.com").status_code == 302
    riya = make.find(User, email="riya@example.com")
    seat = make.membership(business, riya)
    assert seat.via_consultancy_id is None
    removed = client.post(f"/o/{business.slug}/members/{seat.id}/remove")
    assert removed.status_code == 403 and b"only the business" in removed.data
    demoted = client.post(f"/o/{business.slug}/members/{seat.id}/role", data={"role": "auditor"})
    assert demoted.status_code == 403
    assert make.membership(business, riya).role == Role.OWNER
    login(riya)  # the real owner may end the consultant's seat
    assert client.post(f"/o/{business.slug}/members/{consultant_seat.id}/remove").status_code == 302


def test_an_invitation_ends_when_its_maker_loses_the_right_to_make_it(app, client, make, login):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    manager = make.member(org, Role.MANAGER)
    by_manager = make.invite(org, manager, role=Role.MANAGER)
    by_owner = make.invite(org, owner, role=Role.OWNER)
    login(owner)
    client.post(f"/o/{org.slug}/members/{make.membership(org, manager).id}/role", data={"role": "auditor"})
    page = client.get(f"/o/{org.slug}/members")
    assert by_manager.invite.role.encode() not in page.data.split(b"Open invitations")[-1]
    visitor = app.test_client()
    stale = visitor.get(f"/invite/{by_manager.token}")
    assert stale.status_code == 404 and b"can no longer invite" in stale.data
    assert new_account(visitor, by_manager.token, "mo@example.com").status_code == 404
    assert make.find(User, email="mo@example.com") is None
    assert visitor.get(f"/invite/{by_owner.token}").status_code == 200  # the owner's still stands


def test_an_invitation_made_through_a_revoked_consultancy_link_ends(app, make, set_up_client):
    firm, consultant, business, link_id = set_up_client
    invite = owner_invite(app, consultant, firm, link_id)
    with app.app_context():
        db.session.get(ClientLink, link_id).revoked_at = utcnow()
        db.session.commit()
    stale = app.test_client().get(f"/invite/{invite.token}")
    assert stale.status_code == 404 and b"no longer looks after" in stale.data


def test_the_security_log_records_invitations_and_consultancy_access(app, make, set_up_client):
    firm, consultant, business, link_id = set_up_client
    invite = owner_invite(app, consultant, firm, link_id)
    assert new_account(app.test_client(), invite.token, "riya@example.com").status_code == 302
    riya = make.find(User, email="riya@example.com")
    with app.app_context():
        link = db.session.get(ClientLink, link_id)
        clients.change_link_role(access_for(riya.id, business.slug), link, LinkRole.CONSULTANT_AUDITOR, utcnow())
        clients.revoke_link(access_for(riya.id, business.slug), db.session.get(ClientLink, link_id), utcnow())
        kinds = db.session.scalars(
            select(SecurityEvent.kind).where(SecurityEvent.org_id == business.id).order_by(SecurityEvent.id)
        ).all()
    assert kinds == [
        "consultancy_added",
        "invite_made",
        "invite_used",
        "signed_in",
        "consultancy_changed",
        "consultancy_revoked",
    ]


# Links that work once, used at the same moment ----------------------------------------------------------------------


TRIALS = 8


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with committed_database(tmp_path_factory.mktemp("links")) as app:
        yield app


def people(app, n, prefix):
    with app.app_context():
        rows = [
            User(email=f"{prefix}{i}@example.com", name=f"{prefix} {i}", password_hash=PASSWORD_HASH) for i in range(n)
        ]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def test_two_people_accepting_one_invitation_at_once_join_once(committed):
    app = committed
    with app.app_context():
        org = Organization(name="Race Dental", slug="race-dental", kind=OrgKind.BUSINESS)
        db.session.add(org)
        db.session.flush()
        owner = User(email="race-owner@example.com", name="Owner", password_hash=PASSWORD_HASH)
        db.session.add(owner)
        db.session.flush()
        db.session.add(Membership(org_id=org.id, user_id=owner.id, role=Role.OWNER))
        db.session.commit()
        org_id, owner_id, slug = org.id, owner.id, org.slug
    for trial in range(TRIALS):
        with app.app_context():
            new = orgs.create_invite(
                access_for(owner_id, slug), role=Role.AUDITOR, email=None, now=utcnow(), lifetime=WEEK
            )
            token = new.token
            db.session.commit()
        takers = people(app, 2, f"taker{trial}-")

        def accept(i, token=token, takers=takers):
            with app.app_context():
                invite = orgs.find_invite(token, utcnow())
                result = orgs.accept_invite(invite, db.session.get(User, takers[i]), utcnow())
                db.session.commit()
                return result

        results = race(2, accept)
        with app.app_context():
            joined = db.session.scalar(
                select(func.count()).where(Membership.org_id == org_id, Membership.user_id.in_(takers))
            )
        assert joined == 1, (trial, results)
        assert sum(isinstance(r, Membership) for r in results) == 1, results
        assert all(isinstance(r, Membership | orgs.OrgError) for r in results), results


def test_two_owners_accepting_one_consultancy_offer_at_once_link_once(committed):
    app = committed
    with app.app_context():
        firm = Organization(name="Offer Firm", slug="offer-firm", kind=OrgKind.CONSULTANCY)
        boss = User(email="offer-boss@example.com", name="Boss", password_hash=PASSWORD_HASH)
        db.session.add_all([firm, boss])
        db.session.flush()
        db.session.add(Membership(org_id=firm.id, user_id=boss.id, role=Role.OWNER))
        db.session.commit()
        firm_id, boss_id, firm_slug = firm.id, boss.id, firm.slug
    for trial in range(TRIALS):
        owners = people(app, 2, f"offer{trial}-")
        with app.app_context():
            businesses = []
            for i, owner_id in enumerate(owners):
                business = Organization(name=f"Shop {trial}-{i}", slug=f"shop-{trial}-{i}", kind=OrgKind.BUSINESS)
                db.session.add(business)
                db.session.flush()
                db.session.add(Membership(org_id=business.id, user_id=owner_id, role=Role.OWNER))
                businesses.append(business.id)
            db.session.commit()
            offer = clients.invite_business(
                access_for(boss_id, firm_slug),
                role=LinkRole.CONSULTANT_MANAGER,
                email=None,
                now=utcnow(),
                lifetime=WEEK,
            )
            token, offer_id = offer.token, offer.invite.id
            db.session.commit()

        def accept(i, token=token, owners=owners, businesses=businesses):
            with app.app_context():
                invite = clients.find_client_invite(token, utcnow())
                result = clients.accept_client_invite(invite, db.session.get(User, owners[i]), businesses[i], utcnow())
                db.session.commit()
                return result

        results = race(2, accept)
        with app.app_context():
            links = db.session.scalar(
                select(func.count()).where(ClientLink.consultancy_id == firm_id, ClientLink.client_id.in_(businesses))
            )
            used = db.session.get(ClientInvite, offer_id).accepted_at
        assert links == 1 and used is not None, (trial, results)


def test_revoking_a_share_link_twice_keeps_the_first_time(ctx, make):
    org = make.org()
    auditor = make.member(org, Role.OWNER)
    audit = make.submitted_audit(org, auditor, {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted")})
    from shopper.audits.models import Audit

    new = share.create_share_link(db.session.get(Audit, audit.id), auditor.id, utcnow())
    first = utcnow()
    share.revoke_share_link(new.link, first)
    share.revoke_share_link(new.link, first + timedelta(hours=1))
    assert new.link.revoked_at == first.replace(microsecond=first.microsecond)
