import copy
import re

import pytest

from shopper.checklists import editor
from shopper.checklists.models import Checklist
from shopper.checklists.schema import ITEM_TYPES, Problem, validate_definition
from shopper.orgs.models import Role
from tests.factories import SMALL_CHECKLIST

ALL_TYPES = {
    "title": "Front desk walk",
    "description": "Be the patient, from the phone call to the bill.",
    "touchpoints": [
        {
            "key": "phone",
            "title": "Call to book",
            "channel": "phone",
            "promise": "A person answers within a minute",
            "guidance": "Call at lunchtime, like a busy customer would.",
            "items": [
                {"key": "answered", "type": "check", "prompt": "Did a person answer?", "required": True},
                {
                    "key": "wait",
                    "type": "timer",
                    "prompt": "Time until a person answered",
                    "target_max_s": 60,
                },
                {
                    "key": "handoffs",
                    "type": "counter",
                    "prompt": "How often were you passed on?",
                    "target_max": 1,
                    "unit": "hand-offs",
                },
                {
                    "key": "friendly",
                    "type": "rating",
                    "prompt": "How friendly was the call?",
                    "scale": 5,
                    "labels": ["Rude", "Cold", "Fine", "Warm", "Delightful"],
                    "target_min": 4,
                    "show_if": {"item": "answered", "equals": "yes"},
                },
            ],
        },
        {
            "key": "desk",
            "title": "Arrive at the front desk",
            "channel": "in-person",
            "promise": "You are greeted by name",
            "items": [
                {
                    "key": "greeting",
                    "type": "choice",
                    "prompt": "Who greeted you?",
                    "options": [
                        {"value": "nobody", "label": "Nobody", "score": 0, "flag": True},
                        {"value": "receptionist", "label": "The receptionist", "score": 100},
                    ],
                },
                {"key": "remarks", "type": "text", "prompt": "Anything else?", "max_length": 500},
                {
                    "key": "queue",
                    "type": "number",
                    "prompt": "People waiting ahead of you",
                    "unit": "people",
                    "target_min": 0,
                    "target_max": 3,
                },
                {
                    "key": "desk-photo",
                    "type": "photo",
                    "prompt": "Photo of the desk",
                    "evidence": {"prompt": "Show the sign-in sheet", "require": "photo"},
                },
                {
                    "key": "next-slot",
                    "type": "date",
                    "prompt": "First appointment offered",
                    "show_if": {"item": "greeting", "in": ["receptionist"]},
                },
            ],
        },
    ],
}


def keys(definition):
    return [[item["key"] for item in tp["items"]] for tp in definition["touchpoints"]]


@pytest.fixture
def definition():
    return copy.deepcopy(ALL_TYPES)


# Pure edits -------------------------------------------------------------------------------------------------


EDITS = [
    lambda d: editor.add_touchpoint(d, {"title": "Pay the bill", "channel": "billing"}),
    lambda d: editor.update_touchpoint(d, "phone", {"key": "call", "title": "Call us", "channel": "phone"}),
    lambda d: editor.move_touchpoint(d, "desk", "up"),
    lambda d: editor.remove_touchpoint(d, "desk"),
    lambda d: editor.add_item(d, "desk", {"type": "check", "prompt": "Was the desk tidy?"}),
    lambda d: editor.update_item(d, "answered", {"key": "picked-up", "type": "check", "prompt": "Picked up?"}),
    lambda d: editor.move_item(d, "greeting", "up"),
    lambda d: editor.remove_item(d, "remarks"),
    lambda d: editor.update_settings(d, title="Renamed", description="", critical_cap=30),
]


@pytest.mark.parametrize("edit", EDITS)
def test_edits_never_change_their_input(definition, edit):
    before = copy.deepcopy(definition)
    result = edit(definition)
    assert definition == before
    new = result.definition if isinstance(result, editor.Edit) else result
    assert new != before


def test_add_touchpoint_makes_a_unique_key_from_the_title(definition):
    first = editor.add_touchpoint(definition, {"title": "Call to book", "channel": "phone"})
    assert first.path == "touchpoints[2]"
    added = first.definition["touchpoints"][2]
    assert added == {"key": "call-to-book", "title": "Call to book", "channel": "phone", "items": []}
    second = editor.add_touchpoint(first.definition, {"key": "", "title": "Call to book", "channel": "phone"})
    assert second.definition["touchpoints"][3]["key"] == "call-to-book-2"


