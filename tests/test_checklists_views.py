import copy
import io as stdio
import json

import pytest

from shopper.checklists import io
from shopper.checklists.builtin import builtin_checklists
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.orgs.models import Role
from tests.factories import SMALL_CHECKLIST


@pytest.fixture
def team(make):
    org = make.org("Harbour Physio")
    other = make.org("Elsewhere Ltd")
    return {
        "org": org,
        "other": other,
        "owner": make.member(org, Role.OWNER),
        "manager": make.member(org, Role.MANAGER),
        "auditor": make.member(org, Role.AUDITOR),
        "stranger": make.member(other, Role.OWNER),
    }


def url(org, path=""):
    return f"/o/{org.slug}/checklists{path}"


def upload(data: bytes, name: str, title: str = ""):
    return {"file": (stdio.BytesIO(data), name), "title": title}


def test_list_shows_own_checklists_and_the_library(client, login, make, team):
    make.checklist(team["org"], by=team["owner"])
    make.checklist(team["other"], definition={**SMALL_CHECKLIST, "title": "Their secret journey"})
    login(team["auditor"])
    page = client.get(url(team["org"], "/")).get_data(as_text=True)
    assert "Billing line check" in page and "Their secret journey" not in page
    for builtin in builtin_checklists():
        assert builtin.definition["title"] in page
    assert "New checklist" not in page  # auditors do not edit


def test_copy_from_the_library_publishes_version_one(client, login, make, team):
    login(team["manager"])
    slug = builtin_checklists()[0].slug
    response = client.post(url(team["org"], f"/library/{slug}/copy"))
    assert response.status_code == 302
    checklist = make.find(Checklist, org_id=team["org"].id)
    version = make.find(ChecklistVersion, checklist_id=checklist.id)
    assert version.number == 1 and version.definition == builtin_checklists()[0].definition
    assert checklist.source == f"library:{slug}"
    assert version.changes[0].startswith("First version")


def test_library_pages(client, login, team):
    login(team["auditor"])
    slug = builtin_checklists()[1].slug
    assert client.get(url(team["org"], f"/library/{slug}")).status_code == 200
    assert client.get(url(team["org"], "/library/no-such-thing")).status_code == 404
    assert client.post(url(team["org"], f"/library/{slug}/copy")).status_code == 403


def test_new_checklist_starts_as_an_unpublished_draft(client, login, make, team):
    login(team["owner"])
    response = client.post(url(team["org"], "/new"), data={"title": "Renewing my plan", "description": ""})
    assert response.status_code == 302 and "/edit" in response.headers["Location"]
    checklist = make.find(Checklist, org_id=team["org"].id)
    assert checklist.draft == {"title": "Renewing my plan", "touchpoints": []}
    assert checklist.current_version_id is None
    assert client.post(url(team["org"], "/new"), data={"title": ""}).status_code == 400


def test_import_json_round_trips_exactly(client, login, make, team):
    login(team["manager"])
    definition = builtin_checklists()[0].definition
    response = client.post(url(team["org"], "/import"), data=upload(io.export_json(definition).encode(), "walk.json"))
    assert response.status_code == 302
    checklist = make.find(Checklist, org_id=team["org"].id)
    exported = client.get(url(team["org"], f"/{checklist.id}/versions/1.json"))
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    assert json.loads(exported.data) == definition
    assert exported.get_data(as_text=True) == io.export_json(definition)


def test_import_csv_needs_a_title_and_round_trips(client, login, make, team):
    login(team["manager"])
    csv_text = io.export_csv(SMALL_CHECKLIST).encode()
    refused = client.post(url(team["org"], "/import"), data=upload(csv_text, "journey.csv"))
    assert refused.status_code == 400 and b"give the checklist a title" in refused.data
    assert make.count(Checklist, org_id=team["org"].id) == 0
    assert (
        client.post(url(team["org"], "/import"), data=upload(csv_text, "journey.csv", "Billing line check")).status_code
        == 302
    )
    checklist = make.find(Checklist, org_id=team["org"].id)
    exported = client.get(url(team["org"], f"/{checklist.id}/versions/1.csv"))
    assert exported.mimetype == "text/csv"
    assert io.import_csv(exported.data, title="Billing line check") == io.import_csv(
        csv_text, title="Billing line check"
    )


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"{not json", "broken.json", b"line 1"),
        (
            json.dumps(
                {
                    **SMALL_CHECKLIST,
                    "touchpoints": [
                        {
                            **SMALL_CHECKLIST["touchpoints"][0],
                            "items": [{"key": "x", "type": "slider", "prompt": "Slide"}],
                        }
                    ],
                }
            ).encode(),
            "slider.json",
            b"slider",
        ),
        (b"touchpoint_key,title\nweb,Website\n", "short.csv", b"missing column"),
    ],
)
def test_bad_imports_are_refused_whole_with_every_problem(client, login, make, team, data, name, message):
    login(team["manager"])
    response = client.post(url(team["org"], "/import"), data=upload(data, name, "A title"))
    assert response.status_code == 400
    assert message in response.data
    assert make.count(Checklist, org_id=team["org"].id) == 0


def test_a_file_over_2_mb_is_refused_and_nothing_saved(ctx, make, team):
    """Called below the view: Werkzeug's test client spools a body this size to a file it never closes."""
    from shopper.checklists.schema import DefinitionError
    from shopper.checklists.service import import_checklist
    from shopper.timeutil import utcnow

    with pytest.raises(DefinitionError, match="2 MB"):
        import_checklist(
            team["org"].id, None, data=b" " * (2 * 1024 * 1024 + 1), filename="huge.json", title=None, now=utcnow()
        )
    assert make.count(Checklist, org_id=team["org"].id) == 0


