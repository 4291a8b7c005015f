"""Issue 12: odd values in a page's query string. Every list answers 200 with a message and ignores the bad value
(or, for a checklist preview, 400 with the message), never a 500 and never a silently wrong filter.

The values: `²` (passes `str.isdigit()`, fails `int()`), a real id written in Arabic-Indic or fullwidth digits
(`int()` reads them, so the old parsers filtered on them without a word), a negative id, `1e3`, twenty digits,
dates outside 2000-2100 (`9999-12-31` plus one day overflowed), an empty value (means "all", no message) and a
parameter repeated with two values. Signed in as a manager throughout.
"""

from __future__ import annotations

import copy
import re
from html import unescape

import pytest

from shopper.orgs.models import Role
from tests.factories import SMALL_CHECKLIST

BAD = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
HUGE = "99999999999999999999"


@pytest.fixture
def world(make):
    """Two walks that every list tells apart: checklist one at Harbour Street by the first auditor, checklist two at
    Quay Street by the second, each with one action for its own auditor."""
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    first, second = make.member(org, Role.AUDITOR), make.member(org, Role.AUDITOR)
    other = copy.deepcopy(SMALL_CHECKLIST)
    other["title"] = "Front desk journey"
    checklists = make.checklist(org, by=owner), make.checklist(org, by=owner, definition=other)
    sites = make.site(org, "Harbour Street"), make.site(org, "Quay Street")
    audits = [
        make.submitted_audit(org, auditor, BAD, checklist=checklist, site=site)
        for auditor, checklist, site in zip((first, second), checklists, sites, strict=True)
    ]
    make.action(audits[0], "transfers", by=owner, assignee=first, title="Fix the harbour hand-offs")
    make.action(audits[1], "transfers", by=owner, assignee=second, title="Fix the quay hand-offs")
    return {
        "org": org,
        "manager": make.member(org, Role.MANAGER),
        "auditors": (first, second),
        "checklists": checklists,
        "sites": sites,
        "base": f"/o/{org.slug}",
        #: what tells each list's two rows apart (the filter menus name every site and checklist anyway)
        "rows": {
            "audits": tuple(f'href="/o/{org.slug}/audits/{audit.id}"' for audit in audits),
            "actions": ("Fix the harbour hand-offs", "Fix the quay hand-offs"),
        },
    }


