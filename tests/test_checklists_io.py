"""Checklist import and export (shopper.checklists.io): JSON and CSV, round trips and refusals."""

from __future__ import annotations

import copy
import csv
import io as stdio
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopper.checklists.io import (
    CSV_COLUMNS,
    MAX_IMPORT_BYTES,
    export_csv,
    export_json,
    import_csv,
    import_json,
)
from shopper.checklists.schema import DefinitionError, normalize, validate_definition
from shopper.text import clean_value
from tests.test_checklists_schema import DOC, definitions, full_definition

BAD_JSON = "(document): is not valid JSON: "
DEEP = "maximum recursion depth exceeded while decoding a JSON array from a unicode string"
ROUND_TRIPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def problems_of(call: Any, *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        call(*args, **kwargs)
    return [str(problem) for problem in caught.value.problems]


def small() -> dict[str, Any]:
    return {
        "title": "Small",
        "touchpoints": [
            {
                "key": "line",
                "title": "Billing line",
                "channel": "phone",
                "items": [
                    {"key": "answered", "type": "check", "prompt": "Did a person answer?"},
                    {"key": "hold", "type": "timer", "prompt": "Time on hold", "target_max_s": 60},
                ],
            }
        ],
    }


# --- JSON --------------------------------------------------------------------------------------------------


def test_export_json_is_pretty_utf8_in_a_stable_order() -> None:
    definition = {
        "touchpoints": [
            {
                "items": [
                    {
                        "show_if": {"equals": "no", "item": "a"},
                        "weight": 2,
                        "prompt": "Prix affiché ?",
                        "type": "choice",
                        "key": "b",
                        "options": [{"flag": True, "label": "Non", "value": "non"}, {"label": "Oui", "value": "oui"}],
                        "evidence": {"require": "note", "prompt": "Où ?"},
                    }
                ],
                "channel": "website",
                "title": "Site",
                "key": "web",
            }
        ],
        "critical_cap": 40,
        "title": "Visite",
    }
    assert export_json(definition) == (
        "{\n"
        '  "title": "Visite",\n'
        '  "critical_cap": 40,\n'
        '  "touchpoints": [\n'
        "    {\n"
        '      "key": "web",\n'
        '      "title": "Site",\n'
        '      "channel": "website",\n'
        '      "items": [\n'
        "        {\n"
        '          "key": "b",\n'
        '          "type": "choice",\n'
        '          "prompt": "Prix affiché ?",\n'
        '          "options": [\n'
        "            {\n"
        '              "value": "non",\n'
        '              "label": "Non",\n'
        '              "flag": true\n'
        "            },\n"
        "            {\n"
        '              "value": "oui",\n'
        '              "label": "Oui"\n'
        "            }\n"
        "          ],\n"
        '          "weight": 2,\n'
        '          "evidence": {\n'
        '            "prompt": "Où ?",\n'
        '            "require": "note"\n'
        "          },\n"
        '          "show_if": {\n'
        '            "item": "a",\n'
        '            "equals": "no"\n'
        "          }\n"
        "        }\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n"
    )


def test_export_json_does_not_modify_its_argument() -> None:
    definition = full_definition()
    export_json(definition)
    assert definition == full_definition()
    assert list(definition["touchpoints"][0]["items"][0]) == list(full_definition()["touchpoints"][0]["items"][0])


# Definitions as the app stores them: every text came through the edge (shopper/text.py), so none holds a bare CR.
stored_definitions = definitions().map(clean_value)


@ROUND_TRIPS
@given(stored_definitions)
def test_json_round_trip_is_exact(definition: dict[str, Any]) -> None:
    text = export_json(definition)
    assert import_json(text) == definition
    assert import_json(text.encode("utf-8")) == definition
    assert export_json(import_json(text)) == text


def test_import_json_accepts_a_byte_order_mark_and_memory_views() -> None:
    text = export_json(small())
    assert import_json(b"\xef\xbb\xbf" + text.encode()) == small()
    assert import_json(bytearray(text.encode())) == small()
    assert import_json("\ufeff" + text) == small()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ["(document): is not valid JSON: Expecting value at line 1, column 1"]),
        ('{\n  "title": "x",\n  "touchpoints": [}\n', [f"{BAD_JSON}Expecting value at line 3, column 19"]),
        ('{"title": "x",}', [f"{BAD_JSON}Expecting property name enclosed in double quotes at line 1, column 15"]),
        (b'{"title": "caf\xe9"}', ["(document): is not UTF-8 text (bad byte at position 15)"]),
        ('{"title": NaN}', ["(document): is not valid JSON: NaN is not allowed in JSON"]),
        ('{"title": -Infinity}', ["(document): is not valid JSON: -Infinity is not allowed in JSON"]),
        ("[" * 100_000 + "]" * 100_000, [f"{BAD_JSON}{DEEP}"]),
        ("[]", ["(document): must be a JSON object with a title and touchpoints, not a list"]),
        ('"checklist"', ['(document): must be a JSON object with a title and touchpoints, not "checklist"']),
        ('{"title": "a", "title": "b", "touchpoints": []}', [
            '(document): the field "title" appears twice in one object',
            "touchpoints: must have at least 1 touchpoint",
        ]),
    ],
)  # fmt: skip
def test_import_json_refuses_with_line_and_column(data: bytes | str, expected: list[str]) -> None:
    assert problems_of(import_json, data) == expected