@pytest.mark.parametrize(("title", "key"), [("¿Qué pasa?", "que-pasa"), ("!!!", "touchpoint")])
def test_keys_are_made_of_plain_letters(definition, title, key):
    added = editor.add_touchpoint(definition, {"title": title, "channel": "other"})
    assert added.definition["touchpoints"][2]["key"] == key


def test_a_new_touchpoint_without_items_has_no_problem_yet(definition):
    added = editor.add_touchpoint(definition, {"title": "Pay the bill", "channel": "billing"})
    assert validate_definition(added.definition) != []  # it does need an item before publishing
    assert editor.problems_for(added.definition, added.path) == []


def test_duplicate_keys_are_refused_beside_the_key(definition):
    with pytest.raises(editor.EditRefused) as refused:
        editor.add_touchpoint(definition, {"key": "desk", "title": "Desk again", "channel": "other"})
    assert refused.value.field == "key" and '"desk"' in str(refused.value)
    with pytest.raises(editor.EditRefused) as refused:
        editor.update_item(definition, "wait", {"key": "answered", "type": "timer", "prompt": "Wait"})
    assert refused.value.field == "key"
    with pytest.raises(editor.EditRefused):
        editor.update_touchpoint(definition, "phone", {"key": "desk", "title": "x", "channel": "phone"})


def test_update_touchpoint_keeps_its_items(definition):
    edit = editor.update_touchpoint(
        definition,
        "desk",
        {"key": "", "title": "At the desk", "channel": "in-person", "guidance": "Be late."},
    )
    desk = edit.definition["touchpoints"][1]
    assert (desk["key"], desk["title"], desk["guidance"]) == ("desk", "At the desk", "Be late.")
    assert "promise" not in desk
    assert desk["items"] == definition["touchpoints"][1]["items"]
    assert list(desk) == ["key", "title", "channel", "guidance", "items"]


def test_saving_without_changes_keeps_the_draft_as_it_was(definition):
    definition["touchpoints"][0]["items"][0]["weight"] = 1  # explicit default
    same = {"key": "answered", "type": "check", "prompt": "Did a person answer?", "required": True}
    assert editor.update_item(definition, "answered", same).definition == definition


def test_move_touchpoint(definition):
    up = editor.move_touchpoint(definition, "desk", "up")
    assert [tp["key"] for tp in up.definition["touchpoints"]] == ["desk", "phone"]
    assert up.path == "touchpoints[0]"
    assert editor.move_touchpoint(definition, "phone", "up").definition == definition
    assert editor.move_touchpoint(definition, "desk", "down").definition == definition


def test_moving_a_touchpoint_keeps_conditions_after_their_answers():
    definition = copy.deepcopy(ALL_TYPES)
    definition["touchpoints"][1]["items"][1]["show_if"] = {"item": "answered", "equals": "yes"}
    with pytest.raises(editor.EditRefused, match='"Anything else\\?" only shows after "Did a person answer\\?"'):
        editor.move_touchpoint(definition, "desk", "up")


def test_move_item_within_and_across_touchpoints(definition):
    down = editor.move_item(definition, "answered", "down")
    assert keys(down.definition)[0][:2] == ["wait", "answered"]
    assert down.path == "touchpoints[0].items[1]"
    across = editor.move_item(definition, "friendly", "down")
    assert keys(across.definition) == [
        ["answered", "wait", "handoffs"],
        ["friendly", "greeting", "remarks", "queue", "desk-photo", "next-slot"],
    ]
    assert across.path == "touchpoints[1].items[0]"
    back = editor.move_item(across.definition, "friendly", "up")
    assert back.definition == definition and back.path == "touchpoints[0].items[3]"
    assert editor.move_item(definition, "answered", "up").definition == definition
    assert editor.move_item(definition, "next-slot", "down").definition == definition


def test_an_item_cannot_move_above_the_item_that_shows_it(definition):
    once = editor.move_item(definition, "friendly", "up").definition
    twice = editor.move_item(once, "friendly", "up").definition
    assert keys(twice)[0] == ["answered", "friendly", "wait", "handoffs"]
    with pytest.raises(editor.EditRefused, match='"How friendly was the call\\?" only shows after'):
        editor.move_item(twice, "friendly", "up")
    with pytest.raises(editor.EditRefused, match="has to stay after it"):
        editor.move_item(twice, "answered", "down")


