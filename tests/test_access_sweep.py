"""The cross-organization sweep: every page under /o/<org_slug>/, asked for with another organization's slug or
rows, is a 404.

The sweep walks `app.url_map` (so routes added later are swept too), takes every rule under /o/<org_slug> and every
method but HEAD and OPTIONS, fills each URL parameter from PARAMS (id-like ones with rows of the organization under
test, the others with fixed values) and expects 404 from every request. A rule with a parameter PARAMS does not know
fails the sweep, so a new kind of id cannot slip past it. Both sides are fully populated (members, invitations, a
site, published checklists, audits in progress with photos, submitted audits with findings, actions and a share
link, a logo, a consultancy with a client link and a pending offer), and every row of the "own" side exists too, so
a view that forgets the organization filter finds a row and answers something other than 404.

The cases:

- other-slug: the owner of business A (and of consultancy CA) asks for B's and CB's pages with their rows;
- own-slug-other-ids: the same owner asks for A's and CA's pages with B's and CB's rows, and, for rules with
  several ids, with one foreign id among their own (their audit with B's photo, finding or share link);
- consultancy-non-client: the owner of consultancy CB asks for A (a business it does not serve) and CA;
- consultancy-revoked-client: the same, for R, a client whose link R's owner revoked; the same URLs worked for
  them before the revocation (checked first), so the 404s are the revocation's doing.

Nothing may change in the database or in media storage during a sweep. A control test asks every GET rule with the
rows' own people and requires an answer other than 404, so the tables really name rows that open pages.

Links outside /o/ (share links /r/<token>, offers /serve/<token>, invitations /invite/<token>) carry no row ids but
a token; they have their own small tests at the end.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from itertools import product
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.routing import AnyConverter

from shopper.actions import service as actions
from shopper.actions.models import Action
from shopper.audits import service as audits
from shopper.audits.models import Audit, Finding, Photo
from shopper.checklists.builtin import builtin_checklists
from shopper.checklists.models import Checklist
from shopper.clients import service as clients
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.media.storage import LocalStorage
from shopper.orgs.access import access_for
from shopper.orgs.models import ClientLink, Invite, LinkRole, Membership, Organization, Role, Site
from shopper.orgs.service import create_invite
from shopper.reports import share
from shopper.reports.brand import store_logo
from shopper.reports.bundle import bundle_key
from shopper.reports.models import BundleState, ReportBundle, ShareLink
from shopper.timeutil import utcnow
from tests.images import encode
from tests.test_reports_support import small_jpeg, walk_and_submit

ORG_PREFIX = "/o/<org_slug>"
#: at least this many (rule, method) pairs under /o/<org_slug>: 96 on the day the sweep was written
MIN_ORG_RULES = 95

# The parameter table ------------------------------------------------------------------------------------------

#: Id-like parameters: the kind of row that fills each, from the side being asked for. A parameter whose meaning
#: depends on the blueprint maps blueprint -> kind; a blueprint not listed is an unknown parameter.
ID_PARAMS: dict[str, str | dict[str, str]] = {
    "audit_id": "audits",
    "photo_id": "photos",
    "finding_id": "findings",
    "action_id": "actions",
    "checklist_id": "checklists",
    "link_id": {"reports": "share_links", "clients": "client_links", "consultants": "client_links"},
    "client_invite_id": "client_invites",
    "invite_id": "invites",
    "member_id": "memberships",
    "site_id": "sites",
    "bundle_id": "bundles",
}
#: What each kind of row is, on every side.
ROW_KINDS = {
    "audits": "in progress with a photo, submitted (findings, actions, share link), and one of each walked by a "
    "consultant of the business's consultancy on the consultancy's shared checklist",
    "photos": "a photo of the audit in progress and one of the submitted audit",
    "findings": "a finding of each submitted audit",
    "actions": "an open action (owner's submitted audit), and a done one with an after photo (the consultant's)",
    "checklists": "the business's own published checklist, and its consultancy's checklist shared with all clients",
    "share_links": "the submitted audit's report share link",
    "client_links": "the consultancy's link to the business",
    "client_invites": "the consultancy's pending offer to serve a business",
    "invites": "pending team invitations of the business and of the consultancy",
    "memberships": "a manager's membership of the business and one of the consultancy",
    "sites": "the business's site",
    "bundles": "a ZIP of reports the consultancy's owner asked for, ready to download",
}
#: Parameters that are no row id: the same values for every organization (checked against `any(...)` converters).
FIXED_PARAMS: dict[str, list] = {
    "touchpoint_key": ["billing-line"],
    "item_key": ["answer-time"],
    "key": ["billing-line", "answer-time"],  # the editor's <key>: a touchpoint's or an item's
    "number": [1],
    "fmt": ["json"],
    "rendition": ["thumb"],
    "slug": [builtin_checklists()[0].slug],
}
#: Deliberate answers other than 404, each with its reason. (endpoint, the one foreign parameter) -> status.
NOT_404 = {
    # Deleting a photo that is not in the audit succeeds, so a replayed delete from the phone never fails
    # (shopper/audits/api.py, delete_photo). The other organization's photo is not touched: the snapshot shows it.
    ("audits_api.delete_photo", "photo_id"): 204,
}
PLACEHOLDER = re.compile(r"<(?:[^<>]*:)?(\w+)>")


def org_rules(app) -> list:
    """(rule, method) for every rule under /o/<org_slug>, every method but HEAD and OPTIONS."""
    found = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(ORG_PREFIX)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    return sorted(found, key=lambda pair: (pair[0].rule, pair[1]))


def params_of(rule) -> list[str]:
    return [name for name in PLACEHOLDER.findall(rule.rule) if name != "org_slug"]


def kind_of(rule, name: str) -> str | None:
    entry = ID_PARAMS.get(name)
    if isinstance(entry, dict):
        return entry.get(rule.endpoint.split(".", 1)[0])
    return entry


def id_params_of(rule) -> list[str]:
    return [name for name in params_of(rule) if name in ID_PARAMS]


def unknown_params(rules) -> list[str]:
    problems = []
    for rule, _ in rules:
        for name in params_of(rule):
            if name in FIXED_PARAMS:
                converter = rule._converters[name]
                if isinstance(converter, AnyConverter) and not set(map(str, FIXED_PARAMS[name])) <= converter.items:
                    problems.append(f"{rule.rule}: {name} takes {sorted(converter.items)}")
            elif kind_of(rule, name) is None:
                problems.append(f"{rule.rule} ({rule.endpoint}): {name}")
    return sorted(set(problems))


def path_for(rule, slug: str, values: dict) -> str:
    return PLACEHOLDER.sub(lambda m: slug if m.group(1) == "org_slug" else str(values[m.group(1)]), rule.rule)


def combinations(rule, rows: dict[str, list], foreign: dict[str, list] | None = None, vary: str | None = None):
    """Every combination of values for the rule's parameters: ids from `rows`, except `vary` from `foreign`."""
    names = params_of(rule)
    choices = []
    for name in names:
        if name in FIXED_PARAMS:
            choices.append(FIXED_PARAMS[name])
        else:
            source = foreign if name == vary else rows
            choices.append(source[kind_of(rule, name)])
    for combo in product(*choices):
        yield dict(zip(names, combo, strict=True))


