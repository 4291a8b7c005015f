"""Then and now between two walks: a pure function over plain data, across checklist versions."""

from datetime import UTC, datetime

from shopper.actions.compare import FindingFact, FindingState, Presence, WalkFacts, compare_walks


def check(key, prompt, **extra):
    return {"key": key, "type": "check", "prompt": prompt, **extra}


WEBSITE = {
    "key": "website",
    "title": "Visit the website",
    "promise": "Contact details in one click",
    "items": [check("find-phone", "Is the phone number on the home page?"), check("hours", "Are opening hours shown?")],
}
BILLING_V1 = {
    "key": "billing-line",
    "title": "Call the billing line",
    "promise": "A person answers within a minute",
    "items": [
        {"key": "answer-time", "type": "timer", "prompt": "Time until a person answered", "target_max_s": 60},
        {"key": "transfers", "type": "counter", "prompt": "Hand-offs", "target_max": 1},
        check("resolved", "Resolved on this call?", critical=True),
    ],
}
WAITING_ROOM = {"key": "waiting-room", "title": "Wait in the waiting room", "items": [check("clean", "Is it clean?")]}
EMAIL = {
    "key": "email",
    "title": "Write to support",
    "promise": "An answer the same day",
    "items": [{"key": "reply-time", "type": "timer", "prompt": "Time to a reply", "target_max_s": 28800}],
}
V1 = {"title": "Journey", "touchpoints": [WEBSITE, BILLING_V1, WAITING_ROOM]}
V2 = {
    "title": "Journey",
    "touchpoints": [
        WEBSITE,
        {**BILLING_V1, "items": [*BILLING_V1["items"], check("callback", "Offered a call back?")]},
        EMAIL,
    ],
}


def finding(touchpoint, item, reason, critical=False):
    return FindingFact(touchpoint, item, f"prompt of {item}", reason, critical)


THEN = WalkFacts(
    definition=V1,
    submitted_at=datetime(2026, 3, 2, tzinfo=UTC),
    score=35.0,
    touchpoint_scores={"website": 50.0, "billing-line": 40.0, "waiting-room": 0.0},
    answers={
        "find-phone": "no",
        "hours": "yes",
        "answer-time": 240,
        "transfers": 3,
        "resolved": "no",
        "clean": "no",
    },
    verdicts={"billing-line": False},
    wrapped=frozenset({"billing-line"}),
    findings=(
        finding("website", "find-phone", "answered no"),
        finding("billing-line", "answer-time", "4 min: the promise is 1 min"),
        finding("billing-line", "transfers", "3: the target is at most 1"),
        finding("billing-line", "resolved", "answered no", critical=True),
        finding("waiting-room", "clean", "answered no"),
    ),
)
NOW = WalkFacts(
    definition=V2,
    submitted_at=datetime(2026, 6, 2, tzinfo=UTC),
    score=80.0,
    touchpoint_scores={"website": 50.0, "billing-line": 85.0, "email": 100.0},
    answers={
        "find-phone": "yes",
        "hours": "no",
        "answer-time": 45,
        "transfers": 3,
        "callback": "no",
        "reply-time": 600,
    },
    verdicts={"website": True},
    wrapped=frozenset({"website"}),
    findings=(
        finding("website", "hours", "answered no"),
        finding("billing-line", "transfers", "3: the target is at most 1"),
        finding("billing-line", "callback", "answered no"),
    ),
)


def states(comparison):
    return {f.item_key: f.state for f in comparison.findings}


def test_findings_are_fixed_still_open_new_or_not_checked_across_versions():
    comparison = compare_walks(THEN, NOW)
    assert states(comparison) == {
        "find-phone": FindingState.FIXED,
        "answer-time": FindingState.FIXED,
        "transfers": FindingState.OPEN,
        "resolved": FindingState.NOT_RECHECKED,  # left unanswered this time: not counted as fixed
        "clean": FindingState.DROPPED,  # its touchpoint left the checklist
        "hours": FindingState.NEW,
        "callback": FindingState.NEW_ITEM,  # the item did not exist in the earlier version
    }
    assert [f.state for f in comparison.findings] == sorted(
        (f.state for f in comparison.findings), key=list(FindingState).index
    )
    assert comparison.count("fixed") == 2 and comparison.count(FindingState.OPEN) == 1
    still = comparison.findings_in("open")[0]
    assert still.reason_then == still.reason_now == "3: the target is at most 1"
    dropped = comparison.findings_in("dropped")[0]
    assert dropped.touchpoint_title == "Wait in the waiting room" and dropped.reason_now is None
    assert comparison.findings_in("not_rechecked")[0].critical