def test_add_item_appends_it_with_a_key_from_the_prompt(definition):
    edit = editor.add_item(definition, "desk", {"key": "", "type": "check", "prompt": "Was the desk tidy?"})
    assert edit.path == "touchpoints[1].items[5]"
    assert edit.definition["touchpoints"][1]["items"][5] == {
        "key": "was-the-desk-tidy",
        "type": "check",
        "prompt": "Was the desk tidy?",
    }
    again = editor.add_item(edit.definition, "phone", {"type": "check", "prompt": "Was the desk tidy?"})
    assert again.definition["touchpoints"][0]["items"][-1]["key"] == "was-the-desk-tidy-2"


def test_renaming_an_item_key_updates_the_conditions_on_it(definition):
    edit = editor.update_item(
        definition, "answered", {"key": "picked-up", "type": "check", "prompt": "Did a person answer?"}
    )
    friendly = editor.find_item(edit.definition, "friendly")
    assert friendly["show_if"] == {"item": "picked-up", "equals": "yes"}
    assert editor.find_item(edit.definition, "answered") is None
    assert editor.problems_for(edit.definition, edit.path) == []


def test_a_blank_key_keeps_the_item_key(definition):
    edit = editor.update_item(definition, "wait", {"key": "", "type": "timer", "prompt": "Wait", "target_max_s": 30})
    assert edit.definition["touchpoints"][0]["items"][1] == {
        "key": "wait",
        "type": "timer",
        "prompt": "Wait",
        "target_max_s": 30,
    }


def test_removing_an_item_others_depend_on_is_refused(definition):
    with pytest.raises(editor.EditRefused) as refused:
        editor.remove_item(definition, "answered")
    assert '"How friendly was the call?"' in str(refused.value)
    assert "Did a person answer?" in str(refused.value)
    removed = editor.remove_item(definition, "friendly")
    assert keys(removed)[0] == ["answered", "wait", "handoffs"]
    assert editor.remove_item(removed, "answered") is not None


def test_removing_a_touchpoint(definition):
    assert [tp["key"] for tp in editor.remove_touchpoint(definition, "desk")["touchpoints"]] == ["phone"]
    definition["touchpoints"][1]["items"][1]["show_if"] = {"item": "answered", "equals": "no"}
    with pytest.raises(editor.EditRefused, match='"Call to book" cannot be removed: "Anything else\\?"'):
        editor.remove_touchpoint(definition, "phone")


def test_update_settings(definition):
    edit = editor.update_settings(definition, title="New title", description="", critical_cap=None)
    assert edit.path == ""
    assert list(edit.definition) == ["title", "touchpoints"]
    edit = editor.update_settings(definition, title="New title", description="Why", critical_cap=30)
    assert (edit.definition["description"], edit.definition["critical_cap"]) == ("Why", 30)
    assert edit.definition["touchpoints"] == definition["touchpoints"]


def test_problems_for_keeps_the_edited_element_and_the_conditions_on_it(definition):
    definition["touchpoints"][1]["items"][1]["prompt"] = ""  # a problem elsewhere
    retyped = editor.update_item(
        definition, "answered", {"key": "answered", "type": "rating", "prompt": "Answered?", "scale": 5}
    )
    problems = editor.problems_for(retyped.definition, retyped.path)
    assert [p.path for p in problems] == ["touchpoints[0].items[3].show_if.equals"]
    assert "is not a possible answer of" in problems[0].message
    bad = editor.update_item(definition, "wait", {"key": "wait", "type": "rating", "prompt": "Wait", "scale": 12})
    assert editor.problems_for(bad.definition, bad.path) == [
        Problem("touchpoints[0].items[1].scale", "must be a whole number from 3 to 10, not 12")
    ]
    settings = editor.update_settings(definition, title=" ", critical_cap=500)
    assert [p.path for p in editor.problems_for(settings.definition, "")] == ["title", "critical_cap"]


def test_where_names_the_element():
    assert editor.where(ALL_TYPES, "touchpoints[0].items[1].target_max_s") == 'the item "Time until a person answered"'
    assert editor.where(ALL_TYPES, "touchpoints[1].title") == 'the touchpoint "Arrive at the front desk"'
    assert editor.where(ALL_TYPES, "title") == "the checklist"


def test_condition_sources_are_the_earlier_answerable_items(definition):
    assert [i["key"] for i in editor.condition_sources(definition, "desk", "remarks")] == [
        "answered",
        "wait",
        "handoffs",
        "friendly",
        "greeting",
    ]
    assert [i["key"] for i in editor.condition_sources(definition, "phone")] == [
        "answered",
        "wait",
        "handoffs",
        "friendly",
    ]
    assert "desk-photo" not in [i["key"] for i in editor.condition_sources(definition, "desk")]