def request(client, rule, method: str, path: str) -> int:
    """The status of one request sent as the app's pages and the phone send it: JSON with an Idempotency-Key to
    the API (so the answer is about the organization and the row, not the missing header), an empty form elsewhere
    (CSRF is off in tests: 404 must come before any validation)."""
    if "/api/" in rule.rule:
        kwargs = {"json": {}, "headers": {"Idempotency-Key": uuid.uuid4().hex}}
    else:
        kwargs = {} if method == "GET" else {"data": {}}
    with client.open(path, method=method, **kwargs) as response:  # closes streamed files (PDFs, photos, ZIPs)
        return response.status_code


# The organizations ---------------------------------------------------------------------------------------------


@dataclass
class Side:
    """A business, the consultancy that serves it, and the ids of their rows by kind (ROW_KINDS)."""

    business: Organization
    consultancy: Organization
    rows: dict[str, list]
    link_id: int  # the consultancy's link to the business
    owner: object = None  # the business's owner


def png() -> bytes:
    return encode(Image.new("RGB", (300, 100), (15, 92, 99)), "PNG")


def give_logo(app, org) -> None:
    with app.app_context():
        logo_id = store_logo(org.id, png(), LocalStorage(app.config["MEDIA_ROOT"]))
        db.session.get(Organization, org.id).logo_media_id = logo_id
        db.session.commit()


