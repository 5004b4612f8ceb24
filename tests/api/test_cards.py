"""The cards API: a card's life from draft to closed, audit of every change, hub messages, search, CSV, transfer."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from models.records import AuditEvent, Card
from models.repo import calls
from telephony.ari import AriClient
from tests.api.ari_thread import ThreadedPeer
from tests.peers.ari_peer import AriPeer


def audit_of(ctx: Any, card_id: int) -> list[AuditEvent]:
    with ctx.sessionmaker() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id)
                .order_by(AuditEvent.id)
            )
        )


def drain(sub: Any) -> list[Any]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


@pytest.fixture
def live_call(ctx: Any) -> Any:
    """A live call with a classifier proposal (its draft card) and one transcript segment."""
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="1711.7", caller_number="+77017778899", channel="PJSIP/t-1")
        calls.mark_answered(s, uniqueid="1711.7", at=datetime.now(UTC))
        calls.add_segment(
            s, call_id=call.id, text="Үйде жылу жоқ, батареялар суық", start_s=0.0, end_s=3.2, language="kk"
        )
        calls.save_proposal(
            s,
            call_id=call.id,
            model_version="sk-test",
            proposal={
                "topic": "heating",
                "service": "heating_utility",
                "emergency": "none",
                "language": "kk",
                "address": {"street": "Кенесары", "house": "40", "district": "saryarka"},
                "summary": "Жылу жоқ",
                "confidence": {"topic": 0.93},
            },
        )
        return call


def test_card_life_with_audit_and_hub(client: Any, ctx: Any, operator_headers: Any, live_call: Any) -> None:
    assert client.post(f"/api/calls/{live_call.id}/claim", headers=operator_headers).status_code == 200
    listed = client.get("/api/cards", headers=operator_headers).json()
    assert listed["count"] == 1
    card = listed["data"][0]
    assert card["status"] == "draft" and card["proposed"]["topic"] == "heating"
    assert card["proposed"]["address"]["street"] == "Кенесары" and card["topic"] == "heating"
    card_id, version = card["id"], card["version"]

    patched = client.patch(
        f"/api/cards/{card_id}",
        json={"address": {"apartment": "12"}, "summary": "Батареялар суық", "version": version},
        headers=operator_headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["address"] == {
        "street": "Кенесары",
        "house": "40",
        "building": None,
        "apartment": "12",
        "district": "saryarka",
        "landmark": None,
    }
    stale = client.patch(f"/api/cards/{card_id}", json={"summary": "x", "version": version}, headers=operator_headers)
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]

    confirmed = client.post(f"/api/cards/{card_id}/confirm", json={"topic": "hot_water"}, headers=operator_headers)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    year = datetime.now(UTC).astimezone().year
    assert body["reg_number"].startswith("109-") and body["reg_number"].endswith("-000001")
    assert abs(int(body["reg_number"][4:8]) - year) <= 1
    assert body["service"] == "heating_utility"  # hot_water's default service
    assert body["confirmed_by"].startswith("operator-") and body["status"] == "confirmed"
    due = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["confirmed_at"])
    assert due == timedelta(hours=ctx.taxonomy.deadline_hours("hot_water")) == timedelta(hours=48)

    again = client.post(f"/api/cards/{card_id}/confirm", headers=operator_headers)
    assert again.status_code == 409 and "is confirmed" in again.json()["detail"]
    assert client.post(f"/api/cards/{card_id}/close", json={}, headers=operator_headers).status_code == 200
    assert client.post(f"/api/cards/{card_id}/route", headers=operator_headers).status_code == 409

    actions = [e.action for e in audit_of(ctx, card_id)]
    assert actions == ["create", "propose", "edit", "confirm", "close"]
    confirm_event = audit_of(ctx, card_id)[3]
    assert confirm_event.before["status"] == "draft" and confirm_event.after["status"] == "confirmed"
    assert confirm_event.after["topic"] == "hot_water" and confirm_event.actor.startswith("operator-")
    assert confirm_event.user_id is not None and confirm_event.at is not None
    audit_api = client.get(f"/api/cards/{card_id}/audit", headers=operator_headers).json()
    assert audit_api["count"] == 5 and audit_api["data"][0]["action"] == "close"


async def test_card_updates_are_published(ctx: Any, client: Any, operator_headers: Any) -> None:
    async with ctx.hub.subscribe() as sub:
        created = client.post("/api/cards", json={"topic": "garbage", "summary": "Қоқыс"}, headers=operator_headers)
        card_id = created.json()["id"]
        client.post(f"/api/cards/{card_id}/confirm", headers=operator_headers)
        messages = drain(sub)
    assert [m.type for m in messages] == ["card_updated", "card_updated"]
    assert messages[1].card_id == card_id and messages[1].status == "confirmed"
    assert messages[1].reg_number.endswith("-000001") and messages[1].call_id is None


def test_route_resolve_close(client: Any, ctx: Any, operator_headers: Any) -> None:
    card_id = client.post("/api/cards", json={"topic": "road_damage"}, headers=operator_headers).json()["id"]
    assert (
        client.post(f"/api/cards/{card_id}/resolve", json={"resolution": "x"}, headers=operator_headers).status_code
        == 409
    )
    client.post(f"/api/cards/{card_id}/confirm", headers=operator_headers)
    bad = client.post(f"/api/cards/{card_id}/route", json={"service": "mars"}, headers=operator_headers)
    assert bad.status_code == 422 and "roads" in bad.json()["allowed"]
    routed = client.post(f"/api/cards/{card_id}/route", json={"service": "district_akimat"}, headers=operator_headers)
    assert routed.json()["status"] == "routed" and routed.json()["service"] == "district_akimat"
    resolved = client.post(
        f"/api/cards/{card_id}/resolve",
        json={"resolution": "Шұңқыр жөнделді", "first_call_resolution": False},
        headers=operator_headers,
    )
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "Шұңқыр жөнделді"
    closed = client.post(f"/api/cards/{card_id}/close", headers=operator_headers)
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    assert [e.action for e in audit_of(ctx, card_id)] == ["create", "confirm", "route", "resolve", "close"]


def test_taxonomy_checks_every_id(client: Any, ctx: Any, operator_headers: Any) -> None:
    for body, field in (
        ({"topic": "teleportation"}, "topic"),
        ({"service": "nasa"}, "service"),
        ({"emergency": "911"}, "emergency"),
        ({"address": {"district": "manhattan"}}, "address.district"),
        ({"emergency_also": ["101", "999"]}, "emergency_also"),
    ):
        answer = client.post("/api/cards", json=body, headers=operator_headers)
        assert answer.status_code == 422, body
        assert answer.json()["field"] == field and answer.json()["allowed"], body
    filtered = client.get("/api/cards?topic=teleportation", headers=operator_headers)
    assert filtered.status_code == 422 and "heating" in filtered.json()["allowed"]
    assert client.get("/api/cards", headers=operator_headers).json()["count"] == 0


def test_search_filters_paging_and_csv(
    client: Any, ctx: Any, operator_headers: Any, auth_headers: Any, live_call: Any
) -> None:
    h = operator_headers
    supervisor = auth_headers("supervisor")
    client.post(
        "/api/cards",
        json={
            "topic": "snow_ice",
            "summary": "Қар тазаланбаған",
            "caller_number": "+77015550101",
            "address": {"street": "Абай даңғылы", "district": "almaty"},
        },
        headers=h,
    )
    client.post("/api/cards", json={"topic": "garbage", "summary": "Мусор не вывозят"}, headers=h)

    def count(query: str) -> int:
        answer = client.get(f"/api/cards?{query}", headers=h)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["count"])

    assert count("q=ҚАР") == 1 and count("q=абай") == 1 and count("q=мусор") == 1
    assert count("q=батареялар") == 1  # transcript text only
    assert count("topic=snow_ice&district=almaty") == 1 and count("status=draft") == 3
    assert count("caller=%2B77015550101") == 1
    today = datetime.now(UTC).date()
    assert count(f"date_from={today}") == 3 and count(f"date_to={today}") == 3
    assert count(f"date_from={today + timedelta(days=1)}") == 0
    page = client.get("/api/cards?limit=2&offset=2", headers=h).json()
    assert page["count"] == 3 and len(page["data"]) == 1

    assert client.get("/api/cards/export.csv?status=draft", headers=h).status_code == 403  # operators: no bulk export
    exported = client.get("/api/cards/export.csv?status=draft", headers=supervisor)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and {r["summary"] for r in rows} >= {"Қар тазаланбаған", "Мусор не вывозят"}
    # Exports are masked for everyone (docs/access.md, personal data); still shown as text, not run as a formula.
    assert {r["caller_number"] for r in rows} >= {"'+7 701 *** ** 01"}

    assert client.get("/api/callers/+77015550101/history", headers=h).status_code == 403  # not their caller
    history = client.get("/api/callers/+77015550101/history", headers=supervisor).json()
    assert history["count"] == 1 and history["data"][0]["topic"] == "snow_ice"


def test_manual_card_for_a_call(client: Any, ctx: Any, operator_headers: Any) -> None:
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="m.1", caller_number="+77001112233")
    refused = client.post("/api/cards", json={"call_id": call.id, "topic": "elevator"}, headers=operator_headers)
    assert refused.status_code == 403 and "Take the call first" in refused.json()["detail"]
    assert client.post(f"/api/calls/{call.id}/claim", headers=operator_headers).status_code == 200
    made = client.post("/api/cards", json={"call_id": call.id, "topic": "elevator"}, headers=operator_headers)
    assert made.status_code == 201 and made.json()["caller_number"] == "+77001112233"
    assert made.json()["service"] == "housing_inspection"
    dup = client.post("/api/cards", json={"call_id": call.id}, headers=operator_headers)
    assert dup.status_code == 409 and "already has a card" in dup.json()["detail"]
    missing = client.post("/api/cards", json={"call_id": 9999}, headers=operator_headers)
    assert missing.status_code == 404


def _peer_call(ari: ThreadedPeer, ctx: Any, number: str, *, with_operators: bool = False) -> tuple[str, int]:
    """A caller in the ARI peer and its live call with an emergency proposal in the database: (uniqueid, card id)."""
    uid = ari.run(lambda p: p.new_call(number))
    if with_operators:  # callcard already continued it into the operators' queue: out of Stasis

        async def to_operators() -> None:
            client = AriClient(ari.peer.url, ari.peer.user, ari.peer.password, "callcard")
            await client.continue_in_dialplan(uid, context="operators", extension="s")
            await client.aclose()
            deadline = time.monotonic() + 2
            while ari.peer.channels[uid].json["dialplan"]["context"] != "operators":
                assert time.monotonic() < deadline, "the peer never ran the operators' context"
                await asyncio.sleep(0.01)

        ari.call(to_operators())
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid=uid, caller_number=number, channel="PJSIP/trunk-1")
        calls.mark_answered(s, uniqueid=uid, at=datetime.now(UTC))
        card = calls.save_proposal(
            s, call_id=call.id, model_version="sk-test", proposal={"topic": "gas_supply", "emergency": "103"}
        )
        return uid, card.id


def _transferred_to(ctx: Any, card_id: int) -> tuple[str | None, str | None]:
    with ctx.sessionmaker() as s:
        card = s.get(Card, card_id)
        return card.emergency_transferred_to, card.call.transferred_to


def test_transfer_answers_200_only_once_the_caller_is_seen_at_the_service(
    make_ctx: Any, operator_headers: Any, ari: ThreadedPeer
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    transfer = ari.transfer()
    ctx = make_ctx(transfer=transfer)
    uid, card_id = _peer_call(ari, ctx, "+77017770001", with_operators=True)
    with TestClient(create_app(ctx)) as client:
        bad = client.post(f"/api/cards/{card_id}/transfer", json={"code": "109"}, headers=operator_headers)
        assert bad.status_code == 422 and bad.json()["allowed"] == ["101", "102", "103", "104"]
        started = time.monotonic()
        moved = client.post(f"/api/cards/{card_id}/transfer", json={"code": "103"}, headers=operator_headers)
        assert time.monotonic() - started < 2.0
        assert moved.status_code == 200, moved.text
        assert moved.json()["emergency_transferred_to"] == "103" and moved.json()["emergency_transferred_at"]
        client.portal.call(transfer.client.aclose)
    assert ari.where(uid) == ("emergency", "103")
    assert _transferred_to(ctx, card_id) == ("103", "103")
    events = audit_of(ctx, card_id)
    assert [e.action for e in events][-2:] == ["transfer_attempt", "transfer"]
    assert events[-2].after == {"code": "103", "uniqueid": uid}
    assert events[-1].after["outcome"] == "transferred" and events[-1].after["method"] == "redirect"


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ("transfer context missing", 502, "dialplan_missing"),
        ("Local channel dies after originate 200", 502, "transfer_channel_failed"),
        ("Asterisk too slow", 504, "timeout"),
    ],
)
def test_failed_transfer_says_dial_by_hand_within_2_s_and_records_nothing_as_done(
    make_ctx: Any, operator_headers: Any, ari: ThreadedPeer, fault: str, status: int, reason: str
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    def break_asterisk(p: AriPeer) -> None:
        if fault == "Asterisk too slow":
            p.local_delay = 5.0
            return
        del p.dialplan["callcard-transfer"]
        if fault.startswith("Local channel"):
            p.func_dialplan_loaded = False  # the pre-flight cannot tell, so the originate is tried

    ari.run(break_asterisk)
    transfer = ari.transfer()
    ctx = make_ctx(transfer=transfer)
    uid, card_id = _peer_call(ari, ctx, "+77017770002", with_operators=True)
    with TestClient(create_app(ctx)) as client:
        started = time.monotonic()
        failed = client.post(f"/api/cards/{card_id}/transfer", json={"code": "103"}, headers=operator_headers)
        took = time.monotonic() - started
        client.portal.call(transfer.client.aclose)
    assert took < 2.0, f"the operator waited {took:.2f} s"
    assert failed.status_code == status, failed.text
    body = failed.json()
    assert body["detail"].startswith("The caller was NOT transferred to 103") and body["detail"].endswith(
        "Dial 103 by hand."
    )
    assert (body["dial_by_hand"], body["code"], body["reason"]) == ("103", "103", reason)
    assert ari.where(uid) == ("operators", "s"), "the caller is still with the operators"
    assert _transferred_to(ctx, card_id) == (None, None)
    events = audit_of(ctx, card_id)
    assert [e.action for e in events][-2:] == ["transfer_attempt", "transfer_failed"]
    assert events[-1].after["reason"] == reason and events[-1].after["outcome"] == "failed"
    assert events[-1].after["code"] == "103" and events[-1].actor.startswith("operator") and events[-1].user_id


def test_transfer_refusals_before_asterisk_is_asked(
    make_ctx: Any, operator_headers: Any, ari: ThreadedPeer
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ctx = make_ctx(transfer=None)
    uid, card_id = _peer_call(ari, ctx, "+77017770003")
    with TestClient(create_app(ctx)) as client:
        offline = client.post(f"/api/cards/{card_id}/transfer", json={"code": "101"}, headers=operator_headers)
        assert offline.status_code == 503 and "Telephony is not connected" in offline.json()["detail"]
        assert offline.json()["detail"].endswith("Dial 101 by hand.")
    with ctx.sessionmaker() as s:
        calls.end_call(s, uniqueid=uid, at=datetime.now(UTC))
    transfer = ari.transfer()
    with TestClient(create_app(make_ctx(transfer=transfer))) as client:
        ended = client.post(f"/api/cards/{card_id}/transfer", json={"code": "101"}, headers=operator_headers)
        assert ended.status_code == 409 and "ended" in ended.json()["detail"]
        client.portal.call(transfer.client.aclose)
    assert ari.run(lambda p: [r for r in p.requests if r[0] == "POST"]) == []
    assert "transfer_attempt" not in [e.action for e in audit_of(ctx, card_id)]


def test_dismissal_after_transfer_and_a_later_proposal_keep_the_operators_decision(
    make_ctx: Any, operator_headers: Any, ari: ThreadedPeer
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    transfer = ari.transfer()
    ctx = make_ctx(transfer=transfer)
    uid, card_id = _peer_call(ari, ctx, "+77017770004")
    with TestClient(create_app(ctx)) as client:
        moved = client.post(f"/api/cards/{card_id}/transfer", json={"code": "103"}, headers=operator_headers)
        assert moved.status_code == 200, moved.text
        client.portal.call(transfer.client.aclose)
    with ctx.sessionmaker() as s:
        call = calls.find_call(s, uniqueid=uid)
        calls.save_proposal(s, call_id=call.id, model_version="sk-test", proposal={"topic": "information"})
    with ctx.sessionmaker() as s:
        card = s.get(Card, card_id)
        assert (card.emergency, card.proposed_emergency, card.emergency_transferred_to) == ("103", None, "103")
    proposes = [e for e in audit_of(ctx, card_id) if e.action == "propose"]
    assert "emergency" not in (proposes[-1].after or {}), "system:classifier must not reset the emergency"


@pytest.mark.parametrize("api_db", ["postgres"], indirect=True)
def test_confirm_on_postgres(client: Any, operator_headers: Any) -> None:
    ids = [
        client.post("/api/cards", json={"topic": "heating"}, headers=operator_headers).json()["id"] for _ in range(3)
    ]
    numbers = [client.post(f"/api/cards/{i}/confirm", headers=operator_headers).json()["reg_number"] for i in ids]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
    assert client.get("/api/cards?q=109-", headers=operator_headers).json()["count"] == 3


def test_every_card_change_leaves_one_audit_event(
    make_ctx: Any, make_user: Any, token_for: Any, ari: ThreadedPeer
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    transfer = ari.transfer()
    ctx = make_ctx(transfer=transfer)
    user = make_user("operator", username="auditor-op")
    h = {"Authorization": f"Bearer {token_for(user)}"}
    uid = ari.run(lambda p: p.new_call("+77019990000"))
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid=uid, caller_number="+77019990000")
        calls.mark_answered(s, uniqueid=uid, at=datetime.now(UTC))
    with TestClient(create_app(ctx)) as client:
        assert client.post(f"/api/calls/{call.id}/claim", headers=h).status_code == 200
        made = client.post(
            "/api/cards", json={"call_id": call.id, "topic": "gas_supply", "emergency": "104"}, headers=h
        )
        card_id = made.json()["id"]
        steps: list[tuple[str, str, Any, str, str]] = [
            # (method, path suffix, body, audit action, a field whose after-value the event must carry)
            ("PATCH", "", {"summary": "Газ иісі шығып тұр"}, "edit", "summary"),
            ("POST", "/transfer", {"code": "104"}, "transfer", "emergency_transferred_to"),
            ("POST", "/dismiss-emergency", {"reason": "Иіс жоқ"}, "dismiss_emergency", "emergency_dismissed_reason"),
            ("POST", "/confirm", {"address": {"street": "Мәңгілік Ел", "house": "8"}}, "confirm", "reg_number"),
            ("PATCH", "", {"address": {"apartment": "5"}}, "edit", "apartment"),
            ("POST", "/route", None, "route", "routed_at"),
            ("POST", "/resolve", {"resolution": "Газ қызметі тексерді"}, "resolve", "resolution"),
            ("POST", "/close", {"reason": "done"}, "close", "closed_at"),
        ]
        assert [e.action for e in audit_of(ctx, card_id)] == ["create"]
        for method, suffix, body, action, field in steps:
            before = audit_of(ctx, card_id)
            answer = client.request(method, f"/api/cards/{card_id}{suffix}", json=body, headers=h)
            assert answer.status_code == 200, (suffix, answer.text)
            after = audit_of(ctx, card_id)
            # a transfer leaves its attempt and then its outcome; every other change leaves one event
            assert len(after) == len(before) + (2 if suffix == "/transfer" else 1), suffix
            event = after[-1]
            assert event.action == action and event.actor == "auditor-op" and event.user_id == user.id
            assert field in event.after and event.before is not None and field in event.before
            assert event.after[field] != event.before[field]
        # refused changes leave no event
        count = len(audit_of(ctx, card_id))
        assert client.post(f"/api/cards/{card_id}/confirm", headers=h).status_code == 409
        assert client.patch(f"/api/cards/{card_id}", json={"summary": "x"}, headers=h).status_code == 409
        assert len(audit_of(ctx, card_id)) == count
        client.portal.call(transfer.client.aclose)