def test_import_json_reports_every_problem() -> None:
    definition = full_definition()
    definition["title"] = ""
    definition["touchpoints"][1]["items"][0]["type"] = "slider"
    definition["touchpoints"][1]["items"][2]["key"] = "ease"
    assert problems_of(import_json, json.dumps(definition)) == [
        "title: must not be empty",
        'touchpoints[1].items[0].type: "slider" is not a known item type (check, rating, choice, text, number, '
        "timer, counter, photo, date)",
        'touchpoints[1].items[2].key: duplicate item key "ease" (also touchpoints[0].items[1])',
    ]


def test_imports_are_limited_to_2_mb() -> None:
    assert MAX_IMPORT_BYTES == 2 * 1024 * 1024
    padding = " " * (MAX_IMPORT_BYTES - len(export_json(small())))
    assert import_json(export_json(small()) + padding) == small()
    too_big = (export_json(small()) + padding + " ").encode()
    assert problems_of(import_json, too_big) == ["(document): the file is 2.0 MB; the limit is 2 MB"]
    # characters are counted as UTF-8 bytes
    assert problems_of(import_json, "é" * (MAX_IMPORT_BYTES // 2 + 1)) == [
        "(document): the file is 2.0 MB; the limit is 2 MB"
    ]
    assert problems_of(import_csv, b"x" * (3 * 1024 * 1024), title="T") == [
        "(document): the file is 3.0 MB; the limit is 2 MB"
    ]


# --- CSV export --------------------------------------------------------------------------------------------


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(stdio.StringIO(text, newline="")))


def test_csv_header_and_rows() -> None:
    text = export_csv(full_definition())
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert CSV_COLUMNS == (
        "touchpoint_key", "touchpoint_title", "channel", "promise", "guidance", "item_key", "type", "prompt", "help",
        "weight", "required", "critical", "evidence_prompt", "evidence_require", "flag_if", "show_if", "expect",
        "scale", "labels", "target_min", "target_max", "target_max_s", "unit", "multiple", "max_length", "options",
    )  # fmt: skip
    rows = rows_of(text)
    assert [row["item_key"] for row in rows] == [
        "price-found", "ease", "clicks", "answer-time", "who", "topics", "wait", "notes", "screenshot", "visit-date",
        "long-wait",
    ]  # fmt: skip
    first, ease, _, _, who, topics, wait, notes, *_ = rows
    assert first == {
        "touchpoint_key": "website",
        "touchpoint_title": "Find the price online",
        "channel": "website",
        "promise": "Prices are one tap away.",
        "guidance": "Use your own phone.",
        "item_key": "price-found",
        "type": "check",
        "prompt": "Did you find the price?",
        "help": "Any page counts.",
        "weight": "2",
        "required": "yes",
        "critical": "yes",
        "evidence_prompt": "Paste the address.",
        "evidence_require": "note",
        "flag_if": "breach",
        "show_if": "",
        "expect": "yes",
        "scale": "",
        "labels": "",
        "target_min": "",
        "target_max": "",
        "target_max_s": "",
        "unit": "",
        "multiple": "",
        "max_length": "",
        "options": "",
    }
    assert (ease["scale"], ease["labels"], ease["target_min"]) == (
        "5",
        "Very hard | Hard | OK | Easy | Effortless",
        "4",
    )
    assert who["options"] == "person=A person:100 | menu=A phone menu:40 | nobody=Nobody answered:0!"
    assert (topics["multiple"], topics["show_if"]) == ("yes", "who in person, menu")
    assert (wait["unit"], wait["target_min"], wait["target_max"], wait["weight"]) == ("min", "0", "5.5", "0.5")
    assert notes["show_if"] == "price-found=no"
    assert rows[-1]["show_if"] == "clicks in 4, 5, 6"
    assert rows[3]["touchpoint_title"] == "Billing line" and rows[3]["guidance"] == ""