# Text inputs ------------------------------------------------------------------------------------------------


def test_options_are_written_one_per_line():
    text = "nobody = Nobody answered : 0 !\nreceptionist=The receptionist:100\n\n  A robot  \nwow = Wow! : 50"
    assert editor.parse_options(text) == [
        {"value": "nobody", "label": "Nobody answered", "score": 0, "flag": True},
        {"value": "receptionist", "label": "The receptionist", "score": 100},
        {"value": "a-robot", "label": "A robot"},
        {"value": "wow", "label": "Wow!", "score": 50},
    ]
    assert editor.parse_options("late = Late: 5 minutes\nhalf = Half : 2,5") == [
        {"value": "late", "label": "Late: 5 minutes"},
        {"value": "half", "label": "Half", "score": 2.5},
    ]


@pytest.mark.parametrize(
    "options",
    [
        [{"value": "a", "label": "Wow!"}, {"value": "b", "label": "Wait: 5", "flag": True}],
        [{"value": "a", "label": "Plain", "score": 12.5, "flag": True}, {"value": "b", "label": "a = b"}],
    ],
)
def test_options_text_reads_back_the_same(options):
    parsed = editor.parse_options(editor.options_text(options))
    assert [
        {k: v for k, v in o.items() if k != "score" or "score" in original}
        for o, original in zip(parsed, options, strict=True)
    ] == options


def test_labels_numbers_and_conditions():
    assert editor.parse_labels("Poor\n\n Fair \nGood\n") == ["Poor", "Fair", "Good"]
    assert editor.parse_number("60") == 60 and isinstance(editor.parse_number("60.0"), int)
    assert editor.parse_number("2,5") == 2.5
    with pytest.raises(ValueError):
        editor.parse_number("soon")
    assert editor.parse_condition(ALL_TYPES, "answered", "Yes") == {"item": "answered", "equals": "yes"}
    assert editor.parse_condition(ALL_TYPES, "answered", "no, N/A") == {
        "item": "answered",
        "in": ["no", "na"],
    }
    assert editor.parse_condition(ALL_TYPES, "friendly", "4, 5") == {"item": "friendly", "in": [4, 5]}
    assert editor.parse_condition(ALL_TYPES, "greeting", "The receptionist") == {
        "item": "greeting",
        "equals": "receptionist",
    }
    assert editor.condition_text({"item": "friendly", "in": [4, 5]}) == "4, 5"


# Views ------------------------------------------------------------------------------------------------------


@pytest.fixture
def team(make):
    org = make.org("Harbour Physio")
    other = make.org("Other Business")
    manager = make.member(org, Role.MANAGER)
    return {
        "org": org,
        "other": other,
        "manager": manager,
        "auditor": make.member(org, Role.AUDITOR),
        "stranger": make.member(other, Role.OWNER),
        "checklist": make.checklist(org, by=manager, definition=ALL_TYPES),
    }


def url(team, path=""):
    return f"/o/{team['org'].slug}/checklists/{team['checklist'].id}/{path}"


def draft(make, team):
    return make.get(Checklist, team["checklist"].id).draft


ITEM_FORM = {
    "type": "check",
    "prompt": "Was the desk tidy?",
    "expect": "yes",
    "evidence_require": "none",
    "flag_if": "y",
    "show_if_item": "",
}

EDITING = [
    ("get", "edit", None),
    ("get", "settings", None),
    ("post", "settings", {"title": "Renamed"}),
    ("get", "touchpoints/new", None),
    ("post", "touchpoints/new", {"title": "Pay the bill", "channel": "billing"}),
    ("get", "touchpoints/desk", None),
    ("post", "touchpoints/desk", {"title": "At the desk", "channel": "in-person"}),
    ("post", "touchpoints/desk/move", {"direction": "up"}),
    ("post", "touchpoints/desk/remove", {}),
    ("get", "touchpoints/desk/items/new", None),
    ("post", "touchpoints/desk/items/new", ITEM_FORM),
    ("get", "items/remarks", None),
    ("post", "items/remarks", {**ITEM_FORM, "type": "text", "prompt": "Anything more?"}),
    ("post", "items/remarks/move", {"direction": "up"}),
    ("post", "items/remarks/remove", {}),
]


