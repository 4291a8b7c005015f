"""Checklist versions parsed once per process: a published version never changes (audits pin it), so its definition
and the indexes the phone's writes look items up in can be kept and shared by every request of the worker.

The cache is keyed by the version's identity, (id, checklist id, number, created_at), never by its id alone: a
second database (the test suite's, a restored backup) or SQLite reusing the id of a deleted last row would give an
id another version, never with the same checklist, number and creation time too. It holds only what a request has
already loaded through the access layer (an audit opened by `get_or_404` brings its version's key), so a hit can
only ever answer for the version that audit pins: never another organization's.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from threading import Lock
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import joinedload

from shopper.checklists.models import ChecklistVersion
from shopper.checklists.schema import item_index
from shopper.extensions import db

#: versions kept per process; a worker rarely sees more than a few dozen at a time
CACHE_SIZE = 256

VersionKey = tuple[int, int, int, datetime]


@dataclass(frozen=True)
class ParsedVersion:
    """A published definition with its lookups. Shared between requests: never change what it holds."""

    key: VersionKey
    definition: dict[str, Any]
    #: item key -> (touchpoint, item)
    items: dict[str, tuple[dict[str, Any], dict[str, Any]]]
    touchpoint_keys: frozenset[str]

    @property
    def number(self) -> int:
        return self.key[2]


_cache: OrderedDict[VersionKey, ParsedVersion] = OrderedDict()
_lock = Lock()
_definition_of = select(ChecklistVersion.definition).where(ChecklistVersion.id == bindparam("id"))


def key_only(relationship):
    """Loader option for a relationship to ChecklistVersion: its key columns only, the definition left unloaded
    (`parsed()` takes it from the cache, or loads it once)."""
    return joinedload(relationship).load_only(
        ChecklistVersion.id, ChecklistVersion.checklist_id, ChecklistVersion.number, ChecklistVersion.created_at
    )


def key_of(version: ChecklistVersion) -> VersionKey:
    return (version.id, version.checklist_id, version.number, version.created_at)


def parsed(version: ChecklistVersion) -> ParsedVersion:
    """The parsed version, from the cache when this process has seen it (least recently used ones go first)."""
    key = key_of(version)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    if "definition" in sa_inspect(version).unloaded:
        definition = db.session.execute(_definition_of, {"id": version.id}).scalar_one()
    else:
        definition = version.definition
    found = ParsedVersion(
        key=key,
        definition=definition,
        items=item_index(definition),
        touchpoint_keys=frozenset(tp["key"] for tp in definition["touchpoints"]),
    )
    with _lock:
        _cache[key] = found
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return found
