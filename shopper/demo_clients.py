"""Demo data for consultants: a consultancy with its own brand and checklist, serving the demo business and two
client businesses it set up, each with a submitted audit on the consultancy's checklist, so the portfolio, the
comparison with similar businesses and the co-branded report have something to show. Idempotent."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from shopper.accounts.models import User
from shopper.accounts.passwords import hash_password
from shopper.audits import service as audits
from shopper.audits.models import Audit
from shopper.audits.service import start_audit
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist, SharedWith
from shopper.extensions import db
from shopper.orgs.models import ClientLink, LinkRole, Membership, Organization, OrgKind, Role, Site
from shopper.timeutil import utcnow

CONSULTANCY_SLUG = "demo-consulting"
CONSULTANT = ("consultant@demo.shopper.test", "Cora Consultant", "demo-consultant-plans-visits")
CONSULTANCY_BRAND = dict(
    display_name="Clear Line Consulting",
    primary_color="#3b2f7a",
    accent_color="#e0a030",
    report_footer="Clear Line Consulting · Prepared for the client's management team",
    contact_line="Your consultant: Cora Consultant, consultant@demo.shopper.test",
)
#: (slug, name, site) of the clients the consultancy set up itself; the demo business joins them as a client too
CREATED_CLIENTS = (
    ("demo-seaview-dental", "Seaview Dental (demo)", "Promenade practice"),
    ("demo-town-garage", "Town Garage (demo)", "Mill Lane workshop"),
)
QUICK_CHECK = {
    "title": "Clear Line quick service check",
    "description": "Three moments every small business has: the phone, the counter and the complaint.",
    "touchpoints": [
        {
            "key": "phone",
            "title": "Ring the main number",
            "channel": "phone",
            "promise": "A person answers within a minute and solves it on the first call.",
            "items": [
                {"key": "phone-wait", "type": "timer", "prompt": "Time until a person answered", "target_max_s": 60},
                {
                    "key": "phone-transfers",
                    "type": "counter",
                    "prompt": "How often were you passed on?",
                    "target_max": 1,
                },
                {"key": "phone-solved", "type": "check", "prompt": "Was it solved on this call?", "weight": 2},
            ],
        },
        {
            "key": "counter",
            "title": "Arrive at the counter",
            "channel": "in-person",
            "promise": "You are greeted within two minutes and told how long the wait is.",
            "items": [
                {"key": "counter-greeting", "type": "timer", "prompt": "Time until greeted", "target_max_s": 120},
                {"key": "counter-wait-told", "type": "check", "prompt": "Were you told how long you would wait?"},
                {"key": "counter-feel", "type": "rating", "prompt": "How welcome did you feel?", "scale": 5},
            ],
        },
        {
            "key": "complaint",
            "title": "Make a small complaint",
            "channel": "email",
            "promise": "A named person replies within a working day and owns it to the end.",
            "items": [
                {
                    "key": "complaint-hours",
                    "type": "number",
                    "prompt": "Hours until a first human reply",
                    "target_max": 8,
                    "unit": "hours",
                },
                {"key": "complaint-named", "type": "check", "prompt": "Did a named person take it on?"},
                {
                    "key": "complaint-repeat",
                    "type": "check",
                    "prompt": "Did you have to explain it twice?",
                    "expect": "no",
                },
            ],
        },
    ],
}
#: client slug -> answers; the demo business, a strong practice and a garage whose phone line is the weak spot
DEMO_ANSWERS = {
    "demo": {
        "phone-wait": 250,
        "phone-transfers": 3,
        "phone-solved": "no",
        "counter-greeting": 40,
        "counter-wait-told": "no",
        "counter-feel": 4,
        "complaint-hours": 6,
        "complaint-named": "yes",
        "complaint-repeat": "no",
    },
    "demo-seaview-dental": {
        "phone-wait": 35,
        "phone-transfers": 0,
        "phone-solved": "yes",
        "counter-greeting": 30,
        "counter-wait-told": "yes",
        "counter-feel": 5,
        "complaint-hours": 3,
        "complaint-named": "yes",
        "complaint-repeat": "no",
    },
    "demo-town-garage": {
        "phone-wait": 95,
        "phone-transfers": 2,
        "phone-solved": "yes",
        "counter-greeting": 150,
        "counter-wait-told": "yes",
        "counter-feel": 3,
        "complaint-hours": 30,
        "complaint-named": "no",
        "complaint-repeat": "yes",
    },
}


def load_demo_clients(demo_business: Organization) -> tuple[str, str]:
    """The demo consultancy and its clients; returns the consultant's sign-in (email, password)."""
    email, name, password = CONSULTANT
    consultant = db.session.scalar(select(User).where(User.email == email))
    if consultant is None:
        consultant = User(email=email, name=name, password_hash=hash_password(password))
        db.session.add(consultant)
    consultancy = db.session.scalar(select(Organization).where(Organization.slug == CONSULTANCY_SLUG))
    if consultancy is None:
        consultancy = Organization(
            slug=CONSULTANCY_SLUG, name="Clear Line Consulting (demo)", kind=OrgKind.CONSULTANCY, **CONSULTANCY_BRAND
        )
        db.session.add(consultancy)
        db.session.flush()
        db.session.add(Membership(org_id=consultancy.id, user_id=consultant.id, role=Role.OWNER))
    clients = [demo_business]
    for slug, client_name, site_name in CREATED_CLIENTS:
        client = db.session.scalar(select(Organization).where(Organization.slug == slug))
        if client is None:
            client = Organization(slug=slug, name=client_name, kind=OrgKind.BUSINESS)
            db.session.add(client)
            db.session.flush()
            db.session.add(Site(org_id=client.id, name=site_name))
        clients.append(client)
    for client in clients:
        if (
            db.session.scalar(
                select(ClientLink.id).where(
                    ClientLink.consultancy_id == consultancy.id, ClientLink.client_id == client.id
                )
            )
            is None
        ):
            db.session.add(
                ClientLink(
                    consultancy_id=consultancy.id,
                    client_id=client.id,
                    role=LinkRole.CONSULTANT_MANAGER,
                    created_client=client is not demo_business,
                    created_by_id=consultant.id,
                )
            )
    checklist = _quick_check(consultancy, consultant)
    for n, client in enumerate(clients):
        _walk(client, checklist, consultant, days_ago=3 + 2 * n)
    return email, password


