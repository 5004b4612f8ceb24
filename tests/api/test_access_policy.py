"""The access policy's record rules over HTTP, on SQLite and PostgreSQL: the holes the security review found stay
closed, and what an operator may read of other appeals is exactly the registry fields (docs/access.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.policy import OPERATOR_READ_HOURS, Action, CallFacts, CardFacts, Outcome, Role, Viewer, decide
from models.records import Call
from models.repo import calls

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


def _call(ctx: Any, key: str, *, number: str, text: str, ended: datetime | None = None, holder: Any = None) -> Any:
    """A call with one transcript line and the classifier's draft card; ended at ``ended``; held by ``holder``."""
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid=key, caller_number=number)
        calls.mark_answered(s, uniqueid=key, at=datetime.now(UTC) - timedelta(hours=20))
        calls.add_segment(s, call_id=call.id, text=text, start_s=0.0, end_s=2.0, language="kk")
        card = calls.save_proposal(
            s,
            call_id=call.id,
            model_version="t",
            proposal={"topic": "heating", "service": "heating_utility", "summary": "Жылу жоқ"},
        )
        if holder is not None:
            s.get(Call, call.id).operator_id = holder.id  # type: ignore[union-attr]
            s.commit()
        if ended is not None:
            calls.end_call(s, uniqueid=key, at=ended)
        return call, card


