"""The built-in checklist library: read-only checklists any organization can copy and adapt."""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Folder holding the built-in checklist definitions, one ``<slug>.json`` per checklist.
LIBRARY_DIR: Path = Path(__file__).resolve().parent / "library"

#: The built-in checklists in the order they are offered (walk-through first), not alphabetical.
BUILTIN_SLUGS: tuple[str, ...] = (
    "be-your-customer",
    "service-health-check",
    "customer-first-culture",
    "complaint-recovery",
)


@dataclass(frozen=True)
class BuiltinChecklist:
    """One built-in checklist: its slug (the file stem) and its definition (checklist JSON as a dict)."""

    slug: str
    definition: dict[str, Any]


@functools.cache
def _load_all() -> tuple[BuiltinChecklist, ...]:
    """Read every library file once; callers only ever see deep copies of these."""
    return tuple(
        BuiltinChecklist(slug, json.loads((LIBRARY_DIR / f"{slug}.json").read_text(encoding="utf-8")))
        for slug in BUILTIN_SLUGS
    )


def _copy(checklist: BuiltinChecklist) -> BuiltinChecklist:
    return BuiltinChecklist(checklist.slug, copy.deepcopy(checklist.definition))


def builtin_checklists() -> list[BuiltinChecklist]:
    """Return all built-in checklists in library order, each with its own copy of the definition."""
    return [_copy(checklist) for checklist in _load_all()]


def get_builtin(slug: str) -> BuiltinChecklist:
    """Return the built-in checklist named ``slug`` (a copy).

    Raises:
        KeyError: if there is no built-in checklist with that slug.
    """
    for checklist in _load_all():
        if checklist.slug == slug:
            return _copy(checklist)
    raise KeyError(slug)
