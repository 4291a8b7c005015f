"""The consultancy's portfolio, its benchmark per checklist, and the client's anonymised comparison.

The averaging rule is tested as pure functions; the pages with real rows: who sees what (a business and other
consultancies get 404, auditor access shows no figures, a revoked client drops out), what a client never sees of
the others (names, their numbers, an average of fewer than three), and a query count that does not grow with
the number of clients.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopper.actions.models import Action, ActionStatus
from shopper.clients.portfolio import (
    GAP,
    BenchmarkRow,
    ComparedTouchpoint,
    Comparison,
    anonymised,
    average,
    benchmark_rows,
    comparisons_for_client,
    sparkline,
    touchpoint_scores,
)
from shopper.extensions import db
from shopper.orgs.access import access_for, roles_in
from shopper.orgs.models import ClientLink, LinkRole, Role
from shopper.timeutil import utcnow

# Pure: the averaging rule ---------------------------------------------------------------------------------------


def result(**scores):
    """A stored audit result with these touchpoint scores (None: nothing scored, every answer n/a)."""
    return {"touchpoints": [{"key": key, "title": key.title(), "score": score} for key, score in scores.items()]}


def test_an_average_needs_three_known_scores():
    assert average([80.0, 60.0]) is None
    assert average([80.0, 60.0, None, None]) is None  # n/a touchpoints do not count as clients
    assert average([80.0, 60.0, 40.0]) == 60.0
    assert average([80.0, 60.0, 40.0, None]) == 60.0
    assert average([100.0, 50.0, 50.0]) == 66.7
    assert average([]) is None


def test_touchpoints_with_nothing_scored_are_left_out():
    assert touchpoint_scores(result(front=75.0, billing=None)) == {"front": 75.0}
    assert touchpoint_scores(None) == {}
    assert touchpoint_scores({"touchpoints": []}) == {}


def test_benchmark_rows_follow_the_current_version_and_keep_keys_other_versions_score():
    rows = benchmark_rows(
        [("front", "Front desk"), ("billing", "Billing line"), ("chat", "Chat")],
        {
            1: result(front=90.0, billing=40.0),
            2: result(front=60.0, removed=30.0),  # an older version: no billing touchpoint, one since removed
            3: result(front=30.0, billing=None),  # billing answered n/a throughout
            4: None,
        },
    )
    by_key = {row.key: row for row in rows}
    assert [row.key for row in rows] == ["front", "billing", "chat", "removed"]
    assert by_key["front"].title == "Front desk" and by_key["front"].average == 60.0
    assert by_key["front"].contributors == 3 and set(by_key["front"].scores) == {1, 2, 3}
    assert by_key["billing"].scores == {1: 40.0} and by_key["billing"].average is None
    assert by_key["chat"].scores == {} and by_key["chat"].current
    assert by_key["removed"].title == "Removed" and not by_key["removed"].current and by_key["removed"].average is None


def test_a_client_is_highlighted_from_ten_points_under_the_average():
    row = BenchmarkRow("front", "Front", True, {1: 50.0, 2: 60.0, 3: 70.0, 4: 51.0}, average=60.0)
    assert row.gap(1) == -10.0 and row.below(1)
    assert row.gap(4) == -9.0 and not row.below(4)
    assert not row.below(3) and not row.below(99)
    assert not BenchmarkRow("front", "Front", True, {1: 10.0}, average=None).below(1)


def test_a_client_gets_its_own_scores_and_the_average_and_nothing_else():
    rows = benchmark_rows(
        [("front", "Front desk"), ("billing", "Billing line")],
        {
            7: result(front=40.0, billing=80.0),
            8: result(front=70.0, billing=90.0),
            9: result(front=90.0),
        },
    )
    mine = anonymised(rows, 7)
    assert [vars(tp) for tp in mine] == [
        {"key": "front", "title": "Front desk", "own": 40.0, "average": 66.7},
        {"key": "billing", "title": "Billing line", "own": 80.0, "average": None},  # two clients: no average
    ]
    assert mine[0].difference == -27 and mine[0].below and mine[0].phrase == "27 points under similar businesses"
    comparison = Comparison(1, "Clinic journey", "Northwind", utcnow(), tuple(mine))
    assert comparison.comparable
    assert comparison.headline == "Your “Front desk” touchpoint scores 27 points under similar businesses."
    # the client's own touchpoints only: one it never scored is not shown
    assert [tp.key for tp in anonymised(rows, 9)] == ["front"]


def test_the_minimum_of_three_counts_the_client_itself():
    two_others = benchmark_rows([("front", "Front")], {1: result(front=50.0), 2: result(front=70.0)})
    assert anonymised(two_others, 1)[0].average is None
    with_me = benchmark_rows(
        [("front", "Front")], {1: result(front=50.0), 2: result(front=70.0), 3: result(front=90.0)}
    )
    assert anonymised(with_me, 1)[0].average == 70.0
    # the client itself answered n/a: the other two alone are too few
    na_me = benchmark_rows([("front", "Front")], {1: result(front=None), 2: result(front=70.0), 3: result(front=90.0)})
    assert anonymised(na_me, 1) == []


def test_headlines_say_how_the_client_stands():
    def comparison(*pairs):
        return Comparison(
            1, "C", "N", utcnow(), tuple(ComparedTouchpoint(f"k{i}", f"T{i}", o, a) for i, (o, a) in enumerate(pairs))
        )

    assert comparison((80.0, 70.0), (70.0, 70.0)).headline.startswith("Every touchpoint you can compare scores level")
    assert (
        comparison((65.0, 70.0)).headline
        == f"Every touchpoint you can compare is within {GAP} points of similar businesses or over them."
    )
    assert (
        comparison((50.0, 70.0), (40.0, 45.0)).headline
        == "Your “T0” touchpoint scores 20 points under similar businesses."
    )
    assert comparison((50.0, None)).headline == "" and not comparison((50.0, None)).comparable
    assert ComparedTouchpoint("k", "T", 69.0, 70.0).phrase == "1 point under similar businesses"
    assert ComparedTouchpoint("k", "T", 70.2, 70.0).phrase == "level with similar businesses"


def test_the_sparkline_is_a_small_svg_that_says_its_scores():
    svg = sparkline([40.0, None, 55.0, 70.0])
    assert svg.startswith('<svg class="sparkline"') and svg.endswith("</svg>")
    assert 'aria-label="Latest scores, oldest first: 40%, –, 55%, 70%"' in svg
    assert "<polyline" in svg and svg.count("<circle") == 1 and "style" not in svg
    assert sparkline([None, None]) == ""
    assert "<polyline" not in sparkline([50.0])


# With real rows -------------------------------------------------------------------------------------------------

TOUCHPOINTS = ("front", "billing")


def journey(*keys: str) -> dict:
    """A checklist whose touchpoints each have ten yes/no checks: a score is the share of yes."""
    return {
        "title": "Clinic journey",
        "touchpoints": [
            {
                "key": key,
                "title": f"The {key} touchpoint",
                "channel": "other",
                "items": [{"key": f"{key}-{i}", "type": "check", "prompt": f"{key} check {i}?"} for i in range(10)],
            }
            for key in keys
        ],
    }


def answers(**scores) -> dict:
    """Answers that score each touchpoint as given (a multiple of 10), or n/a throughout for None."""
    found = {}
    for key, score in scores.items():
        for i in range(10):
            found[f"{key}-{i}"] = "na" if score is None else ("yes" if i < score // 10 else "no")
    return found


class World:
    def __init__(self, make):
        self.make = make
        self.consultancy = make.consultancy("Northwind Advisory")
        self.consultant = make.member(self.consultancy, Role.OWNER)
        self.checklist = make.share(
            make.checklist(self.consultancy, by=self.consultant, definition=journey(*TOUCHPOINTS))
        )
        self.base = f"/o/{self.consultancy.slug}/portfolio"

    def client(self, name: str, role: str = LinkRole.CONSULTANT_MANAGER, **scores):
        """A client business with an owner, linked with `role`, and (given scores) one submitted audit."""
        org = self.make.org(name)
        org.owner = self.make.member(org, Role.OWNER)
        org.link = self.make.client_link(self.consultancy, org, role)
        if scores:
            org.audit = self.audit(org, **scores)
        return org

    def audit(self, org, when=None, **scores):
        return self.make.submitted_audit(org, org.owner, answers(**scores), checklist=self.checklist, submitted_at=when)


@pytest.fixture
def world(make) -> World:
    return World(make)


def revoke(app, link):
    with app.app_context():
        db.session.get(ClientLink, link.id).revoked_at = utcnow()
        db.session.commit()


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_a_business_has_no_portfolio(client, login, make):
    business = make.org()
    login(make.member(business, Role.OWNER))
    checklist = make.checklist(business)
    assert client.get(f"/o/{business.slug}/portfolio/").status_code == 404
    assert client.get(f"/o/{business.slug}/portfolio/checklists/{checklist.id}").status_code == 404


def test_only_the_consultancys_own_people_see_its_portfolio(client, login, make, world):
    response = client.get(f"{world.base}/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(make.member(make.consultancy(), Role.OWNER))
    assert client.get(f"{world.base}/").status_code == 404
    assert client.get(f"{world.base}/checklists/{world.checklist.id}").status_code == 404


def test_the_portfolio_lists_clients_lowest_latest_score_first_with_their_figures(app, client, login, make, world):
    bright = world.client("Bright Smiles", front=90, billing=90)
    world.audit(bright, when=utcnow() - timedelta(days=1), front=40, billing=40)  # made later, dated earlier
    calm = world.client("Calm Clinic", front=50, billing=50)
    world.audit(calm, front=70, billing=70)
    world.client("Quiet Vets")  # nothing submitted yet
    first = world.audit(calm, front=30, billing=30)
    make.action(first, "front-5", by=world.consultant, due_on=utcnow().date() - timedelta(days=2))
    make.action(first, "front-6", by=world.consultant)
    done = make.action(first, "front-7", by=world.consultant, due_on=utcnow().date() - timedelta(days=2))
    with app.app_context():
        db.session.get(Action, done.id).status = ActionStatus.DONE
        db.session.commit()
    login(world.consultant)
    html = page(client, f"{world.base}/")
    assert "<h1>Northwind Advisory</h1>" in html and "Clients" in html
    assert "Lowest latest score first" in html
    names = re.findall(r">(Bright Smiles|Calm Clinic|Quiet Vets)<", html)
    assert names == ["Calm Clinic", "Bright Smiles", "Quiet Vets"]
    assert f'href="/o/{calm.slug}/"' in html and "Consultant-manager" in html
    calm_row = html[html.index("Calm Clinic") : html.index("Bright Smiles")]
    assert "<strong>30%</strong>" in calm_row and "-40 points" in calm_row and "since the previous audit" in calm_row
    assert 'aria-label="Latest scores, oldest first: 50%, 70%, 30%"' in calm_row
    assert "<td>2</td>" in calm_row and "<strong>1</strong> overdue" in calm_row
    assert utcnow().strftime("%d %b %Y") in calm_row
    bright_row = html[html.index("Bright Smiles") : html.index("Quiet Vets")]
    assert "<strong>90%</strong>" in bright_row and "+50 points" in bright_row
    assert "no audit yet" in html[html.index("Quiet Vets") :]
    assert "Your checklists shared with clients" in html
    assert f'href="{world.base}/checklists/{world.checklist.id}"' in html and "Clinic journey" in html
    assert "style=" not in html


def test_the_portfolio_scores_only_audits_on_the_consultancys_checklists(client, login, make, world):
    calm = world.client("Calm Clinic", front=50, billing=50)
    own = make.checklist(calm, by=calm.owner, definition=journey(*TOUCHPOINTS))
    make.submitted_audit(calm, calm.owner, answers(front=90, billing=90), checklist=own)  # its own journey, later
    login(world.consultant)
    row = page(client, f"{world.base}/").split("Calm Clinic", 1)[1]
    assert "<strong>50%</strong>" in row and "first audit" in row and "90%" not in row


def test_with_no_client_yet_the_portfolio_says_how_to_add_one(client, login, make, world):
    make.checklist(world.consultancy, by=world.consultant)  # published, not shared: not listed
    login(world.consultant)
    html = page(client, f"{world.base}/")
    assert "No clients yet" in html and "Add your first client" in html
    assert f'href="/o/{world.consultancy.slug}/clients/"' in html
    assert "Clinic journey" in html and "Billing line check" not in html


def test_a_revoked_client_leaves_the_portfolio(app, client, login, world):
    kept = world.client("Kept Clinic", front=60, billing=60)
    gone = world.client("Gone Clinic", front=50, billing=50)
    revoke(app, gone.link)
    login(world.consultant)
    html = page(client, f"{world.base}/")
    assert kept.name in html and gone.name not in html


def test_a_consultant_auditor_link_shows_the_client_without_figures(client, login, world):
    world.client("Open Books", front=80, billing=80)
    world.client("Closed Books", role=LinkRole.CONSULTANT_AUDITOR, front=20, billing=20)
    login(world.consultant)
    html = page(client, f"{world.base}/")
    closed = html[html.index("Closed Books") :]
    closed = closed[: closed.index("</tr>")]
    assert "Consultant-auditor" in closed and "auditor access: no figures" in closed
    assert "20%" not in html and "<svg" not in closed
    assert "<strong>80%</strong>" in html


def test_a_consultancy_auditor_sees_the_clients_but_no_figures(client, login, make, world):
    world.client("Open Books", front=80, billing=80)
    login(make.member(world.consultancy, Role.AUDITOR))
    html = page(client, f"{world.base}/")
    assert "Open Books" in html and "auditor access: no figures" in html and "80%" not in html
    benchmark = page(client, f"{world.base}/checklists/{world.checklist.id}")
    assert "Open Books" not in benchmark and "80%" not in benchmark
    assert "1 client where you have auditor access is left out" in benchmark


def test_roles_for_many_clients_are_those_access_for_gives(app, make, world):
    consultancy_manager = make.member(world.consultancy, Role.MANAGER)
    managed = world.client("Managed")
    audited = world.client("Audited", role=LinkRole.CONSULTANT_AUDITOR)
    own = world.client("Own")
    make.member(own, Role.AUDITOR, user=consultancy_manager)  # a member there too: that membership wins, even lower
    other = make.consultancy()
    make.member(other, Role.OWNER, user=consultancy_manager)
    make.client_link(other, audited, LinkRole.CONSULTANT_MANAGER)  # the best link counts
    revoked = world.client("Revoked")
    revoke(app, revoked.link)
    stranger = make.org()
    ids = [managed.id, audited.id, own.id, revoked.id, stranger.id]
    with app.app_context():
        roles = roles_in(consultancy_manager.id, ids)
        expected = {}
        for org in (managed, audited, own, revoked, stranger):
            access = access_for(consultancy_manager.id, org.slug)
            if access is not None:
                expected[org.id] = access.role_enum
        assert roles == expected
        assert roles == {managed.id: Role.MANAGER, audited.id: Role.MANAGER, own.id: Role.AUDITOR}
        assert roles_in(consultancy_manager.id, []) == {}


def test_the_portfolio_makes_the_same_queries_for_3_and_9_clients(client, login, make, world, count_queries):
    login(world.consultant)
    counts = []
    for n in range(9):
        org = world.client(f"Client {n}", front=10 * n, billing=50)
        if n % 2:
            world.audit(org, front=50, billing=50)
            make.action(org.audit, "front-9", by=world.consultant, due_on=utcnow().date() - timedelta(days=1))
        if n in (2, 8):
            with count_queries() as queries:
                html = page(client, f"{world.base}/")
            counts.append(queries.count)
            assert html.count('class="sparkline"') == (1 if n == 2 else 4)
    assert counts[0] == counts[1]
    # signing in and the consultancy (3), the clients and roles (3), scores and actions (2), the checklists (1)
    assert counts[0] <= 12


def test_another_consultancys_checklist_is_not_found(client, login, make, world):
    other = make.consultancy()
    foreign = make.share(make.checklist(other, by=make.member(other, Role.OWNER)))
    login(world.consultant)
    assert client.get(f"{world.base}/checklists/{foreign.id}").status_code == 404
    assert client.get(f"{world.base}/checklists/999999").status_code == 404
    assert client.get(f"{world.base}/checklists/{world.checklist.id}").status_code == 200


def test_the_benchmark_sets_each_client_beside_the_average_and_marks_those_far_under(client, login, world):
    world.client("Alpha Dental", front=80, billing=70)
    world.client("Beta Clinic", front=60, billing=None)  # billing answered n/a
    world.client("Gamma Vets", front=40, billing=60)
    world.client("Delta Care", role=LinkRole.CONSULTANT_AUDITOR, front=0, billing=0)
    world.client("Epsilon Eyes")  # no audit of this checklist
    login(world.consultant)
    html = page(client, f"{world.base}/checklists/{world.checklist.id}")
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "Average of your clients" in head
    assert re.findall(r">(\w+ \w+)</a>", head) == ["Alpha Dental", "Beta Clinic", "Gamma Vets"]
    front = html[html.index("The front touchpoint") :]
    front = front[: front.index("</tr>")]
    assert re.findall(r"\d+%", front) == ["60%", "80%", "60%", "40%"]  # the average first
    assert front.count('class="delta down below"') == 1 and "20 points under" in front
    billing = html[html.index("The billing touchpoint") :]
    billing = billing[: billing.index("</tr>")]
    assert "not enough clients to compare yet: needs 3" in billing and "points under" not in billing
    assert "Delta Care" not in html and "0%" not in re.sub(r"\d0%", "", html)
    assert "1 client where you have auditor access is left out" in html
    assert "Not audited on this checklist yet: Epsilon Eyes." in html


def test_the_benchmark_uses_each_clients_latest_audit_of_any_version(app, client, login, make, world):
    from shopper.checklists import service as checklists
    from shopper.checklists.models import Checklist

    old = [world.client(name, front=20, billing=20) for name in ("Alpha Dental", "Beta Clinic")]
    gamma = world.client("Gamma Vets", front=50, billing=50)
    world.audit(gamma, when=utcnow() - timedelta(days=10), front=10, billing=10)  # made later, dated earlier
    with app.app_context():
        row = db.session.get(Checklist, world.checklist.id)
        definition = journey("front", "website")  # billing removed, website added
        definition["touchpoints"][0]["title"] = "Front desk, renamed"
        checklists.save_draft(row, definition)
        checklists.publish(row, world.consultant.id, utcnow())
        db.session.commit()
    for org in old:
        make.submitted_audit(org, org.owner, answers(front=90, website=70), checklist=world.checklist)
    login(world.consultant)
    html = page(client, f"{world.base}/checklists/{world.checklist.id}")
    rows = re.findall(r'<th scope="row">(.*?)</th>', html)
    assert rows == [
        "Front desk, renamed",
        "The website touchpoint",
        'The billing touchpoint<br><span class="muted">no longer in the checklist</span>',
    ]
    front = html[html.index("Front desk, renamed") :]
    assert re.findall(r"\d+%", front[: front.index("</tr>")]) == ["77%", "90%", "90%", "50%"]


def test_a_revoked_client_drops_out_of_the_benchmark(app, client, login, world):
    world.client("Alpha Dental", front=80, billing=80)
    world.client("Beta Clinic", front=60, billing=60)
    gone = world.client("Gamma Vets", front=40, billing=40)
    login(world.consultant)
    assert "not enough clients" not in page(client, f"{world.base}/checklists/{world.checklist.id}")
    revoke(app, gone.link)
    html = page(client, f"{world.base}/checklists/{world.checklist.id}")
    assert "Gamma Vets" not in html and "40%" not in html
    assert html.count("not enough clients to compare yet: needs 3") == 2


# The client's side ----------------------------------------------------------------------------------------------


def dashboard(client, login, org) -> str:
    login(org.owner)
    return page(client, f"/o/{org.slug}/dashboard/")


def test_a_client_sees_its_scores_beside_the_anonymised_average(client, login, world):
    me = world.client("Alpha Dental", front=40, billing=80)
    world.client("Beta Clinic", front=70, billing=None)
    world.client("Gamma Vets", front=90, billing=100)
    html = dashboard(client, login, me)
    section = html[html.index("Compared with similar businesses") :]
    section = section[: section.index("</section>")]
    assert "Clinic journey, from Northwind Advisory" in section
    assert "Your “The front touchpoint” touchpoint scores 27 points under similar businesses." in section
    assert re.findall(r"\d+%", section) == ["40%", "67%", "80%"]  # billing: two businesses, no average
    assert "not enough businesses yet" in section
    for other in ("Beta Clinic", "Gamma Vets"):
        assert other not in html
    for number in ("70%", "90%", "100%", "90%"):
        assert number not in section
    assert "yours included" in section and "drops out of the averages" in section


def test_with_two_clients_a_client_sees_no_average(client, login, world):
    me = world.client("Alpha Dental", front=40, billing=80)
    world.client("Beta Clinic", front=70, billing=10)
    html = dashboard(client, login, me)
    section = html[html.index("Compared with similar businesses") :]
    section = section[: section.index("</section>")]
    assert (
        "Not enough businesses to compare yet: a touchpoint needs 3 businesses with a score, yours included." in section
    )
    assert re.findall(r"\d+%", section) == [] and "<table" not in section
    assert "Beta Clinic" not in html and "70%" not in section and "10%" not in html


def test_a_revoked_client_sees_no_comparison_and_leaves_the_others_averages(app, client, login, world):
    me = world.client("Alpha Dental", front=40, billing=40)
    world.client("Beta Clinic", front=60, billing=60)
    world.client("Gamma Vets", front=80, billing=80)
    gone = world.client("Delta Care", front=0, billing=0)
    with app.app_context():
        assert [tp.average for tp in comparisons_for_client(me.id)[0].touchpoints] == [45.0, 45.0]
    revoke(app, gone.link)
    with app.app_context():
        assert [tp.average for tp in comparisons_for_client(me.id)[0].touchpoints] == [60.0, 60.0]
        assert comparisons_for_client(gone.id) == []
    assert "Compared with similar businesses" not in dashboard(client, login, gone)
    assert "60%" in dashboard(client, login, me)


def test_a_consultant_auditor_client_neither_feeds_nor_gets_the_comparison(app, world):
    me = world.client("Alpha Dental", front=40, billing=40)
    world.client("Beta Clinic", front=60, billing=60)
    world.client("Gamma Vets", front=80, billing=80)
    walled = world.client("Delta Care", role=LinkRole.CONSULTANT_AUDITOR, front=0, billing=0)
    with app.app_context():
        assert [tp.average for tp in comparisons_for_client(me.id)[0].touchpoints] == [60.0, 60.0]
        assert comparisons_for_client(walled.id) == []


def test_a_consultant_of_another_consultancy_does_not_see_this_consultancys_average(client, login, make, world):
    me = world.client("Alpha Dental", front=40, billing=40)
    world.client("Beta Clinic", front=60, billing=60)
    world.client("Gamma Vets", front=80, billing=80)
    other = make.consultancy("Southwind Partners")
    outsider = make.member(other, Role.OWNER)
    make.client_link(other, me, LinkRole.CONSULTANT_MANAGER)
    login(outsider)
    html = page(client, f"/o/{me.slug}/dashboard/")
    assert "Compared with similar businesses" not in html
    login(world.consultant)
    html = page(client, f"/o/{me.slug}/dashboard/")
    assert "Compared with similar businesses" in html and "60%" in html


def test_a_business_without_consultancy_checklists_gets_no_comparison_in_one_query(app, make, count_queries):
    business = make.org()
    owner = make.member(business, Role.OWNER)
    make.submitted_audit(business, owner, {"answer-time": 30, "transfers": 0, "resolved": ("yes", "ok"), "tone": 4})
    with app.app_context(), count_queries() as one_statement:  # plus the test's savepoint
        db.session.execute(select(1))
    with app.app_context(), count_queries() as queries:
        assert comparisons_for_client(business.id) == []
    assert queries.count == one_statement.count
