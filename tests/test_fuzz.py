"""Requests that were answered with a 500 (found by fuzzing every form and JSON endpoint), each now refused
with a clear answer."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from shopper.accounts.models import DeviceSession
from shopper.actions.models import Action
from shopper.extensions import db
from shopper.orgs.models import Role, Site
from tests.factories import PASSWORD


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


def test_an_id_beyond_a_64_bit_integer_is_404(client, login, make):
    """SQLite's driver cannot bind such an int: `/sites/<9 x 25>` was a 500."""
    _, org = owner_of_an_org(make, login)
    site = make.site(org)
    assert client.get(f"/o/{org.slug}/sites/{site.id}").status_code == 200
    for too_big in (2**63, 10**25):
        assert client.get(f"/o/{org.slug}/sites/{too_big}").status_code == 404
        assert client.post(f"/o/{org.slug}/sites/{too_big}/archive").status_code == 404
    assert client.get(f"/o/{org.slug}/sites/{2**63 - 1}").status_code == 404  # the largest id: no such row


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


def test_an_assignee_id_beyond_a_64_bit_integer_is_nobody_we_know(client, login, make):
    owner, org = owner_of_an_org(make, login)
    audit = make.submitted_audit(org, owner, {"answer-time": 300})
    response = client.post(f"/o/{org.slug}/actions/audits/{audit.id}/all", data={"all-assignee_id": "9" * 25})
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
