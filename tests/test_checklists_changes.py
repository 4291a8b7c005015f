"""The version-history summary (shopper.checklists.changes.summarize_changes)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings

from shopper.checklists.changes import summarize_changes
from shopper.checklists.schema import item_index, normalize
from tests.test_checklists_schema import definitions, full_definition


def edited(change: Any) -> dict[str, Any]:
    definition = full_definition()
    change(definition)
    return definition


def item(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return item_index(definition)[key][1]


def test_first_version() -> None:
    assert summarize_changes(None, full_definition()) == ["First version: 2 touchpoints, 11 items"]
    single = {
        "title": "T",
        "touchpoints": [
            {"key": "a", "title": "A", "channel": "other", "items": [{"key": "x", "type": "photo", "prompt": "?"}]}
        ],
    }
    assert summarize_changes(None, single) == ["First version: 1 touchpoint, 1 item"]


def test_no_change_and_defaults_written_out_are_not_changes() -> None:
    assert summarize_changes(full_definition(), full_definition()) == []

    def spell_out_defaults(definition: dict[str, Any]) -> None:
        definition["touchpoints"][1]["guidance"] = ""
        item(definition, "ease").update(weight=1.0, required=False, help="", flag_if="breach")
        item(definition, "screenshot").pop("evidence")
        item(definition, "who")["options"][0]["flag"] = False

    assert summarize_changes(full_definition(), edited(spell_out_defaults)) == []


def test_checklist_fields() -> None:
    def change(definition: dict[str, Any]) -> None:
        definition.update(title="Billing, again", description="New words")
        del definition["critical_cap"]

    assert summarize_changes(full_definition(), edited(change)) == [
        'Changed title to "Billing, again"',
        "Changed description",
        "Changed critical cap from 40 to 50",
    ]
    assert summarize_changes(full_definition(), edited(lambda d: d.pop("description"))) == ["Removed description"]
    assert summarize_changes(full_definition(), edited(lambda d: d.update(critical_cap=33.5))) == [
        "Changed critical cap from 40 to 33.5"
    ]


def test_touchpoints_added_removed_changed_and_moved() -> None:
    chat = {
        "key": "chat",
        "title": "Live chat",
        "channel": "chat",
        "items": [{"key": "chat-reply", "type": "timer", "prompt": "Reply time", "target_max_s": 120}],
    }
    assert summarize_changes(full_definition(), edited(lambda d: d["touchpoints"].append(chat))) == [
        'Added touchpoint "Live chat"'
    ]
    assert summarize_changes(edited(lambda d: d["touchpoints"].append(chat)), full_definition()) == [
        'Removed touchpoint "Live chat"'
    ]

    def rework(definition: dict[str, Any]) -> None:
        billing = definition["touchpoints"][1]
        billing.update(promise="A person answers within 30 seconds.", title="Billing phone line", guidance="Call")

    assert summarize_changes(full_definition(), edited(rework)) == [
        'Changed touchpoint "Billing phone line" (title, promise, guidance)'
    ]
    assert summarize_changes(full_definition(), edited(lambda d: d["touchpoints"].reverse())) == [
        'Moved touchpoint "Billing line"'
    ]


def test_moving_one_touchpoint_among_many_names_only_that_one() -> None:
    def many(order: list[int]) -> dict[str, Any]:
        touchpoints = [
            {
                "key": f"t{n}",
                "title": f"T{n}",
                "channel": "other",
                "items": [{"key": f"i{n}", "type": "date", "prompt": "?"}],
            }
            for n in range(5)
        ]
        return {"title": "T", "touchpoints": [touchpoints[n] for n in order]}

    assert summarize_changes(many([0, 1, 2, 3, 4]), many([0, 2, 3, 4, 1])) == ['Moved touchpoint "T1"']
    assert summarize_changes(many([0, 1, 2, 3, 4]), many([4, 0, 1, 2, 3])) == ['Moved touchpoint "T4"']


def test_items_added_removed_changed_and_moved() -> None:
    def change(definition: dict[str, Any]) -> None:
        website, billing = definition["touchpoints"]
        website["items"].append({"key": "hours", "type": "check", "prompt": "Opening hours shown?"})
        billing["items"] = [entry for entry in billing["items"] if entry["key"] != "topics"]
        item(definition, "answer-time").update(prompt="Seconds until a person answered", target_max_s=30)
        item(definition, "who")["options"][2]["flag"] = False
        item(definition, "notes").pop("max_length")
        item(definition, "price-found")["evidence"]["require"] = "photo"

    assert summarize_changes(full_definition(), edited(change)) == [
        'Changed item "price-found" (evidence)',
        'Added item "hours" to "Find the price online"',
        'Removed item "topics" from "Billing line"',
        'Changed item "answer-time" (prompt, target_max_s)',
        'Changed item "who" (options)',
        'Changed item "notes" (max_length)',
    ]


def test_item_type_change_lists_every_changed_field() -> None:
    def change(definition: dict[str, Any]) -> None:
        target = item(definition, "clicks")
        target.clear()
        target.update(key="clicks", type="number", prompt="Clicks?", target_max=3, unit="clicks", critical=True)

    assert summarize_changes(full_definition(), edited(change)) == ['Changed item "clicks" (type, critical)']


def test_items_moved_within_and_between_touchpoints() -> None:
    def reorder(definition: dict[str, Any]) -> None:
        items = definition["touchpoints"][1]["items"]
        items.insert(0, items.pop(4))  # "notes" to the front of the billing line

    assert summarize_changes(full_definition(), edited(reorder)) == ['Moved item "notes" within "Billing line"']

    def move_across(definition: dict[str, Any]) -> None:
        website, billing = definition["touchpoints"]
        moved = website["items"].pop(2)
        moved["prompt"] = "How many clicks to the price?"
        billing["items"].append(moved)

    assert summarize_changes(full_definition(), edited(move_across)) == [
        'Moved item "clicks" from "Find the price online" to "Billing line"',
        'Changed item "clicks" (prompt)',
    ]


def test_items_of_added_and_removed_touchpoints() -> None:
    def split(definition: dict[str, Any]) -> None:
        billing = definition["touchpoints"][1]
        hold = {"key": "hold", "title": "On hold", "channel": "phone", "items": [billing["items"].pop(3)]}
        hold["items"].append({"key": "music", "type": "rating", "prompt": "Hold music?", "scale": 3})
        definition["touchpoints"].append(hold)

    assert summarize_changes(full_definition(), edited(split)) == [
        'Added touchpoint "On hold"',
        'Moved item "wait" from "Billing line" to "On hold"',
    ]
    assert summarize_changes(edited(split), full_definition()) == [
        'Removed touchpoint "On hold"',
        'Moved item "wait" from "On hold" to "Billing line"',
    ]


def test_a_changed_key_reads_as_removed_and_added() -> None:
    def rename(definition: dict[str, Any]) -> None:
        item(definition, "wait")["key"] = "hold-minutes"

    assert summarize_changes(full_definition(), edited(rename)) == [
        'Removed item "wait" from "Billing line"',
        'Added item "hold-minutes" to "Billing line"',
    ]


def test_inputs_are_not_modified() -> None:
    old, new = full_definition(), edited(lambda d: d["touchpoints"].reverse())
    before = copy.deepcopy((old, new))
    summarize_changes(old, new)
    assert (old, new) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definitions(), definitions())
def test_summaries_of_random_versions(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert summarize_changes(old, old) == []
    assert summarize_changes(old, normalize(old)) == []
    lines = summarize_changes(old, new)
    assert all(isinstance(line, str) and line for line in lines)
    assert (lines == []) == (normalize(old) == normalize(new))