@pytest.mark.parametrize(("method", "path", "data"), EDITING)
def test_managers_use_every_editing_route(client, login, make, team, method, path, data):
    login(team["manager"])
    response = getattr(client, method)(url(team, path), data=data)
    assert response.status_code == (200 if method == "get" else 302), response.data
    if method == "post":
        assert draft(make, team) != ALL_TYPES


def test_auditors_get_403_on_editing_and_may_preview(client, login, make, team):
    login(team["auditor"])
    for method, path, data in EDITING:
        assert getattr(client, method)(url(team, path), data=data).status_code == 403, path
    assert draft(make, team) == ALL_TYPES
    assert client.get(url(team, "preview")).status_code == 200
    assert client.get(url(team, "preview?version=1")).status_code == 200


def test_another_organization_gets_404_everywhere(client, login, make, team):
    login(team["stranger"])
    for method, path, data in [*EDITING, ("get", "preview", None), ("get", "preview?version=1", None)]:
        assert getattr(client, method)(url(team, path), data=data).status_code == 404, path
    assert draft(make, team) == ALL_TYPES


def test_a_checklist_of_another_organization_is_404_from_inside_mine(client, login, make, team):
    """The stranger is an owner in their own organization and guesses our checklist's id there."""
    login(team["stranger"])
    other_slug = team["other"].slug
    for method, path, data in [*EDITING, ("get", "preview", None)]:
        target = f"/o/{other_slug}/checklists/{team['checklist'].id}/{path}"
        assert getattr(client, method)(target, data=data).status_code == 404, path


@pytest.mark.parametrize(
    "path",
    ["touchpoints/nope", "touchpoints/nope/items/new", "items/nope"],
)
def test_unknown_keys_are_404(client, login, team, path):
    login(team["manager"])
    assert client.get(url(team, path)).status_code == 404


@pytest.mark.parametrize(
    "path", ["touchpoints/nope/move", "touchpoints/nope/remove", "items/nope/move", "items/nope/remove"]
)
def test_unknown_keys_are_404_on_post(client, login, team, path):
    login(team["manager"])
    assert client.post(url(team, path), data={"direction": "up"}).status_code == 404


def test_unknown_version_is_404_and_a_version_that_is_not_a_number_400(client, login, team):
    login(team["manager"])
    assert client.get(url(team, "preview?version=9")).status_code == 404
    refused = client.get(url(team, "preview?version=first"))
    assert refused.status_code == 400 and "“first” is not a version number" in refused.get_data(as_text=True)


def test_edit_page_lists_touchpoints_and_items(client, login, make, team):
    login(team["manager"])
    page = client.get(url(team, "edit")).get_data(as_text=True)
    assert page.index("Call to book") < page.index("Arrive at the front desk")
    assert page.index("Did a person answer?") < page.index("Time until a person answered")
    for badge in ("Required", "Prove it", "Conditional"):
        assert badge in page
    assert "Unpublished changes" not in page
    client.post(url(team, "settings"), data={"title": "Front desk walk, take two"})
    page = client.get(url(team, "edit")).get_data(as_text=True)
    assert "Unpublished changes: " in page and "publish</a> to use them in new audits" in page