def _quick_check(consultancy: Organization, consultant: User) -> Checklist:
    checklist = db.session.scalar(
        select(Checklist).where(Checklist.org_id == consultancy.id, Checklist.title == QUICK_CHECK["title"])
    )
    if checklist is None:
        checklist = checklists.create_checklist(consultancy.id, consultant.id, title=QUICK_CHECK["title"])
        checklists.save_draft(checklist, QUICK_CHECK)
        checklists.publish(checklist, consultant.id, utcnow())
        checklist.shared_with = SharedWith.ALL
    return checklist


def _walk(client: Organization, checklist: Checklist, consultant: User, days_ago: int) -> None:
    """The consultant walks the quick check at the client's first site and submits it, once per client."""
    if (
        db.session.scalar(select(Audit.id).where(Audit.org_id == client.id, Audit.checklist_id == checklist.id))
        is not None
    ):
        return
    site = db.session.scalar(select(Site).where(Site.org_id == client.id).order_by(Site.name))
    moment = (utcnow() - timedelta(days=days_ago)).replace(second=0, microsecond=0)
    audit = start_audit(
        org_id=client.id,
        checklist=checklist,
        site=site,
        auditor_id=consultant.id,
        created_by_id=consultant.id,
        scenario="A new customer with a simple question, then a small complaint by email.",
        due_on=None,
        now=moment,
    )
    for n, (item_key, value) in enumerate(DEMO_ANSWERS[client.slug].items(), start=1):
        payload = {"value": value, "note": "", "client_ts": int(moment.timestamp() * 1000) + n}
        audits.save_answer(audit, consultant.id, uuid.uuid4().hex, item_key, payload, moment + timedelta(minutes=n))
    audits.submit(audit, consultant.id, uuid.uuid4().hex, moment + timedelta(minutes=30))
