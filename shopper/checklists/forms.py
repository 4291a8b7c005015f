"""Forms of the checklist editor. Each turns its fields into the definition's dicts (``fields()``) and back
(``initial()``), and shows the validator's problems beside the fields they concern (``show_problems()``)."""

from __future__ import annotations

import re
from typing import Any

from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput

from shopper.checklists import editor
from shopper.checklists.items import REGISTRY
from shopper.checklists.schema import (
    CHANNELS,
    DEFAULT_CRITICAL_CAP,
    EVIDENCE_REQUIRE,
    ITEM_TYPES,
    TYPE_FIELDS,
    Problem,
)
from shopper.checklists.sharing import chosen_client_ids
from shopper.filters import ChoiceValue, FilterForm, NumberValue
from shopper.forms import Form, strip

CHANNEL_LABELS = {
    "website": "Website",
    "phone": "Phone",
    "email": "Email",
    "chat": "Chat",
    "social": "Social media",
    "in-person": "In person",
    "printed": "Printed (letters, leaflets, signs)",
    "billing": "Billing",
    "delivery": "Delivery",
    "other": "Other",
}
TYPE_LABELS = {name: kind.label for name, kind in REGISTRY.items()}
EVIDENCE_LABELS = {
    "none": "Optional",
    "note": "A note is required",
    "photo": "A photo is required",
}
#: The fields that belong to some item types only, each written into the item only for its types.
TYPE_SPECIFIC = tuple(dict.fromkeys(name for names in TYPE_FIELDS.values() for name in names))
_INDEX = re.compile(r"^[a-z_]+\[(\d+)\]")
_KEY_HINT = (
    "Lowercase letters, digits and hyphens. Leave it empty to make one from the {source}. "
    "Keep it once audits use it: reports follow answers by their key."
)