def test_import_lists_every_problem_with_its_place(client, login, make, team):
    bad = copy.deepcopy(SMALL_CHECKLIST)
    items = bad["touchpoints"][0]["items"]
    items[0]["type"] = "slider"
    items.append(dict(items[1]))  # duplicate key "transfers"
    items[3]["show_if"] = {"item": "nowhere", "equals": "yes"}
    login(team["manager"])
    page = client.post(url(team["org"], "/import"), data=upload(json.dumps(bad).encode(), "bad.json")).get_data(
        as_text=True
    )
    assert "touchpoints[0].items[0].type" in page
    assert "transfers" in page and "nowhere" in page
    assert make.count(Checklist, org_id=team["org"].id) == 0


def test_publishing_makes_a_new_version_and_old_ones_stay_untouched(client, login, make, team, ctx):
    from shopper.checklists import service
    from shopper.extensions import db

    checklist = make.checklist(team["org"], by=team["owner"])
    login(team["manager"])
    nothing = client.post(url(team["org"], f"/{checklist.id}/publish"))
    assert nothing.status_code == 302
    changed = copy.deepcopy(SMALL_CHECKLIST)
    changed["touchpoints"][0]["promise"] = "A person answers within thirty seconds"
    service.save_draft(db.session.get(Checklist, checklist.id), changed)
    assert client.post(url(team["org"], f"/{checklist.id}/publish")).status_code == 302
    versions = {v.number: v for v in db.session.query(ChecklistVersion).filter_by(checklist_id=checklist.id)}
    assert set(versions) == {1, 2}
    assert versions[1].definition == SMALL_CHECKLIST
    assert versions[2].definition == changed
    assert any("promise" in change for change in versions[2].changes)
    page = client.get(url(team["org"], f"/{checklist.id}")).get_data(as_text=True)
    assert "Version 2" in page and "Version 1" in page


def test_an_incomplete_draft_cannot_be_published(client, login, make, team):
    login(team["owner"])
    client.post(url(team["org"], "/new"), data={"title": "Empty journey"})
    checklist = make.find(Checklist, org_id=team["org"].id)
    response = client.post(url(team["org"], f"/{checklist.id}/publish"))
    assert response.status_code == 400 and b"touchpoints" in response.data
    assert make.count(ChecklistVersion, checklist_id=checklist.id) == 0


def test_copy_and_archive(client, login, make, team):
    checklist = make.checklist(team["org"])
    login(team["manager"])
    assert client.post(url(team["org"], f"/{checklist.id}/copy")).status_code == 302
    assert make.count(Checklist, org_id=team["org"].id) == 2
    client.post(url(team["org"], f"/{checklist.id}/archive"), data={"archive": "1"})
    assert make.get(Checklist, checklist.id).archived_at is not None


def test_auditors_read_but_cannot_change(client, login, make, team):
    checklist = make.checklist(team["org"])
    login(team["auditor"])
    assert client.get(url(team["org"], f"/{checklist.id}")).status_code == 200
    assert client.get(url(team["org"], f"/{checklist.id}/versions/1.json")).status_code == 200
    for path in ("/new", "/import", f"/{checklist.id}/publish", f"/{checklist.id}/copy", f"/{checklist.id}/archive"):
        assert client.post(url(team["org"], path)).status_code == 403, path
    assert make.count(Checklist, org_id=team["org"].id) == 1


def test_another_organizations_checklist_is_404_on_every_route(client, login, make, team):
    theirs = make.checklist(team["other"])
    login(team["owner"])
    base = url(team["org"], f"/{theirs.id}")
    for method, path in [
        ("get", ""),
        ("get", "/versions/1.json"),
        ("get", "/versions/1.csv"),
        ("post", "/publish"),
        ("post", "/copy"),
        ("post", "/archive"),
    ]:
        assert getattr(client, method)(base + path).status_code == 404, path
    assert client.get(url(team["org"], f"/{theirs.id}/versions/9.json")).status_code == 404
    login(team["stranger"])
    assert client.get(url(team["org"], "/")).status_code == 404


def test_cli_import_and_export(app, make, team, tmp_path):
    source = tmp_path / "journey.json"
    source.write_text(io.export_json(SMALL_CHECKLIST))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["checklist", "import", str(source), "--org", team["org"].slug])
    assert result.exit_code == 0, result.output
    checklist = make.find(Checklist, org_id=team["org"].id)
    out = tmp_path / "out.csv"
    assert (
        runner.invoke(args=["checklist", "export", str(checklist.id), "--format", "csv", "-o", str(out)]).exit_code == 0
    )
    assert io.import_csv(out.read_bytes(), title=SMALL_CHECKLIST["title"]) == io.import_csv(
        io.export_csv(SMALL_CHECKLIST), title=SMALL_CHECKLIST["title"]
    )
    exported = runner.invoke(args=["checklist", "export", str(checklist.id)])
    assert json.loads(exported.output) == SMALL_CHECKLIST
    bad = tmp_path / "bad.json"
    bad.write_text('{"title": ""}')
    refused = runner.invoke(args=["checklist", "import", str(bad), "--org", team["org"].slug])
    assert refused.exit_code != 0 and "not imported" in refused.output
    assert make.count(Checklist, org_id=team["org"].id) == 1