def test_a_round_of_edits_leaves_a_valid_draft(client, login, make, team):
    login(team["manager"])
    steps = [
        ("touchpoints/new", {"title": "Pay the bill", "channel": "billing", "promise": "No surprises"}),
        ("touchpoints/pay-the-bill/items/new", {**ITEM_FORM, "prompt": "Was the bill what you were told?"}),
        (
            "touchpoints/pay-the-bill/items/new",
            {
                **ITEM_FORM,
                "type": "choice",
                "prompt": "How did you pay?",
                "multiple": "y",
                "options": "card = Card : 100\ncash = Cash only : 0 !",
            },
        ),
        (
            "touchpoints/pay-the-bill/items/new",
            {
                **ITEM_FORM,
                "type": "rating",
                "prompt": "How clear was the bill?",
                "scale": "4",
                "labels": "Baffling\nUnclear\nClear\nCrystal",
                "target_min": "3",
                "show_if_item": "was-the-bill-what-you-were-told",
                "show_if_answers": "no",
            },
        ),
        (
            "items/was-the-bill-what-you-were-told",
            {
                **ITEM_FORM,
                "key": "bill-as-told",
                "prompt": "Bill as told?",
                "critical": "y",
                "weight": "3",
                "evidence_prompt": "Photo",
                "evidence_require": "photo",
            },
        ),
        ("items/wait", {**ITEM_FORM, "type": "timer", "prompt": "Wait for a person", "target_max_s": "90"}),
        ("items/queue/move", {"direction": "down"}),
        ("touchpoints/pay-the-bill/move", {"direction": "up"}),
        ("items/remarks/remove", {}),
        ("settings", {"title": "Front desk walk", "critical_cap": "40"}),
    ]
    for path, data in steps:
        response = client.post(url(team, path), data=data)
        assert response.status_code == 302, (path, response.get_data(as_text=True))
    result = draft(make, team)
    assert validate_definition(result) == []
    assert [tp["key"] for tp in result["touchpoints"]] == ["phone", "pay-the-bill", "desk"]
    assert keys(result)[1] == ["bill-as-told", "how-did-you-pay", "how-clear-was-the-bill"]
    assert editor.find_item(result, "how-clear-was-the-bill")["show_if"] == {
        "item": "bill-as-told",
        "equals": "no",
    }
    assert editor.find_item(result, "bill-as-told") == {
        "key": "bill-as-told",
        "type": "check",
        "prompt": "Bill as told?",
        "weight": 3,
        "critical": True,
        "evidence": {"prompt": "Photo", "require": "photo"},
    }
    assert editor.find_item(result, "how-did-you-pay")["options"][1] == {
        "value": "cash",
        "label": "Cash only",
        "score": 0,
        "flag": True,
    }
    assert editor.find_item(result, "wait") == {
        "key": "wait",
        "type": "timer",
        "prompt": "Wait for a person",
        "target_max_s": 90,
    }
    assert keys(result)[2] == ["greeting", "desk-photo", "queue", "next-slot"]
    assert result["critical_cap"] == 40


def test_item_form_prefills_and_keeps_only_the_chosen_type(client, login, make, team):
    login(team["manager"])
    page = client.get(url(team, "items/greeting")).get_data(as_text=True)
    assert "nobody = Nobody : 0 !" in page and "receptionist = The receptionist : 100" in page
    assert 'selected value="choice"' in page or 'value="choice" selected' in page
    # the other types' settings are ignored, even when they hold nonsense
    response = client.post(
        url(team, "items/remarks"),
        data={
            **ITEM_FORM,
            "type": "text",
            "prompt": "Anything else?",
            "max_length": "500",
            "scale": "lots",
            "target_max_s": "-4",
            "options": "x",
        },
    )
    assert response.status_code == 302
    assert editor.find_item(draft(make, team), "remarks") == ALL_TYPES["touchpoints"][1]["items"][1]


def test_zero_targets_are_kept(client, login, make, team):
    login(team["manager"])
    data = {
        **ITEM_FORM,
        "type": "number",
        "prompt": "People waiting",
        "target_min": "0",
        "target_max": "0",
        "unit": "",
    }
    assert client.post(url(team, "items/queue"), data=data).status_code == 302
    assert editor.find_item(draft(make, team), "queue") == {
        "key": "queue",
        "type": "number",
        "prompt": "People waiting",
        "target_min": 0,
        "target_max": 0,
    }


def test_new_item_preselects_the_type(client, login, team):
    login(team["manager"])
    page = client.get(url(team, "touchpoints/desk/items/new?type=timer")).get_data(as_text=True)
    assert '<option selected value="timer">' in page or '<option value="timer" selected>' in page


