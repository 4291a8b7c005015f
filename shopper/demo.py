"""Demo data for a first look: a business with two sites, an owner, an auditor, the walk-through checklist, an
audit prepared for the auditor, and an audit the owner walked and submitted, with findings and photos, so the report
has something to show; and a consultancy serving it and two more clients (demo_clients.py). Idempotent: running it
again adds nothing."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from shopper.accounts.models import User
from shopper.accounts.passwords import hash_password
from shopper.audits import service as audits
from shopper.audits.models import Audit
from shopper.audits.service import start_audit
from shopper.checklists.models import Checklist
from shopper.checklists.service import copy_from_library
from shopper.demo_clients import load_demo_clients
from shopper.extensions import db
from shopper.media import get_storage
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.reports.brand import store_logo
from shopper.timeutil import utcnow

DEMO_SLUG = "demo"
DEMO_CHECKLIST = "be-your-customer"
DEMO_PEOPLE = (
    ("owner@demo.shopper.test", "Olivia Owner", Role.OWNER, "demo-owner-walks-the-line"),
    ("auditor@demo.shopper.test", "Arthur Auditor", Role.AUDITOR, "demo-auditor-takes-notes"),
)
DEMO_SITES = (
    ("Harbour Street clinic", "12 Harbour Street"),
    ("Riverside branch", "3 Riverside Walk"),
)


@dataclass(frozen=True)
class DemoResult:
    org: Organization
    credentials: tuple[tuple[str, str], ...]


def load_demo() -> DemoResult:
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    if org is None:
        org = Organization(slug=DEMO_SLUG, name="Harbour Physio (demo)", kind=OrgKind.BUSINESS)
        db.session.add(org)
        db.session.flush()
    for email, name, role, password in DEMO_PEOPLE:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, password_hash=hash_password(password))
            db.session.add(user)
            db.session.flush()
        membership = db.session.scalar(
            select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
        )
        if membership is None:
            db.session.add(Membership(org_id=org.id, user_id=user.id, role=role))
    existing = set(db.session.scalars(select(Site.name).where(Site.org_id == org.id)))
    for name, address in DEMO_SITES:
        if name not in existing:
            db.session.add(Site(org_id=org.id, name=name, address=address))
    _prepare_demo_audit(org)
    _brand_demo(org)
    _submitted_demo_audit(org)
    consultant = load_demo_clients(org)
    return DemoResult(org, (*((email, password) for email, _, _, password in DEMO_PEOPLE), consultant))


def _prepare_demo_audit(org: Organization) -> None:
    checklist = db.session.scalar(
        select(Checklist).where(Checklist.org_id == org.id, Checklist.source == f"library:{DEMO_CHECKLIST}")
    )
    owner, auditor = (db.session.scalar(select(User).where(User.email == email)) for email, *_ in DEMO_PEOPLE)
    if checklist is None:
        checklist = copy_from_library(org.id, owner.id, DEMO_CHECKLIST, utcnow())
    if db.session.scalar(select(Audit.id).where(Audit.org_id == org.id)) is None:
        site = db.session.scalar(select(Site).where(Site.org_id == org.id, Site.name == DEMO_SITES[0][0]))
        start_audit(
            org_id=org.id,
            checklist=checklist,
            site=site,
            auditor_id=auditor.id,
            created_by_id=owner.id,
            scenario="A long-standing client renewing their yearly plan with a card that has just expired.",
            due_on=None,
            now=utcnow(),
        )


# The submitted walk behind the demo report ----------------------------------------------------------------------

DEMO_REPORT_SCENARIO = (
    "A client of six years renews her yearly treatment plan after the card on file expired, calls billing about "
    "a charge she does not recognise, then comes in for her appointment."
)
DEMO_BRAND = dict(
    display_name="Harbour Physio",
    primary_color="#0f5c63",
    accent_color="#f2a541",
    report_footer="Harbour Physio · Confidential: for the practice team",
    contact_line="Questions about this report: Olivia Owner, owner@demo.shopper.test",
)
# touchpoint -> (answers as item -> value or (value, note), wrap-up as (effort, promise kept, note) or None)
DEMO_WALK: dict[str, tuple[dict, tuple | None]] = {
    "website": (
        {
            "web-prices-found": ("yes", "harbourphysio.example/prices, four taps from the home page"),
            "web-clicks-to-price": 4,
            "web-contact-found": "yes",
            "web-hours-found": "yes",
            "web-outdated": "yes",
            "web-outdated-details": "The opening hours page still shows the winter timetable, and the team page "
            "lists a physiotherapist who left in the spring.",
            "web-mobile-ease": 3,
        },
        (3, False, "Prices are there, but behind a menu labelled 'Resources'. I nearly gave up and phoned."),
    ),
    "billing-line": (
        {
            "phone-number-found": "yes",
            "phone-time-to-human": 250,
            "phone-menu-levels": 3,
            "phone-transfers": 3,
            "phone-repeat": ("yes", "Gave my date of birth and postcode to each of the three people."),
            "phone-resolved": (
                "no",
                "The third person said billing would ring back within two days about the unknown charge. No "
                "reference number, no name. Nobody had rung back by the end of the audit.",
            ),
            "phone-next-steps": "no",
            "phone-courtesy": 4,
        },
        (6, False, "Polite people, but I was passed from reception to bookings to billing and still have no answer."),
    ),
    "email-enquiry": (
        {
            "email-sent-date": "two days before the walk",
            "email-auto-ack": "yes",
            "email-reply-hours": 6,
            "email-all-answered": "yes",
            "email-named-person": "yes",
            "email-tone": 5,
        },
        (2, True, "Warm, complete reply from Priya before lunch, signed with her name."),
    ),
    "chat-social": (
        {
            "chat-channel": "website-chat",
            "chat-time-to-person": 75,
            "chat-bot-handover": "smooth",
            "chat-answered": "yes",
        },
        (2, True, ""),
    ),
    "arrival-waiting": (
        {
            "visit-signage": "yes",
            "visit-time-to-greeting": 40,
            "visit-wait": 760,
            "visit-delay-explained": ("no", "Nobody mentioned the delay until I asked at the desk after 11 minutes."),
            "visit-comfort": 4,
            "visit-clean": "yes",
        },
        (4, False, "Greeted quickly and kindly, then forgotten: the wait ran over and nobody said why."),
    ),
    "being-served": (
        {
            "served-name": "yes",
            "served-attention": 5,
            "served-knowledge": "found-out",
            "served-pushed": "no",
            "served-next-steps": "yes",
        },
        (2, True, "The best part of the visit: Sam listened, checked, and wrote my next steps down."),
    ),
    "printed-invoice": (
        {
            "print-current": ("no", "Two leaflets in the rack advertise an offer that ended in December."),
            "invoice-understandable": 3,
            "invoice-total-clear": "yes",
            "invoice-jargon": "yes",
            "invoice-jargon-words": "ACCT-ADJ, pro-rata CR, DD mandate ref, Tx code 14",
            "invoice-contact": "no",
        },
        (4, None, ""),
    ),
    "renew-pay": (
        {
            "renew-reminder": "yes",
            "renew-steps": 7,
            "renew-duration": 540,
            "renew-expired-card": "had-to-contact",
            "renew-repeat-details": "yes",
            "renew-confirmation": "yes",
            "renew-billing-reachable": (
                "yes",
                "The billing number is in the invoice footer; it is the same line as above, with the same wait.",
            ),
        },
        (6, False, "The renewal page refused the expired card and offered no way to add a new one."),
    ),
}
# (touchpoint, item or None, caption, colours for the made-up picture)
DEMO_PHOTOS = (
    ("website", "web-screenshot", "Prices hide under 'Resources' on a phone", ((32, 92, 99), (220, 236, 238))),
    (
        "chat-social",
        "chat-transcript",
        "Chat: a person took over from the bot in 75 s",
        ((60, 90, 160), (230, 236, 250)),
    ),
    (
        "arrival-waiting",
        "visit-photo",
        "Waiting area at 10:20, eleven minutes past the appointment",
        ((150, 120, 80), (245, 236, 220)),
    ),
    (
        "printed-invoice",
        "print-current",
        "Leaflet rack: the December offer is still on display",
        ((170, 60, 50), (250, 232, 226)),
    ),
    (
        "printed-invoice",
        "invoice-photo",
        "Invoice, with the personal details covered",
        ((90, 90, 100), (246, 246, 248)),
    ),
)


def _brand_demo(org: Organization) -> None:
    """Give the demo business a brand and a logo, once (a brand someone has edited since is left alone)."""
    if org.display_name or org.logo_media_id:
        return
    for name, value in DEMO_BRAND.items():
        setattr(org, name, value)
    org.logo_media_id = store_logo(org.id, _demo_logo(), get_storage())


def _demo_logo() -> bytes:
    logo = Image.new("RGB", (640, 200), "white")
    draw = ImageDraw.Draw(logo)
    draw.rounded_rectangle((10, 20, 170, 180), radius=36, fill=(15, 92, 99))
    draw.arc((40, 50, 140, 150), 200, 340, fill=(242, 165, 65), width=14)
    draw.text((90, 112), "HP", fill="white", font=ImageFont.load_default(size=56), anchor="mm")
    draw.text((196, 62), "Harbour", fill=(15, 92, 99), font=ImageFont.load_default(size=60))
    draw.text((196, 118), "Physio", fill=(27, 36, 48), font=ImageFont.load_default(size=48))
    buffer = io.BytesIO()
    logo.save(buffer, format="PNG")
    return buffer.getvalue()


def _demo_photo(caption: str, dark: tuple[int, int, int], light: tuple[int, int, int]) -> bytes:
    """A stand-in photo: a soft two-colour scene with a few shapes and the caption on a label, 1600 x 1200."""
    width, height = 1600, 1200
    mask = Image.linear_gradient("L").resize((width, height)).rotate(90, expand=False)
    picture = Image.composite(Image.new("RGB", (width, height), dark), Image.new("RGB", (width, height), light), mask)
    draw = ImageDraw.Draw(picture)
    draw.rounded_rectangle((140, 180, 760, 760), radius=40, fill=light, outline=dark, width=10)
    draw.rounded_rectangle((860, 260, 1460, 420), radius=30, fill=dark)
    draw.rounded_rectangle((860, 480, 1340, 580), radius=30, fill=light)
    draw.ellipse((1120, 640, 1420, 940), outline=light, width=18)
    draw.rectangle((0, 1010, width, height), fill=(255, 255, 255))
    draw.text((60, 1105), caption, fill=(27, 36, 48), font=ImageFont.load_default(size=54), anchor="lm")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _submitted_demo_audit(org: Organization) -> None:
    """Walk the demo checklist through the real audit service (answers, photos, wrap-ups, submit), once."""
    exists = db.session.scalar(select(Audit.id).where(Audit.org_id == org.id, Audit.scenario == DEMO_REPORT_SCENARIO))
    if exists is not None:
        return
    checklist = db.session.scalar(
        select(Checklist).where(Checklist.org_id == org.id, Checklist.source == f"library:{DEMO_CHECKLIST}")
    )
    # The owner walks this one herself (the auditor's own list keeps just the audit prepared for him).
    walker = db.session.scalar(select(User).where(User.email == DEMO_PEOPLE[0][0]))
    site = db.session.scalar(select(Site).where(Site.org_id == org.id, Site.name == DEMO_SITES[1][0]))
    moment = (utcnow() - timedelta(hours=4)).replace(second=0, microsecond=0)
    audit = start_audit(
        org_id=org.id,
        checklist=checklist,
        site=site,
        auditor_id=walker.id,
        created_by_id=walker.id,
        scenario=DEMO_REPORT_SCENARIO,
        due_on=None,
        now=moment,
    )
    storage = get_storage()
    photos = {}
    for touchpoint_key, item_key, caption, (dark, light) in DEMO_PHOTOS:
        photos.setdefault(touchpoint_key, []).append((item_key, caption, _demo_photo(caption, dark, light)))
    for touchpoint_key, (answers, wrap_up) in DEMO_WALK.items():
        for item_key, answer in answers.items():
            moment += timedelta(minutes=2)
            value, note = answer if isinstance(answer, tuple) else (answer, "")
            if item_key == "email-sent-date":
                value = (moment - timedelta(days=2)).date().isoformat()
            payload = {"value": value, "note": note, "client_ts": _ms(moment)}
            audits.save_answer(audit, walker.id, uuid.uuid4().hex, item_key, payload, moment)
        for item_key, caption, data in photos.get(touchpoint_key, []):
            moment += timedelta(minutes=1)
            audits.add_photo(
                audit,
                walker.id,
                photo_id=str(uuid.uuid4()),
                touchpoint_key=touchpoint_key,
                item_key=item_key,
                caption=caption,
                data=data,
                storage=storage,
                now=moment,
            )
        if wrap_up is not None:
            effort, kept, note = wrap_up
            moment += timedelta(minutes=3)
            payload = {"effort": effort, "promise_kept": kept, "note": note, "client_ts": _ms(moment)}
            audits.save_visit(audit, walker.id, uuid.uuid4().hex, touchpoint_key, payload, moment)
        moment += timedelta(minutes=9)
    audits.submit(audit, walker.id, uuid.uuid4().hex, moment + timedelta(minutes=4))
