"""Text is cleaned once at the edge (shopper/text.py): what cannot be stored or shown never reaches the database,
on SQLite and on PostgreSQL, whether it comes in a form, a query string, a JSON body, a URL or an imported file."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shopper.audits.models import Answer
from shopper.orgs.models import Organization, Role, Site
from shopper.text import clean_line, clean_text, clean_value
from tests.factories import PASSWORD


def test_nul_and_control_characters_go_line_breaks_stay_in_text():
    assert clean_text("Rive\x00rside\x07 branch") == "Riverside branch"
    assert clean_text("first\r\nsecond\rthird\tcolumn") == "first\nsecond\nthird\tcolumn"


def test_lone_surrogates_become_the_replacement_character():
    assert clean_text("half \ud83d of a smile") == "half \ufffd of a smile"
    assert clean_text("a whole \U0001f600 smile") == "a whole \U0001f600 smile"


def test_text_is_nfc():
    assert clean_text("Cafe\u0301") == "Caf\u00e9"


def test_one_line_text_has_no_line_break_or_control_character():
    assert (
        clean_line("  Fix the queue\r\nBcc: everyone@example.com\u2028now ")
        == "Fix the queue Bcc: everyone@example.com now"
    )


def test_json_values_are_cleaned_keys_included():
    assert clean_value({"no\x00te": ["a\ud800", 1, None, True, {"k": "e\u0301"}]}) == {
        "note": ["a\ufffd", 1, None, True, {"k": "\u00e9"}]
    }


@given(st.text())
def test_cleaned_text_always_encodes_and_is_stable(value):
    cleaned = clean_text(value)
    cleaned.encode("utf-8")  # never raises: no lone surrogate is left
    assert "\x00" not in cleaned
    assert clean_text(cleaned) == cleaned


@given(st.text())
def test_a_cleaned_line_is_one_line(value):
    line = clean_line(value)
    assert "\n" not in line and "\r" not in line and not any(ord(c) < 32 for c in line)


# Through the app, on the real database ---------------------------------------------------------------------------


def test_a_nul_in_a_form_field_is_dropped_not_a_500(client, make, login):
    org = make.org()
    login(make.member(org, Role.MANAGER))
    response = client.post(f"/o/{org.slug}/sites", data={"name": "River\x00side", "address": "1 Quay\x00 Street"})
    assert response.status_code == 302
    site = make.find(Site, org_id=org.id)
    assert (site.name, site.address) == ("Riverside", "1 Quay Street")


def test_a_line_break_in_a_one_line_field_becomes_a_space(client, make, login):
    org = make.org()
    login(make.member(org, Role.MANAGER))
    client.post(f"/o/{org.slug}/sites", data={"name": "North\r\nBcc: x@example.com"})
    assert make.find(Site, org_id=org.id).name == "North Bcc: x@example.com"


def test_a_nul_in_the_sign_up_form_or_the_email_is_no_500(client, make):
    response = client.post(
        "/signup",
        data={
            "name": "Dana\x00",
            "email": "dana\x00@example.com",
            "password": "a long and fine sentence",
            "org_name": "Dana's\x00 Bakery",
            "org_kind": "business",
        },
    )
    assert response.status_code == 302
    assert make.find(Organization, name="Dana's Bakery") is not None


def test_a_lone_surrogate_in_a_json_note_is_stored_replaced_and_the_walk_still_opens(client, make, login):
    org = make.org()
    auditor = login(make.member(org, Role.AUDITOR))
    audit = make.audit(org, auditor)
    body = '{"value": 42, "note": "half a smile \\ud83d and a NUL \\u0000 here", "client_ts": 1700000000000}'
    response = client.put(
        f"/o/{org.slug}/api/audits/{audit.id}/answers/answer-time",
        data=body,
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert make.find(Answer, audit_id=audit.id, item_key="answer-time").note == "half a smile \ufffd and a NUL  here"
    walk = client.get(f"/o/{org.slug}/audits/{audit.id}/walk/billing-line")
    assert walk.status_code == 200 and "half a smile \ufffd" in walk.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/o/demo%00/", "/o/x/audits/1%00", "/invite/abc%00def", "/r/%00" + "A" * 42])
def test_a_control_character_in_a_url_segment_matches_nothing(client, path):
    assert client.get(path).status_code == 404


def test_a_nul_in_a_query_value_is_no_500(client, make, login):
    org = make.org()
    login(make.member(org, Role.MANAGER))
    assert client.get(f"/o/{org.slug}/audits/?status=sub%00mitted").status_code == 200
    signed_in = client.get("/login?next=/o%00/x")
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/o/x"


def test_a_nul_in_a_sign_in_email_is_no_500(client, make):
    user = make.user()
    response = client.post("/login", data={"email": user.email + "\x00", "password": PASSWORD})
    assert response.status_code == 302


def test_an_imported_checklist_is_cleaned_like_any_other_text(client, make, login):
    from io import BytesIO

    org = make.org()
    login(make.member(org, Role.MANAGER))
    definition = {
        "title": "Front\x00 desk \ud800check",
        "touchpoints": [
            {
                "key": "desk",
                "title": "The desk",
                "channel": "in-person",
                "items": [{"key": "greeted", "type": "check", "prompt": "Gree\x00ted?\r\nWithin a minute?"}],
            }
        ],
    }
    data = json.dumps(definition).encode()
    response = client.post(
        f"/o/{org.slug}/checklists/import",
        data={"file": (BytesIO(data), "desk.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    from shopper.checklists.models import Checklist, ChecklistVersion

    checklist = make.find(Checklist, org_id=org.id)
    assert checklist.title == "Front desk \ufffdcheck"
    version = make.get(ChecklistVersion, checklist.current_version_id)
    assert version.definition["touchpoints"][0]["items"][0]["prompt"] == "Greeted?\nWithin a minute?"
