"""The item type registry (shopper/checklists/items/): every type is complete, nothing else names a type, and the
walk's script reads the same per-type facts as Python."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shopper.checklists.forms import ItemForm
from shopper.checklists.io import CSV_COLUMNS
from shopper.checklists.items import ITEM_TYPES, REGISTRY, UnknownItemType, item_type, known_type, walk_facts
from shopper.checklists.schema import CHECKLIST_SCHEMA, COMMON_ITEM_FIELDS, ITEM_FIELDS
from shopper.checklists.scoring import breach

ROOT = Path(__file__).resolve().parent.parent
NAMES = "|".join(ITEM_TYPES)
_Q = rf"""["'](?:{NAMES})["']"""
#: the same without "photo", which is also a kind of outbox entry (static/js/outbox.js)
_Q_KIND = rf"""["'](?:{"|".join(name for name in ITEM_TYPES if name != "photo")})["']"""
#: Something's type (or a measure's kind) compared with a type's name, a `case` on a type's name, a type tested
#: against a list, or a list of type names.
_TYPE = r"""(?:type\b["'\])]*)"""
SWITCH = re.compile(
    "|".join(
        [
            rf"{_TYPE}\s*[!=]==?\s*{_Q}",
            rf"{_Q}\s*[!=]==?\s*\S*type\b",
            rf"\.kind\s*[!=]==?\s*{_Q_KIND}",
            rf"\bcase\s+{_Q}",
            rf"\[[^\]]*{_Q}[^\]]*\]\.includes\(",
            rf"{_Q}\s*,\s*{_Q}",
        ]
    )
)


def _sources() -> list[Path]:
    found = [p for p in (ROOT / "shopper").rglob("*.py") if "checklists/items" not in p.as_posix()]
    found += [p for p in (ROOT / "templates").rglob("*.html") if "checklists/items" not in p.as_posix()]
    found += list((ROOT / "static" / "js").rglob("*.js"))
    return found


@pytest.mark.parametrize(
    "line",
    [
        'if item_type == "check":',
        "{%- elif item.type == 'rating' %}",
        'item["type"] not in ("timer", "counter")',
        'if (["check", "rating", "choice"].includes(item.type)) {',
        '    case "choice": {',
        'return item.type === "photo" ? photos >= 1 : value !== null;',
        'figure = "average wait" if measure.kind == "timer" else "average count"',
        '_NUMERIC_TYPES = frozenset({"rating", "number", "timer", "counter"})',
        'if (["photo"].includes(item.type)) return;',
        '{% if source and source.type == "choice" %}',
    ],
)
def test_the_switch_pattern_finds_every_form_a_switch_took(line: str) -> None:
    assert SWITCH.search(line)


@pytest.mark.parametrize(
    "line",
    [
        '<input type="number" min="0" max="86400" step="1" inputmode="numeric">',
        '{"key": "phone-wait", "type": "timer", "prompt": "Time until a person answered", "target_max_s": 60},',
        'render_kw={"type": "date"}',
        "if (event.type === \"done\" && entry.kind === 'submit') leave(home);",
    ],
)
def test_the_switch_pattern_leaves_plain_uses_of_the_words_alone(line: str) -> None:
    assert not SWITCH.search(line)


def test_no_code_outside_the_item_types_switches_on_a_type_name() -> None:
    switches = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SWITCH.search(line)
    ]
    assert switches == []


def test_the_registry_holds_every_type_once_in_the_editor_order() -> None:
    assert ITEM_TYPES == ("check", "rating", "choice", "text", "number", "timer", "counter", "photo", "date")
    assert all(REGISTRY[name].name == name for name in ITEM_TYPES)
    assert item_type("timer") is REGISTRY["timer"]
    for bad in ("slider", None, ["check"], {"x": 1}):
        with pytest.raises(UnknownItemType):
            item_type(bad)
        assert known_type(bad) is None


