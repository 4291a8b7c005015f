"""Checklist import and export: JSON (the format itself) and CSV (one row per item, for spreadsheets).

Both imports refuse anything ``validate_definition`` refuses, raising DefinitionError with every problem; the
CSV import reports them as ``row N, column X`` the way a spreadsheet numbers rows (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

from shopper.checklists.items import known_type
from shopper.checklists.schema import (
    EVIDENCE_FIELDS,
    ITEM_FIELDS,
    OPTION_FIELDS,
    SHOW_IF_FIELDS,
    TOP_FIELDS,
    TOUCHPOINT_FIELDS,
    DefinitionError,
    Problem,
    describe,
    validate_definition,
)
from shopper.text import clean_text, clean_value

MAX_IMPORT_BYTES = 2 * 1024 * 1024

CSV_COLUMNS = (
    "touchpoint_key",
    "touchpoint_title",
    "channel",
    "promise",
    "guidance",
    "item_key",
    "type",
    "prompt",
    "help",
    "weight",
    "required",
    "critical",
    "evidence_prompt",
    "evidence_require",
    "flag_if",
    "show_if",
    "expect",
    "scale",
    "labels",
    "target_min",
    "target_max",
    "target_max_s",
    "unit",
    "multiple",
    "max_length",
    "options",
)
_TOUCHPOINT_COLUMNS = {
    "touchpoint_title": "title",
    "channel": "channel",
    "promise": "promise",
    "guidance": "guidance",
}
_ITEM_COLUMNS = CSV_COLUMNS[5:]
#: Free-text cells: guarded against formula injection on export, the guard removed again on import.
_TEXT_COLUMNS = frozenset(
    {"touchpoint_title", "promise", "guidance", "prompt", "help", "evidence_prompt", "unit", "labels"}
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER_COLUMNS = ("weight", "scale", "target_min", "target_max", "target_max_s", "max_length")
_BOOL_COLUMNS = ("required", "critical", "multiple")
_INT_RE = re.compile(r"[+-]?\d{1,300}")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")
_IN_RE = re.compile(r"\s*([^\s\\]+)\s+in(?:\s+(.*))?", re.DOTALL)
_PATH_RE = re.compile(r"touchpoints\[(\d+)\](?:\.items\[(\d+)\])?")


def _problem(message: str, path: str = "(document)") -> DefinitionError:
    return DefinitionError([Problem(path, message)])


def _decode(data: bytes | str) -> str:
    """The text of an upload, within the size limit, without a byte order mark, cleaned like every text from
    outside (shopper/text.py). JSON escapes such as "\\ud800" are cleaned after parsing, in `import_json`."""
    if isinstance(data, str):
        # A character is at least one byte, so a long string need not be encoded to be measured.
        size = len(data) if len(data) > MAX_IMPORT_BYTES else len(data.encode("utf-8", "surrogatepass"))
    else:
        size = len(data)
    if size > MAX_IMPORT_BYTES:
        raise _problem(f"the file is {size / 1024 / 1024:.1f} MB; the limit is 2 MB")
    if isinstance(data, str):
        return clean_text(data.removeprefix("\ufeff"))
    try:
        return clean_text(bytes(data).decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as error:
        raise _problem(f"is not UTF-8 text (bad byte at position {error.start + 1})") from None


# --- JSON --------------------------------------------------------------------------------------------------


def _ordered(value: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``value`` with its fields in ``order``."""
    return {name: value[name] for name in order if name in value}


def _ordered_item(item: dict[str, Any]) -> dict[str, Any]:
    result = _ordered(item, ITEM_FIELDS)
    if "evidence" in result:
        result["evidence"] = _ordered(result["evidence"], EVIDENCE_FIELDS)
    if "show_if" in result:
        result["show_if"] = _ordered(result["show_if"], SHOW_IF_FIELDS)
    if "options" in result:
        result["options"] = [_ordered(option, OPTION_FIELDS) for option in result["options"]]
    return result


