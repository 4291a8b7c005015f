"""Every form and JSON endpoint of the app, fuzzed as an attacker would: every answer is below 500, and a refused
request changes nothing.

The endpoints are found at run time. For each kind of person (an owner of a business and of its consultancy, an
auditor, a consultant of that consultancy, and a visitor who is not signed in) the sweep first opens every page
it may open (every GET rule of `app.url_map`, with the rows of a fully populated world) and reads the forms of
those pages: their real field names, the values they send by default and the choices they offer. It also notes
which query values each page reads (the request's query dictionary is watched while the pages are drawn), and
the query strings of the pages' links. Empty fields get what a person would type (TYPED), so a form passes as
drawn and its mutations reach the services. A form the world's pages do not show (a retry after a failed PDF)
and the phone's JSON API are described in tables below.

Then hypothesis mutates each form from its real default: texts with control characters, NUL, lone surrogates
(sent as the bytes a careless encoder writes), bidi controls and lengths past every limit; numbers too big for any
column, negative, NaN and Infinity; values from the wrong choice, missing fields, repeated fields and extra ones;
bodies sent as JSON, as text, with no content type, as broken multipart, with invalid UTF-8, a field over the
form memory limit or a declared length over MAX_CONTENT_LENGTH; URL ids too big for a database integer and URL
segments of the same nasty text; nasty User-Agent, Accept-Language and device cookies. Usually one field
changes and the rest stay as drawn. The JSON API gets bodies of every JSON type, malformed and deeply nested
JSON, and bad, missing, repeated and reused Idempotency-Keys. A body over a limit must get 413 (or an answer
given before it is read, such as "sign in first").

Each case runs in a SAVEPOINT of the test's rolled-back transaction that is rolled back afterwards, so every case
starts from the same world and a successful write (a member removed, an audit submitted) does not leak into the
next. A refused case (any 4xx) must leave every table as it was: the statements the request sent are watched,
and when it sent a write the tables are compared with the world's snapshot; the media files are compared too.

A write rule (POST, PUT, PATCH, DELETE) that no page's form and no table fills fails the sweep, and so does a page
that reads query values without being fuzzed: coverage cannot shrink silently when routes are added.
`SHOPPER_FUZZ_SCALE=10` runs ten times the cases, for a deeper sweep than `make test` affords.
"""

from __future__ import annotations

import copy
import os
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select

from shopper.accounts import service as accounts
from shopper.accounts import sessions
from shopper.accounts.models import DeviceSession
from shopper.actions.models import Action
from shopper.audits.models import Audit, Photo, SyncOp
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist
from shopper.clients import service as clients
from shopper.extensions import db, limiter
from shopper.jobs import huey
from shopper.orgs.access import access_for
from shopper.orgs.models import LinkRole, Role, Site
from shopper.reports import share
from shopper.timeutil import utcnow
from tests import fuzz
from tests.conftest import session_id_for
from tests.factories import PASSWORD
from tests.test_access_sweep import (
    PLACEHOLDER,
    business_side,
    changes,
    combinations,
    consultancy_rows,
    path_for,
    png,
    snapshot,
    started_with_photo,
)
from tests.test_checklists_editor import ALL_TYPES
from tests.test_reports_support import generated_value, small_jpeg, walk_and_submit

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
HOST = "shopper.test"
PEOPLE = ("owner", "consultant", "auditor", "visitor")
#: settings per person: the owner and the visitor see the pages as a server that sends mail draws them
CONFIG = {"owner": {"MAIL_SERVER": "mail.invalid"}, "visitor": {"MAIL_SERVER": "mail.invalid"}}
#: more cases everywhere for a deeper sweep than `make test` can afford: SHOPPER_FUZZ_SCALE=10
SCALE = float(os.environ.get("SHOPPER_FUZZ_SCALE", "1"))
#: cases per endpoint and person; the JSON API and the richest forms get more (EXTRA), the people whose pages
#: mostly repeat the owner's fewer
EXAMPLES = {"owner": 12, "consultant": 5, "auditor": 5, "visitor": 16}
EXTRA = {
    "accounts.login": 4,  # signing in (and up, and in by a link) stores what the browser says about itself
    "accounts.signup": 3,
    "accounts.reset_password": 2,
    "orgs_public.accept_invite": 2,
    "audits_api.put_answer": 6,
    "audits_api.put_visit": 4,
    "audits_api.post_photo": 4,
    "audits_api.patch_photo": 3,
    "checklist_editor.new_item": 3,
    "checklist_editor.edit_item": 3,
    "checklists.import_file": 3,
    "reports.brand": 2,
    "audits.new": 2,
    "clients.bulk_audits": 2,
}
#: query pages are cheap to ask and parse many values each
QUERY_EXTRA = 3
#: what a body over a limit may get: 413, or an answer given before the body is read (sign in first, no such page,
#: not allowed, slow down; signing out reads nothing)
ANSWERED_UNREAD = {302, 401, 403, 404, 405, 413, 429}
#: (endpoint, status) answers to a refused case that may write, each with its reason
WRITES_WHEN_REFUSED = {
    # a wrong password is counted, so that guessing is throttled (shopper/accounts/service.py, authenticate)
    ("accounts.login", 400): {"login_attempt"},
}


# The world ------------------------------------------------------------------------------------------------------