def started_with_photo(app, make, org, auditor, checklist, site) -> tuple[int, str]:
    audit = make.audit(org, auditor, checklist=checklist, site=site)
    photo_id = str(uuid.uuid4())
    with app.app_context():
        applied = audits.add_photo(
            db.session.get(Audit, audit.id),
            auditor.id,
            photo_id=photo_id,
            touchpoint_key="billing-line",
            item_key=None,
            caption="The queue",
            data=small_jpeg(0),
            storage=LocalStorage(app.config["MEDIA_ROOT"]),
            now=utcnow(),
        )
        assert applied.status in (200, 201), applied.body
    return audit.id, photo_id


def consultancy_rows(app, make, name: str, owner=None) -> dict:
    """A consultancy with an owner, a manager, a pending team invitation, a pending offer to a business, a logo and
    a published checklist shared with all its clients."""
    org = make.consultancy(name)
    owner = make.member(org, Role.OWNER, user=owner)
    manager = make.member(org, Role.MANAGER)
    checklist = make.share(make.checklist(org, by=owner), "all")
    invite = make.invite(org, by=owner, email=f"joiner-{org.slug}@example.com")
    with app.app_context():
        offer = clients.invite_business(
            access_for(owner.id, org.slug),
            role=LinkRole.CONSULTANT_MANAGER,
            email=None,
            now=utcnow(),
            lifetime=timedelta(days=7),
        )
        db.session.commit()
        offer_id = offer.invite.id
    give_logo(app, org)
    with app.app_context():
        made = ReportBundle(org_id=org.id, user_id=owner.id, state=BundleState.READY, bytes=2)
        db.session.add(made)
        db.session.flush()
        made.storage_key = bundle_key(made)
        LocalStorage(app.config["MEDIA_ROOT"]).save(made.storage_key, b"PK")
        db.session.commit()
        bundle_id = made.id
    return {
        "org": org,
        "owner": owner,
        "manager": manager,
        "checklist_id": checklist.id,
        "invite_id": invite.invite.id,
        "client_invite_id": offer_id,
        "membership_id": make.membership(org, manager).id,
        "bundle_id": bundle_id,
    }


def business_side(app, make, name: str, consultancy: dict, consultant, owner=None) -> Side:
    """A business served by `consultancy` (consultant-manager link), with every kind of row; `consultant` (a member
    of the consultancy) walks two of its audits on the consultancy's shared checklist."""
    org = make.org(name)
    owner = make.member(org, Role.OWNER, user=owner)
    manager = make.member(org, Role.MANAGER)
    make.member(org, Role.AUDITOR)
    link = make.client_link(consultancy["org"], org, LinkRole.CONSULTANT_MANAGER)
    invite = make.invite(org, by=owner, email=f"joiner-{org.slug}@example.com")
    site = make.site(org)
    checklist = make.checklist(org, by=owner)
    shared_id = consultancy["checklist_id"]
    media = app.config["MEDIA_ROOT"]
    give_logo(app, org)
    open_id, open_photo = started_with_photo(app, make, org, owner, checklist, site)
    shared = make.get(Checklist, shared_id)
    consultant_open_id, _ = started_with_photo(app, make, org, consultant, shared, site)
    with app.app_context():
        submitted_id = walk_and_submit(org.id, owner.id, checklist.id, site.id, media)
        consultant_submitted_id = walk_and_submit(org.id, consultant.id, shared_id, site.id, media)
        submitted_photo = db.session.scalar(select(Photo.id).where(Photo.audit_id == submitted_id).limit(1))
        findings = [
            db.session.execute(
                select(Finding.id, Finding.item_key).where(Finding.audit_id == audit_id).order_by(Finding.position)
            ).first()
            for audit_id in (submitted_id, consultant_submitted_id)
        ]
        assert all(findings), findings
        link_id = share.create_share_link(db.session.get(Audit, submitted_id), owner.id, utcnow()).link.id
        db.session.commit()
    open_action = make.action(make.get(Audit, submitted_id), findings[0].item_key, by=owner)
    done_action = make.action(make.get(Audit, consultant_submitted_id), findings[1].item_key, by=owner)
    with app.app_context():
        actions.change_status(
            db.session.get(Action, done_action.id),
            access_for(owner.id, org.slug),
            "done",
            "The queue moved to the front desk",
            utcnow(),
            photo=small_jpeg(1),
            storage=LocalStorage(media),
        )
    rows = {
        "audits": [open_id, submitted_id, consultant_open_id, consultant_submitted_id],
        "photos": [open_photo, submitted_photo],
        "findings": [findings[0].id, findings[1].id],
        "actions": [open_action.id, done_action.id],
        "checklists": [checklist.id, shared_id],
        "share_links": [link_id],
        "client_links": [link.id],
        "client_invites": [consultancy["client_invite_id"]],
        "invites": [invite.invite.id, consultancy["invite_id"]],
        "memberships": [make.membership(org, manager).id, consultancy["membership_id"]],
        "sites": [site.id],
        "bundles": [consultancy["bundle_id"]],
    }
    return Side(org, consultancy["org"], rows, link.id, owner)