@pytest.mark.parametrize("name", ITEM_TYPES)
def test_every_type_is_complete(name: str) -> None:
    kind = item_type(name)
    template = ROOT / "templates" / kind.template
    assert "{% macro control(item, value=None, disabled=False, live=None)" in template.read_text()
    assert kind.label and set(kind.fields) <= set(ITEM_FIELDS) and not set(kind.fields) & set(COMMON_ITEM_FIELDS)
    assert set(kind.fields) <= set(CSV_COLUMNS) and all(field in ItemForm.__dict__ for field in kind.fields)
    assert set(kind.properties) == set(kind.fields) and set(kind.required) <= set(kind.fields)
    rules = CHECKLIST_SCHEMA["$defs"]["item"]["allOf"]
    rule = next(r["then"] for r in rules if r["if"]["properties"]["type"]["const"] == name)
    assert rule["properties"] == kind.properties
    assert ItemForm.types_using(kind.fields[0]) if kind.fields else True


def test_the_editor_hints_name_the_types_of_each_setting() -> None:
    assert ItemForm.types_using("target_min") == ["rating", "number"]
    assert ItemForm.types_using("unit") == ["number", "counter"]
    assert ItemForm.types_using("expect") == ["check"]


def test_every_breach_rule_a_type_names_exists_in_rules_js() -> None:
    rules_js = (ROOT / "static" / "js" / "rules.js").read_text()
    block = rules_js[rules_js.index("const BREACHES = {") :]
    block = block[: block.index("\n};")]
    defined = set(re.findall(r'^  "?([a-z-]+)"?\(item, value\) \{', block, re.MULTILINE))
    named = {facts["breach"] for facts in walk_facts().values() if facts["breach"]}
    assert named == defined


def test_the_page_embeds_the_facts(client: Any) -> None:
    html = client.get("/login").get_data(as_text=True)
    match = re.search(r"<meta name=\"item-types\" content='([^']*)'>", html)
    assert match is not None and json.loads(match.group(1)) == walk_facts()


# The breach wording of rules.js against scoring.breach(), run by Node with the facts the page embeds.
BREACH_CASES: list[tuple[dict[str, Any], Any]] = [
    ({"key": "a", "type": "check", "prompt": "?"}, "no"),
    ({"key": "a", "type": "check", "prompt": "?"}, "na"),
    ({"key": "a", "type": "check", "prompt": "?", "expect": "no"}, "yes"),
    ({"key": "a", "type": "rating", "prompt": "?", "scale": 5, "target_min": 4}, 3),
    ({"key": "a", "type": "rating", "prompt": "?", "scale": 5, "target_min": 4}, 4),
    (
        {
            "key": "a",
            "type": "choice",
            "prompt": "?",
            "multiple": True,
            "options": [
                {"value": "x", "label": "X", "flag": True},
                {"value": "y", "label": "Y"},
                {"value": "z", "label": "Z", "flag": True},
            ],
        },
        ["z", "x"],
    ),
    ({"key": "a", "type": "number", "prompt": "?", "target_min": 2, "target_max": 5.5, "unit": "kg"}, 6.25),
    ({"key": "a", "type": "number", "prompt": "?", "target_min": 2}, 1),
    ({"key": "a", "type": "number", "prompt": "?", "target_max": 2, "target_min": 2}, 3),
    ({"key": "a", "type": "timer", "prompt": "?", "target_max_s": 60}, 61),
    ({"key": "a", "type": "timer", "prompt": "?", "target_max_s": 60}, 250),
    ({"key": "a", "type": "timer", "prompt": "?", "target_max_s": 60}, 60),
    ({"key": "a", "type": "counter", "prompt": "?", "target_max": 1, "unit": "hand-offs"}, 3),
    ({"key": "a", "type": "text", "prompt": "?"}, "anything"),
    ({"key": "a", "type": "date", "prompt": "?"}, "2024-02-03"),
]
NODE_SCRIPT = """
const [facts, cases] = JSON.parse(process.argv[1]);
globalThis.document = { querySelector: () => ({ content: JSON.stringify(facts) }) };
const { breach } = await import(process.argv[2]);
console.log(JSON.stringify(cases.map(([item, value]) => breach(item, value))));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node to run static/js/rules.js")
def test_rules_js_words_breaches_as_python_does() -> None:
    rules = (ROOT / "static" / "js" / "rules.js").as_uri()
    result = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT, json.dumps([walk_facts(), BREACH_CASES]), rules],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == [breach(item, value) for item, value in BREACH_CASES]