@dataclass
class World:
    business: object
    consultancy: object
    people: dict[str, object]  # person -> user (the visitor has none)
    rows: dict[str, list]  # row kind -> ids, as in test_access_sweep
    tokens: dict[str, dict]  # public rule -> the values of its placeholders
    api: dict[str, list[tuple[int, str]]]  # person -> (audit in progress they may change, one of its photos)
    reused_keys: list[str]  # Idempotency-Keys already used, by this audit and by others
    extra_pages: list[str]  # pages beyond the rows' own


def _photo_of(audit_id: int) -> str:
    return db.session.scalar(select(Photo.id).where(Photo.audit_id == audit_id).limit(1))


def build_world(app, make) -> World:
    """A business served by its owner's consultancy, with every kind of row (test_access_sweep's side), plus an
    auditor with an audit of their own, an audit on a checklist with every item type, an action assigned to the
    auditor, a client without an owner yet, a draft with unpublished changes and a live token for every public
    link."""
    owner = make.user(name="Ada Owner")
    firm = consultancy_rows(app, make, "Fuzz Advisory", owner=owner)
    side = business_side(app, make, "Fuzz Bakery", firm, firm["manager"], owner=owner)
    business, consultancy, rows = side.business, side.consultancy, side.rows
    consultant = firm["manager"]
    auditor = make.member(business, Role.AUDITOR, user=make.user(name="Ali Auditor"))
    site = make.get(Site, rows["sites"][0])
    own_checklist = make.get(Checklist, rows["checklists"][0])
    every_type = make.checklist(business, by=owner, definition=ALL_TYPES)
    everything_audit = make.audit(business, owner, checklist=every_type, site=site)
    auditor_audit, auditor_photo = started_with_photo(app, make, business, auditor, own_checklist, site)
    forgetful = make.user(name="Fay Forgetful")
    make.member(make.org("Second Shop"), Role.OWNER, user=owner)  # a business CA does not serve: it can accept
    now = utcnow()
    with app.app_context():
        actor = access_for(owner.id, consultancy.slug)
        clients.create_client(actor, name="Corner Shop", site_name="High Street", now=now)
        offer = clients.invite_business(
            actor, role=LinkRole.CONSULTANT_MANAGER, email=None, now=now, lifetime=timedelta(days=7)
        )
        draft = db.session.get(Checklist, own_checklist.id)
        changed = copy.deepcopy(draft.draft)
        changed["title"] += " (new wording)"
        checklists.save_draft(draft, changed)
        db.session.get(Action, rows["actions"][0]).assignee_id = auditor.id
        reset = accounts.request_reset(forgetful.email, now, timedelta(hours=2))
        shared = share.create_share_link(db.session.get(Audit, rows["audits"][1]), owner.id, now)
        db.session.commit()
        confirm = accounts.verification_token(forgetful, app.config["SECRET_KEY"])
        owner_open, consultant_open = rows["audits"][0], rows["audits"][2]
        api = {
            "owner": [(owner_open, rows["photos"][0]), (everything_audit.id, str(uuid.uuid4()))],
            "auditor": [(auditor_audit, auditor_photo)],
            "consultant": [(consultant_open, _photo_of(consultant_open))],
        }
        reused = db.session.scalars(select(SyncOp.op_id).limit(3)).all()
        unplanned = walk_and_submit(business.id, owner.id, every_type.id, site.id, app.config["MEDIA_ROOT"])
    invite = make.invite(business, by=owner)
    tokens = {
        "/invite/<token>": {"token": invite.token},
        "/serve/<token>": {"token": offer.token},
        "/password/reset/<token>": {"token": reset.token},
        "/account/confirm/<token>": {"token": confirm},
        "/r/<token>": {"token": shared.token, "photo_id": rows["photos"][1], "rendition": "thumb"},
    }
    people = {"owner": owner, "consultant": consultant, "auditor": auditor}
    extra_pages = [f"/o/{business.slug}/actions/audits/{unplanned}"]  # findings without actions yet
    return World(business, consultancy, people, rows, tokens, api, list(reused), extra_pages)


# Watching the request -------------------------------------------------------------------------------------------


class Watch:
    """Query names a request reads, and whether it sent a statement that writes."""

    reads: set[str] | None = None
    writes = 0


def _read(name) -> None:
    if Watch.reads is not None:
        Watch.reads.add(str(name))


