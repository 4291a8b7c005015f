"""The item types of a checklist, one module each, behind one registry (modelled on Indico's surveys/fields/).

Each type is a subclass of ``ItemType`` (base.py) and owns everything that differs between types: its fields and
their JSON Schema, the checks of those fields, the answer's validation (``clean``), scoring (``fraction``), the
broken promise in words (``breach``), the answer as the report prints it (``answer_text``) and measures it
(``measure``), the editor's settings, the walk's control template and the facts the walk's script reads. Everything
else asks the registry, ``item_type(name)``, and never compares a type's name.

How to add an item type
-----------------------
1. Write ``shopper/checklists/items/<name>.py`` with a subclass of ``ItemType``: set ``name``, ``label`` (how the
   editor offers it), ``fields`` and ``properties`` (its own fields and their JSON Schema: the published schema,
   which the validator runs, is built from them), ``required`` and the flags (``numeric``, ``photos_answer``,
   ``no_evidence_for``). Override ``clean`` (always), and ``fraction``, ``breach``, ``value_text``, ``measure``,
   ``limit`` where the defaults do not fit; ``check_item`` only for a rule between two of its values that JSON
   Schema cannot say (``target_min <= target_max``). ``walk`` holds the facts static/js/walk.js and rules.js read
   (see ``ItemType.facts``); a new breach rule also needs its function in ``BREACHES`` of static/js/rules.js.
2. Add the class to ``_TYPES`` below, in the order the editor lists types.
3. Write ``templates/checklists/items/<name>.html`` with a ``control(item, value, disabled, live)`` macro and,
   when the type has them, ``target_text(item)`` and ``answer_label(item, answer)``.
4. A new field also goes into ``ITEM_FIELDS`` of schema.py (the export's field order), a column of
   ``CSV_COLUMNS`` in io.py, a field of the editor's ``ItemForm`` (forms.py) and the tables of
   docs/checklist-format.md.
5. Add the type's cases to tests/test_checklists_items.py (answers accepted and refused, fraction, breach, text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopper.checklists.items.base import ItemType
from shopper.checklists.items.check import Check
from shopper.checklists.items.choice import Choice
from shopper.checklists.items.counter import Counter
from shopper.checklists.items.date import Date
from shopper.checklists.items.number import Number
from shopper.checklists.items.photo import Photo
from shopper.checklists.items.rating import Rating
from shopper.checklists.items.text import Text
from shopper.checklists.items.timer import Timer

if TYPE_CHECKING:
    from flask import Flask

_TYPES: tuple[type[ItemType], ...] = (Check, Rating, Choice, Text, Number, Timer, Counter, Photo, Date)

#: name -> the type
REGISTRY: dict[str, ItemType] = {kind.name: kind() for kind in _TYPES}
ITEM_TYPES: tuple[str, ...] = tuple(REGISTRY)


class UnknownItemType(LookupError):
    """A name that is not an item type; only a definition that was never validated has one."""


def item_type(name: Any) -> ItemType:
    """The item type called ``name``; raises UnknownItemType for any other value."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownItemType(name) from None


def known_type(name: Any) -> ItemType | None:
    """The item type called ``name``, or None for anything else (a draft may hold any value)."""
    return REGISTRY.get(name) if isinstance(name, str) else None


def walk_facts() -> dict[str, dict[str, Any]]:
    """name -> what the walk's script needs to know of each type (rendered into pages as JSON)."""
    return {name: kind.facts() for name, kind in REGISTRY.items()}


def init_app(app: Flask) -> None:
    """Templates reach the registry as ``item_type(name)`` and ``item_type_facts()``."""
    app.jinja_env.globals.update(item_type=item_type, item_type_facts=walk_facts)
