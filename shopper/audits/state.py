"""An audit as plain data: what the phone needs to render it and to resume, online or offline."""

from __future__ import annotations

from typing import Any

from shopper.audits.models import Audit
from shopper.audits.service import answer_state, photo_state, visit_state


def audit_state(audit: Audit) -> dict[str, Any]:
    return {
        "id": audit.id,
        "status": audit.status,
        "revision": audit.revision,
        "scenario": audit.scenario,
        "site": audit.site.name,
        "checklist": {"title": audit.definition["title"], "version": audit.version.number},
        "definition": audit.definition,
        "last_touchpoint_key": audit.last_touchpoint_key,
        "score": audit.score,
        "answers": {a.item_key: answer_state(a) for a in audit.answers},
        "visits": {v.touchpoint_key: visit_state(v) for v in audit.visits},
        "photos": [photo_state(p) for p in audit.photos],
    }