def test_touchpoints_added_and_removed_between_versions_say_so():
    comparison = compare_walks(THEN, NOW)
    presence = {tp.key: tp.presence for tp in comparison.touchpoints}
    assert presence == {
        "website": Presence.BOTH,
        "billing-line": Presence.BOTH,
        "email": Presence.ADDED,
        "waiting-room": Presence.REMOVED,
    }
    assert [tp.key for tp in comparison.touchpoints] == ["website", "billing-line", "email", "waiting-room"]
    by_key = {tp.key: tp for tp in comparison.touchpoints}
    assert by_key["email"].headline == "Write to support: new in this version"
    assert by_key["email"].score_then is None and by_key["email"].score_now == 100.0
    assert by_key["waiting-room"].headline == "Wait in the waiting room: no longer checked"
    assert by_key["waiting-room"].score_then == 0.0 and by_key["waiting-room"].score_now is None


def test_scores_measures_and_promises_then_and_now():
    comparison = compare_walks(THEN, NOW)
    billing = next(tp for tp in comparison.touchpoints if tp.key == "billing-line")
    assert (billing.score_then, billing.score_now, billing.delta) == (40.0, 85.0, 45.0)
    assert billing.headline == (
        "Call the billing line: 40% → 85%, Time until a person answered: 4 min → 45 s, Hand-offs: 3 → 3"
    )
    wait, handoffs = billing.measures
    assert (wait.then_met, wait.now_met, wait.trend, wait.target) == (False, True, "better", "1 min")
    assert (handoffs.trend, handoffs.target) == ("same", "at most 1")
    email = next(tp for tp in comparison.touchpoints if tp.key == "email")
    assert email.measures[0].then is None and email.measures[0].now == "10 min" and email.measures[0].trend is None
    # promises: the wrap-up's verdict first, else "no finding in the touchpoint"
    assert (billing.kept_then, billing.kept_now) == (False, False)
    website = comparison.touchpoints[0]
    assert (website.kept_then, website.kept_now) == (False, True)
    assert comparison.promises_then == (0, 3) and comparison.promises_now == (2, 3)
    assert comparison.delta == 45.0 and comparison.then_at < comparison.now_at


def test_an_item_that_moved_to_another_touchpoint_is_still_the_same_item():
    moved = {
        "title": "Journey",
        "touchpoints": [
            {**BILLING_V1, "items": BILLING_V1["items"][:1]},
            {"key": "escalation", "title": "Ask for a manager", "items": BILLING_V1["items"][1:]},
        ],
    }
    now = WalkFacts(
        definition=moved,
        submitted_at=None,
        score=None,
        touchpoint_scores={},
        answers={"answer-time": 30, "transfers": 0, "resolved": "yes"},
    )
    then = WalkFacts(
        definition={"title": "Journey", "touchpoints": [BILLING_V1]},
        submitted_at=None,
        score=None,
        touchpoint_scores={},
        answers={"transfers": 2},
        findings=(finding("billing-line", "transfers", "2: the target is at most 1"),),
    )
    comparison = compare_walks(then, now)
    [change] = comparison.findings
    assert change.state == FindingState.FIXED and change.touchpoint_key == "escalation"
    escalation = comparison.touchpoints[1]
    assert escalation.presence == Presence.ADDED and escalation.measures[0].text == "Hand-offs: 2 → 0"


def test_two_walks_of_one_version_without_findings_compare_cleanly():
    walk = WalkFacts(
        definition=V1, submitted_at=None, score=100.0, touchpoint_scores={"website": 100.0}, answers={"hours": "yes"}
    )
    comparison = compare_walks(walk, walk)
    assert comparison.findings == ()
    assert all(tp.presence == Presence.BOTH for tp in comparison.touchpoints)
    assert comparison.promises_now == (1, 1) and comparison.delta == 0
    assert comparison.touchpoints[2].headline == "Wait in the waiting room: – → –"


def test_the_notable_changes_come_first_and_unchanged_touchpoints_are_left_out():
    comparison = compare_walks(THEN, NOW)
    assert [tp.key for tp in comparison.notable()] == ["email", "waiting-room", "billing-line"]
    assert [tp.key for tp in comparison.notable(limit=1)] == ["email"]
