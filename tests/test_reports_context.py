"""The report's pure parts without an app: report data from plain rows, the journey chart, brand rules."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from shopper.reports.brand import (
    Brand,
    BrandError,
    accent_warning,
    check_primary,
    contrast,
    ink_on,
    page_size_css,
    parse_color,
    theme_css,
)
from shopper.reports.charts import JourneyPoint, journey_svg
from shopper.reports.context import AuditFacts, answer_text, build_report, score_band
from shopper.reports.service import pdf_filename

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
BRAND = Brand("Harbour Physio", "#0f5c63", "#f2a541", "Confidential", "Ask Olivia", None)
DEFINITION = {
    "title": "Walk-through",
    "critical_cap": 50,
    "touchpoints": [
        {
            "key": "phone",
            "title": "Call the billing line",
            "channel": "phone",
            "promise": "A person answers within a minute",
            "items": [
                {"key": "wait", "type": "timer", "prompt": "Time until a person answered", "target_max_s": 60},
                {
                    "key": "transfers",
                    "type": "counter",
                    "prompt": "How many times were you passed on?",
                    "target_max": 1,
                    "unit": "transfers",
                },
                {"key": "resolved", "type": "check", "prompt": "Was it resolved?", "critical": True},
                {
                    "key": "tone",
                    "type": "rating",
                    "prompt": "How did it feel?",
                    "scale": 5,
                    "labels": ["Awful", "Poor", "Fine", "Good", "Great"],
                    "show_if": {"item": "resolved", "equals": "yes"},
                },
            ],
        },
        {
            "key": "desk",
            "title": "Front desk",
            "channel": "in-person",
            "promise": "Greeted at once",
            "items": [
                {"key": "greeted", "type": "check", "prompt": "Were you greeted?"},
                {"key": "photo", "type": "photo", "prompt": "Photo of the desk"},
            ],
        },
        {
            "key": "web",
            "title": "Website",
            "channel": "website",
            "promise": "Prices in three taps",
            "items": [{"key": "taps", "type": "counter", "prompt": "Taps to the price", "target_max": 3}],
        },
    ],
}


def answer(key, touchpoint, value, note="", by=1, minutes=0):
    return SimpleNamespace(
        item_key=key,
        touchpoint_key=touchpoint,
        value=value,
        note=note,
        flagged=False,
        updated_at=T0 + dt.timedelta(minutes=minutes),
        updated_by_id=by,
    )


def visit(key, effort, kept, note=""):
    return SimpleNamespace(touchpoint_key=key, effort=effort, promise_kept=kept, note=note, finished_at=T0)


def finding(position, touchpoint, key, prompt, reason, critical=False, value=None):
    return SimpleNamespace(
        position=position,
        touchpoint_key=touchpoint,
        touchpoint_title={"phone": "Call the billing line", "desk": "Front desk"}[touchpoint],
        promise="",
        item_key=key,
        prompt=prompt,
        value=value,
        reason=reason,
        critical=critical,
        manual=False,
        note="",
    )


def facts(**changes):
    values = dict(
        definition=DEFINITION,
        business="Harbour Physio",
        site="Riverside",
        site_address="3 Riverside Walk",
        checklist_title="Walk-through",
        version_number=2,
        scenario="Renewing with an expired card",
        auditor="Arthur",
        started_at=T0,
        submitted_at=T0 + dt.timedelta(minutes=95),
        score=40.0,
        result={
            "overall": 40.0,
            "capped": True,
            "touchpoints": [
                {"key": "phone", "score": 25.0},
                {"key": "desk", "score": 100.0},
                {"key": "web", "score": None},
            ],
        },
        revision=7,
    )
    values.update(changes)
    return AuditFacts(**values)


def build(**changes):
    rows = dict(
        facts=facts(),
        brand=BRAND,
        answers=[
            answer("wait", "phone", 250, minutes=1),
            answer("transfers", "phone", 3, minutes=2),
            answer("resolved", "phone", "no", note="They said they would call back", minutes=3),
            answer("tone", "phone", 5, minutes=4),  # hidden: resolved is "no"
            answer("greeted", "desk", "yes", by=2, minutes=30),
        ],
        visits=[visit("phone", 6, None, "Passed around three times"), visit("desk", 2, True)],
        photos=[
            SimpleNamespace(id="p1", touchpoint_key="desk", item_key="photo", caption="The desk", width=4, height=3)
        ],
        findings=[
            finding(0, "phone", "resolved", "Was it resolved?", "answered no", critical=True, value="no"),
            finding(1, "phone", "wait", "Time until a person answered", "4 min 10 s: the promise is 1 min", value=250),
            finding(2, "phone", "transfers", "How many times were you passed on?", "3 transfers", value=3),
        ],
        people={1: "Arthur", 2: "Bea"},
    )
    rows.update(changes)
    return build_report(**rows)


def test_the_report_reads_scores_promises_and_the_worst_moment_from_plain_rows():
    report = build()
    phone, desk, web = report.touchpoints
    assert report.score_text == "40" and report.capped and report.band.key == "leaving"
    assert report.duration == "1 h 35 min"
    # phone: wrap-up left the promise open, findings decide; desk: the auditor said kept; web: not walked
    assert (phone.kept, phone.kept_by) == (False, "findings")
    assert (desk.kept, desk.kept_by) == (True, "auditor")
    assert (web.walked, web.kept) == (False, None)
    assert report.verdict == "Promises kept: 1 of 2"
    assert report.worst is phone and phone.worst and not desk.worst
    assert [item.key for item in phone.items] == ["wait", "transfers", "resolved"]  # "tone" is hidden
    assert [(m.actual, m.target, m.met) for m in phone.measures] == [
        ("4 min 10 s", "1 min", False),
        ("3 transfers", "at most 1", False),
    ]
    assert phone.items[2].status == "missed" and phone.items[2].note == "They said they would call back"
    assert desk.items[1].answer == "1 photo" and desk.items[1].photos[0].caption == "The desk"
    assert desk.walked_by == ("Bea",) and phone.walked_by == ("Arthur",)
    assert [f.number for f in report.findings] == [1, 2, 3] and report.findings[0].critical
    assert report.critical_findings == 1
    assert [f.prompt for f in report.fix_first][0] == "Was it resolved?"
    assert report.document_title == "Be your customer: Harbour Physio, Riverside"


def test_a_touchpoint_without_a_wrap_up_and_without_findings_kept_its_promise():
    report = build(visits=[], findings=[])
    phone, desk, _ = report.touchpoints
    assert (phone.kept, phone.kept_by) == (True, "findings") and (desk.kept, desk.kept_by) == (True, "findings")


def test_there_is_no_worst_moment_when_everything_went_well():
    report = build(
        facts=facts(
            result={
                "overall": 100.0,
                "touchpoints": [{"key": "phone", "score": 100.0}, {"key": "desk", "score": 100.0}],
            }
        ),
        answers=[answer("greeted", "desk", "yes")],
        visits=[visit("desk", 1, True)],
        findings=[],
        photos=[],
    )
    assert report.worst is None and report.band.key == "rave"


def test_ties_for_the_worst_moment_go_to_more_effort():
    report = build(
        facts=facts(
            result={"overall": 50.0, "touchpoints": [{"key": "phone", "score": 50.0}, {"key": "desk", "score": 50.0}]}
        ),
        visits=[visit("phone", 2, False), visit("desk", 6, False)],
    )
    assert report.worst.key == "desk"


def test_scores_are_computed_when_none_were_stored():
    report = build(facts=facts(result=None, score=None))
    assert report.score is not None and report.touchpoints[0].score is not None


@pytest.mark.parametrize(
    ("score", "key"),
    [
        (100, "rave"),
        (85, "rave"),
        (84.9, "good"),
        (70, "good"),
        (69.9, "tolerated"),
        (50, "tolerated"),
        (49.9, "leaving"),
        (0, "leaving"),
        (None, "unscored"),
    ],
)
def test_score_bands(score, key):
    assert score_band(score).key == key


@pytest.mark.parametrize(
    ("item", "value", "text"),
    [
        ({"type": "check"}, "na", "Not applicable"),
        ({"type": "rating", "scale": 5, "labels": ["a", "b", "c", "Good", "e"]}, 4, "4 of 5 (Good)"),
        (
            {"type": "choice", "options": [{"value": "x", "label": "Ex"}, {"value": "y", "label": "Why"}]},
            ["x", "y"],
            "Ex, Why",
        ),
        ({"type": "timer"}, 61, "1 min 1 s"),
        ({"type": "counter", "unit": "steps"}, 7, "7 steps"),
        ({"type": "number", "unit": "hours"}, 2.5, "2.5 hours"),
        ({"type": "date"}, "2026-03-02", "02 Mar 2026"),
        ({"type": "text"}, "<b>hi</b>", "<b>hi</b>"),
        ({"type": "check"}, None, "Not answered"),
    ],
)
def test_answers_in_words(item, value, text):
    assert answer_text(item, value) == text


def test_a_long_scenario_is_cut_on_the_cover_only():
    report = build(facts=facts(scenario="word " * 200))
    assert len(report.scenario_short) <= 281 and report.scenario_short.endswith("…")
    assert report.scenario == ("word " * 200).strip()


def test_the_file_name_is_ascii():
    report = build(facts=facts(business="Café Ünïcode & Co", site="Zürich / Nord"))
    assert pdf_filename(report) == "cafe-unicode-co-zurich-nord-2026-03-02.pdf"


# The chart ------------------------------------------------------------------------------------------------------


def test_the_journey_chart_is_well_formed_escaped_svg_without_style_attributes():
    points = [
        JourneyPoint(1, "Find <script>alert(1)</script> us", 61.0, 3, False),
        JourneyPoint(2, 'Call "the" line & wait', 17.0, 6, False, worst=True),
        JourneyPoint(3, "Not scored", None, None, None),
    ]
    svg = journey_svg(points, primary="#0f5c63", accent="red; background:url(http://x)")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg and "url(" not in svg
    assert svg.count("<circle") == 3 and svg.count("Worst moment") == 1
    assert "#0f5c63" in svg and "#f2a541" in svg  # the bad accent fell back to the default
    assert "17%" in svg and "not scored" in svg


def test_the_chart_draws_one_touchpoint_and_many():
    assert ET.fromstring(journey_svg([JourneyPoint(1, "Only", 80.0, 2, True)]))
    many = [JourneyPoint(n, f"Touchpoint number {n} with a long title", 50.0, 4, True) for n in range(1, 16)]
    assert journey_svg(many).count("<circle") == 15


# Brand rules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "result"), [("#1D4E89", "#1d4e89"), ("1d4e89", "#1d4e89"), ("  #0f5c63 ", "#0f5c63"), ("", None)]
)
def test_colours_are_written_as_hex(value, result):
    assert parse_color(value, "primary colour") == result


@pytest.mark.parametrize("value", ["red", "#12345", "#1234567", "rgb(0,0,0)", "#12345g", "#fff"])
def test_other_colour_spellings_are_refused_with_an_example(value):
    with pytest.raises(BrandError, match="six hexadecimal digits, for example #1d4e89"):
        parse_color(value, "primary colour")


def test_contrast_against_white_text():
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    with pytest.raises(BrandError, match=r"contrast of only 1\.0:1"):
        check_primary("#ffffff")
    with pytest.raises(BrandError, match="at least 4.5:1"):
        check_primary("#f2a541")
    check_primary("#1d4e89")
    assert accent_warning("#1d4e89") is None
    assert "dark text" in accent_warning("#f2a541")
    assert ink_on("#f2a541") == "#1b2430" and ink_on("#1d4e89") == "#ffffff"


def test_the_theme_carries_only_checked_values():
    brand = Brand("</style><script>", "not a colour", "#abcdef", "footer }", "contact", None)
    css = theme_css(brand, lambda name: f"/static/fonts/{name}", "letter")
    assert "script" not in css and "footer" not in css and "not a colour" not in css
    assert "--brand-primary: #1d4e89" in css and "--brand-accent: #abcdef" in css
    assert "@page { size: letter; }" in css and 'url("/static/fonts/SourceSans3-Regular.woff")' in css
    assert page_size_css("a4") == "A4"
    with pytest.raises(ValueError, match="A4 or letter"):
        page_size_css("A3")