def get(client, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


def flashes(page: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<p class="flash flash-error">(.*?)</p>', page)]


def odd(real_id: int) -> dict[str, str | list[str]]:
    """The odd spellings of an id (the real one's digits, so an old parser that read them filtered on them)."""
    return {
        "superscript": "²",
        "arabic-indic": str(real_id).translate(ARABIC),
        "fullwidth": str(real_id).translate(FULLWIDTH),
        "negative": f"-{real_id}",
        "exponent": "1e3",
        "huge": HUGE,
        "repeated": [str(real_id), str(real_id + 1)],
    }


KINDS = list(odd(1))
#: (list, parameter, which ids of the world it takes); the first id is the first row's
ID_FILTERS = [
    ("/audits/", "site", "sites"),
    ("/audits/", "checklist", "checklists"),
    ("/audits/", "auditor", "auditors"),
    ("/actions/", "assignee", "auditors"),
    ("/actions/", "site", "sites"),
    ("/dashboard/", "site", "sites"),
    ("/dashboard/", "checklist", "checklists"),
]


def shows(world, path: str, page: str) -> tuple[bool, bool]:
    """Whether the page shows the first and the second walk (the dashboard: by its count of walks)."""
    if path == "/dashboard/":
        one = "1 submitted walk " in page
        return ("2 submitted walks" in page or one, "2 submitted walks" in page)
    first, second = world["rows"][path.strip("/")]
    return first in page, second in page


def unfiltered(world, path: str, page: str) -> bool:
    return shows(world, path, page) == (True, True)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("path", "name", "ids"), ID_FILTERS)
def test_an_odd_id_in_a_filter_is_ignored_with_a_message(client, login, world, path, name, ids, kind):
    login(world["manager"])
    value = odd(world[ids][0].id)[kind]
    query = "&".join(f"{name}={v}" for v in value) if isinstance(value, list) else f"{name}={value}"
    status, page = get(client, f"{world['base']}{path}?{query}")
    assert status == 200
    expected = "Choose one" if kind == "repeated" else "Unknown"
    assert any(m.startswith(expected) and "showing" in m for m in flashes(page)), flashes(page)
    assert unfiltered(world, path, page)


@pytest.mark.parametrize(("path", "name", "ids"), ID_FILTERS)
def test_a_real_id_filters_and_an_empty_one_means_all(client, login, world, path, name, ids):
    """The other side: the same lists do filter on a plain id (also given twice), and say nothing."""
    login(world["manager"])
    real = world[ids][0].id
    for query in (f"{name}={real}", f"{name}={real}&{name}={real}"):
        status, page = get(client, f"{world['base']}{path}?{query}")
        assert status == 200 and flashes(page) == []
        assert shows(world, path, page) == (True, False), query
    status, page = get(client, f"{world['base']}{path}?{name}=")
    assert status == 200 and flashes(page) == [] and unfiltered(world, path, page)


DAYS = {
    "far future": "9999-12-31",
    "year one": "0001-01-01",
    "no such day": "2026-02-31",
    "arabic-indic": "2026-01-01".translate(ARABIC),
    "fullwidth": "2026-01-01".translate(FULLWIDTH),
    "compact": "20260101",
    "repeated": ["2026-01-01", "2026-01-02"],
}


@pytest.mark.parametrize("kind", list(DAYS))
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("path", ["/audits/", "/dashboard/"])
def test_an_odd_date_is_ignored_with_a_message(client, login, world, path, name, kind):
    login(world["manager"])
    value = DAYS[kind]
    query = "&".join(f"{name}={v}" for v in value) if isinstance(value, list) else f"{name}={value}"
    status, page = get(client, f"{world['base']}{path}?{query}")
    assert status == 200
    label = name.capitalize()
    if kind == "repeated":
        assert f"Choose one “{label}” date at a time" in " ".join(flashes(page))
    else:
        assert any(m.startswith(f"{label} “") for m in flashes(page)), flashes(page)
    assert unfiltered(world, path, page)


def test_dates_out_of_range_say_so_and_a_backwards_range_keeps_its_message(client, login, world):
    login(world["manager"])
    _, page = get(client, f"{world['base']}/dashboard/?from=1999-12-31&to=2101-01-01")
    assert flashes(page)[0].startswith("From “1999-12-31” is outside the years 2000 to 2100: showing")
    assert flashes(page)[1].startswith("To “2101-01-01” is outside the years 2000 to 2100: showing")
    _, page = get(client, f"{world['base']}/dashboard/?from=2026-05-01&to=2026-01-01")
    assert flashes(page) == ["The range ends before it starts: showing the last twelve months."]
    status, page = get(client, f"{world['base']}/dashboard/?from=2000-01-01&to=2100-12-31")
    assert status == 200 and flashes(page) == [] and "2 submitted walks" in page


@pytest.mark.parametrize("export", ["answers", "actions", "figures"])
@pytest.mark.parametrize(
    "query", ["site=²", "checklist=²", f"site={HUGE}", "to=9999-12-31", "from=0001-01-01", "from=2026-01-01&from=x"]
)
def test_the_csv_exports_fall_back_to_the_defaults(client, login, world, export, query):
    login(world["manager"])
    response = client.get(f"{world['base']}/dashboard/{export}.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    if export != "figures":
        lines = response.get_data(as_text=True)
        assert ("Harbour Street" in lines and "Quay Street" in lines) or "Fix the quay hand-offs" in lines


PAGES = {**odd(1), "zero": "0"}


@pytest.mark.parametrize("kind", list(PAGES))
def test_an_odd_page_shows_the_first_page_with_a_message(client, login, world, kind):
    login(world["manager"])
    value = PAGES[kind]
    query = "&".join(f"page={v}" for v in value) if isinstance(value, list) else f"page={value}"
    status, page = get(client, f"{world['base']}/actions/?{query}")
    assert status == 200
    assert any(m.endswith("showing the first page.") for m in flashes(page)), flashes(page)
    assert unfiltered(world, "/actions/", page)


def test_a_page_beyond_the_last_shows_the_last_page(client, login, world):
    login(world["manager"])
    for beyond in ("2", "2147483647"):
        status, page = get(client, f"{world['base']}/actions/?page={beyond}&site={world['sites'][1].id}")
        assert status == 200
        assert flashes(page) == [f"Page {beyond} does not exist: showing the last page."]
        assert "Fix the quay hand-offs" in page and "Fix the harbour hand-offs" not in page
    status, page = get(client, f"{world['base']}/actions/?page=")
    assert status == 200 and flashes(page) == []


def test_the_next_page_link_carries_only_the_filters_that_were_understood(client, login, make, world):
    from shopper.actions.models import Action
    from shopper.extensions import db

    with make.app.app_context():
        audit_id = db.session.query(Action).filter_by(title="Fix the quay hand-offs").one().audit_id
        db.session.add_all(
            Action(
                org_id=world["org"].id,
                audit_id=audit_id,
                touchpoint_key="billing-line",
                item_key=f"x{n}",
                title="Extra",
            )
            for n in range(60)
        )
        db.session.commit()
    login(world["manager"])
    site = world["sites"][1].id
    _, page = get(client, f"{world['base']}/actions/?site={site}&assignee=²&status=all")
    links = re.findall(r'href="([^"]*page=2[^"]*)"', page)
    assert links and all("assignee" not in unescape(link) and f"site={site}" in unescape(link) for link in links)


VERSIONS = {**odd(1), "zero": "0", "beyond an integer": "2147483648"}


@pytest.mark.parametrize("kind", list(VERSIONS))
def test_an_odd_version_in_a_preview_is_a_400_with_a_message(client, login, world, kind):
    login(world["manager"])
    value = VERSIONS[kind]
    query = "&".join(f"version={v}" for v in value) if isinstance(value, list) else f"version={value}"
    status, page = get(client, f"{world['base']}/checklists/{world['checklists'][0].id}/preview?{query}")
    assert status == 400
    assert "pick a version from the checklist&#39;s page" in page


def test_a_preview_shows_a_real_version_or_the_draft(client, login, world):
    login(world["manager"])
    base = f"{world['base']}/checklists/{world['checklists'][0].id}/preview"
    for query in ("version=1", "version=1&version=1", "", "version="):
        assert get(client, f"{base}?{query}")[0] == 200, query
    assert get(client, f"{base}?version=9")[0] == 404
    assert get(client, f"{base}?version=2147483647")[0] == 404  # the largest INTEGER: PostgreSQL compares it


@pytest.mark.parametrize("kind", KINDS)
def test_an_odd_checklist_in_the_start_link_is_ignored_with_a_message(client, login, world, kind):
    login(world["manager"])
    value = odd(world["checklists"][0].id)[kind]
    query = "&".join(f"checklist={v}" for v in value) if isinstance(value, list) else f"checklist={value}"
    status, page = get(client, f"{world['base']}/audits/new?{query}")
    assert status == 200
    assert any(m.endswith(": choose one below.") for m in flashes(page)), flashes(page)
    assert "selected" not in page.split('name="checklist_id"', 1)[1].split("</select>", 1)[0]


def test_a_real_checklist_in_the_start_link_is_chosen(client, login, world):
    login(world["manager"])
    checklist = world["checklists"][1].id
    status, page = get(client, f"{world['base']}/audits/new?checklist={checklist}")
    options = page.split('name="checklist_id"', 1)[1].split("</select>", 1)[0]
    assert status == 200 and flashes(page) == []
    assert re.search(rf'<option (selected value="{checklist}"|value="{checklist}" selected)', options)


def test_an_unknown_item_type_in_the_link_starts_with_a_check(client, login, world):
    login(world["manager"])
    base = f"{world['base']}/checklists/{world['checklists'][0].id}/touchpoints/billing-line/items/new"
    status, page = get(client, f"{base}?type=banana")
    assert status == 200 and flashes(page) == ["Unknown item type “banana”: starting with a check."]
    assert re.search(r'<option (selected value="check"|value="check" selected)', page)
    status, page = get(client, f"{base}?type=timer&type=photo")
    assert status == 200 and flashes(page) == ["Choose one item type at a time: starting with a check."]


def test_a_long_value_is_quoted_short(client, login, world):
    """Flashed messages travel in the session cookie: a long value must not make it too big to keep."""
    login(world["manager"])
    status, page = get(client, f"{world['base']}/audits/?status={'x' * 5000}")
    assert status == 200 and flashes(page) == [f"Unknown status “{'x' * 23}…”: showing every status."]


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example"])
def test_a_next_page_with_whitespace_goes_home(client, login, world, target):
    """Browsers drop tabs and line breaks from a URL: "/<tab>/evil.example" was a redirect to evil.example, and a
    line break in the Location header was a 500."""
    login(world["manager"])
    response = client.get(f"/login?next={target}")
    assert response.status_code == 302 and "evil" not in response.headers["Location"]
    assert client.get("/login?next=/orgs").headers["Location"] == "/orgs"
