"""Open311 GeoReport v2 through a client no one here wrote (the `georeport` package from PyPI) against the real app
under uvicorn, on SQLite and PostgreSQL. georeport cannot post, so posting is form-encoded with httpx as GeoReport v2
says; georeport sends no api_key on its reads, so it sends it as the Basic password from a netrc file (requests reads
$NETRC), which callcard accepts beside the api_key parameter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
from georeport import GeoReport
from sqlalchemy import select

from models.handover import ApiKey
from models.records import Card
from tests.open311.conftest import Orgs

pytestmark = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)

V2 = "/open311/v2"


def post_request(url: str, key: str, service: str = "heating_utility", **extra: str) -> httpx.Response:
    form = {
        "api_key": key,
        "service_code": service,
        "description": "В квартире холодные батареи третий день",
        "address_string": "ул. Кенесары 40",
        "first_name": "Айгерим",
        "phone": "+7 701 123-45-67",
        **extra,
    }
    return httpx.post(f"{url}{V2}/requests.json", data=form, timeout=10)


def test_georeport_lists_the_taxonomys_services_in_json_and_xml(server: str, taxonomy: Any) -> None:
    for fmt in ("json", "xml"):
        services = GeoReport(server + V2, output_format=fmt).get_service_list()
        assert [s["service_code"] for s in services] == list(taxonomy.services)
        heating = next(s for s in services if s["service_code"] == "heating_utility")
        assert heating["service_name"] == taxonomy.services["heating_utility"].ru
        assert str(heating["metadata"]).lower() == "false" and heating["type"] == "realtime"
        assert heating["keywords"] == "heating,hot_water" and heating["group"] == "Коммунальные услуги"
    definition = GeoReport(server + V2).get_service_definition("heating_utility")
    assert definition == {"service_code": "heating_utility", "attributes": []}
    with pytest.raises(requests.HTTPError) as missing:
        GeoReport(server + V2).get_service_definition("no_such_service")
    assert missing.value.response.status_code == 404
    assert missing.value.response.json()[0]["code"] == 404


def test_service_names_in_kazakh_by_locale_or_accept_language(server: str, taxonomy: Any) -> None:
    by_param = httpx.get(f"{server}{V2}/services.json", params={"locale": "kk"}).json()
    by_header = httpx.get(f"{server}{V2}/services.json", headers={"Accept-Language": "en;q=1, kk-KZ;q=0.8, ru;q=0.5"})
    assert by_param == by_header.json()
    assert by_param[0]["service_name"] == taxonomy.services["water_utility"].kk
    russian = httpx.get(f"{server}{V2}/services.json", headers={"Accept-Language": "ru, kk;q=0.9"}).json()
    assert russian[0]["service_name"] == taxonomy.services["water_utility"].ru
    discovery = httpx.get(f"{server}{V2}/discovery.json").json()
    assert discovery["endpoints"][0]["url"] == server + V2


def test_post_then_read_back_with_georeport_and_follow_the_organisations_updates(
    server: str, orgs: Orgs, ctx: Any, netrc_for: Any, taxonomy: Any
) -> None:
    created = post_request(server, orgs.heat.key, account_id="crm-17")
    assert created.status_code == 201, created.text
    [answer] = created.json()
    number = answer["service_request_id"]
    assert answer["account_id"] == "crm-17" and "in your organisation's hands" in answer["service_notice"]
    with ctx.sessionmaker() as s:
        card = s.scalar(select(Card).where(Card.reg_number == number))
        assert card is not None
        assert (card.status, card.organisation_id, card.topic, card.service) == (
            "routed",
            orgs.heat.id,
            "heating",
            "heating_utility",
        )
        assert card.caller_number == "+77011234567" and card.street == "ул. Кенесары 40"
        assert card.confirmed_at is not None and card.due_at is not None
        assert (card.due_at - card.confirmed_at).total_seconds() == taxonomy.deadline_hours("heating") * 3600
        assert s.scalar(select(ApiKey.last_used_at).where(ApiKey.id == orgs.heat.key_id)) is not None

    netrc_for(orgs.heat.key)
    client = GeoReport(server + V2)
    read = client.get_service_request(number)
    assert read["status"] == "open" and read["service_code"] == "heating_utility"
    assert read["description"] == "В квартире холодные батареи третий день"
    assert read["agency_responsible"] == "Организация heat" and read["address"] == "ул. Кенесары 40"
    assert read["requested_datetime"] and read["expected_datetime"] and read["lat"] is None
    assert [r["service_request_id"] for r in client.get_service_requests()] == [number]

    update = f"{server}{V2}/requests/{number}/updates.json"
    started = httpx.post(update, data={"api_key": orgs.heat.key, "status": "in_progress"})
    assert started.status_code == 200 and started.json()[0]["status"] == "open"
    done = httpx.post(update, data={"api_key": orgs.heat.key, "status": "done", "status_notes": "Стояк прогрет"})
    assert done.status_code == 200, done.text
    read = client.get_service_request(number)
    assert (read["status"], read["status_notes"]) == ("closed", "Стояк прогрет")
    assert client.get_service_requests(status="closed")[0]["service_request_id"] == number
    assert client.get_service_requests(status="open") == []
    xml = GeoReport(server + V2, output_format="xml").get_service_request(number)
    assert (xml["service_request_id"], xml["status"], xml["status_notes"]) == (number, "closed", "Стояк прогрет")
    with ctx.sessionmaker() as s:
        card = s.scalar(select(Card).where(Card.reg_number == number))
        assert card is not None and card.status == "resolved" and card.resolution == "Стояк прогрет"


def test_an_executors_step_in_the_inbox_shows_in_open311(
    server: str, orgs: Orgs, ctx: Any, make_user: Any, token_for: Any, netrc_for: Any
) -> None:
    number = post_request(server, orgs.heat.key).json()[0]["service_request_id"]
    with ctx.sessionmaker() as s:
        card_id = s.scalar(select(Card.id).where(Card.reg_number == number))
    executor = make_user("executor", organisation_id=orgs.heat.id)
    headers = {"Authorization": f"Bearer {token_for(executor)}"}
    accepted = httpx.post(f"{server}/api/inbox/{card_id}/accept", headers=headers, json={})
    assert accepted.status_code == 200, accepted.text
    netrc_for(orgs.heat.key)
    client = GeoReport(server + V2)
    assert client.get_service_request(number)["status"] == "open"
    returned = httpx.post(f"{server}/api/inbox/{card_id}/return", headers=headers, json={"comment": "Это ГВС"})
    assert returned.status_code == 200, returned.text
    read = client.get_service_request(number)
    assert (read["status"], read["status_notes"]) == ("open", "Это ГВС")
    # returned: no longer the organisation's to work on
    again = httpx.post(
        f"{server}{V2}/requests/{number}/updates.json", data={"api_key": orgs.heat.key, "status": "accepted"}
    )
    assert again.status_code == 409 and "returned" in again.json()[0]["description"]


def test_a_service_the_organisation_does_not_serve_goes_by_the_routing_rules(
    server: str, orgs: Orgs, ctx: Any, netrc_for: Any
) -> None:
    created = post_request(server, orgs.heat.key, service="water_utility")
    assert created.status_code == 201, created.text
    [answer] = created.json()
    number = answer["service_request_id"]
    assert "routing rules sent it to another organisation" in answer["service_notice"]
    with ctx.sessionmaker() as s:
        card = s.scalar(select(Card).where(Card.reg_number == number))
        assert card is not None and (card.status, card.organisation_id, card.routing_rule) == (
            "routed",
            orgs.water.id,
            "water-all",
        )
        assert card.topic == "water_supply"  # the service's first topic
    netrc_for(orgs.heat.key)
    with pytest.raises(requests.HTTPError) as hidden:
        GeoReport(server + V2).get_service_request(number)
    assert hidden.value.response.status_code == 404
    netrc_for(orgs.water.key)
    assert GeoReport(server + V2).get_service_request(number)["agency_responsible"] == "Организация water"


def test_filters_of_requests_json(server: str, orgs: Orgs, ctx: Any, netrc_for: Any) -> None:
    heating = post_request(server, orgs.heat.key).json()[0]["service_request_id"]
    hot = post_request(server, orgs.heat.key, description="Нет горячей воды").json()[0]["service_request_id"]
    post_request(server, orgs.water.key, service="water_utility")
    netrc_for(orgs.heat.key)
    client = GeoReport(server + V2)
    assert [r["service_request_id"] for r in client.get_service_requests()] == [hot, heating]
    assert [r["service_request_id"] for r in client.get_service_requests(service_request_id=heating)] == [heating]
    assert client.get_service_requests(service_code="water_utility") == []
    assert len(client.get_service_requests(service_code="heating_utility,water_utility")) == 2
    assert client.get_service_requests(start_date="2020-01-01T00:00:00Z", end_date="2020-03-01T00:00:00Z") == []
    with ctx.sessionmaker() as s:
        confirmed = s.scalar(select(Card.confirmed_at).where(Card.reg_number == heating))
    assert confirmed is not None
    window = client.get_service_requests(start_date=confirmed.date().isoformat())
    assert {r["service_request_id"] for r in window} == {heating, hot}
    # the key as a parameter, as GeoReport v2 has it, gives the same
    by_param = httpx.get(f"{server}{V2}/requests.json", params={"api_key": orgs.heat.key}).json()
    assert [r["service_request_id"] for r in by_param] == [hot, heating]


def test_another_organisations_key_reads_and_updates_nothing_of_it(server: str, orgs: Orgs, ctx: Any) -> None:
    from tests.open311.conftest import state

    number = post_request(server, orgs.heat.key).json()[0]["service_request_id"]
    before = state(ctx)
    other = {"api_key": orgs.water.key}
    one = httpx.get(f"{server}{V2}/requests/{number}.json", params=other)
    missing = httpx.get(f"{server}{V2}/requests/109-2099-999999.json", params=other)
    assert one.status_code == missing.status_code == 404
    assert one.json()[0]["description"].replace(number, "X") == missing.json()[0]["description"].replace(
        "109-2099-999999", "X"
    )
    assert httpx.get(f"{server}{V2}/requests.json", params={**other, "service_request_id": number}).json() == []
    assert httpx.get(f"{server}{V2}/requests.json", params=other).json() == []
    assert httpx.get(f"{server}{V2}/requests/{number}.xml", params=other).status_code == 404
    for status in ("accepted", "in_progress", "done", "not_ours", "note"):
        update = httpx.post(
            f"{server}{V2}/requests/{number}/updates.json", data={**other, "status": status, "status_notes": "x"}
        )
        assert update.status_code == 404, update.text
    after = state(ctx)
    assert (after.cards, after.audit_events, after.deliveries, after.card_versions) == (
        before.cards,
        before.audit_events,
        before.deliveries,
        before.card_versions,
    )
