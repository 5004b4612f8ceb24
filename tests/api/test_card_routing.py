"""Routing at confirmation, on SQLite and PostgreSQL: the rules' organisation is stored and audited, an operator's
choice is kept, a choice that cannot take the card is refused with nothing written, a card no rule routes is
confirmed with the reason, a supervisor re-routes (audited) and an operator may not re-route a colleague's card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from models.handover import Organisation
from models.records import AuditEvent, Card, RegistrationCounter
from models.repo import organisations
from tests.api.web_data import PROPOSAL, make_call

pytestmark = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)

ORGS = [
    ("heat-city", "«Қала Жылу» АҚ", "АО «Городское тепло»", ["heating_utility"], True),
    ("heat-yesil", "«Есіл Жылу» ЖШС", "ТОО «Есиль Тепло»", ["heating_utility"], True),
    ("heat-closed", "«Жабық Жылу» ЖШС", "ТОО «Закрытое тепло»", ["heating_utility"], False),
    ("water", "«Су» МКК", "ГКП «Вода»", ["water_utility"], True),
]
RULES = [
    {
        "code": "heat-yesil-district",
        "organisation": "heat-yesil",
        "services": ["heating_utility"],
        "districts": ["yesil"],
    },
    {"code": "heat-fallback", "organisation": "heat-city", "services": ["heating_utility"], "fallback": True},
]


def _org(code: str, kk: str, ru: str, services: list[str], active: bool) -> dict[str, Any]:
    return {
        "code": code,
        "name_kk": kk,
        "name_ru": ru,
        "services": services,
        "phone": None,
        "email": None,
        "address": None,
        "working_hours": {},
        "receives": ["inbox"],
        "active": active,
    }


def _rule(values: dict[str, Any]) -> dict[str, Any]:
    base = {"services": [], "topics": [], "districts": [], "street": None, "houses": [], "named_object": None}
    return base | {"fallback": False, "active": True, "note": None} | values


@pytest.fixture
def orgs(ctx: Any) -> dict[str, int]:
    """The directory stored (as an import would), by code -> id."""
    with ctx.sessionmaker() as s:
        organisations.sync_directory(
            s, organisations=[_org(*o) for o in ORGS], rules=[_rule(r) for r in RULES], actor="system:test"
        )
        s.commit()
        return {o.code: o.id for o in s.scalars(select(Organisation))}


@pytest.fixture
def desk(make_user: Callable[..., Any], token_for: Callable[[Any], str]) -> Callable[..., tuple[Any, dict[str, str]]]:
    """desk(role) -> (user, headers)."""

    def build(role: str = "operator") -> tuple[Any, dict[str, str]]:
        user = make_user(role)
        return user, {"Authorization": f"Bearer {token_for(user)}"}

    return build


def _held_card(ctx: Any, client: Any, headers: dict[str, str], **proposal: Any) -> int:
    """A live call with a draft card, taken by the operator of ``headers``."""
    call_id, _, card_id = make_call(ctx, proposal=PROPOSAL | proposal)
    assert client.post(f"/api/calls/{call_id}/claim", headers=headers).status_code == 200
    assert card_id is not None
    return card_id


def _events(ctx: Any, card_id: int, action: str) -> list[AuditEvent]:
    with ctx.sessionmaker() as s:
        stmt = select(AuditEvent).where(
            AuditEvent.entity == "card", AuditEvent.entity_id == card_id, AuditEvent.action == action
        )
        return list(s.scalars(stmt.order_by(AuditEvent.id)))


def _stored(ctx: Any, card_id: int) -> Card:
    with ctx.sessionmaker() as s:
        card = s.get(Card, card_id)
        assert card is not None
        s.expunge(card)
        return card


def test_confirm_stores_the_rules_organisation_and_audits_it(
    ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any]
) -> None:
    _, headers = desk()
    card_id = _held_card(ctx, client, headers)  # heating_utility in district yesil
    preview = client.get(f"/api/cards/{card_id}/routing", headers=headers).json()
    assert preview["organisation"]["code"] == "heat-yesil" and preview["routing_rule"] == "heat-yesil-district"
    assert preview["chosen"] is False
    # The desk's unsaved district: another district falls to the service's fallback.
    other = client.get(f"/api/cards/{card_id}/routing", params={"district": "saryarka"}, headers=headers).json()
    assert other["organisation"]["code"] == "heat-city" and "fallback heat-fallback" in other["routing_reason"]

    answer = client.post(f"/api/cards/{card_id}/confirm", json={}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["organisation"] == {
        "id": orgs["heat-yesil"],
        "code": "heat-yesil",
        "name_kk": "«Есіл Жылу» ЖШС",
        "name_ru": "ТОО «Есиль Тепло»",
    }
    assert body["routing_rule"] == "heat-yesil-district"
    assert body["routing_reason"].startswith("rule 1 (heat-yesil-district) matches: service heating_utility")
    card = _stored(ctx, card_id)
    assert (card.organisation_id, card.routing_rule) == (orgs["heat-yesil"], "heat-yesil-district")
    [event] = _events(ctx, card_id, "confirm")
    assert event.after is not None
    assert event.after["organisation_id"] == orgs["heat-yesil"]
    assert event.after["routing_rule"] == "heat-yesil-district"
    assert event.after["routing_reason"] == card.routing_reason
    assert client.get(f"/api/cards/{card_id}", headers=headers).json()["organisation"]["code"] == "heat-yesil"


def test_an_operators_choice_is_kept(ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any]) -> None:
    user, headers = desk()
    # Chosen in an earlier edit ...
    first = _held_card(ctx, client, headers)
    edited = client.patch(f"/api/cards/{first}", json={"organisation_id": orgs["heat-city"]}, headers=headers)
    assert edited.status_code == 200, edited.text
    preview = client.get(f"/api/cards/{first}/routing", headers=headers).json()
    assert preview["organisation"]["code"] == "heat-city" and preview["chosen"] is True
    body = client.post(f"/api/cards/{first}/confirm", json={}, headers=headers).json()
    assert body["organisation"]["code"] == "heat-city"
    assert body["routing_rule"] is None and body["routing_reason"] == f"chosen by {user.username}"
    # ... or with the confirmation itself.
    second = _held_card(ctx, client, headers, caller="+77015550077")
    answer = client.post(f"/api/cards/{second}/confirm", json={"organisation_id": orgs["heat-city"]}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["organisation"]["code"] == "heat-city"
    [event] = _events(ctx, second, "confirm")
    assert event.after is not None and event.after["organisation_id"] == orgs["heat-city"]
    assert event.after["routing_reason"] == f"chosen by {user.username}"
    # A withdrawn choice leaves it to the rules again.
    third = _held_card(ctx, client, headers)
    client.patch(f"/api/cards/{third}", json={"organisation_id": orgs["heat-city"]}, headers=headers)
    client.patch(f"/api/cards/{third}", json={"organisation_id": None}, headers=headers)
    assert client.post(f"/api/cards/{third}/confirm", headers=headers).json()["organisation"]["code"] == "heat-yesil"


@pytest.mark.parametrize(("code", "why"), [("heat-closed", "is inactive"), ("water", "does not serve heating_utility")])
def test_a_choice_that_cannot_take_the_card_is_refused_and_nothing_written(
    ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any], code: str, why: str
) -> None:
    _, headers = desk()
    card_id = _held_card(ctx, client, headers)
    before = _stored(ctx, card_id)
    answer = client.post(
        f"/api/cards/{card_id}/confirm", json={"organisation_id": orgs[code], "summary": "x"}, headers=headers
    )
    assert answer.status_code == 422, answer.text
    assert why in answer.json()["detail"] and code in answer.json()["detail"]
    card = _stored(ctx, card_id)
    assert (card.status, card.reg_number, card.organisation_id, card.summary) == ("draft", None, None, before.summary)
    assert card.version == before.version
    assert _events(ctx, card_id, "confirm") == []
    with ctx.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(RegistrationCounter)) == 0
    edited = client.patch(f"/api/cards/{card_id}", json={"organisation_id": orgs[code]}, headers=headers)
    assert edited.status_code == 422 and why in edited.json()["detail"]
    assert _stored(ctx, card_id).version == before.version
    unknown = client.post(f"/api/cards/{card_id}/confirm", json={"organisation_id": 999_999}, headers=headers)
    assert unknown.status_code == 422 and "does not exist" in unknown.json()["detail"]
    preview = client.get(f"/api/cards/{card_id}/routing", params={"organisation_id": orgs[code]}, headers=headers)
    assert preview.status_code == 422 and why in preview.json()["detail"]


def test_a_card_no_rule_routes_is_confirmed_with_the_reason(
    ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any]
) -> None:
    _, headers = desk()
    card_id = _held_card(ctx, client, headers)
    answer = client.post(
        f"/api/cards/{card_id}/confirm", json={"topic": "water_supply", "service": "water_utility"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "confirmed" and body["reg_number"]
    assert body["organisation"] is None and body["routing_rule"] is None
    assert body["routing_reason"] == "no rule matches and service water_utility has no fallback"
    [event] = _events(ctx, card_id, "confirm")
    assert event.after is not None and event.after["routing_reason"] == body["routing_reason"]


def test_a_supervisor_reroutes_and_it_is_audited(
    ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any]
) -> None:
    _, headers = desk()
    card_id = _held_card(ctx, client, headers)
    assert client.post(f"/api/cards/{card_id}/confirm", headers=headers).json()["organisation"]["code"] == "heat-yesil"
    chief, chief_headers = desk("supervisor")
    refused = client.post(f"/api/cards/{card_id}/route", json={"organisation_id": orgs["water"]}, headers=chief_headers)
    stored = _stored(ctx, card_id)
    assert refused.status_code == 422 and stored.status == "routed", "confirmed and handed over at once"
    assert stored.organisation_id == orgs["heat-yesil"], "a refused re-route changes nothing"
    answer = client.post(
        f"/api/cards/{card_id}/route", json={"organisation_id": orgs["heat-city"]}, headers=chief_headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "routed" and body["organisation"]["code"] == "heat-city"
    assert body["routing_reason"] == f"chosen by {chief.username}" and body["routing_rule"] is None
    [event] = _events(ctx, card_id, "route")
    assert event.actor == chief.username and event.after is not None
    assert event.after["organisation_id"] == orgs["heat-city"]
    assert event.after["organisation_id_before"] == orgs["heat-yesil"]


def test_an_operator_may_not_reroute_another_operators_card(
    ctx: Any, client: Any, orgs: dict[str, int], desk: Callable[..., Any]
) -> None:
    _, headers = desk()
    card_id = _held_card(ctx, client, headers)
    client.post(f"/api/cards/{card_id}/confirm", headers=headers)
    _, colleague = desk()
    answer = client.post(f"/api/cards/{card_id}/route", json={"organisation_id": orgs["heat-city"]}, headers=colleague)
    assert answer.status_code == 403, answer.text
    edited = client.patch(f"/api/cards/{card_id}", json={"organisation_id": orgs["heat-city"]}, headers=colleague)
    assert edited.status_code == 403
    card = _stored(ctx, card_id)
    assert (card.status, card.organisation_id) == ("routed", orgs["heat-yesil"])
    assert _events(ctx, card_id, "route") == []
    # Another operator reads the registered card by its registry fields, but not where it is routed and why.
    assert client.get(f"/api/cards/{card_id}/routing", headers=colleague).status_code == 403


def test_the_desk_lists_active_organisations_by_service(
    client: Any, orgs: dict[str, int], desk: Callable[..., Any]
) -> None:
    _, headers = desk("qa")
    every = client.get("/api/organisations", headers=headers).json()
    assert [o["code"] for o in every["data"]] == ["heat-city", "heat-yesil", "water"]  # not the inactive one
    heating = client.get("/api/organisations", params={"service": "heating_utility"}, headers=headers).json()
    assert heating["count"] == 2 and {o["code"] for o in heating["data"]} == {"heat-city", "heat-yesil"}
    assert heating["data"][0] == {
        "id": orgs["heat-city"],
        "code": "heat-city",
        "name_kk": "«Қала Жылу» АҚ",
        "name_ru": "АО «Городское тепло»",
        "services": ["heating_utility"],
    }
    unknown = client.get("/api/organisations", params={"service": "teleport"}, headers=headers)
    assert unknown.status_code == 422
