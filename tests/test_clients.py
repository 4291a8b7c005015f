"""Consultancies and their clients: links, offers and acceptance, revocation, shared checklists, bulk audits."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from shopper.audits.models import Audit
from shopper.checklists import service as checklists
from shopper.checklists import sharing
from shopper.checklists.models import Checklist, ChecklistShare
from shopper.clients import service
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.orgs.access import access_for
from shopper.orgs.models import ClientLink, Invite, LinkRole, Membership, Organization, Role, Site
from shopper.orgs.service import Conflict, Forbidden, OrgError
from shopper.timeutil import utcnow
from tests.factories import SMALL_CHECKLIST


@pytest.fixture
def firm(make):
    """A consultancy with an owner, a manager and an auditor, one client it serves and a business it does not."""
    consultancy = make.consultancy("Clear Line Consulting")
    client = make.org("Harbour Physio")
    make.site(client, "Quay Street")
    stranger = make.org("Corner Bakery")
    return {
        "consultancy": consultancy,
        "client": client,
        "stranger": stranger,
        "owner": make.member(consultancy, Role.OWNER),
        "manager": make.member(consultancy, Role.MANAGER),
        "auditor": make.member(consultancy, Role.AUDITOR),
        "client_owner": make.member(client, Role.OWNER),
        "client_manager": make.member(client, Role.MANAGER),
        "stranger_owner": make.member(stranger, Role.OWNER),
        "link": make.client_link(consultancy, client),
    }


def _access(user, org):
    with db.session.no_autoflush:
        return access_for(user.id, org.slug)


# Who gets in, with what role -----------------------------------------------------------------------------------


def test_a_link_grants_its_role_capped_by_the_consultancy_role(ctx, make, firm):
    assert _access(firm["manager"], firm["client"]).role_enum == Role.MANAGER
    assert _access(firm["manager"], firm["client"]).consultancy.id == firm["consultancy"].id
    assert _access(firm["owner"], firm["client"]).role_enum == Role.MANAGER  # never owner of a client
    assert _access(firm["auditor"], firm["client"]).role_enum == Role.AUDITOR  # capped by their own role
    assert _access(firm["manager"], firm["stranger"]) is None


def test_a_consultant_auditor_link_gives_auditor_access_and_the_best_link_wins(ctx, make, firm):
    second = make.consultancy("Second Opinion")
    make.member(second, Role.MANAGER, user=firm["manager"])
    make.client_link(second, firm["stranger"], LinkRole.CONSULTANT_AUDITOR)
    assert _access(firm["manager"], firm["stranger"]).role_enum == Role.AUDITOR
    make.client_link(firm["consultancy"], firm["stranger"], LinkRole.CONSULTANT_MANAGER)
    assert _access(firm["manager"], firm["stranger"]).role_enum == Role.MANAGER


def test_own_membership_wins_over_a_link(ctx, make, firm):
    make.member(firm["client"], Role.AUDITOR, user=firm["manager"])
    access = _access(firm["manager"], firm["client"])
    assert access.role_enum == Role.AUDITOR and not access.is_consultant


def test_a_consultant_costs_one_query_more_than_a_member_and_nothing_more_for_the_page(ctx, make, firm, count_queries):
    def resolve(user):
        db.session.rollback()
        db.session.expunge_all()
        with count_queries() as queries:
            access = access_for(user.id, firm["client"].slug)
            names = (access.org.name, access.consultancy.name if access.consultancy else None)
        return queries.count, names

    member_queries, member_names = resolve(firm["client_owner"])
    consultant_queries, consultant_names = resolve(firm["manager"])
    assert member_names == ("Harbour Physio", None)
    assert consultant_names == ("Harbour Physio", "Clear Line Consulting")
    assert consultant_queries == member_queries + 1  # the link, with both organizations, after the membership


def test_a_revoked_link_gives_nothing(ctx, make, firm):
    link = db.session.get(ClientLink, firm["link"].id)
    link.revoked_at = utcnow()
    db.session.commit()
    assert _access(firm["manager"], firm["client"]) is None


# Creating a client and inviting its owner ----------------------------------------------------------------------


def test_a_consultancy_sets_up_a_client_with_a_site_and_invites_its_owner(client, login, make, firm):
    login(firm["manager"])
    slug = firm["consultancy"].slug
    response = client.post(f"/o/{slug}/clients/", data={"name": "Seaview Dental", "site_name": "High Street"})
    assert response.status_code == 302
    created = make.find(Organization, name="Seaview Dental")
    assert created.kind == "business"
    link = make.find(ClientLink, client_id=created.id)
    assert link.created_client and link.role == LinkRole.CONSULTANT_MANAGER
    assert make.find(Site, org_id=created.id).name == "High Street"
    assert client.get(f"/o/{created.slug}/").status_code == 200  # the consultant works inside it at once

    page = client.post(f"/o/{slug}/clients/{link.id}/owner-invite", data={"email": "dr.lee@example.com"})
    assert page.status_code == 201
    token = page.get_data(as_text=True).split("/invite/")[1].split('"')[0]
    assert make.find(Invite, org_id=created.id).role == Role.OWNER

    owner = make.user("dr.lee@example.com")
    login(owner)
    assert client.post(f"/invite/{token}").status_code == 302
    assert make.membership(created, owner).role == Role.OWNER
    consultants = client.get(f"/o/{created.slug}/consultants/").get_data(as_text=True)
    assert "Clear Line Consulting" in consultants and "Revoke access" in consultants


def test_an_owner_invitation_only_while_the_created_client_has_no_owner(ctx, make, firm):
    actor = _access(firm["manager"], firm["consultancy"])
    link = service.create_client(actor, name="Seaview Dental", site_name=None, now=utcnow())
    assert db.session.scalar(select(Site.name).where(Site.org_id == link.client_id)) == "Main site"
    service.invite_client_owner(actor, link, email=None, now=utcnow(), lifetime=timedelta(days=7))
    db.session.add(Membership(org_id=link.client_id, user_id=firm["client_owner"].id, role=Role.OWNER))
    db.session.commit()
    with pytest.raises(Conflict, match="already has an owner"):
        service.invite_client_owner(actor, link, email=None, now=utcnow(), lifetime=timedelta(days=7))
    existing = db.session.get(ClientLink, firm["link"].id)
    with pytest.raises(Forbidden, match="own owners"):
        service.invite_client_owner(actor, existing, email=None, now=utcnow(), lifetime=timedelta(days=7))
    assert db.session.scalar(select(Invite.id).where(Invite.org_id == firm["client"].id)) is None


def test_only_a_consultancys_own_managers_set_up_clients(ctx, make, firm):
    for actor in (
        _access(firm["auditor"], firm["consultancy"]),
        _access(firm["client_owner"], firm["client"]),  # a business has no clients
        _access(firm["manager"], firm["client"]),  # a consultant inside a client
    ):
        with pytest.raises(OrgError):
            service.create_client(actor, name="Nope Ltd", site_name=None, now=utcnow())
    assert db.session.scalar(select(Organization.id).where(Organization.name == "Nope Ltd")) is None


def test_a_business_has_no_clients_page_and_a_consultancy_no_consultants_page(client, login, firm):
    login(firm["client_owner"])
    assert client.get(f"/o/{firm['client'].slug}/clients/").status_code == 404
    login(firm["owner"])
    assert client.get(f"/o/{firm['consultancy'].slug}/consultants/").status_code == 404


def test_a_consultancy_auditor_sees_the_clients_but_manages_nothing(client, login, make, firm):
    login(firm["auditor"])
    slug = firm["consultancy"].slug
    page = client.get(f"/o/{slug}/clients/").get_data(as_text=True)
    assert "Harbour Physio" in page and "Set up a client" not in page
    assert client.post(f"/o/{slug}/clients/", data={"name": "Sneaky Ltd"}).status_code == 403
    assert make.find(Organization, name="Sneaky Ltd") is None


def test_a_blank_client_name_is_refused_with_a_message(client, login, make, firm):
    login(firm["manager"])
    response = client.post(f"/o/{firm['consultancy'].slug}/clients/", data={"name": "   "})
    assert response.status_code == 400 and b"Enter the business&#39;s name." in response.data
    assert make.count(ClientLink, consultancy_id=firm["consultancy"].id) == 1


# Offering to serve an existing business ------------------------------------------------------------------------


def _offer(client, firm, role="consultant_auditor", email=""):
    response = client.post(f"/o/{firm['consultancy'].slug}/clients/invites", data={"role": role, "email": email})
    assert response.status_code == 201
    return response.get_data(as_text=True).split("/serve/")[1].split('"')[0]


def test_an_owner_accepts_an_offer_for_one_of_their_businesses(client, login, make, firm):
    login(firm["manager"])
    token = _offer(client, firm)
    assert client.get(f"/o/{firm['stranger'].slug}/").status_code == 404  # nothing before acceptance

    login(firm["stranger_owner"])
    page = client.get(f"/serve/{token}")
    assert page.status_code == 200 and b"Corner Bakery" in page.data and b"consultant-auditor" in page.data
    response = client.post(f"/serve/{token}", data={"client_id": firm["stranger"].id})
    assert response.status_code == 302
    link = make.find(ClientLink, consultancy_id=firm["consultancy"].id, client_id=firm["stranger"].id)
    assert link.role == LinkRole.CONSULTANT_AUDITOR and link.active
    invite = make.find(ClientInvite, consultancy_id=firm["consultancy"].id)
    assert invite.accepted_by_id == firm["stranger_owner"].id and invite.client_id == firm["stranger"].id

    login(firm["manager"])
    assert client.get(f"/o/{firm['stranger'].slug}/").status_code == 200
    assert client.get(f"/o/{firm['stranger'].slug}/dashboard/").status_code == 403  # auditor access only

    login(firm["stranger_owner"])
    again = client.post(f"/serve/{token}", data={"client_id": firm["stranger"].id})
    assert again.status_code == 404 and b"already been used" in again.data


def test_only_an_owner_of_the_chosen_business_can_accept(client, login, make, firm):
    login(firm["manager"])
    token = _offer(client, firm)
    manager = make.member(firm["stranger"], Role.MANAGER)
    login(manager)
    page = client.get(f"/serve/{token}")
    assert b"Only an owner of a business can accept" in page.data
    assert client.post(f"/serve/{token}", data={"client_id": firm["stranger"].id}).status_code == 403
    login(firm["client_owner"])  # owns Harbour Physio (already a client), not Corner Bakery
    refused = client.post(f"/serve/{token}", data={"client_id": firm["stranger"].id})
    assert refused.status_code == 403 and b"Choose one of the businesses you own" in refused.data
    assert make.find(ClientLink, consultancy_id=firm["consultancy"].id, client_id=firm["stranger"].id) is None
    with pytest.raises(Forbidden), client.application.app_context():
        invite = service.find_client_invite(token, utcnow())
        service.accept_client_invite(invite, db.session.get(type(manager), manager.id), firm["stranger"].id, utcnow())
    assert make.find(ClientInvite, consultancy_id=firm["consultancy"].id).accepted_at is None


def test_an_offer_for_an_address_is_refused_to_others(ctx, make, firm):
    actor = _access(firm["manager"], firm["consultancy"])
    offer = service.invite_business(
        actor, role="consultant_manager", email="boss@bakery.example", now=utcnow(), lifetime=timedelta(days=7)
    )
    with pytest.raises(Forbidden, match="boss@bakery.example"):
        service.accept_client_invite(offer.invite, firm["stranger_owner"], firm["stranger"].id, utcnow())
    assert db.session.scalar(select(ClientLink.id).where(ClientLink.client_id == firm["stranger"].id)) is None


@pytest.mark.parametrize("state", ["expired", "withdrawn", "unknown"])
def test_unusable_offers_say_why(client, login, make, firm, state):
    login(firm["manager"])
    token = _offer(client, firm)
    with client.application.app_context():
        invite = db.session.scalar(select(ClientInvite))
        if state == "expired":
            invite.expires_at = utcnow() - timedelta(minutes=1)
        elif state == "withdrawn":
            invite.revoked_at = utcnow()
        db.session.commit()
    login(firm["stranger_owner"])
    response = client.post(f"/serve/{token if state != 'unknown' else 'nope'}", data={"client_id": firm["stranger"].id})
    assert response.status_code == 404
    assert {"expired": b"expired", "withdrawn": b"not valid", "unknown": b"not valid"}[state] in response.data
    assert make.find(ClientLink, client_id=firm["stranger"].id) is None


def test_a_consultancy_withdraws_an_open_offer(client, login, make, firm):
    login(firm["manager"])
    _offer(client, firm)
    invite = make.find(ClientInvite, consultancy_id=firm["consultancy"].id)
    page = client.get(f"/o/{firm['consultancy'].slug}/clients/").get_data(as_text=True)
    assert "Open invitations" in page
    response = client.post(f"/o/{firm['consultancy'].slug}/clients/invites/{invite.id}/withdraw")
    assert response.status_code == 302
    assert make.get(ClientInvite, invite.id).revoked_at is not None


# The business decides -------------------------------------------------------------------------------------------


def test_the_client_owner_revokes_and_the_consultancy_sees_nothing_more(client, login, make, firm):
    checklist = make.share(make.checklist(firm["consultancy"], by=firm["owner"]), "chosen", [firm["client"]])
    audit = make.audit(firm["client"], firm["manager"], checklist=checklist)
    login(firm["manager"])
    assert client.get(f"/o/{firm['client'].slug}/audits/{audit.id}").status_code == 200

    login(firm["client_manager"])  # managers see the list; only owners revoke
    assert b"Clear Line Consulting" in client.get(f"/o/{firm['client'].slug}/consultants/").data
    assert client.post(f"/o/{firm['client'].slug}/consultants/{firm['link'].id}/revoke").status_code == 403

    login(firm["client_owner"])
    response = client.post(f"/o/{firm['client'].slug}/consultants/{firm['link'].id}/revoke")
    assert response.status_code == 302
    assert make.get(ClientLink, firm["link"].id).revoked_by_id == firm["client_owner"].id
    assert make.count(ChecklistShare, client_id=firm["client"].id) == 0
    again = client.post(f"/o/{firm['client'].slug}/consultants/{firm['link'].id}/revoke")
    assert again.status_code == 409 and b"has no access already" in again.data
    assert client.get(f"/o/{firm['client'].slug}/audits/{audit.id}").status_code == 200  # stays with the client

    login(firm["manager"])
    assert client.get(f"/o/{firm['client'].slug}/").status_code == 404
    assert client.get(f"/o/{firm['client'].slug}/audits/{audit.id}").status_code == 404
    page = client.get(f"/o/{firm['consultancy'].slug}/clients/").get_data(as_text=True)
    assert "revoked access" in page


def test_revoking_is_refused_to_consultants_and_to_other_businesses(ctx, make, firm):
    link = db.session.get(ClientLink, firm["link"].id)
    for actor in (_access(firm["manager"], firm["client"]), _access(firm["stranger_owner"], firm["stranger"])):
        with pytest.raises(OrgError):
            service.revoke_link(actor, link, utcnow())
    assert db.session.get(ClientLink, firm["link"].id).active


def test_an_accepted_offer_brings_a_revoked_link_back_with_the_new_role(ctx, make, firm):
    link = db.session.get(ClientLink, firm["link"].id)
    service.revoke_link(_access(firm["client_owner"], firm["client"]), link, utcnow())
    offer = service.invite_business(
        _access(firm["owner"], firm["consultancy"]),
        role="consultant_auditor",
        email=None,
        now=utcnow(),
        lifetime=timedelta(days=7),
    )
    again = service.accept_client_invite(offer.invite, firm["client_owner"], firm["client"].id, utcnow())
    assert again.id == firm["link"].id and again.active and again.role == LinkRole.CONSULTANT_AUDITOR
    assert _access(firm["manager"], firm["client"]).role_enum == Role.AUDITOR


def test_the_client_owner_changes_the_consultancys_access(client, login, make, firm):
    login(firm["client_owner"])
    response = client.post(
        f"/o/{firm['client'].slug}/consultants/{firm['link'].id}/role", data={"role": "consultant_auditor"}
    )
    assert response.status_code == 302
    login(firm["manager"])
    assert client.get(f"/o/{firm['client'].slug}/dashboard/").status_code == 403
    login(firm["client_owner"])
    bad = client.post(f"/o/{firm['client'].slug}/consultants/{firm['link'].id}/role", data={"role": "owner"})
    assert bad.status_code == 400 and make.get(ClientLink, firm["link"].id).role == LinkRole.CONSULTANT_AUDITOR


def test_consultants_never_manage_the_clients_team(client, login, make, firm):
    login(firm["owner"])
    slug = firm["client"].slug
    members = client.get(f"/o/{slug}/members").get_data(as_text=True)
    assert "Invite someone" not in members and "Change role" not in members
    assert client.post(f"/o/{slug}/invites", data={"role": "auditor"}).status_code == 403
    member = make.membership(firm["client"], firm["client_manager"])
    assert client.post(f"/o/{slug}/members/{member.id}/remove").status_code == 403
    assert client.get(f"/o/{slug}/consultants/").status_code == 403
    assert client.get(f"/o/{slug}/brand").status_code == 403
    assert client.post(f"/o/{slug}/brand", data={"display_name": "Taken Over"}).status_code == 403
    assert make.get(Organization, firm["client"].id).display_name is None
    assert make.count(Invite, org_id=firm["client"].id) == 0
    assert make.membership(firm["client"], firm["client_manager"]) is not None


# Switching between clients -------------------------------------------------------------------------------------


def test_the_switcher_lists_each_consultancys_active_clients(client, login, make, firm):
    revoked = make.org("Gone Garage")
    link = make.client_link(firm["consultancy"], revoked)
    with client.application.app_context():
        db.session.get(ClientLink, link.id).revoked_at = utcnow()
        db.session.commit()
    login(firm["auditor"])
    page = client.get("/orgs").get_data(as_text=True)
    assert "Clients of Clear Line Consulting" in page and "Harbour Physio" in page
    assert "Gone Garage" not in page and "Corner Bakery" not in page


def test_inside_a_client_the_consultant_sees_whose_behalf_and_a_way_back(client, login, firm):
    login(firm["manager"])
    page = client.get(f"/o/{firm['client'].slug}/").get_data(as_text=True)
    assert "for Clear Line Consulting" in page and f"/o/{firm['consultancy'].slug}/" in page
    assert f"/o/{firm['client'].slug}/consultants/" not in page  # the client's own pages are not offered
    login(firm["client_owner"])
    page = client.get(f"/o/{firm['client'].slug}/").get_data(as_text=True)
    assert f"/o/{firm['client'].slug}/consultants/" in page and "for Clear Line Consulting" not in page


# Checklists shared with clients --------------------------------------------------------------------------------


def test_sharing_with_all_chosen_or_none(ctx, make, firm):
    second = make.org("Seaview Dental")
    make.client_link(firm["consultancy"], second)
    checklist = db.session.get(Checklist, make.checklist(firm["consultancy"], by=firm["owner"]).id)
    consultancy = db.session.get(Organization, firm["consultancy"].id)

    def sees(org):
        return checklist.id in {c.id for c in db.session.scalars(sharing.shared_with(org.id))}

    assert not sees(firm["client"])
    sharing.set_sharing(checklist, consultancy, "all", [])
    assert sees(firm["client"]) and sees(second) and not sees(firm["stranger"])
    sharing.set_sharing(checklist, consultancy, "chosen", [second.id])
    assert sees(second) and not sees(firm["client"])
    sharing.set_sharing(checklist, consultancy, "none", [])
    assert not sees(second)
    assert db.session.scalar(select(ChecklistShare.id)) is None


def test_sharing_refuses_non_clients_drafts_and_businesses_changing_nothing(ctx, make, firm):
    checklist = db.session.get(Checklist, make.checklist(firm["consultancy"], by=firm["owner"]).id)
    consultancy = db.session.get(Organization, firm["consultancy"].id)
    with pytest.raises(sharing.SharingError, match="current clients"):
        sharing.set_sharing(checklist, consultancy, "chosen", [firm["client"].id, firm["stranger"].id])
    with pytest.raises(sharing.SharingError, match="at least one"):
        sharing.set_sharing(checklist, consultancy, "chosen", [])
    draft = db.session.get(Checklist, make.checklist(firm["consultancy"], publish=False).id)
    with pytest.raises(sharing.SharingError, match="Publish a version first"):
        sharing.set_sharing(draft, consultancy, "all", [])
    own = db.session.get(Checklist, make.checklist(firm["client"]).id)
    with pytest.raises(sharing.SharingError, match="Only a consultancy"):
        sharing.set_sharing(own, db.session.get(Organization, firm["client"].id), "all", [])
    db.session.rollback()
    assert {c.shared_with for c in db.session.scalars(select(Checklist))} == {"none"}
    assert db.session.scalar(select(ChecklistShare.id)) is None


def test_the_sharing_form_on_the_consultancys_checklist(client, login, make, firm):
    checklist = make.checklist(firm["consultancy"], by=firm["owner"])
    login(firm["manager"])
    base = f"/o/{firm['consultancy'].slug}/checklists/{checklist.id}"
    page = client.get(base).get_data(as_text=True)
    assert "Share with clients" in page and "Harbour Physio" in page
    response = client.post(f"{base}/sharing", data={"shared_with": "chosen", "clients": [firm["client"].id]})
    assert response.status_code == 302
    assert make.get(Checklist, checklist.id).shared_with == "chosen"
    bad = client.post(f"{base}/sharing", data={"shared_with": "chosen", "clients": [firm["stranger"].id]})
    assert bad.status_code == 400 and b"You can only share with your current clients" in bad.data
    assert make.count(ChecklistShare, checklist_id=checklist.id) == 1
    index = client.get(f"/o/{firm['consultancy'].slug}/checklists/").get_data(as_text=True)
    assert "shared with Harbour Physio" in index
    own = make.checklist(firm["client"], by=firm["client_owner"])
    login(firm["client_owner"])
    refused = client.post(f"/o/{firm['client'].slug}/checklists/{own.id}/sharing", data={"shared_with": "all"})
    assert refused.status_code == 404 and make.get(Checklist, own.id).shared_with == "none"


def test_a_client_runs_a_shared_checklist_read_only_and_copies_it(client, login, make, firm):
    checklist = make.share(make.checklist(firm["consultancy"], by=firm["owner"]), "all")
    login(firm["client_manager"])
    slug = firm["client"].slug
    index = client.get(f"/o/{slug}/checklists/").get_data(as_text=True)
    assert "From your consultants" in index and "Clear Line Consulting" in index
    detail = client.get(f"/o/{slug}/checklists/{checklist.id}").get_data(as_text=True)
    assert "Make an editable copy" in detail and "Start an audit" in detail
    assert f"/checklists/{checklist.id}/edit" not in detail
    assert client.get(f"/o/{slug}/checklists/{checklist.id}/edit").status_code == 404
    assert client.get(f"/o/{slug}/checklists/{checklist.id}/versions/1.json").status_code == 200

    response = client.post(f"/o/{slug}/checklists/{checklist.id}/copy")
    assert response.status_code == 302
    copy = make.find(Checklist, org_id=firm["client"].id)
    assert copy.draft["touchpoints"] == SMALL_CHECKLIST["touchpoints"]
    assert client.get(f"/o/{slug}/checklists/{copy.id}/edit").status_code == 200


def test_a_new_version_reaches_clients_and_running_audits_keep_theirs(client, login, make, firm):
    checklist = make.share(make.checklist(firm["consultancy"], by=firm["owner"]), "all")
    before = make.audit(firm["client"], firm["client_manager"], checklist=checklist)
    with client.application.app_context():
        row = db.session.get(Checklist, checklist.id)
        draft = dict(row.draft, title="Billing line check, 2027")
        checklists.save_draft(row, draft)
        checklists.publish(row, firm["owner"].id, utcnow())
        db.session.commit()
    after = make.audit(firm["client"], firm["client_manager"], checklist=checklist)
    with client.application.app_context():
        assert db.session.get(Audit, before.id).version.number == 1
        assert db.session.get(Audit, after.id).version.number == 2
    login(firm["client_manager"])
    slug = firm["client"].slug
    assert b"Billing line check, 2027" in client.get(f"/o/{slug}/checklists/").data
    assert client.get(f"/o/{slug}/checklists/{checklist.id}/versions/1.json").status_code == 404  # only the current
    assert client.get(f"/o/{slug}/checklists/{checklist.id}/versions/2.csv").status_code == 200


def test_the_start_page_offers_shared_checklists_and_consultants_as_auditors(client, login, make, firm):
    checklist = make.share(make.checklist(firm["consultancy"], by=firm["owner"]), "all")
    login(firm["client_manager"])
    page = client.get(f"/o/{firm['client'].slug}/audits/new").get_data(as_text=True)
    assert f'value="{checklist.id}"' in page
    assert firm["auditor"].name in page and firm["stranger_owner"].name not in page


# The same audit for several clients ----------------------------------------------------------------------------


@pytest.fixture
def three_clients(make, firm):
    clients = [firm["client"]]
    for name in ("Seaview Dental", "Town Garage"):
        org = make.org(name)
        make.site(org)
        make.client_link(firm["consultancy"], org)
        clients.append(org)
    checklist = make.share(make.checklist(firm["consultancy"], by=firm["owner"]), "all")
    return clients, checklist


def test_one_prepared_audit_for_three_clients(client, login, make, firm, three_clients):
    clients, checklist = three_clients
    login(firm["manager"])
    response = client.post(
        f"/o/{firm['consultancy'].slug}/clients/audits",
        data={
            "checklist_id": checklist.id,
            "client_ids": [c.id for c in clients],
            "auditor_id": firm["auditor"].id,
            "scenario": "A new patient asking about prices",
            "due_on": "2030-01-31",
        },
    )
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    assert all(c.name in page for c in clients)
    with client.application.app_context():
        audits = db.session.scalars(select(Audit).order_by(Audit.org_id)).all()
        assert sorted(a.org_id for a in audits) == sorted(c.id for c in clients)
        assert {(a.status, a.auditor_id, a.checklist_id) for a in audits} == {
            ("assigned", firm["auditor"].id, checklist.id)
        }
    login(firm["auditor"])
    first = audits[0]
    org = make.get(Organization, first.org_id)
    assert client.get(f"/o/{org.slug}/audits/{first.id}").status_code == 200


def test_bulk_refuses_everything_when_one_client_cannot_take_it(ctx, make, firm, three_clients):
    clients, checklist = three_clients
    unshared = db.session.get(Checklist, make.checklist(firm["consultancy"], by=firm["owner"]).id)
    sharing.set_sharing(unshared, db.session.get(Organization, firm["consultancy"].id), "chosen", [clients[0].id])
    actor = _access(firm["manager"], firm["consultancy"])
    common = dict(auditor_id=firm["manager"].id, scenario="", due_on=None, now=utcnow())
    with pytest.raises(OrgError, match="Seaview Dental: share the checklist with them first") as refused:
        service.start_for_clients(actor, unshared, [c.id for c in clients], **common)
    assert "Town Garage" in str(refused.value)
    with pytest.raises(OrgError, match="not your client"):
        service.start_for_clients(actor, checklist, [clients[0].id, firm["stranger"].id], **common)
    auditor_only = make.org("Auditor Only Cafe")
    make.site(auditor_only)
    make.client_link(firm["consultancy"], auditor_only, LinkRole.CONSULTANT_AUDITOR)
    with pytest.raises(OrgError, match="auditor access only"):
        service.start_for_clients(actor, checklist, [clients[0].id, auditor_only.id], **common)
    assert db.session.scalar(select(Audit.id)) is None


def test_bulk_is_for_the_consultancys_managers(client, login, make, firm, three_clients):
    login(firm["auditor"])
    assert client.get(f"/o/{firm['consultancy'].slug}/clients/audits").status_code == 403
    login(firm["client_owner"])
    assert client.get(f"/o/{firm['client'].slug}/clients/audits").status_code == 404
    login(firm["manager"])
    page = client.get(f"/o/{firm['consultancy'].slug}/clients/audits").get_data(as_text=True)
    assert "Town Garage" in page and "Corner Bakery" not in page
    empty = client.post(f"/o/{firm['consultancy'].slug}/clients/audits", data={"auditor_id": firm["manager"].id})
    assert empty.status_code == 400 and b"Choose at least one client." in empty.data