@dataclass
class World:
    own: Side  # business A and consultancy CA, both owned by `owner`
    other: Side  # business B and consultancy CB
    revoked: Side  # business R, served by CB until R's owner revoked the link (done by the test)
    owner: object  # owner of A and of CA: the one who sweeps in the first two cases
    consultant: object  # owner of CB: sweeps in the last two


@pytest.fixture
def world(app, make) -> World:
    owner = make.user(name="Ada Own")
    own_firm = consultancy_rows(app, make, "Own Advisory", owner=owner)
    own = business_side(app, make, "Own Bakery", own_firm, own_firm["manager"], owner=owner)
    other_firm = consultancy_rows(app, make, "Other Advisory")
    consultant = other_firm["owner"]
    other = business_side(app, make, "Other Dental", other_firm, consultant)
    revoked = business_side(app, make, "Revoked Vets", other_firm, consultant)
    world = World(own, other, revoked, owner, consultant)
    with app.app_context():
        for side in (own, other, revoked):
            check_rows_belong(side)
    return world


def check_rows_belong(side: Side) -> None:
    """Every id in a side's table is a row of that side's business or consultancy (in an app context)."""
    pair = {side.business.id, side.consultancy.id}
    get = db.session.get
    rows = side.rows
    assert all(get(Audit, i).org_id == side.business.id for i in rows["audits"])
    assert all(get(Photo, i).audit.org_id == side.business.id for i in rows["photos"])
    assert all(get(Finding, i).org_id == side.business.id for i in rows["findings"])
    assert all(get(Action, i).org_id == side.business.id for i in rows["actions"])
    assert all(get(Checklist, i).org_id in pair for i in rows["checklists"])
    assert all(get(ShareLink, i).org_id == side.business.id for i in rows["share_links"])
    assert all(
        (get(ClientLink, i).consultancy_id, get(ClientLink, i).client_id) == (side.consultancy.id, side.business.id)
        for i in rows["client_links"]
    )
    assert all(get(ClientInvite, i).consultancy_id == side.consultancy.id for i in rows["client_invites"])
    assert all(get(Invite, i).org_id in pair for i in rows["invites"])
    assert all(get(Membership, i).org_id in pair for i in rows["memberships"])
    assert all(get(Site, i).org_id == side.business.id for i in rows["sites"])
    assert all(get(ReportBundle, i).org_id == side.consultancy.id for i in rows["bundles"])
    assert set(rows) == set(ROW_KINDS)