class NumberField(StringField):
    """A number typed as text, None when empty; a whole number is an int (the format wants 60, not 60.0)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal"})
        super().__init__(label, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        self.data = None
        if valuelist[0].strip():
            try:
                self.data = editor.parse_number(valuelist[0])
            except ValueError:
                raise ValueError("Enter a number, like 60 or 2.5.") from None

    def _value(self) -> str:
        return self.raw_data[0] if self.raw_data else editor.format_number(self.data)


def _text_field(label: str, description: str = "", *, area: bool = False) -> StringField:
    field_class = TextAreaField if area else StringField
    return field_class(label, description=description, filters=[strip])


def _choices(values: tuple[str, ...], labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, labels[value]) for value in values]


class EditorForm(Form):
    #: where a problem's field name (the first part of its path after the element) is shown, when not the same
    FIELD_FOR: dict[str, str] = {}

    def show_problems(self, problems: list[Problem], element_path: str, definition: dict[str, Any]) -> None:
        """Put each problem beside its field; problems with no field of this form are listed at the top."""
        for problem in problems:
            name, detail = self._field_for(problem.path, element_path)
            message = problem.message[:1].upper() + problem.message[1:]
            if name is None:
                self.form_errors.append(f"In {editor.where(definition, problem.path)}: {problem.message}")
            else:
                self[name].errors = [*self[name].errors, f"{detail}{message}"]

    def add_refusal(self, refused: editor.EditRefused) -> None:
        if refused.field in self:
            self[refused.field].errors = [*self[refused.field].errors, str(refused)]
        else:
            self.form_errors.append(str(refused))

    def _field_for(self, path: str, element_path: str) -> tuple[str | None, str]:
        """The form field a problem path belongs to (None: not this form's), and a line number for lists."""
        if element_path and not path.startswith(element_path + "."):
            return None, ""
        tail = path[len(element_path) + 1 :] if element_path else path
        first = re.split(r"[.\[]", tail, maxsplit=1)[0]
        name = self.FIELD_FOR.get(tail, self.FIELD_FOR.get(first, first))
        if name not in self or name == "csrf_token":
            return None, ""
        index = _INDEX.match(tail)
        return name, (f"Line {int(index.group(1)) + 1}: " if index else "")


class SettingsForm(EditorForm):
    title = _text_field("Title")
    description = _text_field("What is this journey for?", "Shown to the auditors before they start.", area=True)
    critical_cap = NumberField(
        "Highest score when a critical item fails",
        description=f"From 0 to 100. Leave it empty for {DEFAULT_CRITICAL_CAP}.",
    )

    @staticmethod
    def initial(definition: dict[str, Any]) -> dict[str, Any]:
        return {name: definition.get(name) for name in ("title", "description", "critical_cap")}

    def fields(self) -> dict[str, Any]:
        return {
            "title": self.title.data or "",
            "description": self.description.data or "",
            "critical_cap": self.critical_cap.data,
        }


class TouchpointForm(EditorForm):
    title = _text_field("Where the customer meets you", "For example: Call the billing line.")
    channel = SelectField("Channel", choices=_choices(CHANNELS, CHANNEL_LABELS))
    promise = _text_field(
        "Your promise here", "What you promise the customer at this point, in their words.", area=True
    )
    guidance = _text_field(
        "How to live it as a customer", "Tell the auditor how to step into the customer's shoes.", area=True
    )
    key = _text_field("Key", _KEY_HINT.format(source="title"))

    @staticmethod
    def initial(touchpoint: dict[str, Any]) -> dict[str, Any]:
        return {name: touchpoint.get(name) for name in ("key", "title", "channel", "promise", "guidance")}

    def fields(self) -> dict[str, Any]:
        touchpoint = {
            "key": self.key.data or "",
            "title": self.title.data or "",
            "channel": self.channel.data,
        }
        for name in ("promise", "guidance"):
            if self[name].data:
                touchpoint[name] = self[name].data
        return touchpoint


class ItemForm(EditorForm):
    type = SelectField("Kind of answer", choices=_choices(ITEM_TYPES, TYPE_LABELS), default="check")
    prompt = _text_field("Question", "What the auditor answers, for example: Did a person answer?", area=True)
    help = _text_field("Hint (optional)", "Shown under the question.", area=True)

    expect = SelectField(
        "The answer that keeps the promise",
        choices=[SelectChoice("yes", "Yes"), SelectChoice("no", "No")],
        default="yes",
    )
    scale = NumberField("Top score", description="From 3 to 10.")
    labels = _text_field(
        "Labels (optional)",
        "One per line, from the lowest score to the top one, for example: Poor, then Fair, then Good.",
        area=True,
    )
    options = _text_field(
        "Options",
        "One per line, written value = Label : score ! — for example: nobody = Nobody answered : 0 ! "
        "The value (lowercase letters, digits, hyphens) is made from the label when left out; the score, "
        "from 0 to 100, is optional; a ! at the end makes choosing it a finding.",
        area=True,
    )
    multiple = BooleanField("The auditor may pick several options")
    max_length = NumberField("Longest answer, in characters", description="Up to 5000; empty for 5000.")
    target_min = NumberField(
        "Lowest that keeps the promise", description="Optional. For a rating: the lowest acceptable score."
    )
    target_max = NumberField("Highest that keeps the promise", description="Optional.")
    target_max_s = NumberField("Longest acceptable time, in seconds", description="Optional, for example 60.")
    unit = _text_field("Unit (optional)", "For example: minutes, metres, hand-offs.")

    weight = NumberField("Weight", description="Points from 0 to 10; empty for 1. 0 counts for nothing.")
    required = BooleanField("Required: the audit cannot be sent without an answer")
    critical = BooleanField("Critical: failing it caps the whole score")
    evidence_prompt = _text_field("Ask for proof (optional)", "A follow-up question, for example: What did they say?")
    evidence_require = SelectField("Proof needed", choices=_choices(EVIDENCE_REQUIRE, EVIDENCE_LABELS), default="none")
    flag_if = BooleanField("A broken promise here is a finding", default=True)
    show_if_item = SelectField("Show it depending on the answer to", choices=[], default="")
    show_if_answers = _text_field(
        "Show it when that answer is",
        "yes, no or na for a check; an option's value or label for a choice; a number otherwise. "
        "Separate several answers with commas.",
    )
    key = _text_field("Key", _KEY_HINT.format(source="question"))

    FIELD_FOR = {
        "evidence": "evidence_prompt",
        "evidence.prompt": "evidence_prompt",
        "evidence.require": "evidence_require",
        "show_if.item": "show_if_item",
        "show_if": "show_if_answers",
    }

    def __init__(self, *args: Any, sources: list[dict[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.show_if_item.choices = [
            SelectChoice("", "Nothing: always show it"),
            *(SelectChoice(item["key"], item["prompt"]) for item in sources),
        ]

    @property
    def type_fields(self) -> tuple[str, ...]:
        return TYPE_FIELDS.get(self.type.data, ())

    @staticmethod
    def types_using(name: str) -> list[str]:
        """The item types that have the setting ``name``, for the form's "For ... items." hints."""
        return [kind.name for kind in REGISTRY.values() if name in kind.fields]

    def validate(self, extra_validators: Any = None) -> bool:
        """Only the chosen type's settings count: the others are ignored, whatever they hold."""
        super().validate(extra_validators)
        for name in TYPE_SPECIFIC:
            if name not in self.type_fields:
                self[name].errors = []
        return not self.errors

    def validate_options(self, field: StringField) -> None:
        if "options" in self.type_fields and not editor.parse_options(field.data or ""):
            raise ValidationError("Give at least two options, one per line.")

    def validate_show_if_answers(self, field: StringField) -> None:
        if self.show_if_item.data and not any(part.strip() for part in (field.data or "").split(",")):
            raise ValidationError("Give the answer that shows this item.")

    @staticmethod
    def initial(item: dict[str, Any]) -> dict[str, Any]:
        data = {name: item.get(name) for name in ("key", "type", "prompt", "help", "weight")}
        data.update(
            {name: item.get(name) for name in ("scale", "target_min", "target_max", "target_max_s", "max_length")}
        )
        data.update(
            expect=item.get("expect", "yes"),
            unit=item.get("unit", ""),
            multiple=item.get("multiple", False),
            labels=editor.labels_text(item.get("labels", [])),
            options=editor.options_text(item.get("options", [])),
            required=item.get("required", False),
            critical=item.get("critical", False),
            evidence_prompt=item.get("evidence", {}).get("prompt", ""),
            evidence_require=item.get("evidence", {}).get("require", "none"),
            flag_if=item.get("flag_if", "breach") != "never",
            show_if_item=item.get("show_if", {}).get("item", ""),
            show_if_answers=editor.condition_text(item.get("show_if")),
        )
        return data

    def fields(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The item the form describes, with only the chosen type's settings; defaults are left out."""
        item: dict[str, Any] = {
            "key": self.key.data or "",
            "type": self.type.data,
            "prompt": self.prompt.data or "",
        }
        if self.help.data:
            item["help"] = self.help.data
        kind = REGISTRY.get(self.type.data)
        if kind is not None:
            item.update(kind.settings(self))
        if self.weight.data is not None and self.weight.data != 1:
            item["weight"] = self.weight.data
        for name in ("required", "critical"):
            if self[name].data:
                item[name] = True
        evidence = {}
        if self.evidence_prompt.data:
            evidence["prompt"] = self.evidence_prompt.data
        if self.evidence_require.data != "none":
            evidence["require"] = self.evidence_require.data
        if evidence:
            item["evidence"] = evidence
        if not self.flag_if.data:
            item["flag_if"] = "never"
        if self.show_if_item.data:
            item["show_if"] = editor.parse_condition(definition, self.show_if_item.data, self.show_if_answers.data)
        return item

    def setting(self, name: str) -> Any:
        """The value of one type-specific setting, parsed (the item type decides which it writes)."""
        if name == "labels":
            return editor.parse_labels(self.labels.data or "")
        if name == "options":
            return editor.parse_options(self.options.data or "")
        return self[name].data


class MoveForm(Form):
    direction = SelectField(choices=[SelectChoice("up", "Up"), SelectChoice("down", "Down")])


class SharingForm(Form):
    """Which of a consultancy's clients run one of its checklists."""

    shared_with = RadioField(
        "Who runs this checklist",
        choices=[
            SelectChoice("none", "No client: only our consultancy"),
            SelectChoice("all", "All our clients, including clients we add later"),
            SelectChoice("chosen", "Only the clients ticked below"),
        ],
    )
    #: any id is accepted here: the sharing rules refuse a business that is not a client, with a clear message
    clients = SelectMultipleField("Clients", coerce=int, option_widget=CheckboxInput(), validate_choice=False)

    @classmethod
    def for_checklist(cls, checklist, clients, formdata: bool = False) -> SharingForm:
        form = cls() if formdata else cls(formdata=None, shared_with=checklist.shared_with)
        form.clients.choices = [SelectChoice(client.id, client.name) for client in clients]
        if not formdata:
            form.clients.data = sorted(chosen_client_ids(checklist))
        return form


class PreviewForm(FilterForm):
    """`?version=<number>` on the preview: a published version instead of the draft."""

    version = NumberValue(
        "Version", invalid="{value} is not a version number", fallback="pick a version from the checklist's page"
    )


class NewItemLinkForm(FilterForm):
    """`?type=<item type>` on the new item page: the type to start with."""

    type = ChoiceValue(
        "Item type", choices=ITEM_TYPES, unknown="Unknown item type {value}", fallback="starting with a check"
    )
