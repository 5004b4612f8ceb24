"""Checks of API inputs against the taxonomy: every topic, service, emergency and district must be a known id."""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from core.taxonomy import EMERGENCY_CODES, Taxonomy

KIND_FIELDS = {"topic": "topic", "service": "service", "emergency": "emergency", "district": "district"}


def allowed_ids(taxonomy: Taxonomy, kind: str) -> list[str]:
    """The ids of one vocabulary section."""
    table = {
        "topic": taxonomy.topics,
        "service": taxonomy.services,
        "emergency": taxonomy.emergency,
        "district": taxonomy.districts,
    }[kind]
    return sorted(table)


def check_id(taxonomy: Taxonomy, kind: str, value: str | None, field: str | None = None) -> None:
    """ApiError 422 (with the allowed ids) unless ``value`` is None or an id of ``kind``."""
    if value is None:
        return
    allowed = allowed_ids(taxonomy, kind)
    if value not in allowed:
        raise ApiError(
            422,
            f"{value!r} is not a known {kind} id; use one of the ids listed in 'allowed'.",
            field=field or kind,
            allowed=allowed,
        )


def check_emergency_code(taxonomy: Taxonomy, code: str, field: str = "code") -> None:
    """ApiError 422 unless ``code`` is one of the emergency services (101..104)."""
    allowed = [c for c in EMERGENCY_CODES if c in taxonomy.emergency]
    if code not in allowed:
        raise ApiError(422, f"{code!r} is not an emergency service code.", field=field, allowed=allowed)


def check_card_changes(taxonomy: Taxonomy, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate card changes against the taxonomy; a new topic without a service brings its default service."""
    for name, kind in KIND_FIELDS.items():
        if name in changes:
            check_id(taxonomy, kind, changes[name], field=name if name != "district" else "address.district")
    for code in changes.get("emergency_also") or ():
        check_emergency_code(taxonomy, code, field="emergency_also")
    if changes.get("topic") and "service" not in changes:
        changes = {**changes, "service": taxonomy.service_for(changes["topic"])}
    return changes