@pytest.mark.parametrize(
    ("path", "data", "field", "message"),
    [
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "type": "rating", "scale": "12"},
            "scale",
            "Must be a whole number from 3 to 10, not 12",
        ),
        ("touchpoints/desk/items/new", {**ITEM_FORM, "prompt": " "}, "prompt", "Must not be empty"),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "key": "queue"},
            "key",
            "Another item already uses the key &#34;queue&#34;",
        ),
        ("touchpoints/desk/items/new", {**ITEM_FORM, "key": "Big Key"}, "key", "is not a valid key"),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "type": "number", "target_min": "5", "target_max": "2"},
            "target_min",
            "Must not be more than target_max",
        ),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "type": "rating", "scale": "3", "labels": "a\nb\nc\nd"},
            "labels",
            "Has 4 labels but the scale has 3 points",
        ),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "type": "choice", "options": ""},
            "options",
            "Give at least two options",
        ),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "type": "choice", "options": "Yes\nYes"},
            "options",
            "Line 2: Duplicate option value",
        ),
        ("touchpoints/desk/items/new", {**ITEM_FORM, "weight": "heavy"}, "weight", "Enter a number"),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "show_if_item": "answered"},
            "show_if_answers",
            "Give the answer that shows this item",
        ),
        (
            "touchpoints/desk/items/new",
            {**ITEM_FORM, "show_if_item": "answered", "show_if_answers": "maybe"},
            "show_if_answers",
            "&#34;maybe&#34; is not a possible answer",
        ),
        (
            "items/greeting",
            {**ITEM_FORM, "key": "greeting", "type": "check"},
            None,
            "In the item &#34;First appointment offered&#34;",
        ),
        (
            "items/wait",
            {**ITEM_FORM, "type": "timer", "prompt": "Wait", "target_max_s": "1.5"},
            "target_max_s",
            "Must be a whole number from 0 to 86400",
        ),
        ("touchpoints/new", {"title": "", "channel": "phone"}, "title", "Must not be empty"),
        (
            "touchpoints/new",
            {"title": "Desk", "channel": "phone", "key": "desk"},
            "key",
            "Another touchpoint already uses the key",
        ),
        ("touchpoints/desk", {"title": "Desk", "channel": "carrier-pigeon"}, "channel", "Not a valid choice"),
        (
            "settings",
            {"title": "Walk", "critical_cap": "500"},
            "critical_cap",
            "Must be a number from 0 to 100, not 500",
        ),
        ("settings", {"title": ""}, "title", "Must not be empty"),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    client, login, make, team, path, data, field, message
):
    login(team["manager"])
    response = client.post(url(team, path), data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    if field:
        assert f'id="{field}-error"' in page and message in page.split(f'id="{field}-error"')[1][:300]
    else:
        assert 'class="form-problems"' in page
    assert draft(make, team) == ALL_TYPES


def test_moving_the_first_up_is_a_quiet_no_op(client, login, make, team):
    login(team["manager"])
    for path in ("touchpoints/phone/move", "items/answered/move"):
        response = client.post(url(team, path), data={"direction": "up"})
        assert response.status_code == 302
    assert draft(make, team) == ALL_TYPES
    assert client.post(url(team, "items/answered/move"), data={"direction": "sideways"}).status_code == 400


def test_moves_and_removals_that_would_break_a_condition_are_refused(client, login, make, team):
    login(team["manager"])
    for _ in range(2):
        assert client.post(url(team, "items/friendly/move"), data={"direction": "up"}).status_code == 302
    before = draft(make, team)
    response = client.post(url(team, "items/friendly/move"), data={"direction": "up"})
    assert response.status_code == 409 and "has to stay after it" in response.get_data(as_text=True)
    response = client.post(url(team, "items/answered/remove"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "cannot be removed" in page and "How friendly was the call?" in page
    assert draft(make, team) == before


def test_moves_and_removals_save(client, login, make, team):
    login(team["manager"])
    assert client.post(url(team, "items/handoffs/move"), data={"direction": "up"}).status_code == 302
    assert keys(draft(make, team))[0] == ["answered", "handoffs", "wait", "friendly"]
    response = client.post(url(team, "items/queue/remove"), follow_redirects=True)
    assert "Removed “People waiting ahead of you”." in response.get_data(as_text=True)
    assert editor.find_item(draft(make, team), "queue") is None


def test_the_edit_page_buttons_carry_the_csrf_token(csrf_client, login, make, team):
    login(team["manager"], on=csrf_client)
    page = csrf_client.get(url(team, "edit")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    move = url(team, "items/handoffs/move")
    assert csrf_client.post(move, data={"direction": "up"}).status_code == 400
    assert csrf_client.post(url(team, "items/handoffs/remove")).status_code == 400
    assert draft(make, team) == ALL_TYPES
    assert csrf_client.post(move, data={"direction": "up", "csrf_token": token}).status_code == 302
    assert keys(draft(make, team))[0][1] == "handoffs"


def test_new_touchpoint_with_a_blank_key_gets_one_and_then_items(client, login, make, team):
    login(team["manager"])
    response = client.post(url(team, "touchpoints/new"), data={"title": "Read the website", "channel": "website"})
    assert response.headers["Location"].endswith("/edit#tp-read-the-website")
    assert client.get(url(team, "edit")).status_code == 200
    assert client.post(url(team, "touchpoints/read-the-website/items/new"), data=ITEM_FORM).status_code == 302
    assert keys(draft(make, team))[2] == ["was-the-desk-tidy"]


def test_saving_without_changes_keeps_the_draft(client, login, make, team):
    login(team["manager"])
    form = client.get(url(team, "items/friendly"))
    assert form.status_code == 200
    data = {
        **ITEM_FORM,
        "key": "friendly",
        "type": "rating",
        "prompt": "How friendly was the call?",
        "scale": "5",
        "labels": "Rude\nCold\nFine\nWarm\nDelightful",
        "target_min": "4",
        "show_if_item": "answered",
        "show_if_answers": "yes",
    }
    response = client.post(url(team, "items/friendly"), data=data, follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    assert draft(make, team) == ALL_TYPES
    assert "Unpublished changes" not in response.get_data(as_text=True)


def test_preview_shows_every_type_of_control(client, login, make, team):
    login(team["auditor"])
    page = client.get(url(team, "preview")).get_data(as_text=True)
    assert {item["type"] for tp in ALL_TYPES["touchpoints"] for item in tp["items"]} == set(ITEM_TYPES)
    for control in ITEM_TYPES:
        assert f"control-{control}" in page, control
    assert "A person answers within a minute" in page  # the promise
    assert "Step into your customer's shoes" in page and "Call at lunchtime" in page
    assert 'value="na"' in page and "N/A" in page  # check
    assert page.count('name="friendly"') == 5 and "Delightful" in page  # rating
    assert 'type="radio" name="greeting"' in page and "The receptionist" in page  # choice
    assert 'maxlength="500"' in page  # text
    assert ">people<" in page  # number unit
    assert "00:00" in page and "at most 60 s" in page  # timer
    assert "One more" in page and "One less" in page and "at most 1 hand-offs" in page  # counter
    assert "Take a photo" in page and 'accept="image/*"' in page  # photo
    assert 'type="date"' in page  # date
    assert "Show the sign-in sheet" in page and "Photo required" in page  # evidence
    assert "Shown when “Did a person answer?” is yes" in page
    assert "Shown when “Who greeted you?” is The receptionist" in page
    assert "at least 4 out of 5" in page and "between 0 and 3 people" in page
    assert page.count(" disabled") >= 9


def test_preview_of_a_version_and_of_an_empty_draft(client, login, make, team):
    login(team["manager"])
    client.post(url(team, "touchpoints/phone"), data={"title": "Ring us", "channel": "phone"})
    assert "Ring us" in client.get(url(team, "preview")).get_data(as_text=True)
    old = client.get(url(team, "preview?version=1")).get_data(as_text=True)
    assert "Ring us" not in old and "Call to book" in old and "version 1" in old
    empty = make.checklist(
        team["org"], by=team["manager"], definition={"title": "Empty", "touchpoints": []}, publish=False
    )
    page = client.get(f"/o/{team['org'].slug}/checklists/{empty.id}/preview")
    assert page.status_code == 200 and "Nothing to walk yet" in page.get_data(as_text=True)
    page = client.get(f"/o/{team['org'].slug}/checklists/{empty.id}/edit")
    assert page.status_code == 200 and "Start with the first one" in page.get_data(as_text=True)


def test_the_small_checklist_previews(client, login, make, team):
    checklist = make.checklist(team["org"], by=team["manager"], definition=SMALL_CHECKLIST)
    login(team["auditor"])
    page = client.get(f"/o/{team['org'].slug}/checklists/{checklist.id}/preview").get_data(as_text=True)
    assert "A person answers within a minute" in page and "What did they say?" in page


def test_edit_page_query_count_does_not_grow_with_the_checklist(client, login, make, team, count_queries):
    def checklist_of(touchpoints, items):
        return make.checklist(
            team["org"],
            by=team["manager"],
            definition={
                "title": "Everything",
                "touchpoints": [
                    {
                        "key": f"tp-{t}",
                        "title": f"Touchpoint {t}",
                        "channel": "other",
                        "promise": "We keep it",
                        "items": [
                            {
                                "key": f"item-{t}-{i}",
                                "type": "check",
                                "prompt": f"Item {i}?",
                                "required": i % 2 == 0,
                                **({"show_if": {"item": "item-0-0", "equals": "yes"}} if t or i else {}),
                            }
                            for i in range(items)
                        ],
                    }
                    for t in range(touchpoints)
                ],
            },
        )

    login(team["manager"])
    counts = []
    for checklist in (checklist_of(1, 1), checklist_of(8, 10)):
        with count_queries() as queries:
            response = client.get(f"/o/{team['org'].slug}/checklists/{checklist.id}/edit")
        assert response.status_code == 200
        counts.append(queries.count)
    assert response.get_data(as_text=True).count('class="tag tag-type"') == 80
    assert counts[0] == counts[1] <= 8
