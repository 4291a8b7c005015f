"""The built-in checklist library: every file is a valid, complete checklist, and the loader behaves."""

import dataclasses
import json
from typing import Any

import pytest

from shopper.checklists.builtin import (
    BUILTIN_SLUGS,
    LIBRARY_DIR,
    BuiltinChecklist,
    builtin_checklists,
    get_builtin,
)

EXPECTED_ORDER = ["be-your-customer", "service-health-check", "customer-first-culture", "complaint-recovery"]
EXPECTED_TITLES = {
    "be-your-customer": "Be your customer: front-to-back walk-through",
    "service-health-check": "Service health check",
    "customer-first-culture": "Customer-first culture check",
    "complaint-recovery": "Complaint recovery test",
}


def _items(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """All items of a definition in walk order."""
    return [item for touchpoint in definition["touchpoints"] for item in touchpoint["items"]]


def _item(definition: dict[str, Any], key: str) -> dict[str, Any]:
    return next(item for item in _items(definition) if item["key"] == key)


@pytest.fixture(params=EXPECTED_ORDER)
def builtin(request: pytest.FixtureRequest) -> BuiltinChecklist:
    return get_builtin(request.param)


def test_library_folder_holds_exactly_the_builtin_files() -> None:
    assert LIBRARY_DIR.parent.name == "checklists"
    assert sorted(path.stem for path in LIBRARY_DIR.glob("*.json")) == sorted(EXPECTED_ORDER)
    assert list(BUILTIN_SLUGS) == EXPECTED_ORDER


@pytest.mark.parametrize("slug", EXPECTED_ORDER)
def test_file_is_pretty_printed_utf8_without_trailing_spaces(slug: str) -> None:
    text = (LIBRARY_DIR / f"{slug}.json").read_bytes().decode("utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert not [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]


def test_definition_validates(builtin: BuiltinChecklist) -> None:
    from shopper.checklists.schema import validate_definition

    assert validate_definition(builtin.definition) == []


def test_title_and_description(builtin: BuiltinChecklist) -> None:
    assert builtin.definition["title"] == EXPECTED_TITLES[builtin.slug]
    assert len(builtin.definition.get("description", "")) >= 100


def test_five_to_ten_touchpoints_each_with_promise_and_guidance(builtin: BuiltinChecklist) -> None:
    touchpoints = builtin.definition["touchpoints"]
    assert 5 <= len(touchpoints) <= 10
    for touchpoint in touchpoints:
        assert touchpoint.get("promise", "").strip(), touchpoint["key"]
        assert len(touchpoint.get("guidance", "").strip()) >= 40, touchpoint["key"]


def test_keys_are_unique(builtin: BuiltinChecklist) -> None:
    touchpoint_keys = [touchpoint["key"] for touchpoint in builtin.definition["touchpoints"]]
    item_keys = [item["key"] for item in _items(builtin.definition)]
    assert len(set(touchpoint_keys)) == len(touchpoint_keys)
    assert len(set(item_keys)) == len(item_keys)
    for item in _items(builtin.definition):
        if item["type"] == "choice":
            values = [option["value"] for option in item["options"]]
            assert len(set(values)) == len(values), item["key"]


def test_show_if_refers_to_an_earlier_item_and_a_possible_answer(builtin: BuiltinChecklist) -> None:
    earlier: dict[str, dict[str, Any]] = {}
    for item in _items(builtin.definition):
        condition = item.get("show_if")
        if condition is not None:
            source = earlier.get(condition["item"])
            assert source is not None, f"{item['key']} depends on a later or unknown item"
            wanted = [condition["equals"]] if "equals" in condition else condition["in"]
            if source["type"] == "check":
                possible = {"yes", "no", "na"}
            else:
                assert source["type"] == "choice", item["key"]
                possible = {option["value"] for option in source["options"]}
            assert set(wanted) <= possible, item["key"]
        earlier[item["key"]] = item


def test_every_checklist_has_required_critical_and_proof_items(builtin: BuiltinChecklist) -> None:
    items = _items(builtin.definition)
    assert any(item.get("required") for item in items)
    assert any(item.get("critical") for item in items)
    assert any(item.get("evidence", {}).get("require") in {"note", "photo"} for item in items)
    assert len({item["type"] for item in items}) >= 6


def test_library_uses_every_item_type() -> None:
    types = {item["type"] for checklist in builtin_checklists() for item in _items(checklist.definition)}
    assert types == {"check", "rating", "choice", "text", "number", "timer", "counter", "photo", "date"}


def test_billing_line_is_timed_and_counts_transfers() -> None:
    definition = get_builtin("be-your-customer").definition
    assert _item(definition, "phone-time-to-human")["target_max_s"] == 60
    assert _item(definition, "phone-transfers")["target_max"] == 1
    resolved = _item(definition, "phone-resolved")
    assert resolved["critical"] is True
    assert resolved["evidence"]["require"] == "note"
    assert _item(definition, "renew-repeat-details")["expect"] == "no"
    assert _item(definition, "web-clicks-to-price")["type"] == "counter"


def test_complaint_recovery_counts_hand_offs_and_resolution_is_critical() -> None:
    definition = get_builtin("complaint-recovery").definition
    hand_offs = _item(definition, "handoff-count")
    assert (hand_offs["type"], hand_offs["target_max"]) == ("counter", 1)
    assert _item(definition, "handoff-repeat")["expect"] == "no"
    assert _item(definition, "resolved")["critical"] is True
    assert _item(definition, "complaint-channel")["type"] == "choice"


def test_service_health_check_asks_for_dates_and_a_customer_value() -> None:
    definition = get_builtin("service-health-check").definition
    assert _item(definition, "training-last-date")["type"] == "date"
    assert _item(definition, "training-next-date")["type"] == "date"
    value = _item(definition, "value-per-customer")
    assert value["type"] == "number" and value["unit"]


def test_builtin_checklists_order() -> None:
    checklists = builtin_checklists()
    assert [checklist.slug for checklist in checklists] == EXPECTED_ORDER
    assert all(isinstance(checklist, BuiltinChecklist) for checklist in checklists)


def test_get_builtin_returns_the_named_checklist() -> None:
    assert get_builtin("complaint-recovery").slug == "complaint-recovery"
    assert get_builtin("complaint-recovery") == builtin_checklists()[3]


@pytest.mark.parametrize("slug", ["", "nope", "Be-Your-Customer", "be-your-customer.json", "../library"])
def test_get_builtin_unknown_slug_raises_key_error(slug: str) -> None:
    with pytest.raises(KeyError):
        get_builtin(slug)


def test_builtin_checklist_is_frozen() -> None:
    checklist = get_builtin("be-your-customer")
    with pytest.raises(dataclasses.FrozenInstanceError):
        checklist.slug = "other"  # type: ignore[misc]


def test_mutating_a_returned_definition_does_not_leak() -> None:
    first = builtin_checklists()[0].definition
    first["title"] = "changed"
    first["touchpoints"][0]["items"].clear()
    first["touchpoints"].pop()

    again = builtin_checklists()[0].definition
    assert again["title"] == EXPECTED_TITLES["be-your-customer"]
    assert again["touchpoints"][0]["items"]

    single = get_builtin("service-health-check").definition
    single["touchpoints"][0]["promise"] = "changed"
    assert get_builtin("service-health-check").definition["touchpoints"][0]["promise"] != "changed"
    assert builtin_checklists()[1].definition["touchpoints"][0]["promise"] != "changed"
    assert again == get_builtin("be-your-customer").definition
