"""Issue 8's access rules between consultancies and their clients, one test per rule, through the pages.

Each test also checks the allowed side of its rule (the same URL opens for the party that may see it), so a page
that is 404 for everyone fails it.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopper.audits.models import Answer, Audit
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist, ChecklistShare, ChecklistVersion
from shopper.clients import service
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.orgs.access import access_for
from shopper.orgs.models import ClientLink, Invite, LinkRole, Organization, Role
from shopper.reports import rendering
from shopper.timeutil import utcnow
from tests.factories import SMALL_CHECKLIST

ANSWERS = {"answer-time": 30, "transfers": 0, "resolved": ("yes", "Sorted on the call"), "tone": 4}


def titled(title: str, promise: str | None = None) -> dict:
    definition = copy.deepcopy(SMALL_CHECKLIST)
    definition["title"] = title
    if promise is not None:
        definition["touchpoints"][0]["promise"] = promise
    return definition


@pytest.fixture
def firm(make):
    """A consultancy (owner, manager, auditor) serving one client as consultant-manager, with a checklist shared
    with all its clients; a business it does not serve."""
    consultancy = make.consultancy("Clear Line Consulting")
    owner = make.member(consultancy, Role.OWNER)
    client = make.org("Harbour Physio")
    stranger = make.org("Corner Bakery")
    return {
        "consultancy": consultancy,
        "owner": owner,
        "manager": make.member(consultancy, Role.MANAGER),
        "auditor": make.member(consultancy, Role.AUDITOR),
        "client": client,
        "site": make.site(client, "Quay Street"),
        "client_owner": make.member(client, Role.OWNER),
        "client_manager": make.member(client, Role.MANAGER),
        "client_auditor": make.member(client, Role.AUDITOR),
        "link": make.client_link(consultancy, client, LinkRole.CONSULTANT_MANAGER),
        "shared": make.share(make.checklist(consultancy, by=owner, definition=titled("Front desk journey")), "all"),
        "stranger": stranger,
        "stranger_owner": make.member(stranger, Role.OWNER),
    }


def set_link_role(make, firm, role: str) -> None:
    with make.app.app_context():
        db.session.get(ClientLink, firm["link"].id).role = role
        db.session.commit()


def status(client, url: str, method: str = "GET", **kwargs) -> int:
    with client.open(url, method=method, **kwargs) as response:  # closes streamed PDFs and photos
        return response.status_code


def text(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def start(client, org, checklist_id, site_id, auditor_id):
    return client.post(
        f"/o/{org.slug}/audits/new",
        data={"checklist_id": checklist_id, "site_id": site_id, "auditor_id": auditor_id, "scenario": "A new patient"},
    )


def put_answer(client, org, audit_id, item, value):
    return client.put(
        f"/o/{org.slug}/api/audits/{audit_id}/answers/{item}",
        data=json.dumps({"value": value, "client_ts": int(utcnow().timestamp() * 1000)}),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def offer(app, firm, role=LinkRole.CONSULTANT_MANAGER) -> service.NewClientInvite:
    with app.app_context():
        actor = access_for(firm["owner"].id, firm["consultancy"].slug)
        result = service.invite_business(actor, role=role, email=None, now=utcnow(), lifetime=timedelta(days=7))
        db.session.commit()
        return result


# A consultancy sees only its linked clients ---------------------------------------------------------------------


def test_a_consultancy_sees_only_the_businesses_that_accepted_it(app, client, login, make, firm):
    pending = make.org("Seaview Dental")
    make.member(pending, Role.OWNER)
    offer(app, firm)  # sent, never accepted
    login(firm["owner"])
    for business in (firm["stranger"], pending):
        for page in ("/", "/audits/", "/checklists/", "/members", "/sites"):
            assert status(client, f"/o/{business.slug}{page}") == 404, (business.name, page)
    assert status(client, f"/o/{firm['client'].slug}/") == 200
    assert status(client, f"/o/{firm['client'].slug}/audits/") == 200
    assert make.count(ClientLink, consultancy_id=firm["consultancy"].id) == 1


# Inside a client, only what the link role allows ----------------------------------------------------------------


def test_a_consultant_auditor_link_walks_its_own_audits_and_nothing_more(client, login, make, firm):
    set_link_role(make, firm, LinkRole.CONSULTANT_AUDITOR)
    org, consultant = firm["client"], firm["manager"]
    theirs = make.audit(org, firm["client_auditor"], checklist=firm["shared"], site=firm["site"])
    login(consultant)
    started = start(client, org, firm["shared"].id, firm["site"].id, consultant.id)
    assert started.status_code == 302
    mine = make.find(Audit, org_id=org.id, auditor_id=consultant.id)
    assert mine is not None and started.headers["Location"].endswith(f"/audits/{mine.id}/walk/billing-line")
    assert status(client, f"/o/{org.slug}/audits/{mine.id}") == 200
    assert status(client, f"/o/{org.slug}/audits/{theirs.id}") == 404
    assert status(client, f"/o/{org.slug}/api/audits/{theirs.id}") == 404
    assert status(client, f"/o/{org.slug}/dashboard/") == 403

    refused = start(client, org, firm["shared"].id, firm["site"].id, firm["client_auditor"].id)
    assert refused.status_code == 400
    assert make.count(Audit, org_id=org.id, auditor_id=firm["client_auditor"].id) == 1  # only `theirs`


def test_a_consultant_manager_link_reads_the_dashboard_and_every_audit(client, login, make, firm):
    org = firm["client"]
    theirs = make.audit(org, firm["client_auditor"], checklist=firm["shared"], site=firm["site"], scenario="Theirs")
    login(firm["manager"])
    assert status(client, f"/o/{org.slug}/dashboard/") == 200
    assert status(client, f"/o/{org.slug}/audits/{theirs.id}") == 200
    assert "Theirs" in text(client, f"/o/{org.slug}/audits/")
    prepared = start(client, org, firm["shared"].id, firm["site"].id, firm["client_auditor"].id)
    assert prepared.status_code == 302
    assert make.count(Audit, org_id=org.id, auditor_id=firm["client_auditor"].id) == 2


def test_a_consultancy_auditor_gets_auditor_access_under_a_manager_link(client, login, make, firm):
    org, capped = firm["client"], firm["auditor"]
    theirs = make.audit(org, firm["client_auditor"], checklist=firm["shared"], site=firm["site"])
    mine = make.audit(org, capped, checklist=firm["shared"], site=firm["site"])
    login(capped)
    assert status(client, f"/o/{org.slug}/audits/{mine.id}") == 200
    assert status(client, f"/o/{org.slug}/audits/{theirs.id}") == 404
    assert status(client, f"/o/{org.slug}/dashboard/") == 403
    assert start(client, org, firm["shared"].id, firm["site"].id, firm["client_auditor"].id).status_code == 400
    login(firm["manager"])  # the same link, a consultancy manager: manager access
    assert status(client, f"/o/{org.slug}/audits/{theirs.id}") == 200
    assert status(client, f"/o/{org.slug}/dashboard/") == 200


# Consultants never manage the client's team ---------------------------------------------------------------------


def test_consultants_never_manage_the_clients_team(client, login, make, firm):
    org = firm["client"]
    member = make.membership(org, firm["client_auditor"])
    login(firm["owner"])  # the consultancy's owner: manager access inside the client
    assert status(client, f"/o/{org.slug}/invites", "POST", data={"role": "auditor"}) == 403
    assert status(client, f"/o/{org.slug}/members/{member.id}/role", "POST", data={"role": "manager"}) == 403
    assert status(client, f"/o/{org.slug}/members/{member.id}/remove", "POST", data={}) == 403
    assert status(client, f"/o/{org.slug}/consultants/") == 403
    link = firm["link"]
    assert (
        status(client, f"/o/{org.slug}/consultants/{link.id}/role", "POST", data={"role": "consultant_manager"}) == 403
    )
    assert make.count(Invite, org_id=org.id) == 0
    assert make.membership(org, firm["client_auditor"]).role == Role.AUDITOR
    assert make.get(ClientLink, link.id).revoked_at is None

    login(firm["client_owner"])  # the client's own owner does all of it
    assert status(client, f"/o/{org.slug}/consultants/") == 200
    assert status(client, f"/o/{org.slug}/members/{member.id}/role", "POST", data={"role": "manager"}) == 302
    assert make.membership(org, firm["client_auditor"]).role == Role.MANAGER
    assert status(client, f"/o/{org.slug}/invites", "POST", data={"role": "auditor"}) == 201
    assert make.count(Invite, org_id=org.id) == 1


def test_consultants_do_not_change_the_clients_brand(client, login, make, firm):
    org = firm["client"]
    login(firm["manager"])  # manager access inside the client, through the link
    seen = status(client, f"/o/{org.slug}/brand")
    posted = status(
        client, f"/o/{org.slug}/brand", "POST", data={"display_name": "Hijacked", "primary_color": "#000000"}
    )
    brand = make.get(Organization, org.id).display_name
    assert (seen, posted, brand) == (403, 403, None), "a consultant-manager: GET, POST /brand, the client's brand"
    login(firm["client_owner"])
    response = client.post(f"/o/{org.slug}/brand", data={"display_name": "Harbour", "primary_color": "#123456"})
    assert response.status_code == 302
    assert make.get(Organization, org.id).display_name == "Harbour"


# Revocation -----------------------------------------------------------------------------------------------------


def test_after_revocation_the_consultancy_sees_nothing_and_its_work_stays_with_the_client(
    app, client, login, make, firm
):
    org, consultant = firm["client"], firm["manager"]
    audit = make.submitted_audit(org, consultant, ANSWERS, checklist=firm["shared"], site=firm["site"])
    with app.app_context():
        rendering.render_now(audit.id).stream.close()  # its PDF is made, as the job queue does on submission
    own_checklist = make.checklist(org, by=firm["client_owner"], definition=titled("Reception check"))
    base = f"/o/{org.slug}"
    report = f"{base}/audits/{audit.id}/report"
    urls = [
        f"{base}/",
        f"{base}/audits/",
        f"{base}/audits/{audit.id}",
        report,
        f"{report}.pdf",
        f"{base}/checklists/",
        f"{base}/checklists/{firm['shared'].id}",
        f"{base}/checklists/{own_checklist.id}",
        f"{base}/dashboard/",
    ]
    login(consultant)
    assert [status(client, url) for url in urls] == [200] * len(urls)

    login(firm["client_owner"])
    assert status(client, f"{base}/consultants/{firm['link'].id}/revoke", "POST", data={}) == 302
    assert make.get(ClientLink, firm["link"].id).revoked_at is not None

    login(consultant)
    assert {url: status(client, url) for url in urls} == dict.fromkeys(urls, 404)
    assert f'href="{base}/"' not in text(client, "/orgs")

    login(firm["client_owner"])
    assert status(client, report) == 200 and status(client, f"{report}.pdf") == 200
    kept = make.get(Audit, audit.id)
    assert (kept.org_id, kept.auditor_id, kept.status) == (org.id, consultant.id, "submitted")


def test_a_revoked_consultancy_gets_404_from_its_bookmarks_and_writes_nothing(app, client, login, make, firm):
    org, consultant = firm["client"], firm["manager"]
    login(consultant)
    started = start(client, org, firm["shared"].id, firm["site"].id, consultant.id)
    bookmark = started.headers["Location"]
    audit = make.find(Audit, org_id=org.id, auditor_id=consultant.id)
    assert status(client, bookmark) == 200
    assert put_answer(client, org, audit.id, "answer-time", 45).status_code == 200

    with app.app_context():
        link = db.session.get(ClientLink, firm["link"].id)
        service.revoke_link(access_for(firm["client_owner"].id, org.slug), link, utcnow())
        db.session.commit()

    assert status(client, bookmark) == 404
    assert status(client, f"/o/{org.slug}/audits/{audit.id}") == 404
    assert status(client, f"/o/{org.slug}/api/audits/{audit.id}") == 404
    assert put_answer(client, org, audit.id, "transfers", 3).status_code == 404
    assert put_answer(client, org, audit.id, "answer-time", 99).status_code == 404
    assert make.count(Answer, audit_id=audit.id) == 1
    assert make.find(Answer, audit_id=audit.id, item_key="answer-time").value == 45


# A client never sees the consultancy's other clients ------------------------------------------------------------


def test_a_client_never_sees_the_consultancys_other_clients_or_their_data(client, login, make, firm):
    me, my_owner = firm["client"], firm["client_owner"]
    other = make.org("Bright Smiles Dental")
    other_owner = make.member(other, Role.OWNER)
    make.client_link(firm["consultancy"], other)
    other_site = make.site(other, "Bright Street")
    other_audit = make.submitted_audit(other, other_owner, ANSWERS, checklist=firm["shared"], site=other_site)
    other_checklist = make.checklist(other, by=other_owner, definition=titled("Bright journey"))
    make.submitted_audit(me, my_owner, ANSWERS, checklist=firm["shared"], site=firm["site"])
    chosen = make.share(
        make.checklist(firm["consultancy"], by=firm["owner"], definition=titled("Chosen for Harbour")),
        "chosen",
        clients=[me],
    )
    firm_slug = firm["consultancy"].slug

    login(my_owner)
    for url in (
        f"/o/{firm_slug}/",
        f"/o/{firm_slug}/clients/",
        f"/o/{firm_slug}/portfolio/",
        f"/o/{firm_slug}/checklists/",
        f"/o/{firm_slug}/checklists/{chosen.id}",
        f"/o/{other.slug}/",
        f"/o/{other.slug}/audits/{other_audit.id}",
        f"/o/{other.slug}/audits/{other_audit.id}/report",
        f"/o/{me.slug}/audits/{other_audit.id}",
        f"/o/{me.slug}/audits/{other_audit.id}/report",
        f"/o/{me.slug}/checklists/{other_checklist.id}",
        f"/o/{me.slug}/sites/{other_site.id}",
    ):
        assert status(client, url) == 404, url
    for page in ("/checklists/", "/dashboard/", "/audits/", "/audits/new", "/", "/consultants/"):
        html = text(client, f"/o/{me.slug}{page}")
        assert "Bright Smiles" not in html and "Bright journey" not in html, page
    listing = text(client, f"/o/{me.slug}/checklists/")
    assert "Chosen for Harbour" in listing and "Front desk journey" in listing and "Clear Line Consulting" in listing
    assert status(client, f"/o/{me.slug}/checklists/{chosen.id}") == 200

    login(other_owner)
    assert "Chosen for Harbour" not in text(client, f"/o/{other.slug}/checklists/")
    assert "Front desk journey" in text(client, f"/o/{other.slug}/checklists/")
    assert status(client, f"/o/{other.slug}/checklists/{chosen.id}") == 404
    assert start(client, other, chosen.id, other_site.id, other_owner.id).status_code == 400
    assert make.count(Audit, org_id=other.id, checklist_id=chosen.id) == 0


# Unpublished checklists -----------------------------------------------------------------------------------------


def test_a_consultancys_unpublished_checklists_are_invisible_to_clients(client, login, make, firm):
    org, owner = firm["client"], firm["client_owner"]
    draft = make.share(  # shared with all in the database, but never published
        make.checklist(firm["consultancy"], by=firm["owner"], definition=titled("Draft journey"), publish=False), "all"
    )
    private = make.checklist(firm["consultancy"], by=firm["owner"], definition=titled("Private journey"))
    assert make.get(Checklist, private.id).shared_with == "none" and draft.current_version_id is None
    login(owner)
    for page in ("/checklists/", "/audits/new"):
        html = text(client, f"/o/{org.slug}{page}")
        assert "Front desk journey" in html, page
        assert "Draft journey" not in html and "Private journey" not in html, page
    for hidden in (draft, private):
        assert status(client, f"/o/{org.slug}/checklists/{hidden.id}") == 404
        assert status(client, f"/o/{org.slug}/checklists/{hidden.id}/versions/1.json") == 404
        assert start(client, org, hidden.id, firm["site"].id, owner.id).status_code in (400, 404)
    assert make.count(Audit, org_id=org.id) == 0
    assert start(client, org, firm["shared"].id, firm["site"].id, owner.id).status_code == 302
    assert make.count(Audit, org_id=org.id) == 1


# Shared checklists: read-only, copied, versions -----------------------------------------------------------------


def checklist_state(make, checklist_id) -> tuple:
    row = make.get(Checklist, checklist_id)
    versions = make.count(ChecklistVersion, checklist_id=checklist_id)
    return row.title, row.draft, row.current_version_id, row.archived_at, row.shared_with, versions


def test_a_client_cannot_edit_a_shared_checklist_but_copies_and_runs_it(app, client, login, make, firm):
    org, shared = firm["client"], firm["shared"]
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("checklist_editor.")
        or rule.endpoint in ("checklists.publish", "checklists.archive", "checklists.share")
    ]
    assert len(rules) >= 12
    before = checklist_state(make, shared.id)
    login(firm["client_owner"])
    refused = {}
    for rule in rules:
        values = {"org_slug": org.slug, "key": "answer-time" if "/items/" in rule.rule else "billing-line"}
        path = re.sub(r"<(?:[^<>]*:)?(\w+)>", lambda m, v=values: v.get(m[1], str(shared.id)), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            refused[f"{method} {path}"] = status(client, path, method, data={"archive": "1", "title": "Mine now"})
    assert refused == dict.fromkeys(refused, 404)
    assert checklist_state(make, shared.id) == before

    copied = client.post(f"/o/{org.slug}/checklists/{shared.id}/copy", data={})
    assert copied.status_code == 302
    copy_row = make.find(Checklist, org_id=org.id, source="copy")
    assert copied.headers["Location"].endswith(f"/checklists/{copy_row.id}")
    version = make.get(ChecklistVersion, make.get(Checklist, shared.id).current_version_id)
    assert {**copy_row.draft, "title": ""} == {**version.definition, "title": ""}
    assert status(client, f"/o/{org.slug}/checklists/{copy_row.id}/edit") == 200
    assert status(client, f"/o/{org.slug}/checklists/{copy_row.id}/publish", "POST", data={}) == 302
    assert start(client, org, copy_row.id, firm["site"].id, firm["client_owner"].id).status_code == 302
    assert make.count(Audit, org_id=org.id, checklist_id=copy_row.id) == 1
    assert checklist_state(make, shared.id) == before

    login(firm["owner"])  # the consultancy edits its own
    assert status(client, f"/o/{firm['consultancy'].slug}/checklists/{shared.id}/edit") == 200


def test_a_new_version_reaches_clients_while_running_audits_keep_theirs(app, client, login, make, firm):
    org, shared = firm["client"], firm["shared"]
    login(firm["client_owner"])
    assert start(client, org, shared.id, firm["site"].id, firm["client_owner"].id).status_code == 302
    first = make.find(Audit, org_id=org.id)
    v1 = make.get(Checklist, shared.id).current_version_id
    assert first.checklist_version_id == v1

    with app.app_context():
        checklists.save_draft(db.session.get(Checklist, shared.id), titled("Front desk journey", "Answered at once"))
        db.session.commit()
    login(firm["owner"])
    assert status(client, f"/o/{firm['consultancy'].slug}/checklists/{shared.id}/publish", "POST", data={}) == 302
    v2 = make.get(Checklist, shared.id).current_version_id
    assert v2 != v1 and make.get(ChecklistVersion, v2).number == 2

    login(firm["client_owner"])
    assert start(client, org, shared.id, firm["site"].id, firm["client_owner"].id).status_code == 302
    with app.app_context():
        second = db.session.scalar(select(Audit).where(Audit.org_id == org.id).order_by(Audit.id.desc()).limit(1))
        assert second.id != first.id and second.checklist_version_id == v2
    assert make.get(Audit, first.id).checklist_version_id == v1
    assert "Answered at once" in text(client, f"/o/{org.slug}/audits/{second.id}/walk/billing-line")
    assert "Answered at once" not in text(client, f"/o/{org.slug}/audits/{first.id}/walk/billing-line")


# Linking needs the business owner's acceptance ------------------------------------------------------------------


def test_only_an_owner_of_the_chosen_business_accepts_an_offer(app, client, login, make, firm):
    target = make.org("Seaview Dental")
    target_owner = make.member(target, Role.OWNER)
    target_manager = make.member(target, Role.MANAGER)
    other_owner = make.member(make.org("Other Garage"), Role.OWNER)
    links = make.count(ClientLink, consultancy_id=firm["consultancy"].id)

    login(firm["owner"])
    sent = client.post(f"/o/{firm['consultancy'].slug}/clients/invites", data={"role": "consultant_auditor"})
    assert sent.status_code == 201
    token = re.search(r"/serve/([A-Za-z0-9_-]+)", sent.get_data(as_text=True)).group(1)
    assert make.count(ClientLink, consultancy_id=firm["consultancy"].id) == links  # an offer links nothing
    assert status(client, f"/o/{target.slug}/") == 404

    for who in (target_manager, other_owner):
        login(who)
        assert (
            status(client, f"/serve/{token}", "POST", data={"client_id": target.id}) == 403
        )  # not an owner of it: refused, with the reason
        assert make.find(ClientLink, consultancy_id=firm["consultancy"].id, client_id=target.id) is None
    login(firm["owner"])
    assert status(client, f"/o/{target.slug}/") == 404

    login(target_owner)
    assert status(client, f"/serve/{token}", "POST", data={"client_id": target.id}) == 302
    link = make.find(ClientLink, consultancy_id=firm["consultancy"].id, client_id=target.id)
    assert link is not None and link.role == LinkRole.CONSULTANT_AUDITOR and link.active
    login(firm["owner"])
    assert status(client, f"/o/{target.slug}/") == 200


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("used", "already been used"),
        ("expired", "has expired"),
        ("withdrawn", "not valid"),
    ],
)
def test_a_used_expired_or_withdrawn_offer_says_why_and_links_nothing(app, client, login, make, firm, state, message):
    sent = offer(app, firm)
    late = make.org("Late Bakery")
    late_owner = make.member(late, Role.OWNER)
    if state == "used":
        first = make.org("First Bakery")
        login(make.member(first, Role.OWNER))
        assert status(client, f"/serve/{sent.token}", "POST", data={"client_id": first.id}) == 302
    elif state == "expired":
        with app.app_context():
            db.session.get(ClientInvite, sent.invite.id).expires_at = utcnow() - timedelta(seconds=1)
            db.session.commit()
    else:
        login(firm["owner"])
        url = f"/o/{firm['consultancy'].slug}/clients/invites/{sent.invite.id}/withdraw"
        assert status(client, url, "POST", data={}) == 302
    login(late_owner)
    page = client.get(f"/serve/{sent.token}")
    assert page.status_code == 404 and message in page.get_data(as_text=True)
    refused = client.post(f"/serve/{sent.token}", data={"client_id": late.id})
    assert refused.status_code == 404 and message in refused.get_data(as_text=True)
    assert make.find(ClientLink, consultancy_id=firm["consultancy"].id, client_id=late.id) is None


# Sharing only with clients --------------------------------------------------------------------------------------


def share_state(make, checklist_id) -> tuple:
    with make.app.app_context():
        shares = sorted(
            db.session.scalars(select(ChecklistShare.client_id).where(ChecklistShare.checklist_id == checklist_id))
        )
    return make.get(Checklist, checklist_id).shared_with, shares


def test_sharing_with_a_business_that_is_not_a_client_is_refused(client, login, make, firm):
    consultancy = firm["consultancy"]
    checklist = make.checklist(consultancy, by=firm["owner"], definition=titled("Chosen journey"))
    url = f"/o/{consultancy.slug}/checklists/{checklist.id}/sharing"
    login(firm["owner"])
    response = client.post(url, data={"shared_with": "chosen", "clients": [firm["stranger"].id]})
    assert response.status_code == 400
    assert "You can only share with your current clients" in response.get_data(as_text=True)
    assert share_state(make, checklist.id) == ("none", [])
    mixed = client.post(url, data={"shared_with": "chosen", "clients": [firm["client"].id, firm["stranger"].id]})
    assert mixed.status_code == 400 and share_state(make, checklist.id) == ("none", [])

    assert client.post(url, data={"shared_with": "chosen", "clients": [firm["client"].id]}).status_code == 302
    assert share_state(make, checklist.id) == ("chosen", [firm["client"].id])


def test_a_business_cannot_share_its_checklist(client, login, make, firm):
    business, owner = firm["stranger"], firm["stranger_owner"]
    checklist = make.checklist(business, by=owner, definition=titled("Bakery journey"))
    url = f"/o/{business.slug}/checklists/{checklist.id}/sharing"
    login(owner)
    assert client.post(url, data={"shared_with": "all"}).status_code == 404  # a business has nobody to share with
    assert share_state(make, checklist.id) == ("none", [])
    response = client.post(url, data={"shared_with": "chosen", "clients": [firm["client"].id]})
    assert response.status_code == 404
    assert share_state(make, checklist.id) == ("none", [])
    assert status(client, f"/o/{business.slug}/checklists/{checklist.id}") == 200


# The client's comparison ----------------------------------------------------------------------------------------


def test_a_clients_dashboard_names_no_other_client_and_averages_only_three_or_more(app, client, login, make, firm):
    """The anonymised average (shopper/clients/portfolio.py) needs three contributing clients and names none."""
    me, my_owner = firm["client"], firm["client_owner"]
    answers_low = {**ANSWERS, "answer-time": 300}
    make.submitted_audit(me, my_owner, ANSWERS, checklist=firm["shared"], site=firm["site"])
    second = make.org("Bright Smiles Dental")
    make.client_link(firm["consultancy"], second)
    make.submitted_audit(second, make.member(second, Role.OWNER), answers_low, checklist=firm["shared"])
    login(my_owner)
    html = text(client, f"/o/{me.slug}/dashboard/")
    section = html[html.index("Compared with similar businesses") :]
    section = section[: section.index("</section>")]
    assert "Not enough businesses to compare yet" in section and "<table" not in section
    assert "Bright Smiles" not in html

    third = make.org("Calm Clinic")
    make.client_link(firm["consultancy"], third)
    make.submitted_audit(third, make.member(third, Role.OWNER), answers_low, checklist=firm["shared"])
    html = text(client, f"/o/{me.slug}/dashboard/")
    section = html[html.index("Compared with similar businesses") :]
    section = section[: section.index("</section>")]
    assert "<table" in section and "Similar businesses" in section
    assert "Bright Smiles" not in html and "Calm Clinic" not in html
