"""One commit rule (shopper/transactions.py): the request, the CLI command or the job commits once, at its end;
service functions only flush; `database.write_transaction()` is the one deliberate short unit of work besides.
And a GET changes nothing, except where this file says why.

The GET sweep asks every GET rule of the app, as several people (owner, manager, auditor, a consultant of a client,
nobody signed in), with the rows of the access sweep's world, and records every INSERT, UPDATE and DELETE the
database receives meanwhile. A new GET that writes fails it, with the endpoint and the table.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, select

from shopper.accounts import service as accounts
from shopper.audits.models import Audit
from shopper.clients import service as clients
from shopper.errors import MESSAGES
from shopper.extensions import db
from shopper.orgs.access import access_for
from shopper.orgs.models import LinkRole, Membership, Role
from shopper.reports import share
from shopper.timeutil import utcnow
from shopper.transactions import unit_of_work
from tests import test_access_sweep as access_sweep
from tests import test_disk_full as disk_full
from tests.conftest import make_app, session_id_for
from tests.test_access_sweep import ORG_PREFIX, combinations, path_for, request
from tests.test_backup import committed_rows

world = access_sweep.world  # the access sweep's two sides, fully populated
volume, instance_on = disk_full.volume, disk_full.instance_on  # a small real volume, and an instance on it

SHOPPER = Path(__file__).resolve().parent.parent / "shopper"

#: The only functions that commit: the boundary (transactions.py) and the short units of work (database.py).
COMMITTERS = {
    ("transactions.py", "_commit"),
    ("database.py", "write_transaction"),
    ("database.py", "end_reading"),
}

#: GETs that write on purpose, with the tables they may write and why.
GET_WRITES = {
    # The assigned auditor opening a prepared audit starts the walk (status, "started" event); the walk page
    # remembers where the auditor is, so "Continue" resumes there. Both are the visit itself: a prefetch by the
    # service worker is no visit and writes nothing (tests/test_pwa.py).
    "audits.overview": {"audit", "audit_event"},
    "audits.walk": {"audit", "audit_event"},
    # A download that finds no fresh PDF records what it asked for and enqueues the render job (the page shows
    # "being prepared"); a request whose PDF is ready is cleared. Nothing else is written.
    "reports.report_pdf": {"report_request"},
    "reports_public.pdf_download": {"report_request"},
    # The mailed confirmation link is a GET by nature: opening it is the proof that the address reads its mail.
    "accounts.confirm_email": {"user"},
}

WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


# Who commits ----------------------------------------------------------------------------------------------------


def _session_calls(tree: ast.AST, method: str):
    """(line, enclosing function) of every `<...>session.<method>(` call."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == method
                and ast.unparse(child.func.value).endswith("session")
            ):
                found.append((child.lineno, function))
            visit(child, name)

    visit(tree, None)
    return found


def test_only_the_boundary_and_write_transaction_commit():
    stray = []
    committers = set()
    for path in sorted(SHOPPER.rglob("*.py")):
        relative = path.relative_to(SHOPPER).as_posix()
        for line, function in _session_calls(ast.parse(path.read_text(), str(path)), "commit"):
            if (relative, function) in COMMITTERS:
                committers.add((relative, function))
            else:
                stray.append(f"shopper/{relative}:{line} ({function}) commits")
    assert not stray, "Service functions flush; the request, command or job commits:\n" + "\n".join(stray)
    assert committers == COMMITTERS  # the scan finds the commits that are there


def test_views_do_not_roll_back_by_hand():
    """An answer of 400 or more rolls the request back (transactions.Shopper.dispatch_request)."""
    stray = [
        f"shopper/{path.relative_to(SHOPPER).as_posix()}:{line} ({function}) rolls back"
        for path in sorted(SHOPPER.rglob("*views.py"))
        for line, function in _session_calls(ast.parse(path.read_text(), str(path)), "rollback")
    ]
    assert not stray, "\n".join(stray)


# The request boundary -------------------------------------------------------------------------------------------


@pytest.fixture
def boundary_app(tmp_path, app, database) -> Flask:
    """An app on the suite's database with three routes of its own: one that writes and succeeds, one that writes
    and answers 422, one that writes and raises."""
    from shopper.accounts.models import User

    probe = make_app(tmp_path, DATABASE_URL=app.config["DATABASE_URL"])

    def write(name: str) -> None:
        db.session.add(User(email=f"{name}@probe.example", name=name, password_hash="x"))
        db.session.flush()

    def ok():
        write("ok")
        return "saved", 201

    def refused():
        write("refused")
        return "refused", 422

    def raises():
        write("raises")
        raise LookupError("the view failed after it wrote")

    probe.add_url_rule("/_probe/ok", "ok", ok, methods=["POST"])
    probe.add_url_rule("/_probe/refused", "refused", refused, methods=["POST"])
    probe.add_url_rule("/_probe/raises", "raises", raises, methods=["POST"])
    return probe


def test_a_request_commits_success_and_rolls_back_errors(boundary_app, make):
    from shopper.accounts.models import User

    client = boundary_app.test_client()
    assert client.post("/_probe/ok").status_code == 201
    assert client.post("/_probe/refused").status_code == 422
    with pytest.raises(LookupError):
        client.post("/_probe/raises")
    assert make.count(User, email="ok@probe.example") == 1
    assert make.count(User, email="refused@probe.example") == 0
    assert make.count(User, email="raises@probe.example") == 0


