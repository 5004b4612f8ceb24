"""WS /api/live and POST /api/calls/{id}/claim: authentication, snapshot, per-operator filtering, claims."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from calls.messages import CardUpdatedMessage, LiveMessage, decode
from models.records import AuditEvent, Call
from tests.api.web_data import make_call


def _key(ctx: Any, call_id: int) -> str:
    with ctx.sessionmaker() as s:
        return str(s.get(Call, call_id).uniqueid)


def _started(ctx: Any, call_id: int | None, key: str | None = None) -> LiveMessage:
    return decode(
        {
            "type": "call_started",
            "call_key": key or _key(ctx, call_id),  # type: ignore[arg-type]
            "call_id": call_id,
            "caller_number": "+7701",
            "started_at": "2026-11-22T03:00:00+00:00",
        }
    )


def _final(ctx: Any, call_id: int, seg: int) -> LiveMessage:
    return decode(
        {
            "type": "transcript_final",
            "call_key": _key(ctx, call_id),
            "call_id": call_id,
            "stored_at": "2026-11-22T03:00:01+00:00",
            "segment": {
                "id": seg,
                "start": 0.0,
                "end": 1.0,
                "text": "нет воды",
                "language": "ru",
                "confidence": 0.9,
                "words": [],
            },
        }
    )


def _publish(client: Any, ctx: Any, message: LiveMessage) -> None:
    client.portal.call(ctx.hub.publish, message)  # on the app's loop: the hub is not thread-safe


def _until_ready(ws: Any) -> list[dict[str, Any]]:
    got = []
    while True:
        msg = ws.receive_json()
        if msg["type"] == "ready":
            return got
        got.append(msg)


def test_a_bad_token_is_refused_with_4401(client: Any) -> None:
    with client.websocket_connect("/api/live?token=nonsense") as ws:
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 4401
    with client.websocket_connect("/api/live") as ws:
        assert "log in" in ws.receive_json()["detail"]


def test_snapshot_then_live_messages(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    call_id, _, _ = make_call(ctx)
    _publish(client, ctx, _started(ctx, call_id))
    _publish(client, ctx, _final(ctx, call_id, 1))
    _publish(client, ctx, CardUpdatedMessage(call_key="gone.1", call_id=424242, card_id=1, status="confirmed"))
    # A call that started while the database was down: known by its key, its id comes later.
    _publish(client, ctx, _started(ctx, None, key="1796651909.77"))
    token = token_for(make_user("operator"))
    with client.websocket_connect(f"/api/live?token={token}") as ws:
        snapshot = _until_ready(ws)
        assert [(m["type"], m["call_id"]) for m in snapshot] == [
            ("call_started", call_id), ("transcript_final", call_id), ("call_started", None)
        ]
        assert snapshot[-1]["call_key"] == "1796651909.77"
        _publish(client, ctx, _final(ctx, call_id, 2))
        assert ws.receive_json()["segment"]["id"] == 2
        ws.send_text('{"type":"ping"}')
        assert ws.receive_json() == {"type": "pong"}
    assert ctx.hub.subscribers == 0, "the subscription ends with the socket"


def test_operators_stop_seeing_calls_another_operator_claimed(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    mine, _, _ = make_call(ctx)
    theirs, _, _ = make_call(ctx)
    me, other, qa = make_user("operator"), make_user("operator"), make_user("qa")
    for cid in (mine, theirs):
        _publish(client, ctx, _started(ctx, cid))
    with (
        client.websocket_connect(f"/api/live?token={token_for(me)}") as ws_me,
        client.websocket_connect(f"/api/live?token={token_for(qa)}") as ws_qa,
    ):
        assert len(_until_ready(ws_me)) == 2 and len(_until_ready(ws_qa)) == 2
        r = client.post(f"/api/calls/{theirs}/claim", headers={"Authorization": f"Bearer {token_for(other)}"})
        assert r.status_code == 200 and r.json()["operator_id"] == other.id
        claimed = ws_me.receive_json()
        assert claimed == {
            "type": "call_claimed",
            "call_key": _key(ctx, theirs),
            "call_id": theirs,
            "operator_id": other.id,
            "operator": other.username,
        }
        _publish(client, ctx, _final(ctx, theirs, 7))
        _publish(client, ctx, _final(ctx, mine, 8))
        assert ws_me.receive_json()["segment"]["id"] == 8, "the other operator's call is no longer sent"
        assert ws_qa.receive_json()["type"] == "call_claimed"
        assert ws_qa.receive_json()["segment"]["id"] == 7, "qa sees every call"
    # A late operator does not even get the claimed call in the snapshot.
    with client.websocket_connect(f"/api/live?token={token_for(me)}") as ws:
        assert {m["call_id"] for m in _until_ready(ws)} == {mine}


def test_claim_rules(client: Any, ctx: Any, make_user: Any, token_for: Any, qa_headers: Any) -> None:
    call_id, _, _ = make_call(ctx)
    a, b = make_user("operator"), make_user("operator")
    ha, hb = ({"Authorization": f"Bearer {token_for(u)}"} for u in (a, b))
    assert client.post(f"/api/calls/{call_id}/claim", headers=ha).status_code == 200
    assert client.post(f"/api/calls/{call_id}/claim", headers=ha).status_code == 200  # again: harmless
    r = client.post(f"/api/calls/{call_id}/claim", headers=hb)
    assert r.status_code == 409 and "another operator" in r.json()["detail"]
    assert client.post("/api/calls/999999/claim", headers=ha).status_code == 404
    assert client.post(f"/api/calls/{call_id}/claim", headers=qa_headers).status_code == 403
    assert client.post(f"/api/calls/{call_id}/claim").status_code == 401
    with ctx.sessionmaker() as s:
        assert s.get(Call, call_id).operator_id == a.id
        assert s.query(AuditEvent).filter_by(entity="call", entity_id=call_id, action="claim").count() == 1
