"""The stored directory of organisations and rules: read it for routing and export, replace it from a file.

``import_directory`` writes a checked file's directory in one transaction (audited, idempotent by code) and reports
the changes and the open cards that would go to a different organisation than under the rules before; with
``dry_run`` it reports the same and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from handover.orgfile import Directory, OrgSpec, RuleSpec, engine_rule
from handover.routing import CardFacts, RoutingDecision, Rule, Target, route
from models.handover import Organisation, RoutingRule
from models.records import Card
from models.repo import organisations as repo
from models.repo.organisations import Change


@dataclass(frozen=True, slots=True)
class Move:
    """An open card whose organisation changes with the new rules."""

    card_id: int
    reg_number: str | None
    before: RoutingDecision
    after: RoutingDecision


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import changed (or, in a dry run, would change) and which open cards move."""

    changes: list[Change]
    moves: list[Move]
    dry_run: bool


def org_spec(org: Organisation) -> OrgSpec:
    """A stored organisation as the file writes it."""
    return OrgSpec(
        code=org.code,
        name_kk=org.name_kk,
        name_ru=org.name_ru,
        services=tuple(org.services),
        phone=org.phone,
        email=org.email,
        address=org.address,
        working_hours=dict(org.working_hours),
        receives=tuple(org.receives),
        active=org.active,
        deadline_hours=dict(org.deadline_hours or {}),
    )


def rule_spec(rule: RoutingRule) -> RuleSpec:
    """A stored rule as the file writes it."""
    return RuleSpec(
        code=rule.code,
        organisation=rule.organisation.code,
        services=tuple(rule.services),
        topics=tuple(rule.topics),
        districts=tuple(rule.districts),
        street=rule.street,
        houses=tuple(rule.houses),
        named_object=rule.named_object,
        fallback=rule.fallback,
        active=rule.active,
        note=rule.note,
    )


def load_directory(session: Session) -> Directory:
    """Every stored organisation and the routing table in order."""
    return Directory(
        tuple(org_spec(o) for o in repo.list_organisations(session)),
        tuple(rule_spec(r) for r in repo.list_rules(session)),
    )


def load_rules(session: Session) -> list[Rule]:
    """The stored routing table as the engine reads it."""
    out: list[Rule] = []
    for rule in repo.list_rules(session):
        org = rule.organisation
        out.append(engine_rule(rule_spec(rule), Target(org.code, frozenset(org.services), org.active)))
    return out


def card_facts(card: Card) -> CardFacts:
    """What routing reads from a card: its confirmed service, topic and address."""
    return CardFacts(
        service=card.service,
        topic=card.topic,
        district=card.district,
        street=card.street,
        house=card.house,
        landmark=card.landmark,
    )


def import_directory(
    session: Session, directory: Directory, *, actor: str, user_id: int | None = None, dry_run: bool = False
) -> ImportReport:
    """Replace the stored directory with ``directory`` (commit), or only report what would change (rollback)."""
    cards = [(c.id, c.reg_number, card_facts(c)) for c in repo.open_cards(session)]
    before = load_rules(session)
    try:
        changes = repo.sync_directory(
            session,
            organisations=[o.as_record() for o in directory.organisations],
            rules=[r.as_record() for r in directory.rules],
            actor=actor,
            user_id=user_id,
        )
        after = load_rules(session)
    except BaseException:
        session.rollback()
        raise
    moves: list[Move] = []
    for card_id, reg_number, facts in cards:
        old, new = route(facts, before), route(facts, after)
        if old.organisation != new.organisation:
            moves.append(Move(card_id, reg_number, old, new))
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return ImportReport(changes, moves, dry_run)