def test_a_commit_that_fails_at_the_boundary_still_gets_its_answer(instance_on, volume):
    """A form's row reaches the disk only when the request commits: with the volume full, that commit fails inside
    the dispatch, so the app's handler answers 507 (not a 500), and nothing is saved until there is room."""
    from shopper.orgs.models import Site

    with committed_rows(instance_on) as make:
        org = make.org()
        owner = make.member(org, Role.OWNER)
    client = instance_on.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(instance_on, owner)
    form = {"name": "Harbour Street", "address": "1 Quay"}
    volume.fill()
    refused = client.post(f"/o/{org.slug}/sites", data=form)
    assert refused.status_code == 507 and MESSAGES[507] in refused.get_data(as_text=True)
    volume.free()
    assert make.count(Site, org_id=org.id) == 0
    assert client.post(f"/o/{org.slug}/sites", data=form).status_code == 302
    assert make.count(Site, org_id=org.id) == 1


def test_a_job_queued_during_a_request_is_queued_only_after_its_commit(app, ctx):
    from shopper.jobs import huey
    from shopper.mail import deliver

    huey.flush()
    with pytest.raises(RuntimeError), unit_of_work():
        deliver("someone@example.com", "Hello", "Never sent: the work rolled back.")
        raise RuntimeError
    assert huey.pending_count() == 0
    with unit_of_work():
        deliver("someone@example.com", "Hello", "Sent once the work committed.")
        assert huey.pending_count() == 0
    assert huey.pending_count() == 1
    huey.flush()


# GET requests do not write ----------------------------------------------------------------------------------------


class Writes:
    def __init__(self):
        self.label: str | None = None
        self.found: dict[str, set] = defaultdict(set)

    def __call__(self, _conn, _cursor, statement, *_args):
        match = WRITE.match(statement)
        if match and self.label is not None:
            self.found[self.label].add(match.group(1))


def _get_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint != "static"),
        key=lambda rule: rule.rule,
    )


def _tokens(app, world) -> dict:
    """A working token for each kind of link outside /o/ (share link, offer, invitation, reset, confirmation)."""
    own = world.own
    with app.app_context():
        shared = share.create_share_link(db.session.get(Audit, own.rows["audits"][1]), None, utcnow())
        offer = clients.invite_business(
            access_for(world.consultant.id, world.other.consultancy.slug),
            role=LinkRole.CONSULTANT_MANAGER,
            email=None,
            now=utcnow(),
            lifetime=timedelta(days=7),
        )
        from shopper.orgs.service import create_invite

        invite = create_invite(
            access_for(world.owner.id, own.business.slug),
            role=Role.AUDITOR,
            email=None,
            now=utcnow(),
            lifetime=timedelta(days=7),
        )
        reset = accounts.request_reset(world.owner.email, utcnow(), timedelta(hours=2))
        confirm = accounts.verification_token(
            db.session.get(type(world.owner), world.owner.id), app.config["SECRET_KEY"]
        )
        db.session.commit()
    return {
        "/r/": shared.token,
        "/serve/": offer.token,
        "/invite/": invite.token,
        "/password/reset/": reset.token,
        "/account/confirm/": confirm,
    }


def _values_for(rule, side, tokens) -> list[dict]:
    if rule.rule.startswith(ORG_PREFIX):
        return list(combinations(rule, side.rows))
    if "token" not in rule.arguments:
        return [{}] if not rule.arguments else []
    token = next(value for prefix, value in tokens.items() if rule.rule.startswith(prefix))
    if rule.rule.startswith("/r/"):
        photo = side.rows["photos"][1]
        return [{"token": token, "photo_id": photo, "rendition": "thumb"}]
    return [{"token": token}]


def _member(app, org, role: str):
    with app.app_context():
        user_id = db.session.scalar(
            select(Membership.user_id).where(Membership.org_id == org.id, Membership.role == role).limit(1)
        )
    return user_id


def test_no_get_request_writes_but_the_documented_ones(app, login, make, world):
    tokens = _tokens(app, world)
    own, other = world.own, world.other
    manager = make.get(type(world.owner), _member(app, own.business, Role.MANAGER))
    auditor = make.get(type(world.owner), _member(app, own.business, Role.AUDITOR))
    personas = [
        ("nobody signed in", None, own),
        ("owner of A and CA", world.owner, own),
        ("manager of A", manager, own),
        ("auditor of A", auditor, own),
        ("CB's owner, consultant-manager in B", world.consultant, other),
    ]
    rules = _get_rules(app)
    writes = Writes()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", writes)
    asked = 0
    errors = []
    try:
        for who, user, side in personas:
            client = app.test_client()  # a browser of this person's own
            if user is not None:
                login(user, on=client)
            slugs = [side.business.slug, side.consultancy.slug]
            for rule in rules:
                for values in _values_for(rule, side, tokens):
                    for slug in slugs if rule.rule.startswith(ORG_PREFIX) else [""]:
                        path = path_for(rule, slug, values)
                        writes.label = rule.endpoint
                        status = request(client, rule, "GET", path)
                        writes.label = None
                        asked += 1
                        if status >= 500:
                            errors.append(f"{who}: GET {path} -> {status}")
    finally:
        event.remove(engine, "before_cursor_execute", writes)
    unexpected = {
        endpoint: sorted(tables - GET_WRITES.get(endpoint, set()))
        for endpoint, tables in writes.found.items()
        if tables - GET_WRITES.get(endpoint, set())
    }
    print(f"\n{asked} GET requests over {len(rules)} rules; writes seen: {dict(writes.found)}")
    assert not errors, errors
    assert asked > 200
    assert not unexpected, f"GET requests that wrote (endpoint: tables): {unexpected}"