def export_json(definition: dict[str, Any]) -> str:
    """A valid definition as pretty JSON: fields in a fixed, readable order, non-ASCII kept, trailing newline."""
    result = _ordered(definition, TOP_FIELDS)
    result["touchpoints"] = [
        {**_ordered(touchpoint, TOUCHPOINT_FIELDS), "items": [_ordered_item(item) for item in touchpoint["items"]]}
        for touchpoint in definition["touchpoints"]
    ]
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def import_json(data: bytes | str) -> dict[str, Any]:
    """Parse and validate an uploaded JSON checklist; raise DefinitionError listing every problem."""
    text = _decode(data)
    repeated: list[str] = []

    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                repeated.append(name)
            result[name] = value
        return result

    try:
        definition = clean_value(json.loads(text, object_pairs_hook=no_repeats, parse_constant=_refuse_constant))
    except json.JSONDecodeError as error:
        raise _problem(f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise _problem(f"is not valid JSON: {error}") from None
    problems = [Problem("(document)", f"the field {describe(name)} appears twice in one object") for name in repeated]
    problems += validate_definition(definition)
    if problems:
        raise DefinitionError(problems)
    return definition


# --- CSV cell syntax ---------------------------------------------------------------------------------------
# Lists inside one cell (labels, options, show_if answers) use separators; a backslash makes the next
# character literal, and surrounding spaces are trimmed unless escaped. See docs/checklist-format.md.

Token = tuple[str, bool]  # a character and whether it was escaped


def _escape(text: str, specials: str, *, last: str = "") -> str:
    out = []
    end = len(text) - 1
    for index, char in enumerate(text):
        edge_space = char.isspace() and index in (0, end)
        if char == "\\" or char in specials or edge_space or (index == end and char in last):
            out.append("\\")
        out.append(char)
    return "".join(out)


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            tokens.append((next(chars, "\\"), True))
        else:
            tokens.append((char, False))
    return tokens


def _split(tokens: list[Token], separator: str) -> list[list[Token]]:
    parts: list[list[Token]] = [[]]
    for token in tokens:
        if token == (separator, False):
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _find(tokens: list[Token], char: str, *, last: bool = False) -> int:
    positions = [index for index, token in enumerate(tokens) if token == (char, False)]
    if not positions:
        return -1
    return positions[-1] if last else positions[0]


def _trim(tokens: list[Token]) -> list[Token]:
    start, end = 0, len(tokens)
    while start < end and not tokens[start][1] and tokens[start][0].isspace():
        start += 1
    while end > start and not tokens[end - 1][1] and tokens[end - 1][0].isspace():
        end -= 1
    return tokens[start:end]


def _text(tokens: list[Token]) -> str:
    return "".join(char for char, _ in _trim(tokens))


def _format_number(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _parse_number(text: str) -> int | float:
    """An int or float from a cell; raises ValueError with a message for the user."""
    text = text.strip()
    if _INT_RE.fullmatch(text):
        return int(text)
    if _DECIMAL_COMMA_RE.fullmatch(text):
        text = text.replace(",", ".")
    if _FLOAT_RE.fullmatch(text):
        number = float(text)
        if number not in (float("inf"), float("-inf")):
            return number
    raise ValueError(f"{describe(text)} is not a number")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    raise ValueError(f"{describe(text.strip())} is not yes or no (leave it empty for the default)")


def _labels_cell(labels: list[str]) -> str:
    return " | ".join(_escape(label, "|") for label in labels)


def _parse_labels(text: str) -> list[str]:
    return [_text(part) for part in _split(_tokens(text), "|")]


def _options_cell(options: list[dict[str, Any]]) -> str:
    cells = []
    for option in options:
        cell = f"{option['value']}={_escape(option['label'], '|:', last='!')}"
        if "score" in option:
            cell += f":{_format_number(option['score'])}"
        if option.get("flag"):
            cell += "!"
        cells.append(cell)
    return " | ".join(cells)


def _parse_options(text: str) -> list[dict[str, Any]]:
    options = []
    for part in _split(_tokens(text), "|"):
        tokens = _trim(part)
        if not tokens:
            continue
        shown = describe("".join(char for char, _ in tokens))
        equals = _find(tokens, "=")
        if equals < 0:
            raise ValueError(f"option {shown} must be written value=Label, value=Label:score or value=Label:score!")
        option: dict[str, Any] = {"value": _text(tokens[:equals])}
        rest = _trim(tokens[equals + 1 :])
        flag = bool(rest) and rest[-1] == ("!", False)
        if flag:
            rest = _trim(rest[:-1])
        colon = _find(rest, ":", last=True)
        option["label"] = _text(rest if colon < 0 else rest[:colon])
        if colon >= 0:
            score = _text(rest[colon + 1 :])
            try:
                option["score"] = _parse_number(score)
            except ValueError:
                raise ValueError(
                    f"option {shown}: {describe(score)} is not a score; write \\: for a colon inside a label"
                ) from None
        if flag:
            option["flag"] = True
        options.append(option)
    return options


def _show_if_cell(condition: dict[str, Any]) -> str:
    def value(answer: Any, specials: str) -> str:
        return _escape(answer, specials) if isinstance(answer, str) else _format_number(answer)

    if "equals" in condition:
        return f"{condition['item']}={value(condition['equals'], '')}"
    return f"{condition['item']} in " + ", ".join(value(answer, ",=") for answer in condition["in"])


def _parse_show_if(text: str, numeric_items: set[str]) -> dict[str, Any]:
    tokens = _tokens(text)
    equals = _find(tokens, "=")
    if equals >= 0:
        item = _text(tokens[:equals])
        answers = [tokens[equals + 1 :]]
    else:
        match = _IN_RE.fullmatch(text)
        if match is None:
            raise ValueError("must be written item=answer or item in answer1, answer2")
        item = match.group(1)
        listed = _tokens(match.group(2) or "")
        answers = _split(listed, ",") if _trim(listed) else []
    parsed: list[Any] = []
    for answer in answers:
        answer_text = _text(answer)
        if item in numeric_items:
            try:
                parsed.append(_parse_number(answer_text))
                continue
            except ValueError:
                pass  # the validator explains which answers are possible
        parsed.append(answer_text)
    return {"item": item, "equals": parsed[0]} if equals >= 0 else {"item": item, "in": parsed}


# --- CSV export --------------------------------------------------------------------------------------------


def _guard(text: str) -> str:
    """Keep spreadsheets from running free text as a formula; the import removes the quote again."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _item_cells(item: dict[str, Any]) -> dict[str, str]:
    cells: dict[str, str] = {}
    for column in ("type", "prompt", "help", "flag_if", "expect", "unit"):
        if column in item:
            cells[column] = item[column]
    cells["item_key"] = item["key"]
    for column in _NUMBER_COLUMNS:
        if column in item:
            cells[column] = _format_number(item[column])
    for column in _BOOL_COLUMNS:
        if column in item:
            cells[column] = "yes" if item[column] else "no"
    evidence = item.get("evidence", {})
    if "prompt" in evidence:
        cells["evidence_prompt"] = evidence["prompt"]
    if "require" in evidence:
        cells["evidence_require"] = evidence["require"]
    if "show_if" in item:
        cells["show_if"] = _show_if_cell(item["show_if"])
    if "labels" in item:
        cells["labels"] = _labels_cell(item["labels"])
    if "options" in item:
        cells["options"] = _options_cell(item["options"])
    return cells


def export_csv(definition: dict[str, Any]) -> str:
    """One row per item under a header row; touchpoint fields repeat on each row of their touchpoint.

    The title, description and critical cap are not part of the sheet.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for touchpoint in definition["touchpoints"]:
        touchpoint_cells = {"touchpoint_key": touchpoint["key"]}
        for column, field in _TOUCHPOINT_COLUMNS.items():
            if field in touchpoint:
                touchpoint_cells[column] = touchpoint[field]
        for item in touchpoint["items"]:
            cells = {**touchpoint_cells, **_item_cells(item)}
            writer.writerow(
                _guard(cells.get(column, "")) if column in _TEXT_COLUMNS else cells.get(column, "")
                for column in CSV_COLUMNS
            )
    return out.getvalue()


# --- CSV import --------------------------------------------------------------------------------------------


def _read_rows(text: str) -> list[list[str]]:
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        rows.extend(reader)
    except csv.Error as error:
        raise _problem(f"is not valid CSV: {error}", f"row {len(rows) + 1}") from None
    return rows


def _check_header(header: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    problems = []
    missing = [column for column in CSV_COLUMNS if column not in columns]
    if missing:
        problems.append(Problem("row 1", f"missing column(s): {', '.join(missing)}"))
    unknown = [column for column in columns if column and column not in CSV_COLUMNS]
    if unknown:
        problems.append(Problem("row 1", f"unknown column(s): {', '.join(unknown)}"))
    repeated = sorted({column for column in columns if column and columns.count(column) > 1})
    if repeated:
        problems.append(Problem("row 1", f"column(s) appearing more than once: {', '.join(repeated)}"))
    if problems:
        raise DefinitionError(problems)
    return columns


class _SheetReader:
    """Builds a definition from the data rows, remembering which row and column each field came from."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.problems: list[Problem] = []
        self.touchpoints: list[dict[str, Any]] = []
        self.touchpoint_rows: list[int] = []
        self.item_rows: dict[tuple[int, int], int] = {}
        self.unparsed: set[str] = set()  # paths of fields whose cell could not be read
        self.numeric_items: set[str] = set()
        self.ended: dict[str, int] = {}  # touchpoint key -> its last row
        self.last_row = 0

    def add(self, row: int, column: str | None, message: str) -> None:
        where = f"row {row}" if column is None else f"row {row}, column {column}"
        self.problems.append(Problem(where, message))

    def cells(self, row: int, record: list[str]) -> dict[str, str]:
        if any(cell.strip() for cell in record[len(self.columns) :]):
            self.add(row, None, "has more cells than the header has columns")
        padded = record + [""] * (len(self.columns) - len(record))
        cells = {column: padded[index] for index, column in enumerate(self.columns) if column}
        for column in _TEXT_COLUMNS:
            cells[column] = cells[column].removeprefix("'")
        return cells

    def read(self, rows: list[list[str]]) -> None:
        for index, record in enumerate(rows[1:], start=2):
            cells = self.cells(index, record)
            if any(value.strip() for value in cells.values()):
                self.row(index, cells)

    def row(self, row: int, cells: dict[str, str]) -> None:
        key = cells["touchpoint_key"].strip()
        current = self.touchpoints[-1] if self.touchpoints else None
        if not key:
            if current is None:
                self.add(row, "touchpoint_key", "is required on the first row")
                return
            key = current["key"]
        if current is None or key != current["key"]:
            if key in self.ended:
                self.add(
                    row,
                    "touchpoint_key",
                    f"touchpoint {describe(key)} already ended at row {self.ended[key]}; "
                    "keep the rows of a touchpoint together",
                )
                return
            if current is not None:
                self.ended[current["key"]] = self.last_row
            current = self.start_touchpoint(row, key, cells)
        else:
            self.same_touchpoint(row, cells)
        self.last_row = row
        if any(cells[column].strip() for column in _ITEM_COLUMNS):
            self.item(row, len(self.touchpoints) - 1, current, cells)

    def start_touchpoint(self, row: int, key: str, cells: dict[str, str]) -> dict[str, Any]:
        touchpoint: dict[str, Any] = {"key": key}
        for column, field in _TOUCHPOINT_COLUMNS.items():
            value = cells[column].strip() if column == "channel" else cells[column]
            if value:
                touchpoint[field] = value
        touchpoint["items"] = []
        self.touchpoints.append(touchpoint)
        self.touchpoint_rows.append(row)
        return touchpoint

    def same_touchpoint(self, row: int, cells: dict[str, str]) -> None:
        touchpoint, first = self.touchpoints[-1], self.touchpoint_rows[-1]
        for column, field in _TOUCHPOINT_COLUMNS.items():
            value = cells[column].strip() if column == "channel" else cells[column]
            if value and value != touchpoint.get(field, ""):
                self.add(
                    row,
                    column,
                    f"differs from row {first} ({describe(touchpoint.get(field, ''))}); "
                    "repeat the touchpoint's value or leave the cell empty",
                )

    def item(self, row: int, touchpoint_index: int, touchpoint: dict[str, Any], cells: dict[str, str]) -> None:
        item_index = len(touchpoint["items"])
        path = f"touchpoints[{touchpoint_index}].items[{item_index}]"
        item: dict[str, Any] = {}

        def read(column: str, field: str, parse: Callable[[str], Any]) -> None:
            text = cells[column]
            if not text.strip():
                return
            try:
                item[field] = parse(text)
            except ValueError as error:
                self.add(row, column, str(error))
                item[field] = text  # keeps the validator from also calling the field missing
                self.unparsed.add(f"{path}.{field}")

        if cells["item_key"].strip():
            item["key"] = cells["item_key"].strip()
        read("type", "type", str.strip)
        for column in ("prompt", "help"):
            if cells[column]:
                item[column] = cells[column]
        for column in ("expect", "flag_if"):
            read(column, column, str.strip)
        read("scale", "scale", _parse_number)
        read("labels", "labels", _parse_labels)
        for column in ("target_min", "target_max", "target_max_s"):
            read(column, column, _parse_number)
        if cells["unit"]:
            item["unit"] = cells["unit"]
        read("multiple", "multiple", _parse_bool)
        read("max_length", "max_length", _parse_number)
        read("options", "options", _parse_options)
        read("weight", "weight", _parse_number)
        for column in ("required", "critical"):
            read(column, column, _parse_bool)
        evidence: dict[str, Any] = {}
        if cells["evidence_prompt"]:
            evidence["prompt"] = cells["evidence_prompt"]
        if cells["evidence_require"].strip():
            evidence["require"] = cells["evidence_require"].strip()
        if evidence:
            item["evidence"] = evidence
        read("show_if", "show_if", lambda text: _parse_show_if(text, self.numeric_items))
        kind = known_type(item.get("type"))
        if "key" in item and kind is not None and kind.numeric:
            self.numeric_items.add(item["key"])
        touchpoint["items"].append(item)
        self.item_rows[(touchpoint_index, item_index)] = row

    # mapping the validator's problems back to the sheet

    def row_of(self, match: re.Match[str]) -> int | None:
        touchpoint, item = int(match.group(1)), match.group(2)
        if item is None:
            return self.touchpoint_rows[touchpoint] if touchpoint < len(self.touchpoint_rows) else None
        return self.item_rows.get((touchpoint, int(item)))

    def rows_in_text(self, match: re.Match[str]) -> str:
        row = self.row_of(match)
        return match.group(0) if row is None else f"row {row}"

    def located(self, problem: Problem) -> Problem:
        """The problem with its path (and any path in its message) given as a row and column of the sheet."""
        message = _PATH_RE.sub(self.rows_in_text, problem.message)
        match = _PATH_RE.match(problem.path)
        row = self.row_of(match) if match else None
        if match is None or row is None:
            return Problem(problem.path, message)
        field = problem.path[match.end() :].lstrip(".")
        column = _item_column(field) if match.group(2) is not None else _touchpoint_column(field)
        return Problem(f"row {row}, column {column}", message)


def _first_name(field: str) -> str:
    return re.split(r"[.\[]", field, maxsplit=1)[0]


def _touchpoint_column(field: str) -> str:
    name = _first_name(field)
    return next((column for column, known in _TOUCHPOINT_COLUMNS.items() if known == name), "touchpoint_key")


def _item_column(field: str) -> str:
    name = _first_name(field)
    if name == "evidence":
        return "evidence_require" if field.startswith("evidence.require") else "evidence_prompt"
    return name if name in _ITEM_COLUMNS and name != "key" else "item_key"


def _row_number(problem: Problem) -> int:
    match = re.match(r"row (\d+)", problem.path)
    return int(match.group(1)) if match else 0


def import_csv(
    data: bytes | str,
    *,
    title: str,
    description: str = "",
    critical_cap: float | None = None,
) -> dict[str, Any]:
    """Build a definition from a spreadsheet export (comma or semicolon separated, UTF-8 with or without BOM).

    The sheet holds the touchpoints and items; the title, description and critical cap come from the caller.
    """
    rows = _read_rows(_decode(data))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise _problem("the first row must name the columns: " + ", ".join(CSV_COLUMNS), "row 1")
    sheet = _SheetReader(_check_header(rows[0]))
    sheet.read(rows)
    definition: dict[str, Any] = {"title": title}
    if description:
        definition["description"] = description
    if critical_cap is not None:
        definition["critical_cap"] = critical_cap
    definition["touchpoints"] = sheet.touchpoints
    problems = list(sheet.problems)
    for problem in validate_definition(definition):
        if not any(problem.path == path or problem.path.startswith(path + ".") for path in sheet.unparsed):
            problems.append(sheet.located(problem))
    if problems:
        problems.sort(key=_row_number)
        raise DefinitionError(problems)
    return definition