def test_the_documented_csv_is_the_export_of_the_example() -> None:
    from tests.test_checklists_schema import doc_json_blocks

    documented = re.search(r"^```csv\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert documented is not None
    example = doc_json_blocks()["Worked example"]
    assert export_csv(example).replace("\r\n", "\n") == documented.group(1)


def item_row(**item: Any) -> dict[str, str]:
    definition = {
        "title": "T",
        "touchpoints": [{"key": "tp", "title": "T", "channel": "other", "items": [
            {"key": "first", "type": "check", "prompt": "First?"},
            {"key": "pick", "type": "choice", "prompt": "Pick", "options": [
                {"value": "a", "label": "A"}, {"value": "b-c", "label": "B"},
            ]},
            item,
        ]}],
    }  # fmt: skip
    return rows_of(export_csv(definition))[2]


@pytest.mark.parametrize(
    ("item", "column", "cell"),
    [
        ({"type": "rating", "scale": 3, "labels": ["a|b", " pad ", "back\\slash"]},
         "labels", "a\\|b | \\ pad\\  | back\\\\slash"),
        ({"type": "rating", "scale": 3, "labels": ["", "", ""]}, "labels", " |  | "),
        ({"type": "rating", "scale": 3, "labels": ["=1", "b", "c"]}, "labels", "'=1 | b | c"),
        ({"type": "choice", "options": [
            {"value": "x", "label": "Time: now!"}, {"value": "y", "label": "Wow! ok", "score": 2.5, "flag": True},
         ]},
         "options", "x=Time\\: now\\! | y=Wow! ok:2.5!"),
        ({"type": "choice", "options": [{"value": "x", "label": "a=b|c"}, {"value": "y", "label": "Y", "flag": False}]},
         "options", "x=a=b\\|c | y=Y"),
        ({"type": "text", "show_if": {"item": "first", "in": ["yes", "na"]}}, "show_if", "first in yes, na"),
        ({"type": "text", "show_if": {"item": "pick", "equals": "b-c"}}, "show_if", "pick=b-c"),
        ({"type": "text", "prompt": "=SUM(A1:A9)"}, "prompt", "'=SUM(A1:A9)"),
        ({"type": "text", "prompt": "+1 555"}, "prompt", "'+1 555"),
        ({"type": "text", "prompt": "-5 degrees"}, "prompt", "'-5 degrees"),
        ({"type": "text", "prompt": "@home"}, "prompt", "'@home"),
        ({"type": "text", "prompt": "'quoted'"}, "prompt", "''quoted'"),
        ({"type": "text", "prompt": "\ttabbed"}, "prompt", "'\ttabbed"),
        ({"type": "text", "prompt": "a=b"}, "prompt", "a=b"),
        ({"type": "text", "help": "-"}, "help", "'-"),
        ({"type": "counter", "unit": "+1s", "target_max": 0}, "unit", "'+1s"),
        ({"type": "number", "target_min": -5, "target_max": 1e-07}, "target_min", "-5"),
        ({"type": "number", "target_min": -5, "target_max": 1e-07}, "target_max", "1e-07"),
        ({"type": "check", "required": False, "critical": True}, "required", "no"),
        ({"type": "check", "evidence": {"require": "photo"}}, "evidence_require", "photo"),
        ({"type": "check", "evidence": {"prompt": "@them"}}, "evidence_prompt", "'@them"),
    ],
)  # fmt: skip
def test_csv_cells(item: dict[str, Any], column: str, cell: str) -> None:
    assert item_row(**{"key": "it", "prompt": "?", **item})[column] == cell


# --- CSV import --------------------------------------------------------------------------------------------


def sheet(*rows: dict[str, str], header: tuple[str, ...] = CSV_COLUMNS, delimiter: str = ",") -> str:
    out = stdio.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()


def row(**cells: str) -> dict[str, str]:
    return {"touchpoint_key": "tp", "touchpoint_title": "Touchpoint", "channel": "other", **cells}


def test_import_csv_builds_a_definition() -> None:
    options = " a = A : 100 | b=B! |c=C\\: the end:1.5 |"
    text = sheet(
        row(item_key="first", type="check", prompt="First?", required="YES", weight="2,5"),
        row(
            item_key="r",
            type="rating",
            prompt="Rate",
            scale="5",
            labels="Poor|Fair | Good|Very good|  Excellent ",
            target_min="4",
            show_if="first = no",
        ),
        row(item_key="c", type="choice", prompt="P", options=options, multiple="true"),
        row(item_key="k", type="counter", prompt="Count", target_max="1", unit="hand-offs", show_if="r in 1, 2,3"),
        row(touchpoint_key="b", touchpoint_title="Second", channel="email", promise="We reply",
            item_key="e", type="text", prompt="Why", max_length="10"),
        row(touchpoint_key="", touchpoint_title="", channel="",
            item_key="f", type="date", prompt="When", evidence_require="note"),
    )  # fmt: skip
    definition = import_csv(text, title="Imported", description="From a sheet", critical_cap=40)
    assert definition == {
        "title": "Imported",
        "description": "From a sheet",
        "critical_cap": 40,
        "touchpoints": [
            {
                "key": "tp",
                "title": "Touchpoint",
                "channel": "other",
                "items": [
                    {"key": "first", "type": "check", "prompt": "First?", "required": True, "weight": 2.5},
                    {
                        "key": "r",
                        "type": "rating",
                        "prompt": "Rate",
                        "scale": 5,
                        "labels": ["Poor", "Fair", "Good", "Very good", "Excellent"],
                        "target_min": 4,
                        "show_if": {"item": "first", "equals": "no"},
                    },
                    {
                        "key": "c",
                        "type": "choice",
                        "prompt": "P",
                        "multiple": True,
                        "options": [
                            {"value": "a", "label": "A", "score": 100},
                            {"value": "b", "label": "B", "flag": True},
                            {"value": "c", "label": "C: the end", "score": 1.5},
                        ],
                    },
                    {
                        "key": "k",
                        "type": "counter",
                        "prompt": "Count",
                        "target_max": 1,
                        "unit": "hand-offs",
                        "show_if": {"item": "r", "in": [1, 2, 3]},
                    },
                ],
            },
            {
                "key": "b",
                "title": "Second",
                "channel": "email",
                "promise": "We reply",
                "items": [
                    {"key": "e", "type": "text", "prompt": "Why", "max_length": 10},
                    {"key": "f", "type": "date", "prompt": "When", "evidence": {"require": "note"}},
                ],
            },
        ],
    }


def test_import_csv_handles_semicolons_a_bom_and_crlf() -> None:
    expected = import_csv(export_csv(small()), title="Small")
    assert expected == small()
    semicolons = (
        sheet(
            row(item_key="answered", type="check", prompt="Did a person answer?"),
            row(item_key="hold", type="timer", prompt="Time on hold", target_max_s="60"),
            delimiter=";",
        )
        .replace("Touchpoint", "Billing line")
        .replace("tp", "line")
        .replace("other", "phone")
    )
    assert import_csv(("\ufeff" + semicolons).encode("utf-8"), title="Small") == expected
    assert import_csv(semicolons.replace("\r\n", "\n"), title="Small") == expected


def test_import_csv_accepts_columns_in_any_order_and_case() -> None:
    header = tuple(reversed([column.upper() for column in CSV_COLUMNS]))
    cells = {"ITEM_KEY": "x", "TYPE": "photo", "PROMPT": "Photo", "TOUCHPOINT_KEY": "tp", "TOUCHPOINT_TITLE": "T"}
    cells["CHANNEL"] = "other"
    text = sheet(header=header)
    text = text + ",".join(
        cells.get(name, "") for name in header
    )  # fmt: skip
    assert import_csv(text, title="T")["touchpoints"] == [
        {"key": "tp", "title": "T", "channel": "other", "items": [{"key": "x", "type": "photo", "prompt": "Photo"}]}
    ]


def test_a_touchpoint_only_row_and_blank_rows() -> None:
    text = sheet(
        row(promise="Set on its own row", guidance="Go"),
        {},
        row(touchpoint_title="", channel="", item_key="a", type="check", prompt="A?"),
        {},
    )
    assert import_csv(text, title="T")["touchpoints"] == [
        {
            "key": "tp",
            "title": "Touchpoint",
            "channel": "other",
            "promise": "Set on its own row",
            "guidance": "Go",
            "items": [{"key": "a", "type": "check", "prompt": "A?"}],
        }
    ]


def test_formula_guard_round_trips_and_only_one_quote_is_removed() -> None:
    text = sheet(row(item_key="a", type="text", prompt="''twice", help="'=1+1", unit=""))
    item = import_csv(text, title="T")["touchpoints"][0]["items"][0]
    assert (item["prompt"], item["help"]) == ("'twice", "=1+1")
    key_cell = sheet(row(item_key="'a", type="text", prompt="?"))
    assert problems_of(import_csv, key_cell, title="T") == [
        'row 2, column item_key: "\'a" is not a valid key: use up to 63 lowercase letters, digits and hyphens, '
        "starting with a letter or a digit"
    ]


def test_import_csv_refuses_missing_unknown_and_repeated_columns() -> None:
    header = tuple(column for column in CSV_COLUMNS if column not in ("guidance", "options")) + ("notes", "type")
    assert problems_of(import_csv, sheet(header=header), title="T") == [
        "row 1: missing column(s): guidance, options",
        "row 1: unknown column(s): notes",
        "row 1: column(s) appearing more than once: type",
    ]
    assert problems_of(import_csv, "", title="T") == [
        "row 1: the first row must name the columns: " + ", ".join(CSV_COLUMNS)
    ]


def test_import_csv_reports_bad_cells_by_row_and_column() -> None:
    text = sheet(
        row(item_key="a", type="check", prompt="A?", required="maybe", weight="heavy"),
        row(item_key="b", type="rating", prompt="B", scale="five", target_min="2"),
        row(item_key="c", type="choice", prompt="C", options="x=Time: soon | y=Y"),
        row(item_key="d", type="choice", prompt="D", options="just a label | y=Y"),
        row(item_key="e", type="text", prompt="E", show_if="a is yes"),
        row(item_key="f", type="slider", prompt="F"),
        row(item_key="a", type="check", prompt="Again"),
        row(item_key="g", type="number", prompt="G", target_min="5", target_max="1"),
    )
    assert problems_of(import_csv, text, title="T") == [
        'row 2, column weight: "heavy" is not a number',
        'row 2, column required: "maybe" is not yes or no (leave it empty for the default)',
        'row 3, column scale: "five" is not a number',
        'row 4, column options: option "x=Time: soon": "soon" is not a score; write \\: for a colon inside a label',
        'row 5, column options: option "just a label" must be written value=Label, value=Label:score or '
        "value=Label:score!",
        "row 6, column show_if: must be written item=answer or item in answer1, answer2",
        'row 7, column type: "slider" is not a known item type (check, rating, choice, text, number, timer, counter, '
        "photo, date)",
        'row 8, column item_key: duplicate item key "a" (also row 2)',
        "row 9, column target_min: must not be more than target_max (5 > 1)",
    ]


def test_import_csv_maps_validator_problems_to_rows() -> None:
    two = {"touchpoint_key": "two", "touchpoint_title": "Two", "channel": "fax"}
    text = sheet(
        row(item_key="a", type="check", prompt="A?", show_if="later=yes"),
        row(item_key="later", type="check", prompt=" ", scale="5"),
        {**two, "item_key": "c", "type": "rating", "prompt": "C", "scale": "4"},
        {**two, "item_key": "d", "type": "check", "prompt": "D", "show_if": "c in 5, x", "evidence_require": "video"},
        {"item_key": "e", "type": "rating", "prompt": "E", "scale": "4", "labels": "a|b|c"},
    )
    assert problems_of(import_csv, text, title="", critical_cap=120) == [
        "title: must not be empty",
        "critical_cap: must be a number from 0 to 100, not 120",
        'row 2, column show_if: "later" comes later in the walk; show_if can only point at an earlier item',
        "row 3, column scale: is not used by check items (only by rating)",
        "row 3, column prompt: must not be empty",
        'row 4, column channel: "fax" is not a known channel (website, phone, email, chat, social, in-person, '
        "printed, billing, delivery, other)",
        'row 5, column evidence_require: "video" is not a known evidence requirement (none, note, photo)',
        'row 5, column show_if: 5 is not a possible answer of "c": rating must be a whole number from 1 to 4',
        'row 5, column show_if: "x" is not a possible answer of "c": rating must be a whole number from 1 to 4',
        "row 6, column labels: has 3 labels but the scale has 4 points; give one label per point",
    ]


def test_import_csv_touchpoint_conflicts_and_split_touchpoints() -> None:
    text = sheet(
        row(item_key="a", type="check", prompt="A?", promise="One"),
        row(item_key="b", type="check", prompt="B?", promise="Two", touchpoint_title="Other"),
        row(touchpoint_key="x", touchpoint_title="X", item_key="c", type="check", prompt="C?"),
        row(item_key="d", type="check", prompt="D?"),
    )
    assert problems_of(import_csv, text, title="T") == [
        'row 3, column touchpoint_title: differs from row 2 ("Touchpoint"); repeat the touchpoint\'s value or leave '
        "the cell empty",
        'row 3, column promise: differs from row 2 ("One"); repeat the touchpoint\'s value or leave the cell empty',
        'row 5, column touchpoint_key: touchpoint "tp" already ended at row 3; keep the rows of a touchpoint together',
    ]


def test_import_csv_edge_problems() -> None:
    assert problems_of(
        import_csv, sheet(row(touchpoint_key="", item_key="a", type="check", prompt="?")), title="T"
    ) == [
        "touchpoints: must have at least 1 touchpoint",
        "row 2, column touchpoint_key: is required on the first row",
    ]
    assert problems_of(import_csv, sheet(row()), title="T") == [
        "row 2, column touchpoint_key: must have at least 1 item"
    ]
    assert problems_of(
        import_csv, sheet(row(type="check", prompt="?"), row(type="counter", prompt="?")), title="T"
    ) == [
        "row 2, column item_key: is required",
        "row 3, column item_key: is required",
    ]
    extra = sheet(row(item_key="a", type="check", prompt="?")).rstrip("\r\n") + ",surplus\r\n"
    assert problems_of(import_csv, extra, title="T") == ["row 2: has more cells than the header has columns"]
    assert problems_of(import_csv, b"touchpoint_key\xff", title="T") == [
        "(document): is not UTF-8 text (bad byte at position 15)"
    ]
    unterminated = sheet(row(item_key="a", type="check", prompt="?")) + 'tp,"never closed'
    assert problems_of(import_csv, unterminated, title="T") == ["row 3: is not valid CSV: unexpected end of data"]


@ROUND_TRIPS
@given(stored_definitions)
def test_csv_round_trip_keeps_the_meaning(definition: dict[str, Any]) -> None:
    text = export_csv(definition)
    back = import_csv(
        text,
        title=definition["title"],
        description=definition.get("description", ""),
        critical_cap=definition.get("critical_cap"),
    )
    assert normalize(back) == normalize(definition)
    assert export_csv(back) == text
    assert import_csv(text.encode("utf-8-sig"), title=definition["title"])["touchpoints"] == back["touchpoints"]


@ROUND_TRIPS
@given(definitions(max_touchpoints=2, max_items=3).map(clean_value))
def test_csv_round_trip_through_semicolons(definition: dict[str, Any]) -> None:
    rows = list(csv.reader(stdio.StringIO(export_csv(definition), newline="")))
    out = stdio.StringIO()
    csv.writer(out, delimiter=";").writerows(rows)
    back = import_csv(out.getvalue(), title=definition["title"])
    assert normalize(back)["touchpoints"] == normalize(definition)["touchpoints"]


def test_the_full_example_round_trips_exactly_through_csv() -> None:
    definition = full_definition()
    back = import_csv(
        export_csv(definition), title=definition["title"], description=definition["description"], critical_cap=40
    )
    # Only what a cell cannot tell apart from "left out" is lost: an empty evidence object and "flag": false.
    del definition["touchpoints"][1]["items"][5]["evidence"]
    del definition["touchpoints"][1]["items"][1]["options"][1]["flag"]
    assert back == definition
    changed = copy.deepcopy(definition)
    changed["touchpoints"][0]["items"][0]["weight"] = 1
    assert normalize(import_csv(export_csv(changed), title=definition["title"])) != normalize(definition)


CELLS = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab01=:|!,;\\' -\"\n\t")), max_size=8),
    st.sampled_from(["tp", "check", "rating", "choice", "counter", "phone", "yes", "no", "5", "3", "x=A:1!", "a in b"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELLS, max_size=len(CSV_COLUMNS) + 2), max_size=6), st.sampled_from([",", ";"]))
def test_import_csv_only_ever_refuses_with_a_definition_error(rows: list[list[str]], delimiter: str) -> None:
    out = stdio.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    try:
        definition = import_csv(out.getvalue(), title="T")
    except DefinitionError as error:
        assert error.problems
    else:
        assert validate_definition(definition) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_imports_only_ever_refuse_with_a_definition_error(data: bytes) -> None:
    for call in (import_json, lambda raw: import_csv(raw, title="T")):
        with pytest.raises(DefinitionError):
            call(data)