def _h(token_for: Any, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


@BOTH
def test_the_three_ways_into_another_call_are_closed(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    alice, bob = make_user("operator"), make_user("operator")
    ha, hb = _h(token_for, alice), _h(token_for, bob)
    ended_call, _ = _call(ctx, "pol.ended", number="+77010000001", text="құпия", ended=datetime.now(UTC))
    held_call, held_card = _call(ctx, "pol.held", number="+77010000002", text="алиса", holder=alice)
    bare_call, _ = _call(ctx, "pol.bare", number="+77010000003", text="бос", ended=datetime.now(UTC))
    with ctx.sessionmaker() as s:  # a call that never got a card
        card_less, _ = calls.get_or_create_call(s, uniqueid="pol.nocard", caller_number="+77010000004")
        calls.end_call(s, uniqueid="pol.nocard", at=datetime.now(UTC))

    # 1. claiming a call that has ended
    claim = client.post(f"/api/calls/{ended_call.id}/claim", headers=hb)
    assert claim.status_code == 409 and "ended" in claim.json()["detail"]
    # 2. editing and confirming the draft of a call another operator holds
    edit = client.patch(f"/api/cards/{held_card.id}", json={"summary": "bob was here"}, headers=hb)
    assert edit.status_code == 403 and "operator handling this call" in edit.json()["detail"]
    assert client.post(f"/api/cards/{held_card.id}/confirm", headers=hb).status_code == 403
    # 3. making a card for a call one does not hold
    made = client.post("/api/cards", json={"call_id": card_less.id, "topic": "heating"}, headers=hb)
    assert made.status_code == 403 and "Take the call first" in made.json()["detail"]

    for call in (ended_call, held_call, bare_call, card_less):
        assert client.get(f"/api/calls/{call.id}", headers=hb).status_code == 403
        assert client.get(f"/api/calls/{call.id}/audio", headers=hb).status_code == 403
    with ctx.sessionmaker() as s:
        assert s.get(Call, ended_call.id).operator_id is None  # type: ignore[union-attr]
        assert calls.find_card_of_call(s, call_id=held_call.id).summary == "Жылу жоқ"  # type: ignore[union-attr]
        assert calls.find_card_of_call(s, call_id=card_less.id) is None
    # the holder may do all of it
    assert client.patch(f"/api/cards/{held_card.id}", json={"summary": "Алиса"}, headers=ha).status_code == 200
    assert client.post(f"/api/cards/{held_card.id}/confirm", headers=ha).status_code == 200
    assert client.get(f"/api/calls/{held_call.id}", headers=ha).status_code == 200


@BOTH
def test_search_and_registry_answer_only_what_the_operator_may_read(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    alice, bob, sup = make_user("operator"), make_user("operator"), make_user("supervisor")
    ha, hb, hs = _h(token_for, alice), _h(token_for, bob), _h(token_for, sup)
    secret_call, secret_card = _call(ctx, "pol.s", number="+77011112233", text="жасырын сөз қарлығаш", holder=alice)
    assert client.post(f"/api/cards/{secret_card.id}/confirm", headers=ha).status_code == 200

    def found(headers: dict[str, str], q: str) -> int:
        answer = client.get("/api/cards", params={"q": q}, headers=headers)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["count"])

    # the transcript word is not an oracle for bob; it is for alice (her call) and the supervisor
    assert found(hb, "қарлығаш") == 0
    assert found(ha, "қарлығаш") == 1 and found(hs, "қарлығаш") == 1
    # bob finds the registered appeal by its registry fields, and reads only those
    assert found(hb, secret_card.reg_number if secret_card.reg_number else "109-") == 1
    seen = client.get(f"/api/cards/{secret_card.id}", headers=hb).json()
    assert seen["status"] == "confirmed" and seen["reg_number"].startswith("109-") and seen["due_at"]
    assert seen["proposed"] is None and seen["caller_number"].endswith("2233") and "1111" not in seen["caller_number"]
    listed = client.get("/api/cards", headers=hb).json()["data"]
    assert [c["proposed"] for c in listed if c["id"] == secret_card.id] == [None]
    full = client.get(f"/api/cards/{secret_card.id}", headers=ha).json()
    assert full["proposed"]["summary"] == "Жылу жоқ" and full["caller_number"] == "+77011112233"
    assert client.get(f"/api/cards/{secret_card.id}/audit", headers=hb).status_code == 403
    assert client.get(f"/api/cards/{secret_card.id}/audit", headers=ha).status_code == 200
    assert client.get("/api/cards/export.csv", params={"q": "қарлығаш"}, headers=hb).status_code == 403
    exported = client.get("/api/cards/export.csv", params={"q": "қарлығаш"}, headers=hs)
    assert exported.status_code == 200 and exported.headers["x-total-count"] == "1"
    # caller history: only for the caller bob is talking to; then the other appeal by registry fields
    assert client.get("/api/callers/+77011112233/history", headers=hb).status_code == 403
    again, _ = _call(ctx, "pol.again", number="+77011112233", text="тағы да", holder=bob)
    history = client.get("/api/callers/+77011112233/history", headers=hb)
    assert history.status_code == 200, history.text
    other = [c for c in history.json()["data"] if c["id"] == secret_card.id]
    assert len(other) == 1 and other[0]["proposed"] is None and other[0]["status"] == "confirmed"
    assert client.get(f"/api/calls/{secret_call.id}", headers=hb).status_code == 403  # still not the transcript
    assert client.get(f"/api/calls/{again.id}", headers=hb).status_code == 200


@BOTH
def test_an_operator_reads_a_taken_call_until_the_read_window_closes(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    alice = make_user("operator")
    ha = _h(token_for, alice)
    now = datetime.now(UTC)
    recent, _ = _call(ctx, "pol.recent", number="+1", text="a", holder=alice, ended=now - timedelta(hours=1))
    old, old_card = _call(
        ctx, "pol.old", number="+2", text="b", holder=alice, ended=now - timedelta(hours=OPERATOR_READ_HOURS + 1)
    )
    assert client.get(f"/api/calls/{recent.id}", headers=ha).status_code == 200
    assert client.get(f"/api/calls/{old.id}", headers=ha).status_code == 403
    assert {c["id"] for c in client.get("/api/calls", headers=ha).json()["data"]} == {recent.id}
    assert client.patch(f"/api/cards/{old_card.id}", json={"summary": "late"}, headers=ha).status_code == 403
    sup = _h(token_for, make_user("supervisor"))
    assert client.patch(f"/api/cards/{old_card.id}", json={"summary": "закрыто"}, headers=sup).status_code == 200
    qa = _h(token_for, make_user("qa"))
    assert client.get(f"/api/calls/{old.id}", headers=qa).status_code == 200
    assert client.patch(f"/api/cards/{old_card.id}", json={"summary": "qa"}, headers=qa).status_code == 403


def test_a_claim_race_leaves_one_holder(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    alice, bob = make_user("operator"), make_user("operator")
    call, _ = _call(ctx, "pol.race", number="+3", text="c")
    first = client.post(f"/api/calls/{call.id}/claim", headers=_h(token_for, alice))
    second = client.post(f"/api/calls/{call.id}/claim", headers=_h(token_for, bob))
    assert first.status_code == 200 and second.status_code == 409
    assert "another operator" in second.json()["detail"]
    assert client.post(f"/api/calls/{call.id}/claim", headers=_h(token_for, alice)).status_code == 200


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OP = Viewer(1, Role.OPERATOR)
LIVE_FREE = CallFacts("live", None, None)
LIVE_MINE = CallFacts("live", 1, None)
LIVE_OTHERS = CallFacts("live", 2, None)
ENDED_MINE = CallFacts("ended", 1, NOW - timedelta(hours=2))
ENDED_MINE_LONG_AGO = CallFacts("ended", 1, NOW - timedelta(hours=OPERATOR_READ_HOURS, seconds=1))
ENDED_FREE = CallFacts("ended", None, NOW)


@pytest.mark.parametrize(
    ("action", "call", "card_status", "outcome"),
    [
        (Action.CLAIM_CALL, LIVE_FREE, None, Outcome.ALLOWED),
        (Action.CLAIM_CALL, LIVE_OTHERS, None, Outcome.CONFLICT),
        (Action.CLAIM_CALL, ENDED_FREE, None, Outcome.CONFLICT),
        (Action.READ_CALL, LIVE_FREE, None, Outcome.ALLOWED),
        (Action.READ_CALL, LIVE_OTHERS, None, Outcome.FORBIDDEN),
        (Action.READ_CALL, ENDED_MINE, None, Outcome.ALLOWED),
        (Action.READ_CALL, ENDED_MINE_LONG_AGO, None, Outcome.FORBIDDEN),
        (Action.READ_CALL, ENDED_FREE, None, Outcome.FORBIDDEN),
        (Action.READ_CARD, LIVE_OTHERS, "draft", Outcome.FORBIDDEN),
        (Action.READ_CARD, LIVE_OTHERS, "confirmed", Outcome.REGISTRY_ONLY),
        (Action.READ_CARD_AUDIT, LIVE_OTHERS, "confirmed", Outcome.FORBIDDEN),
        (Action.EDIT_CARD, LIVE_MINE, "draft", Outcome.ALLOWED),
        (Action.EDIT_CARD, LIVE_FREE, "draft", Outcome.FORBIDDEN),
        (Action.EDIT_CARD, LIVE_OTHERS, "draft", Outcome.FORBIDDEN),
        (Action.HANDLE_CARD, ENDED_MINE_LONG_AGO, "confirmed", Outcome.FORBIDDEN),
        (Action.TRANSFER_CALL, LIVE_FREE, "draft", Outcome.ALLOWED),
        (Action.TRANSFER_CALL, LIVE_OTHERS, "draft", Outcome.FORBIDDEN),
        (Action.TRANSFER_CALL, ENDED_MINE, "draft", Outcome.CONFLICT),
        (Action.EXPORT_CARDS, None, None, Outcome.FORBIDDEN),
        (Action.QA_CORRECT, None, None, Outcome.FORBIDDEN),
    ],
)
def test_operator_record_rules(
    action: Action, call: CallFacts | None, card_status: str | None, outcome: Outcome
) -> None:
    card = CardFacts(card_status, None, call) if card_status is not None else None
    assert decide(OP, action, now=NOW, call=None if card else call, card=card).outcome is outcome


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.QA, Role.ADMIN])
def test_reviewers_read_every_call_and_card(role: Role) -> None:
    who = Viewer(9, role)
    for call in (LIVE_OTHERS, ENDED_MINE_LONG_AGO, ENDED_FREE):
        assert decide(who, Action.READ_CALL, now=NOW, call=call).outcome is Outcome.ALLOWED
        card = CardFacts("draft", None, call)
        assert decide(who, Action.READ_CARD, now=NOW, card=card).outcome is Outcome.ALLOWED
    edit = decide(who, Action.EDIT_CARD, now=NOW, card=CardFacts("draft", None, LIVE_OTHERS)).outcome
    assert edit is (Outcome.FORBIDDEN if role is Role.QA else Outcome.ALLOWED)
