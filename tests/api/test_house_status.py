"""A proposal whose street was heard but not the house number: the card JSON and the live message say so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from calls.messages import CardProposedMessage, decode, encode
from calls.session import proposal_dict
from classifier.base import Address, CardProposal, HouseStatus
from models.repo import calls

UNSURE = CardProposal(
    topic="hot_water",
    service="heating_utility",
    emergency="none",
    language="ru",
    address=Address(street="проспект Абая", apartment="5"),
    summary="Нет горячей воды",
    confidence={"topic": 0.9, "service": 0.9, "emergency": 0.99},
    model_version="sk-test",
    house_status=HouseStatus.UNCERTAIN,
)


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_an_unsure_house_comes_back_in_the_card(client: Any, ctx: Any, operator_headers: Any) -> None:
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="1712.4", caller_number="+77015550702", channel="PJSIP/t-1")
        calls.mark_answered(s, uniqueid="1712.4", at=datetime.now(UTC))
        card_id = calls.save_proposal(s, call_id=call.id, proposal=proposal_dict(UNSURE), model_version=None).id
    assert client.post(f"/api/calls/{call.id}/claim", headers=operator_headers).status_code == 200

    body = client.get(f"/api/cards/{card_id}", headers=operator_headers).json()
    assert body["proposed"]["house_status"] == "uncertain"
    assert body["proposed"]["address"]["street"] == "проспект Абая" and body["proposed"]["address"]["house"] is None
    assert body["address"]["house"] is None, "the draft is not filled with a guessed house"
    [listed] = client.get("/api/cards", headers=operator_headers).json()["data"]
    assert listed["proposed"]["house_status"] == "uncertain"

    # A later proposal that heard the house replaces the status.
    with ctx.sessionmaker() as s:
        heard = proposal_dict(UNSURE) | {"address": {"street": "проспект Абая", "house": "12"}, "house_status": "heard"}
        calls.save_proposal(s, call_id=call.id, proposal=heard, model_version=None)
    again = client.get(f"/api/cards/{card_id}", headers=operator_headers).json()
    assert (again["proposed"]["house_status"], again["proposed"]["address"]["house"]) == ("heard", "12")


def test_the_live_proposal_carries_the_house_status() -> None:
    message = CardProposedMessage(call_key="1712.5", call_id=7, card_id=9, proposal=UNSURE)
    wire = encode(message)
    assert wire["proposal"]["house_status"] == "uncertain"
    assert decode(wire) == message
