"""Which stored organisation a card goes to: the routing engine (handover.routing) over the stored rules, answered
as models.repo.cards.Routing (the organisation's id, the rule's code, the reason) for the card's data functions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from handover.directory import card_facts, load_rules
from handover.routing import CardFacts, route
from models.handover import Organisation
from models.records import Card
from models.repo.cards import Routing


def decide(session: Session, facts: CardFacts) -> Routing:
    """The organisation the active rules give for these facts, or none and why not."""
    decision = route(facts, load_rules(session))
    if decision.organisation is None or decision.rule is None:
        return Routing(None, None, decision.reason)
    org_id = session.scalar(select(Organisation.id).where(Organisation.code == decision.organisation))
    if org_id is None:  # the rules were read in this transaction: their organisation exists
        return Routing(None, None, f"organisation {decision.organisation} of rule {decision.rule.code} is gone")
    return Routing(int(org_id), decision.rule.code, decision.reason)


def route_for(session: Session, card: Card) -> Routing:
    """A models.repo.cards.Router: the organisation for the card's working (confirmed) fields."""
    return decide(session, card_facts(card))
