"""Data functions for organisations and routing rules: read the directory, replace it from a file, open cards.

``sync_directory`` makes the stored directory equal to the one given, matching organisations and rules by
``code``: new ones are created, changed ones updated, rules missing from the input deleted and organisations
missing from it deactivated (never deleted: cards and people will refer to them). Each change is one audit event
(entity "organisation" or "routing_rule"). It adds to the session's transaction: the caller commits, or rolls
back for a dry run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from models.handover import Organisation, RoutingRule
from models.records import Card
from models.repo import audit
from models.repo.errors import RecordNotFound

ORGANISATION = "organisation"
ROUTING_RULE = "routing_rule"
# Cards still waiting for (or in the hands of) an organisation: routing changes move them.
OPEN_STATUSES = ("confirmed", "routed")

ORG_FIELDS: tuple[str, ...] = (
    "code",
    "name_kk",
    "name_ru",
    "services",
    "phone",
    "email",
    "address",
    "working_hours",
    "receives",
    "deadline_hours",
    "active",
)
# "organisation" is the target's code (the column holds its id).
RULE_FIELDS: tuple[str, ...] = (
    "code",
    "position",
    "organisation",
    "services",
    "topics",
    "districts",
    "street",
    "houses",
    "named_object",
    "fallback",
    "active",
    "note",
)


@dataclass(frozen=True, slots=True)
class Change:
    """One change to the directory: what (entity, code), how (create/update/deactivate/delete), and the fields."""

    entity: str
    code: str
    action: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


def list_organisations(session: Session) -> list[Organisation]:
    """Every organisation, by code."""
    return list(session.scalars(select(Organisation).order_by(Organisation.code)))


def get_organisation(session: Session, *, code: str) -> Organisation:
    """The organisation with ``code``."""
    org = session.scalars(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        raise RecordNotFound(f"organisation {code!r} does not exist")
    return org


def list_rules(session: Session) -> list[RoutingRule]:
    """The routing table in order, each rule with its organisation loaded."""
    stmt = select(RoutingRule).options(selectinload(RoutingRule.organisation))
    return list(session.scalars(stmt.order_by(RoutingRule.position, RoutingRule.id)))


def rules_per_organisation(session: Session) -> dict[int, int]:
    """How many routing rules name each organisation (by its id; organisations without rules are missing)."""
    stmt = select(RoutingRule.organisation_id, func.count()).group_by(RoutingRule.organisation_id)
    return {int(org_id): int(n) for org_id, n in session.execute(stmt)}


def open_cards(session: Session) -> list[Card]:
    """Cards an organisation is to act on (status confirmed or routed), oldest first."""
    stmt = select(Card).where(Card.status.in_(OPEN_STATUSES)).order_by(Card.id)
    return list(session.scalars(stmt))


def org_snapshot(org: Organisation) -> dict[str, Any]:
    """An organisation's fields as the audit log and files see them."""
    return {name: getattr(org, name) for name in ORG_FIELDS}


def rule_snapshot(rule: RoutingRule, org_code: str) -> dict[str, Any]:
    """A rule's fields, with its organisation as a code."""
    values = {name: getattr(rule, name) for name in RULE_FIELDS if name != "organisation"}
    return {**values, "organisation": org_code}


def _record(session: Session, change: Change, entity_id: int, actor: str, user_id: int | None) -> None:
    audit.record(
        session,
        actor=actor,
        entity=change.entity,
        entity_id=entity_id,
        action=change.action,
        before=change.before or None,
        after=change.after or None,
        user_id=user_id,
    )


def _sync_organisations(
    session: Session, wanted: Sequence[Mapping[str, Any]], actor: str, user_id: int | None
) -> tuple[dict[str, Organisation], list[Change]]:
    existing = {o.code: o for o in list_organisations(session)}
    changes: list[Change] = []
    for given in wanted:
        values = {"deadline_hours": {}, **given}  # a file without deadlines: the topics' deadlines
        org = existing.get(values["code"])
        if org is None:
            org = Organisation(**{k: values[k] for k in ORG_FIELDS})
            session.add(org)
            session.flush()
            existing[org.code] = org
            change = Change(ORGANISATION, org.code, "create", after=org_snapshot(org))
        else:
            before, after = audit.diff(org_snapshot(org), {k: values[k] for k in ORG_FIELDS})
            if not after:
                continue
            for name, value in after.items():
                setattr(org, name, value)
            change = Change(ORGANISATION, org.code, "update", before, after)
        changes.append(change)
        _record(session, change, org.id, actor, user_id)
    listed = {v["code"] for v in wanted}
    for code, org in sorted(existing.items()):
        if code not in listed and org.active:
            org.active = False
            change = Change(ORGANISATION, code, "deactivate", {"active": True}, {"active": False})
            changes.append(change)
            _record(session, change, org.id, actor, user_id)
    return existing, changes


def sync_directory(
    session: Session,
    *,
    organisations: Sequence[Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]],
    actor: str,
    user_id: int | None = None,
) -> list[Change]:
    """Make the stored directory equal to the given one (see the module docstring); flushed, not committed.

    ``organisations`` holds Organisation column values; ``rules`` holds RoutingRule column values in order, with
    ``organisation`` as a code (every code must be among the organisations) and no position.
    """
    orgs, changes = _sync_organisations(session, organisations, actor, user_id)
    existing = {r.code: r for r in list_rules(session)}
    codes = {r.organisation_id: r.organisation.code for r in existing.values()}
    listed = {v["code"] for v in rules}
    for code, rule in sorted(existing.items()):
        if code not in listed:
            change = Change(ROUTING_RULE, code, "delete", before=rule_snapshot(rule, codes[rule.organisation_id]))
            changes.append(change)
            _record(session, change, rule.id, actor, user_id)
            session.delete(rule)
    session.flush()
    for position, values in enumerate(rules, start=1):
        org = orgs.get(values["organisation"])
        if org is None:
            raise RecordNotFound(f"rule {values['code']}: organisation {values['organisation']!r} does not exist")
        fields = {k: values[k] for k in RULE_FIELDS if k not in ("position", "organisation")}
        stored = existing.get(values["code"])
        if stored is None:
            rule = RoutingRule(**fields, position=position, organisation=org)
            session.add(rule)
            session.flush()
            change = Change(ROUTING_RULE, rule.code, "create", after=rule_snapshot(rule, org.code))
        else:
            rule = stored
            wanted = {**fields, "position": position, "organisation": org.code}
            before, after = audit.diff(rule_snapshot(rule, codes[rule.organisation_id]), wanted)
            if not after:
                continue
            for name, value in after.items():
                if name == "organisation":
                    rule.organisation = org
                else:
                    setattr(rule, name, value)
            change = Change(ROUTING_RULE, rule.code, "update", before, after)
        changes.append(change)
        _record(session, change, rule.id, actor, user_id)
    session.flush()
    return changes