def watching_args(request_class):
    """The app's request class, with a query dictionary that records the names a view asks it for."""
    storage = request_class.parameter_storage_class

    class WatchedArgs(storage):
        def __getitem__(self, key):
            _read(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            _read(key)
            return super().__contains__(key)

        def getlist(self, key, type=None):
            _read(key)
            return super().getlist(key, type=type)

        def to_dict(self, flat=True):
            _read("*")
            return super().to_dict(flat)

    return type("WatchedRequest", (request_class,), {"parameter_storage_class": WatchedArgs})


def _count_writes(conn, cursor, statement, parameters, context, executemany):
    if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
        Watch.writes += 1


def media_files(app) -> list[str]:
    root = Path(app.config["MEDIA_ROOT"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# What each person's pages offer ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One endpoint to fuzz for one person: the forms that post to it, or the query pages that ask it."""

    endpoint: str
    method: str
    rule: object
    forms: list = field(default_factory=list)  # fuzz.PageForm
    query_names: set = field(default_factory=set)
    query_paths: list = field(default_factory=list)  # (path, query string) the pages really use


@dataclass
class Discovery:
    targets: dict = field(default_factory=dict)  # (endpoint, method) -> Target
    reads: dict = field(default_factory=dict)  # GET endpoint -> query names it read

    def target(self, adapter, path: str, method: str) -> Target | None:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except Exception:
            return None  # a link or form outside the app's rules (none should be)
        key = (rule.endpoint, method)
        if key not in self.targets:
            self.targets[key] = Target(rule.endpoint, method, rule)
        return self.targets[key]


def page_paths(app, world: World, slugs: list[str]) -> list[str]:
    """Every GET URL of the app for these organizations (pages, files, JSON), with the world's rows and tokens."""
    paths = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if rule.rule.startswith("/o/<org_slug>"):
            for slug in slugs:
                paths += [path_for(rule, slug, values) for values in combinations(rule, world.rows)]
        elif rule.arguments:
            values = next((v for prefix, v in world.tokens.items() if rule.rule.startswith(prefix)), None)
            if values is not None:
                paths.append(path_for(rule, "", values))
        else:
            paths.append(rule.rule)
    return paths + (world.extra_pages if slugs else [])


#: What a person types into the empty fields of a page, by field name (a prefix like "f12-" aside): a form that
#: passes validation as it is reaches the services, and the mutations start from there.
TYPED = {
    "email": "{owner_email}",
    "password": PASSWORD,
    "current": PASSWORD,
    "new": "a brand new passphrase for 2026",
    "confirm": "a brand new passphrase for 2026",
    "name": "Ana Lima",
    "org_name": "Harbour Bakery",
    "site_name": "Quay Street",
    "title": "Answer the phone within a minute",
    "prompt": "Did a person answer?",
    "reason": "The note on the queue was missing",
    "scenario": "A first-time customer with a question about the bill",
    "address": "1 Harbour Street",
    "due_on": "2031-06-30",
}


def filled(form: fuzz.PageForm, world: World) -> fuzz.PageForm:
    owner_email = world.people["owner"].email
    fields = []
    for name, value in form.fields:
        typed = TYPED.get(name.rsplit("-", 1)[-1])
        fields.append((name, value or (typed.format(owner_email=owner_email) if typed else "")))
    form.fields = fields
    return form


def discover(app, client_for, world: World, slugs: list[str]) -> Discovery:
    """Open every page as the person and read its forms, its links' query strings and the query names it reads."""
    found = Discovery()
    adapter = app.url_map.bind(HOST)
    for path in page_paths(app, world, slugs):
        limiter.reset()
        Watch.reads = set()
        with client_for().get(path) as response:
            html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
            status = response.status_code
        reads, Watch.reads = Watch.reads, None
        assert status < 500, f"GET {path} -> {status}"
        target = found.target(adapter, path, "GET")
        if reads and target is not None:
            found.reads.setdefault(target.endpoint, set()).update(reads)
            target.query_names |= reads
            if status == 200:
                target.query_paths.append((path, ""))
        if status != 200 or not html:
            continue
        for form in fuzz.forms_of(html, path):
            target = found.target(adapter, form.action, form.method)
            if target is None:
                continue
            if form.method == "GET":
                target.query_names |= set(form.names())
                target.query_paths.append((form.action, fuzz.urlencode(form.fields)))
            elif len(target.forms) < 2 and form.action not in {f.action for f in target.forms}:
                target.forms.append(filled(form, world))
        for link_path, query in fuzz.links_of(html, path):
            target = found.target(adapter, link_path, "GET")
            if target is not None:
                target.query_names |= {part.split("=", 1)[0] for part in query.split("&")}
                target.query_paths.append((link_path, query))
    return found


# Forms and requests the pages do not show -----------------------------------------------------------------------

#: Write rules whose form the world's pages do not draw, with the fields it carries and why it is not drawn.
UNDRAWN_FORMS = {
    # the "Try again" button appears only after a PDF failed to render
    "reports.report_pdf_retry": ("/o/{business}/audits/{submitted}/report.pdf/retry", []),
    "reports_public.pdf_retry": ("/r/{share}/report.pdf/retry", []),
}


def undrawn_form(world: World, endpoint: str) -> fuzz.PageForm:
    template, fields = UNDRAWN_FORMS[endpoint]
    path = template.format(
        business=world.business.slug, submitted=world.rows["audits"][1], share=world.tokens["/r/<token>"]["token"]
    )
    return fuzz.PageForm(action=path, method="POST", multipart=False, fields=list(fields), page="(table)")


# Strategies -----------------------------------------------------------------------------------------------------

GOOD_FILES = (small_jpeg(0), png())
#: checklist files an importer might get: a valid one, and valid JSON that is no checklist
IMPORT_FILES = (
    fuzz.json_body(ALL_TYPES),
    b"touchpoint,title,channel,key,type,prompt\nphone,Call,phone,a,check,Did they answer?\n",
    fuzz.json_body({"title": "x", "touchpoints": [{"key": "k", "items": [{"type": "rating", "scale": 10**40}]}]}),
    b'{"title": "Deep", "touchpoints": [' + b"[" * 900 + b"]" * 900 + b"]}",
)


def path_variants(adapter, rule, path: str) -> list[str]:
    """The same URL with one of its values replaced by an id too big for an id column, or by nasty text."""
    try:
        _, values = adapter.match(path, method=next(iter(rule.methods - {"HEAD", "OPTIONS"})))
    except Exception:
        return []
    variants = []
    for name in PLACEHOLDER.findall(rule.rule):
        if isinstance(values.get(name), int):
            bad_values = ["9" * 25, str(2**63), str(2**31), "0"]  # past each database's integers
        else:
            bad_values = [fuzz.path_segment(text) for text in ("\u202e", "\x00", "²", "a" * 300)]
        for bad in bad_values:
            changed = {**values, name: bad}
            variants.append(path_for(rule, changed.pop("org_slug", ""), changed))
    return variants


_PATHS: dict = {}


def paths(adapter, rule, path: str) -> st.SearchStrategy[str]:
    if (rule.rule, path) not in _PATHS:
        variants = path_variants(adapter, rule, path)
        # mostly the real URL: a broken one is refused before anything else in the case is looked at
        _PATHS[rule.rule, path] = st.sampled_from([path] * 5 + variants) if variants else st.just(path)
    return _PATHS[rule.rule, path]


HOW = st.sampled_from(["keep", "keep", "text", "sharp", "choice", "drop", "repeat", "empty"])
CHANGE = st.sampled_from(["text", "sharp", "sharp", "choice", "drop", "repeat", "empty"])
SHARP = st.sampled_from(fuzz.SHARP)
EXTRA_FIELDS = st.lists(st.tuples(fuzz.field_names(), fuzz.texts()), max_size=2)


@st.composite
def field_values(draw, names, defaults: dict, choices: dict) -> list[tuple[str, str]]:
    """Usually one field changed and the others as the page sends them (so the change gets past the other fields'
    validation), sometimes every field at once, with a few fields nobody asked for. A field is changed to any
    text, to one of the sharpest values, to another of its choices, dropped, emptied or repeated."""
    only = draw(st.sampled_from([*names, *names, None])) if names else None
    pairs = []
    for name in names:
        default = defaults.get(name, [])
        how = "keep" if only is not None and name != only else draw(HOW if only is None else CHANGE)
        if how == "keep":
            values = default
        elif how == "text":
            values = [draw(fuzz.texts())]
        elif how == "sharp":
            values = [draw(SHARP)]
        elif how == "choice":
            values = [draw(st.sampled_from(choices[name]))] if choices.get(name) else default
        elif how == "drop":
            values = []
        elif how == "repeat":
            values = [*default, draw(fuzz.texts()), *default]
        else:
            values = [""]
        pairs += [(name, value) for value in values]
    return pairs + (draw(EXTRA_FIELDS) if only is None else [])


OTHER_TRANSPORTS = [
    "json",
    "text/plain",
    "no content type",
    "invalid utf-8",
    "malformed multipart",
    "field over the memory limit",
    "declared length over the limit",
]
URLENCODED_TRANSPORTS = st.sampled_from([*["urlencoded"] * 6, "multipart", *OTHER_TRANSPORTS])
OPTIONAL_IMAGES = st.one_of(st.none(), fuzz.uploads(GOOD_FILES))
OPTIONAL_IMPORTS = st.one_of(st.none(), fuzz.uploads(IMPORT_FILES))
MULTIPART_TRANSPORTS = st.sampled_from([*["multipart"] * 6, "urlencoded", *OTHER_TRANSPORTS])
MALFORMED_MULTIPART = st.sampled_from(fuzz.MALFORMED_MULTIPART)
MALFORMED_JSON = st.sampled_from(fuzz.MALFORMED_JSON)


EXTRA_HEADERS = fuzz.extra_headers(sessions.DEVICE_COOKIE)


def with_headers(draw, case: fuzz.Case) -> fuzz.Case:
    headers, cookies = draw(EXTRA_HEADERS)
    case.headers = [*case.headers, *headers]
    case.cookies = [*case.cookies, *cookies]
    return case


@st.composite
def form_cases(draw, adapter, rule, forms, limits: tuple[int, int], query_names=()) -> fuzz.Case:
    """A form's fields (see field_values), mostly sent as its page sends them, else in one of OTHER_TRANSPORTS.
    `limits`: MAX_CONTENT_LENGTH and MAX_FORM_MEMORY_SIZE."""
    max_length, max_form = limits
    form = draw(st.sampled_from(forms))
    defaults = {}
    for name, value in form.fields:
        defaults.setdefault(name, []).append(value)
    pairs = draw(field_values([n for n in form.names() if n not in form.files], defaults, form.choices))
    files = []
    for name in form.files:
        good = IMPORT_FILES if rule.endpoint == "checklists.import_file" else GOOD_FILES
        upload = draw(OPTIONAL_IMPORTS if good is IMPORT_FILES else OPTIONAL_IMAGES)
        if upload is not None:
            files.append((name, upload))
    query = ""
    if query_names:
        query = fuzz.urlencode(draw(field_values(sorted(query_names), {}, {})))
    case = fuzz.Case(form.method, draw(paths(adapter, rule, form.action)), query=query)
    transport = draw(MULTIPART_TRANSPORTS if form.multipart else URLENCODED_TRANSPORTS)
    case.label = transport
    case.over_limit = transport in ("declared length over the limit", "field over the memory limit")
    if transport == "urlencoded" or transport == "declared length over the limit":
        case.body, case.content_type = fuzz.urlencode(pairs).encode(), "application/x-www-form-urlencoded"
        if transport != "urlencoded":
            case.content_length = max_length + 1
    elif transport == "multipart":
        case.body, case.content_type = fuzz.multipart(pairs, files)
    elif transport == "json":
        case.body, case.content_type = fuzz.json_body(dict(pairs) or draw(fuzz.json_values())), "application/json"
    elif transport == "text/plain":
        case.body, case.content_type = fuzz.urlencode(pairs).encode(), "text/plain"
    elif transport == "no content type":
        case.body = fuzz.urlencode(pairs).encode()
    elif transport == "invalid utf-8":
        case.body = b"\xff\xfe=\xc3\x28&" + fuzz.urlencode(pairs).encode() + b"&name=\xed\xa0\x80\x80"
        case.content_type = "application/x-www-form-urlencoded"
    elif transport == "malformed multipart":
        case.body, case.content_type = draw(MALFORMED_MULTIPART)
    else:
        big = [*form.fields, ("note", "n" * (max_form + 1))]  # as drawn: a broken body would never be read
        if draw(st.booleans()):
            case.body, case.content_type = fuzz.urlencode(big).encode(), "application/x-www-form-urlencoded"
        else:
            case.body, case.content_type = fuzz.multipart(big)
    return with_headers(draw, case)


@st.composite
def query_cases(draw, adapter, rule, target: Target) -> fuzz.Case:
    """A query page asked with the query of one of its links or forms, changed as field_values changes a form."""
    path, query = draw(st.sampled_from(target.query_paths))
    defaults = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        defaults.setdefault(name, []).append(value)
    pairs = draw(field_values(sorted((target.query_names - {"*"}) | set(defaults)), defaults, {}))
    case = fuzz.Case("GET", draw(paths(adapter, rule, path)), query=fuzz.urlencode(pairs), label="query")
    return with_headers(draw, case)


# The phone's JSON API -------------------------------------------------------------------------------------------


JSON_TRANSPORTS = st.sampled_from(
    [
        *["json"] * 6,
        "any json",
        "malformed",
        "malformed",
        "deep",
        "text/plain",
        "no content type",
        "charset",
        "too large",
    ]
)
DEEP = st.sampled_from([b"[" * 1000 + b"]" * 1000, b'{"a":' * 5000, b"[" * 60_000])
PAYLOAD_HOW = st.sampled_from(["keep", "keep", "any", "drop"])
PAYLOAD_CHANGE = st.sampled_from(["any", "any", "drop"])


def json_transports(draw, case: fuzz.Case, body: dict, max_json: int = 64 * 1024) -> fuzz.Case:
    transport = draw(JSON_TRANSPORTS)
    case.label = transport
    case.content_type = "application/json"
    if transport in ("json", "charset", "text/plain", "no content type"):
        case.body = fuzz.json_body(body)
        case.content_type = {
            "charset": "application/json; charset=latin-1",
            "text/plain": "text/plain",
            "no content type": None,
        }.get(transport, "application/json")
    elif transport == "any json":
        case.body = fuzz.json_body(draw(fuzz.json_values()))
    elif transport == "malformed":
        case.body = draw(MALFORMED_JSON)
    elif transport == "deep":
        case.body = draw(DEEP)
    else:
        case.body = fuzz.json_body({**body, "note": "n" * (max_json + 1)})
    return case


@st.composite
def payloads(draw, baseline: dict) -> dict:
    """The baseline body with one key (or each key) kept, dropped or given any JSON value; and maybe a key nobody
    expects."""
    only = draw(st.sampled_from([*baseline, *baseline, None])) if baseline else None
    body = {}
    for name, value in baseline.items():
        how = "keep" if only is not None and name != only else draw(PAYLOAD_HOW if only is None else PAYLOAD_CHANGE)
        if how == "keep":
            body[name] = value
        elif how == "any":
            body[name] = draw(fuzz.json_values())
    if only is None and draw(st.booleans()):
        body[draw(fuzz.texts())] = draw(fuzz.json_values())
    return body


_KEYS: dict = {}


def api_headers(draw, world: World) -> list[tuple[str, str]]:
    reused = tuple(world.reused_keys)
    if reused not in _KEYS:
        _KEYS[reused] = fuzz.idempotency_keys(st.builds(lambda: uuid.uuid4().hex), list(reused))
    keys = draw(_KEYS[reused])
    return [("Idempotency-Key", key.encode("utf-8", "surrogatepass").decode("latin-1")) for key in keys or []]


SEGMENTS = fuzz.texts().map(fuzz.path_segment)


def _segment(draw, valid: list[str]) -> str:
    return draw(st.one_of(st.sampled_from(valid), SEGMENTS))


@dataclass
class ApiSpec:
    """How to fill one JSON API rule, for an audit the person may change."""

    method: str
    build: Callable  # (draw, world, base path, definition, photo id) -> Case


def _answer(draw, world, base, definition, photo_id):
    items = {item["key"]: item for tp in definition["touchpoints"] for item in tp["items"]}
    key = _segment(draw, list(items))
    item = items.get(key)
    value = generated_value(item, 0) if item else "yes"
    body = draw(payloads({"value": value, "note": "", "flagged": False, "client_ts": 1_763_800_000_000}))
    case = fuzz.Case("PUT", f"{base}/answers/{key}", headers=api_headers(draw, world))
    return json_transports(draw, case, body)


def _visit(draw, world, base, definition, photo_id):
    key = _segment(draw, [tp["key"] for tp in definition["touchpoints"]])
    body = draw(payloads({"effort": 3, "promise_kept": True, "note": "", "client_ts": 1_763_800_000_000}))
    case = fuzz.Case("PUT", f"{base}/touchpoints/{key}", headers=api_headers(draw, world))
    return json_transports(draw, case, body)


PHOTO_UPLOADS = st.one_of(st.just(fuzz.Upload("photo.jpg", "image/jpeg", small_jpeg(2))), fuzz.uploads(GOOD_FILES))


def _photo_upload(draw, world, base, definition, photo_id):
    touchpoint = definition["touchpoints"][0]
    defaults = {
        "id": [str(uuid.uuid4())],
        "touchpoint_key": [touchpoint["key"]],
        "item_key": [touchpoint["items"][0]["key"]],
        "caption": ["The queue"],
    }
    choices = {"id": [photo_id, photo_id.upper(), "not-a-uuid"], "touchpoint_key": ["nowhere"]}
    pairs = draw(field_values(list(defaults), defaults, choices))
    upload = draw(PHOTO_UPLOADS)
    name = draw(st.sampled_from(["file", "file", "photo", "file"]))
    case = fuzz.Case("POST", f"{base}/photos", headers=api_headers(draw, world))
    transport = draw(st.sampled_from(["multipart", "multipart", "malformed multipart", "json", "no file"]))
    case.label = transport
    if transport == "multipart":
        case.body, case.content_type = fuzz.multipart(pairs, [(name, upload)])
    elif transport == "no file":
        case.body, case.content_type = fuzz.multipart(pairs)
    elif transport == "json":
        case.body, case.content_type = fuzz.json_body(dict(pairs)), "application/json"
    else:
        case.body, case.content_type = draw(MALFORMED_MULTIPART)
    return case


def _caption(draw, world, base, definition, photo_id):
    target = _segment(draw, [photo_id, photo_id.upper(), str(uuid.uuid4())])
    body = draw(payloads({"caption": "At the desk"}))
    return json_transports(draw, fuzz.Case("PATCH", f"{base}/photos/{target}", headers=api_headers(draw, world)), body)


def _delete(draw, world, base, definition, photo_id):
    target = _segment(draw, [photo_id, str(uuid.uuid4())])
    return fuzz.Case("DELETE", f"{base}/photos/{target}", headers=api_headers(draw, world), label="delete")


def _submit(draw, world, base, definition, photo_id):
    case = fuzz.Case("POST", f"{base}/submit", headers=api_headers(draw, world))
    return json_transports(draw, case, draw(payloads({})))


API = {
    "audits_api.put_answer": ApiSpec("PUT", _answer),
    "audits_api.put_visit": ApiSpec("PUT", _visit),
    "audits_api.post_photo": ApiSpec("POST", _photo_upload),
    "audits_api.patch_photo": ApiSpec("PATCH", _caption),
    "audits_api.delete_photo": ApiSpec("DELETE", _delete),
    "audits_api.submit": ApiSpec("POST", _submit),
}


@st.composite
def api_cases(draw, world: World, spec: ApiSpec, targets: list) -> fuzz.Case:
    audit_id, photo_id, definition, slug = draw(st.sampled_from(targets))
    base = f"/o/{slug}/api/audits/{audit_id}"
    return with_headers(draw, spec.build(draw, world, base, definition, photo_id))


# The sweep ------------------------------------------------------------------------------------------------------


@dataclass
class Sweep:
    app: object
    connection: object
    baseline: dict
    fuzzed: set = field(default_factory=set)  # (endpoint, method)
    cases: int = 0
    compared: int = 0  # refused cases that sent a write, compared with the world table by table
    errors: list = field(default_factory=list)  # one line per endpoint that answered >= 500
    changed: list = field(default_factory=list)  # refused cases that changed something
    statuses: Counter = field(default_factory=Counter)

    def run(self, person: str, target_key, strategy, client_for, examples: int) -> None:
        endpoint, method = target_key
        self.fuzzed.add(target_key)

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case=strategy)
        def one(case):
            self.attempt(endpoint, case, client_for)

        try:
            one()
        except Failure as failure:
            (self.changed if failure.changed else self.errors).append(f"{person}: {endpoint} {method}: {failure}")

    def attempt(self, endpoint: str, case: fuzz.Case, client_for) -> None:
        self.cases += 1
        limiter.reset()
        huey.flush()
        client = client_for()
        media_before = media_files(self.app)
        Watch.writes = 0
        savepoint = self.connection.begin_nested()
        try:
            try:
                with case.send(client) as response:
                    status = response.status_code
            except Exception as error:
                line = traceback.format_exception(error)[-2].strip().splitlines()[0]
                message = str(error).splitlines()[0][:300] if str(error) else ""
                raise Failure(f"{type(error).__name__}: {message} ({line})\n    {case.describe()}") from None
            self.statuses[status // 100 * 100] += 1
            if case.over_limit and status not in ANSWERED_UNREAD:
                raise Failure(f"{status} to a body over the limit, which was read\n    {case.describe()}")
            if status >= 500:
                raise Failure(f"{status}\n    {case.describe()}")
            if 400 <= status < 500:
                changed = []
                if Watch.writes:
                    self.compared += 1
                    allowed = WRITES_WHEN_REFUSED.get((endpoint, status), set())
                    changed = [t for t in changes(self.baseline, self.tables()) if t not in allowed]
                if media_files(self.app) != media_before:
                    changed.append("(media files)")
                if changed:
                    raise Failure(f"{status} but changed {changed}\n    {case.describe()}", changed=True)
        finally:
            if savepoint.is_active:
                savepoint.rollback()

    def tables(self) -> dict:
        state = snapshot(self.app)
        state.pop("(media files)")
        return state


class Failure(Exception):
    def __init__(self, message: str, changed: bool = False):
        super().__init__(message)
        self.changed = changed


def signed_in(app, identifier: str | None):
    """A new client for each case (no cookie or flashed message of the previous case), signed in as the person."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = None
    if identifier:
        first = app.test_client()
        with first.session_transaction() as session:
            session["_user_id"] = identifier
            session["_fresh"] = True
        cookie = first.get_cookie(name, domain=HOST)
        assert cookie is not None

    def make():
        client = app.test_client()
        if cookie is not None:
            client.set_cookie(name, cookie.value, domain=HOST)
        return client

    return make


def write_rules(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods & WRITE_METHODS
        if rule.endpoint != "static"
    }


def fuzz_person(sweep: Sweep, app, world: World, person: str, identifier: str | None) -> Discovery:
    client_for = signed_in(app, identifier)
    slugs = {
        "owner": [world.business.slug, world.consultancy.slug],
        "consultant": [world.consultancy.slug, world.business.slug],
        "auditor": [world.business.slug],
        "visitor": [],
    }[person]
    savepoint = sweep.connection.begin_nested()  # opening pages writes a little (visits, positions): undone
    try:
        found = discover(app, client_for, world, slugs)
    finally:
        savepoint.rollback()
    adapter = app.url_map.bind(HOST)
    limits = (app.config["MAX_CONTENT_LENGTH"], app.config["MAX_FORM_MEMORY_SIZE"])
    examples = EXAMPLES[person]
    reads = found.reads
    for endpoint in UNDRAWN_FORMS:
        key = (endpoint, "POST")
        if key not in found.targets or not found.targets[key].forms:
            target = found.target(adapter, undrawn_form(world, endpoint).action, "POST")
            target.forms.append(undrawn_form(world, endpoint))
    for key, target in sorted(found.targets.items()):
        endpoint, method = key
        if method == "GET":
            if not target.query_names or not target.query_paths:
                continue
            strategy = query_cases(adapter, target.rule, target)
        elif target.forms:
            query_names = reads.get(endpoint, set()) - {"*"}
            strategy = form_cases(adapter, target.rule, target.forms, limits, query_names)
        else:
            continue
        factor = EXTRA.get(endpoint, QUERY_EXTRA if method == "GET" else 1)
        sweep.run(person, key, strategy, client_for, max(1, round(examples * SCALE * factor)))
    for endpoint, spec in API.items():
        audits = []
        with app.app_context():
            for audit_id, photo_id in world.api.get(person, []):
                audit = db.session.get(Audit, audit_id)
                audits.append((audit_id, photo_id, audit.definition, audit.org.slug))
        if audits:
            factor = EXTRA.get(endpoint, 2)
            sweep.run(
                person,
                (endpoint, spec.method),
                api_cases(world, spec, audits),
                client_for,
                round(examples * SCALE * factor) or 1,
            )
    return found


@contextmanager
def watched(app) -> Iterator[Sweep]:
    """A sweep over the test's connection, with the query dictionary and the written statements watched."""
    with app.app_context():
        connection = db.session.get_bind()
        engine = db.engine
    original_request = app.request_class
    app.request_class = watching_args(original_request)
    event.listen(engine, "before_cursor_execute", _count_writes)
    try:
        sweep = Sweep(app, connection, {})
        sweep.baseline = sweep.tables()
        yield sweep
    finally:
        event.remove(engine, "before_cursor_execute", _count_writes)
        app.request_class = original_request


def test_every_form_and_json_endpoint_answers_below_500_and_a_refusal_changes_nothing(app, make, capsys):
    started = time.monotonic()
    world = build_world(app, make)
    identifiers = {person: session_id_for(app, user) for person, user in world.people.items()}
    reads = {}
    with watched(app) as sweep:
        for person in PEOPLE:
            saved = {name: app.config.get(name) for name in CONFIG.get(person, {})}
            app.config.update(CONFIG.get(person, {}))
            try:
                found = fuzz_person(sweep, app, world, person, identifiers.get(person))
            finally:
                app.config.update(saved)
            for endpoint, names in found.reads.items():
                reads.setdefault(endpoint, set()).update(names)

    unfilled = sorted(write_rules(app) - sweep.fuzzed)
    unasked = sorted(endpoint for endpoint in reads if (endpoint, "GET") not in sweep.fuzzed)
    writes = len(sweep.fuzzed & write_rules(app))
    queries = len({e for e, m in sweep.fuzzed if m == "GET"})
    with capsys.disabled():
        print(
            f"\nfuzz: {writes} write rules and {queries} query pages fuzzed as {len(PEOPLE)} kinds of person, "
            f"{sweep.cases} cases in {time.monotonic() - started:.0f} s, {len(sweep.errors)} endpoints answered "
            f">= 500, {len(sweep.changed)} of {sweep.compared} refusals that wrote changed data; "
            f"statuses {dict(sorted(sweep.statuses.items()))}"
        )
    assert not unfilled, f"write rules the fuzzer does not know how to fill: {unfilled}"
    assert not unasked, f"pages that read query values and were not fuzzed: {unasked}"
    assert not sweep.errors, "\n".join(sweep.errors)
    assert not sweep.changed, "\n".join(sweep.changed)


# The sweep's own checks -----------------------------------------------------------------------------------------


def test_the_sweep_notices_a_refusal_that_writes(app, make):
    """A wrong password is refused (400) and counted (a write): with that allowance taken away, the sweep must
    report the refusal as a change, or it could never report one."""
    user = make.user()
    body = fuzz.urlencode([("email", user.email), ("password", "not the password")]).encode()
    case = fuzz.Case("POST", "/login", body=body, content_type="application/x-www-form-urlencoded")
    with watched(app) as sweep:
        sweep.attempt("accounts.login", case, signed_in(app, None))  # allowed: the failure is counted
        allowances = dict(WRITES_WHEN_REFUSED)
        WRITES_WHEN_REFUSED.clear()
        try:
            with pytest.raises(Failure, match=r"400 but changed \['login_attempt'\]"):
                sweep.attempt("accounts.login", case, signed_in(app, None))
        finally:
            WRITES_WHEN_REFUSED.update(allowances)
    assert sweep.compared == 2


# The 500s the sweep found, each fixed ---------------------------------------------------------------------------


def owner_of_an_org(make, login):
    owner = make.user()
    org = make.org()
    make.member(org, Role.OWNER, user=owner)
    login(owner)
    return owner, org


def test_a_multipart_part_without_a_name_is_no_field(client):
    """Werkzeug names such a part None, and cleaning its name failed: every form answered 500 to it."""
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"
    response = client.post("/login", data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400
    assert b"Enter your email address." in response.data


def test_an_id_no_id_column_can_hold_is_404(client, login, make):
    """`/sites/2147483648` was a 500 on PostgreSQL (integer out of range), `/sites/<9 x 25>` on both databases."""
    _, org = owner_of_an_org(make, login)
    site = make.site(org)
    assert client.get(f"/o/{org.slug}/sites/{site.id}").status_code == 200
    for too_big in (2**31, 2**63, 10**25):
        assert client.get(f"/o/{org.slug}/sites/{too_big}").status_code == 404
        assert client.post(f"/o/{org.slug}/sites/{too_big}/archive").status_code == 404
    assert client.get(f"/o/{org.slug}/sites/{2**31 - 1}").status_code == 404  # the largest id: no such row


@pytest.mark.parametrize("body", [b"false", b"[1, 2]", b'"text"', b"12", b'{"name": ["a", {"b": null}]}'])
def test_a_json_body_sent_to_a_form_is_no_form(client, login, make, body):
    """Flask-WTF made a form of a JSON body; anything but an object of strings was a 500."""
    _, org = owner_of_an_org(make, login)
    response = client.post(f"/o/{org.slug}/sites", data=body, content_type="application/json")
    assert response.status_code == 400
    assert make.count(Site, org_id=org.id) == 0


@pytest.mark.parametrize("body", [b"[" * 5000, b'{"a":' * 3000, b"[" * 900 + b"]" * 900])
def test_json_nested_past_any_of_ours_is_malformed(client, login, make, body):
    """Python's JSON parser, and the cleaning after it, recurse per level: a few KB of brackets were a 500."""
    owner, org = owner_of_an_org(make, login)
    audit = make.audit(org, owner)
    response = client.put(
        f"/o/{org.slug}/api/audits/{audit.id}/answers/answer-time",
        data=body,
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 400
    assert response.json["error"].startswith("Send a JSON object")


@pytest.mark.parametrize("assignee", [str(2**31), "9" * 25])
def test_an_assignee_id_no_id_column_can_hold_is_nobody_we_know(client, login, make, assignee):
    owner, org = owner_of_an_org(make, login)
    audit = make.submitted_audit(org, owner, {"answer-time": 300})
    response = client.post(f"/o/{org.slug}/actions/audits/{audit.id}/all", data={"all-assignee_id": assignee})
    assert response.status_code in (400, 422)
    assert make.count(Action, audit_id=audit.id) == 0


def test_a_url_encoded_form_over_the_form_memory_limit_is_413(app, client, login, make):
    """Werkzeug limits each text part of a multipart form but reads a URL-encoded body whole, up to the 25 MB
    meant for photos."""
    _, org = owner_of_an_org(make, login)
    too_long = {"name": "Quay", "address": "x" * (app.config["MAX_FORM_MEMORY_SIZE"] + 1)}
    parts = "".join(f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in too_long.items())
    for body, content_type in (
        (urlencode(too_long), "application/x-www-form-urlencoded"),
        (parts + "--b--\r\n", "multipart/form-data; boundary=b"),
    ):
        assert client.post(f"/o/{org.slug}/sites", data=body, content_type=content_type).status_code == 413
    assert make.count(Site, org_id=org.id) == 0
    assert client.post(f"/o/{org.slug}/sites", data={"name": "Quay", "address": "1 Quay"}).status_code == 302


def test_a_user_agent_with_control_characters_signs_in_and_is_stored_clean(app, client, make):
    """A NUL in the User-Agent made signing in a 500 on PostgreSQL (it stores no NUL in text)."""
    user = make.user()
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers={"User-Agent": "Chrome\x00\x01 on Android"}
    )
    assert response.status_code == 302
    with app.app_context():
        stored = db.session.scalars(select(DeviceSession.user_agent).filter_by(user_id=user.id)).one()
    assert stored == "Chrome  on Android"  # the run of controls is one space
