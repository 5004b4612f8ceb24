"""models.repo.calls on SQLite and PostgreSQL: the proposal's house status is stored only as one of its three
values, and the database refuses any other."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.records import Card
from models.repo import calls

PROPOSAL = {
    "topic": "hot_water",
    "service": "heating_utility",
    "emergency": "none",
    "address": {"street": "проспект Абая", "apartment": "5"},
    "model_version": "sk-1",
}


def _stored(session: Session, uniqueid: str, house_status: Any) -> str | None:
    call, _ = calls.get_or_create_call(session, uniqueid=uniqueid, caller_number="+77015550703")
    proposal = PROPOSAL if house_status is ... else PROPOSAL | {"house_status": house_status}
    card = calls.save_proposal(session, call_id=call.id, proposal=proposal, model_version=None)
    session.expire_all()
    stored = session.get(Card, card.id)
    assert stored is not None
    return stored.proposed_house_status


@pytest.mark.parametrize("status", ["heard", "uncertain", "absent"])
def test_the_three_house_statuses_are_stored(session: Session, status: str) -> None:
    assert _stored(session, f"hs-{status}", status) == status


@pytest.mark.parametrize("status", ["UNCERTAIN", "maybe", "", 1, True, None, ["uncertain"], ...])
def test_anything_else_is_not_recorded(session: Session, status: Any) -> None:
    assert _stored(session, "hs-other", status) is None


def test_a_later_proposal_replaces_the_status(session: Session) -> None:
    assert _stored(session, "hs-later", "uncertain") == "uncertain"
    assert _stored(session, "hs-later", "heard") == "heard"
    assert _stored(session, "hs-later", ...) is None, "a proposal that does not say is not taken as the old one"


def test_the_database_refuses_another_value(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="hs-check", caller_number="+77015550704")
    card = calls.save_proposal(session, call_id=call.id, proposal=PROPOSAL, model_version=None)
    card.proposed_house_status = "maybe"
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