def snapshot(app) -> dict:
    """Every row of every table, and every file in media storage."""
    with app.app_context():
        state = {
            table.name: sorted(repr(tuple(row)) for row in db.session.execute(select(table)))
            for table in db.metadata.sorted_tables
        }
    root = Path(app.config["MEDIA_ROOT"])
    state["(media files)"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    return state


def changes(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# The sweep -----------------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    requested: set  # (rule, method) pairs requested at least once
    failures: list[str]
    count: int = 0


def sweep_as(client, rules, slugs, rows, sweep: Sweep, *, own_rows=None, ids_only=False) -> None:
    """Request every rule under each slug. With `own_rows`, the slugs are the asker's own organizations and `rows`
    the other side's: all ids foreign, then (rules with two ids or more) one foreign id among their own."""
    for rule, method in rules:
        id_names = id_params_of(rule)
        if ids_only and not id_names:
            continue
        variants = [(rows, None, None)]
        if own_rows is not None and len(id_names) > 1:
            variants += [(own_rows, rows, name) for name in id_names]
        for slug in slugs:
            for base, foreign, vary in variants:
                for values in combinations(rule, base, foreign, vary):
                    path = path_for(rule, slug, values)
                    status = request(client, rule, method, path)
                    sweep.count += 1
                    sweep.requested.add((rule.rule, method, rule.endpoint))
                    allowed = {404, NOT_404.get((rule.endpoint, vary))} if vary else {404}
                    if status not in allowed:
                        label = f" (only {vary} foreign)" if vary else ""
                        sweep.failures.append(f"{method} {path} -> {status}{label} [{rule.endpoint}]")


def summary(requested) -> str:
    by_blueprint = Counter(endpoint.split(".", 1)[0] for _, _, endpoint in requested)
    return ", ".join(f"{name} {n}" for name, n in sorted(by_blueprint.items()))


CASES = ["other-slug", "own-slug-other-ids", "consultancy-non-client", "consultancy-revoked-client"]


@pytest.mark.parametrize("case", CASES)
def test_no_organization_page_opens_with_another_organizations_slug_or_rows(app, client, login, make, world, case):
    rules = org_rules(app)
    assert not unknown_params(rules), "URL parameters the sweep's table does not know:\n" + "\n".join(
        unknown_params(rules)
    )
    own, other, revoked = world.own, world.other, world.revoked
    own_slugs = [own.business.slug, own.consultancy.slug]
    other_slugs = [other.business.slug, other.consultancy.slug]
    sweep = Sweep(set(), [])
    expected = {(rule.rule, method, rule.endpoint) for rule, method in rules}

    if case == "consultancy-revoked-client":
        login(world.consultant)
        worked = control(client, rules, [revoked.business.slug], revoked.rows)
        for must in ("orgs.home", "audits.overview", "reports.report", "reports.report_pdf", "checklists.detail"):
            assert must in worked.opened, f"{must} did not open for the consultant before the revocation"
        with app.app_context():
            link = db.session.get(ClientLink, revoked.link_id)
            clients.revoke_link(access_for(revoked.owner.id, revoked.business.slug), link, utcnow())
            db.session.commit()

    if case in ("other-slug", "own-slug-other-ids"):
        login(world.owner)
    elif case == "consultancy-non-client":
        login(world.consultant)
    before = snapshot(app)  # after signing in, which opens a device session
    if case == "other-slug":
        sweep_as(client, rules, other_slugs, other.rows, sweep)
    elif case == "own-slug-other-ids":
        sweep_as(client, rules, own_slugs, other.rows, sweep, own_rows=own.rows, ids_only=True)
        skipped = sorted({rule.rule for rule, _ in rules if not id_params_of(rule)})
        expected = {(rule.rule, method, rule.endpoint) for rule, method in rules if id_params_of(rule)}
        print(f"\nown-slug-other-ids: {len(skipped)} rules without id parameters skipped:\n  " + "\n  ".join(skipped))
    elif case == "consultancy-non-client":
        sweep_as(client, rules, own_slugs, own.rows, sweep)
    else:
        sweep_as(client, rules, [revoked.business.slug], revoked.rows, sweep)
    after = snapshot(app)

    print(
        f"\n{case}: {sweep.count} requests over {len(sweep.requested)} (rule, method) pairs: {summary(sweep.requested)}"
    )
    assert sweep.requested == expected
    assert len(rules) >= MIN_ORG_RULES
    changed = changes(before, after)
    assert not sweep.failures and not changed, (
        f"{len(sweep.failures)} requests were not 404:\n"
        + "\n".join(sweep.failures)
        + f"\nthe sweep changed: {changed}"
    )


# The control: the same tables open pages for those who may see them --------------------------------------------


@dataclass
class Control:
    opened: set  # endpoints of GET rules that answered something other than 404
    closed: list  # GET rules that answered 404 to every combination
    errors: list  # 5xx answers


def control(client, rules, slugs, rows) -> Control:
    result = Control(set(), [], [])
    for rule, method in rules:
        if method != "GET":
            continue
        statuses = []
        for slug in slugs:
            for values in combinations(rule, rows):
                path = path_for(rule, slug, values)
                status = request(client, rule, method, path)
                statuses.append(status)
                if status >= 500:
                    result.errors.append(f"GET {path} -> {status}")
        if any(status != 404 for status in statuses):
            result.opened.add(rule.endpoint)
        else:
            result.closed.append(rule.rule)
    return result


@pytest.mark.parametrize("who", ["owner of A and CA", "CB's owner, consultant-manager in B"])
def test_the_swept_rows_open_their_pages_for_those_who_may_see_them(app, client, login, world, who):
    """Without this, a table of ids that open nothing would make every sweep pass."""
    if who == "owner of A and CA":
        login(world.owner)
        result = control(client, org_rules(app), [world.own.business.slug, world.own.consultancy.slug], world.own.rows)
    else:
        login(world.consultant)
        side = world.other
        result = control(client, org_rules(app), [side.business.slug, side.consultancy.slug], side.rows)
    assert not result.errors, result.errors
    assert not result.closed, f"GET rules that opened for nobody: {result.closed}"
    assert len(result.opened) >= 45  # every GET rule under /o/ (49 when written)


# Ids in form bodies ---------------------------------------------------------------------------------------------


def test_another_organizations_ids_in_a_form_body_are_refused(app, client, login, make, world):
    """The sweep fills URLs; the forms that take row ids in their body must refuse another organization's too."""
    own, other = world.own, world.other
    mine = {"checklist_id": own.rows["checklists"][0], "site_id": own.rows["sites"][0], "auditor_id": world.owner.id}
    audits_before = {org.id: make.count(Audit, org_id=org.id) for org in (own.business, other.business)}
    login(world.owner)
    new = f"/o/{own.business.slug}/audits/new"
    for name, foreign in (
        ("checklist_id", other.rows["checklists"][0]),  # B's own checklist
        ("checklist_id", other.rows["checklists"][1]),  # CB's checklist, shared with B only
        ("site_id", other.rows["sites"][0]),
        ("auditor_id", other.owner.id),
    ):
        assert status_of(client.post(new, data={**mine, name: foreign})) == 400, name
    bulk = f"/o/{own.consultancy.slug}/clients/audits"
    form = {"checklist_id": own.rows["checklists"][1], "auditor_id": world.owner.id}
    assert status_of(client.post(bulk, data={**form, "client_ids": [other.business.id]})) == 400
    assert status_of(client.post(bulk, data={**form, "checklist_id": other.rows["checklists"][1]})) == 400
    assert {org: make.count(Audit, org_id=org) for org in audits_before} == audits_before
    assert status_of(client.post(new, data=mine)) == 302  # the same form with the organization's own ids
    served = make.org("Served Only")  # a client the owner reaches only through CA's link
    make.site(served)
    make.client_link(own.consultancy, served)
    assert status_of(client.post(bulk, data={**form, "client_ids": [served.id]})) == 201
    assert make.count(Audit, org_id=own.business.id) == audits_before[own.business.id] + 1
    assert make.count(Audit, org_id=served.id) == 1


def status_of(response) -> int:
    with response:
        return response.status_code


# Routes outside /o/<org_slug> ----------------------------------------------------------------------------------

TOKEN_RULES = ("/r/<token>", "/serve/<token>", "/invite/<token>", "/password/reset/<token>", "/account/confirm/<token>")


def test_every_route_outside_organizations_takes_a_token_or_nothing(app):
    """Row ids appear only under /o/<org_slug>, where the sweep covers them; outside, a URL carries at most a token
    (share link, offer, invitation) and what that token opens, or a static file's name."""
    loose = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if not rule.rule.startswith(ORG_PREFIX)
        and rule.arguments
        and not rule.rule.startswith(TOKEN_RULES)
        and rule.endpoint != "static"
    ]
    assert loose == []


def test_share_links_open_their_own_report_and_nothing_of_another_organization(app, client, make, world):
    with app.app_context():
        own = share.create_share_link(db.session.get(Audit, world.own.rows["audits"][1]), None, utcnow())
        db.session.commit()
        own_photo = world.own.rows["photos"][1]  # a photo of the shared (submitted) audit
    other_photo = world.other.rows["photos"][1]
    visitor = app.test_client()
    token_rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/r/<token>")]
    assert len(token_rules) >= 5
    for rule in token_rules:
        unknown = path_for(rule, "", {"token": "A" * 43, "photo_id": own_photo, "rendition": "thumb"})
        asked = visitor.get(unknown) if "GET" in rule.methods else visitor.post(unknown)
        assert asked.status_code == 404, unknown
    working = f"/r/{own.token}"
    assert visitor.get(working).status_code == 200
    assert visitor.get(f"{working}/photos/{own_photo}/thumb.jpg").status_code == 200
    assert visitor.get(f"{working}/photos/{other_photo}/thumb.jpg").status_code == 404
    assert visitor.get(f"{working}/photos/{world.own.rows['photos'][0]}/thumb.jpg").status_code == 404  # same org
    with app.app_context():
        share.revoke_share_link(db.session.get(ShareLink, own.link.id), utcnow())
        db.session.commit()
    for rule in token_rules:
        revoked = path_for(rule, "", {"token": own.token, "photo_id": own_photo, "rendition": "thumb"})
        asked = visitor.get(revoked) if "GET" in rule.methods else visitor.post(revoked)
        assert asked.status_code == 404, revoked


def test_offer_links_of_unknown_withdrawn_or_used_tokens_are_404(app, client, login, make, world):
    firm = world.other.consultancy
    with app.app_context():
        actor = access_for(world.consultant.id, firm.slug)
        offers = [
            clients.invite_business(actor, role="consultant_auditor", email=None, now=utcnow(), lifetime=timedelta(1))
            for _ in range(3)
        ]
        clients.withdraw_client_invite(actor, db.session.get(ClientInvite, offers[1].invite.id), utcnow())
        db.session.commit()
    owner = make.user()
    business = make.org("Fresh Bakery")
    make.member(business, Role.OWNER, user=owner)
    login(owner)
    assert client.get(f"/serve/{offers[0].token}").status_code == 200
    assert client.post(f"/serve/{offers[0].token}", data={"client_id": business.id}).status_code == 302
    for token in (offers[0].token, offers[1].token, "A" * 43, "short"):  # used, withdrawn, unknown, malformed
        assert client.get(f"/serve/{token}").status_code == 404, token
        assert client.post(f"/serve/{token}", data={"client_id": business.id}).status_code == 404, token
    assert make.count(ClientLink, consultancy_id=firm.id, client_id=business.id) == 1
    assert make.find(ClientInvite, id=offers[2].invite.id).accepted_at is None


def test_team_invitation_links_of_unknown_or_withdrawn_tokens_are_404(app, client, login, make, world):
    org = world.other.business
    with app.app_context():
        actor = access_for(world.other.owner.id, org.slug)
        live = create_invite(actor, role=Role.AUDITOR, email=None, now=utcnow(), lifetime=timedelta(days=7))
        gone = create_invite(actor, role=Role.AUDITOR, email=None, now=utcnow(), lifetime=timedelta(days=7))
        db.session.get(Invite, gone.invite.id).revoked_at = utcnow()
        db.session.commit()
    stranger = make.user()
    login(stranger)
    assert client.get(f"/invite/{live.token}").status_code == 200
    for token in (gone.token, "A" * 43, "short"):
        assert client.get(f"/invite/{token}").status_code == 404, token
        assert client.post(f"/invite/{token}").status_code == 404, token
    assert make.count(Membership, user_id=stranger.id) == 0


# Views load rows only through the access layer ------------------------------------------------------------------

SHOPPER = Path(__file__).resolve().parent.parent / "shopper"
ROUTE_DECORATORS = {"route", "get", "post", "put", "patch", "delete"}
#: the access layer itself, the one module that may build an organization's queries for views
ACCESS_LAYER = SHOPPER / "orgs" / "access.py"


def view_modules() -> list[Path]:
    """Every module under shopper/ that declares a route, but the access layer."""
    found = []
    for path in sorted(SHOPPER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        decorators = (
            decorator.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
        )
        if path != ACCESS_LAYER and any(name in ROUTE_DECORATORS for name in decorators):
            found.append(path)
    return found


def dotted(node: ast.AST) -> str:
    """`db.session.get` for the expression db.session.get; '' for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def raw_queries(path: Path) -> list[str]:
    """file:line of each query a module builds by itself: db.session.get/query, db.select, Model.query, and any
    call of a name imported from sqlalchemy (select, text, update, ...)."""
    label = path.relative_to(SHOPPER.parent) if path.is_relative_to(SHOPPER.parent) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    from_sqlalchemy = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy"
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        name = ""
        if isinstance(node, ast.Call):
            called = dotted(node.func)
            if called in ("db.session.get", "db.session.query", "db.select") or called in from_sqlalchemy:
                name = called
        elif isinstance(node, ast.Attribute) and node.attr == "query":
            owner = dotted(node.value)
            if owner[:1].isupper() or owner == "db.session":
                name = f"{owner}.query"
        if name:
            found.append(f"{label}:{node.lineno}: {name}")
    return sorted(found, key=lambda line: (line.split(":")[0], int(line.split(":")[1])))


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scan below cannot pass by looking at nothing: it sees each kind of query it forbids."""
    sample = tmp_path / "views.py"
    sample.write_text(
        "from sqlalchemy import select as pick, text\n"
        "a = db.session.get(Audit, 1)\n"
        "b = db.session.scalar(pick(Audit))\n"
        "c = Audit.query.all()\n"
        "d = db.session.execute(db.select(Audit))\n"
        "e = db.session.execute(text('SELECT 1'))\n"
        "f = db.session.scalars(scoped(Audit))\n"
        "g = request.args.get('query')\n",
        encoding="utf-8",
    )
    found = [line.split(": ", 1)[1] for line in raw_queries(sample)]
    assert found == ["db.session.get", "pick", "Audit.query", "db.select", "text"]
    modules = {str(path.relative_to(SHOPPER)) for path in view_modules()}
    assert {"audits/views.py", "audits/api.py", "reports/views.py", "checklists/editor_views.py"} <= modules
    assert len(modules) >= 13


def test_views_load_rows_only_through_the_access_layer_or_query_functions():
    """A view that builds its own query can forget the organization; views parse, authorize through
    shopper/orgs/access.py (get_or_404, scoped, with parent= for child rows), call a service or query function of
    the package that owns the data, and render."""
    found = [line for path in view_modules() for line in raw_queries(path)]
    assert not found, f"{len(found)} queries built in views:\n" + "\n".join(found)


def test_no_template_global_or_context_processor_runs_behind_a_views_back():
    """A template global (or context processor) queries while the template renders, where the view cannot see or
    count it; the view that renders a page computes its data and passes it."""
    hooks = re.compile(r"\b(?:app_)?(?:template_global|context_processor)\b|add_template_global|jinja_env\.globals")
    found = [
        f"{path.relative_to(SHOPPER.parent)}:{number}"
        for path in sorted(SHOPPER.rglob("*.py"))
        if path not in PURE_TEMPLATE_GLOBALS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if hooks.search(line)
    ]
    assert found == []


#: Modules whose template globals cannot query: import-linter's "domain" contract keeps them away from Flask and the
#: database session (the item types' registry: what each type looks like, the same on every page).
PURE_TEMPLATE_GLOBALS = {SHOPPER / "checklists" / "items" / "__init__.py"}
