"""models.repo.cards on SQLite and PostgreSQL: registration numbers, state machine, versions, audit, search."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_sessionmaker
from models.records import AuditEvent, Card, RegistrationCounter
from models.repo import InvalidTransition, RecordNotFound, StaleVersion, calls, cards
from models.repo.cards import Actor

logger = logging.getLogger(__name__)

OP = Actor("aigerim", None)
NOW = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
DRAFT = {"topic": "heating", "service": "heating_utility", "emergency": "none", "summary": "Батарея суық"}


def new_card(session: Session, **values: object) -> Card:
    return cards.create_card(session, actor=OP, values={**DRAFT, **values})


def audit_actions(session: Session, card_id: int) -> list[str]:
    rows = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id)
        .order_by(AuditEvent.id)
    )
    return list(rows)


def test_confirm_assigns_number_and_due_date(session: Session) -> None:
    card = new_card(session)
    confirmed = cards.confirm_card(
        session,
        card_id=card.id,
        actor=OP,
        changes={"house": "7"},
        due_hours={"heating": 24}.get,
        now=NOW,
        expected_version=card.version,
    )
    assert confirmed.status == "confirmed"
    assert confirmed.reg_number == "109-2026-000001" and confirmed.reg_seq == 1 and confirmed.reg_year == 2026
    assert confirmed.due_at == NOW + timedelta(hours=24)
    assert confirmed.confirmed_at == NOW and confirmed.house == "7"
    second = cards.confirm_card(session, card_id=new_card(session).id, actor=OP, due_hours=72, now=NOW)
    assert second.reg_number == "109-2026-000002"
    other_year = cards.confirm_card(session, card_id=new_card(session).id, actor=OP, due_hours=72, year=2027)
    assert other_year.reg_number == "109-2027-000001"
    assert audit_actions(session, card.id) == ["create", "confirm"]


def test_rolled_back_confirmation_leaves_no_gap(session: Session) -> None:
    no_topic = cards.create_card(session, actor=OP, values={"summary": "?"})
    with pytest.raises(ValueError, match="topic"):
        cards.confirm_card(session, card_id=no_topic.id, actor=OP, due_hours=72, now=NOW)
    # an increment whose transaction is rolled back is not a number handed out
    cards._next_seq(session, 2026)
    session.rollback()
    card = cards.confirm_card(session, card_id=new_card(session).id, actor=OP, due_hours=72, now=NOW)
    assert card.reg_number == "109-2026-000001"
    assert session.get(Card, no_topic.id).status == "draft"
    assert audit_actions(session, no_topic.id) == ["create"]


def test_state_machine(session: Session) -> None:
    card = new_card(session)
    with pytest.raises(InvalidTransition, match="is draft"):
        cards.route_card(session, card_id=card.id, actor=OP)
    with pytest.raises(InvalidTransition):
        cards.resolve_card(session, card_id=card.id, actor=OP, resolution="done")
    cards.confirm_card(session, card_id=card.id, actor=OP, due_hours=24, now=NOW)
    with pytest.raises(InvalidTransition):
        cards.confirm_card(session, card_id=card.id, actor=OP, due_hours=24, now=NOW)
    cards.route_card(session, card_id=card.id, actor=OP, service="district_akimat", now=NOW)
    with pytest.raises(ValueError):
        cards.resolve_card(session, card_id=card.id, actor=OP, resolution="  ")
    cards.resolve_card(session, card_id=card.id, actor=OP, resolution="Жылу берілді", first_call_resolution=False)
    with pytest.raises(InvalidTransition):
        cards.update_card(session, card_id=card.id, actor=OP, changes={"summary": "x"})
    closed = cards.close_card(session, card_id=card.id, actor=OP)
    assert closed.status == "closed" and closed.service == "district_akimat" and closed.resolution == "Жылу берілді"
    with pytest.raises(InvalidTransition):
        cards.close_card(session, card_id=card.id, actor=OP)
    assert audit_actions(session, card.id) == ["create", "confirm", "route", "resolve", "close"]
    # a draft may be closed without ever getting a number
    draft = new_card(session)
    assert cards.close_card(session, card_id=draft.id, actor=OP, reason="silent call").reg_number is None
    with pytest.raises(RecordNotFound):
        cards.close_card(session, card_id=99999, actor=OP)


def test_versions_and_edits(session: Session) -> None:
    card = new_card(session)
    v = card.version
    edited = cards.update_card(session, card_id=card.id, actor=OP, changes={"street": "Сарыарқа"}, expected_version=v)
    assert edited.version == v + 1 and "street" in edited.operator_edited
    with pytest.raises(StaleVersion):
        cards.update_card(session, card_id=card.id, actor=OP, changes={"street": "Бөгенбай"}, expected_version=v)
    with pytest.raises(ValueError, match="reg_number"):
        cards.update_card(session, card_id=card.id, actor=OP, changes={"reg_number": "109-1"})
    session.expire_all()
    assert session.get(Card, card.id).street == "Сарыарқа"
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "edit")).all()
    assert len(events) == 1  # the refused edits wrote nothing
    assert events[0].before["street"] is None and events[0].after["street"] == "Сарыарқа"
    assert events[0].actor == "aigerim"


def test_transfer_and_dismiss(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="t1", caller_number="+77010000001")
    card = calls.save_proposal(
        session, call_id=call.id, proposal={"topic": "gas_supply", "emergency": "104"}, model_version="m"
    )
    moved = cards.record_transfer(session, card_id=card.id, actor=OP, code="104", now=NOW)
    assert moved.emergency_transferred_to == "104" and moved.emergency_transferred_at == NOW
    assert session.get(type(call), call.id).transferred_to == "104"
    other = new_card(session, emergency="103")
    dismissed = cards.dismiss_emergency(session, card_id=other.id, actor=OP, reason="Caller was joking")
    assert dismissed.emergency == "none" and dismissed.emergency_dismissed_reason == "Caller was joking"
    assert audit_actions(session, other.id) == ["create", "dismiss_emergency"]
    with pytest.raises(ValueError):
        cards.dismiss_emergency(session, card_id=other.id, actor=OP, reason=" ")


def test_transfer_attempt_and_failure_are_audited_without_touching_the_card(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="t3", caller_number="+77010000003")
    card = calls.save_proposal(session, call_id=call.id, proposal={"emergency": "103"}, model_version="m")
    version = card.version
    cards.record_transfer_attempt(session, card_id=card.id, actor=OP, code="103", uniqueid="t3")
    cards.record_transfer_failure(
        session, card_id=card.id, actor=OP, code="103", reason="dialplan_missing", detail="no [x]", elapsed_s=0.2
    )
    session.expire_all()
    again = session.get(Card, card.id)
    assert again.emergency_transferred_to is None and again.version == version
    assert session.get(type(call), call.id).transferred_to is None
    events = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == card.id).order_by(AuditEvent.id)).all()
    assert [e.action for e in events][-2:] == ["transfer_attempt", "transfer_failed"]
    assert events[-2].after == {"code": "103", "uniqueid": "t3"} and events[-2].actor == "aigerim"
    assert events[-1].after["reason"] == "dialplan_missing" and events[-1].after["outcome"] == "failed"
    moved = cards.record_transfer(session, card_id=card.id, actor=OP, code="103", outcome={"method": "continue"})
    assert moved.emergency_transferred_to == "103"
    done = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == card.id).order_by(AuditEvent.id)).all()
    assert done[-1].action == "transfer" and done[-1].after["outcome"] == "transferred"
    assert done[-1].after["method"] == "continue" and done[-1].after["emergency_transferred_to"] == "103"


@pytest.mark.parametrize("decision", ["transfer", "dismissal", "edit"])
def test_a_later_proposal_never_overwrites_the_operators_decision(session: Session, decision: str) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid=f"d-{decision}", caller_number="+77010000004")
    first = {"topic": "gas_supply", "emergency": "103", "summary": "Газ"}
    card = calls.save_proposal(session, call_id=call.id, proposal=first, model_version="m1")
    assert card.emergency == "103"
    if decision == "transfer":
        cards.record_transfer(session, card_id=card.id, actor=OP, code="103")
        kept = {"emergency": "103"}
    elif decision == "dismissal":
        cards.dismiss_emergency(session, card_id=card.id, actor=OP, reason="шутка")
        kept = {"emergency": "none"}
    else:
        cards.update_card(session, card_id=card.id, actor=OP, changes={"emergency": "101", "summary": "Пожар"})
        kept = {"emergency": "101", "summary": "Пожар"}
    later = {"topic": "information", "emergency": "none" if decision != "dismissal" else "104", "summary": "Справка"}
    after = calls.save_proposal(session, call_id=call.id, proposal=later, model_version="m2")
    session.expire_all()
    after = session.get(Card, card.id)
    for name, value in kept.items():
        assert getattr(after, name) == value, f"{name} was overwritten by the model after the {decision}"
    assert after.proposed_emergency == later["emergency"], "the later proposal is kept beside the decision"
    assert after.topic == "information", "fields the operator did not decide still follow the model"
    proposes = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == card.id, AuditEvent.action == "propose")
    ).all()
    assert all("emergency" not in (e.after or {}) for e in proposes[1:])


def test_manual_card_for_a_call_that_has_one(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="t2", caller_number="+7701")
    card = cards.create_card(session, actor=OP, values={}, call_id=call.id)
    assert card.caller_number == "+7701"
    with pytest.raises(cards.DuplicateRecord):
        cards.create_card(session, actor=OP, values={}, call_id=call.id)
    with pytest.raises(RecordNotFound):
        cards.create_card(session, actor=OP, values={}, call_id=call.id + 50)
    assert session.scalar(select(func.count()).select_from(Card)) == 1


def test_search_filters_and_history(session: Session) -> None:
    call, _ = calls.get_or_create_call(session, uniqueid="s1", caller_number="+77015550101")
    calls.add_segment(session, call_id=call.id, text="подъезд үйдің ЛИФТІ істемейді", start_s=0, end_s=2)
    a = cards.create_card(session, actor=OP, values={"topic": "elevator", "summary": "Лифт"}, call_id=call.id)
    b = new_card(session, summary="Қар тазаланбаған", topic="snow_ice", district="almaty", caller_number="+77015550101")
    c = new_card(session, street="Абай даңғылы", summary="100% холодно_")

    def ids(**f: object) -> list[int]:
        rows, total = cards.list_cards(session, **f)
        assert total == len(rows)
        return sorted(r.id for r in rows)

    assert ids(q="қар") == [b.id]  # Kazakh, case-folded
    assert ids(q="ЛИФТ") == [a.id]  # summary and transcript
    assert ids(q="лифті") == [a.id]  # transcript only
    assert ids(q="абай") == [c.id]
    assert ids(q="100%") == [c.id] and ids(q="_") == [c.id]  # wildcards are literal
    assert ids(topic="snow_ice", district="almaty") == [b.id]
    assert ids(caller="+77015550101") == [a.id, b.id]
    assert ids(status="confirmed") == []
    assert ids(date_from=datetime.now(UTC) + timedelta(days=1)) == []
    assert ids(date_to=datetime.now(UTC) + timedelta(days=1)) == [a.id, b.id, c.id]
    page, total = cards.list_cards(session, limit=2, offset=0)
    assert total == 3 and [r.id for r in page] == [c.id, b.id]
    assert [r.id for r in cards.caller_history(session, caller_number="+77015550101", exclude_card_id=b.id)] == [a.id]


def _confirm_many(engine: Engine, n: int, aborters: int) -> tuple[list[str], float]:
    maker = make_sessionmaker(engine)
    with maker() as s:
        card_ids = [new_card(s, summary=f"card {i}").id for i in range(n)]
    barrier = threading.Barrier(n + aborters)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def confirm(card_id: int) -> None:
        try:
            with maker() as s:
                barrier.wait()
                card = cards.confirm_card(s, card_id=card_id, actor=OP, due_hours=24, now=NOW)
                with lock:
                    numbers.append(card.reg_number)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def abort() -> None:
        # takes a number, holds the lock a moment, then rolls back: must leave no gap
        try:
            with maker() as s:
                barrier.wait()
                cards._next_seq(s, 2026)
                time.sleep(0.01)
                s.rollback()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=confirm, args=(cid,)) for cid in card_ids]
    threads += [threading.Thread(target=abort) for _ in range(aborters)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    assert not errors, errors[:3]
    return numbers, elapsed


def test_fifty_parallel_confirmations_get_consecutive_numbers(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=70, max_overflow=0)
    try:
        numbers, elapsed = _confirm_many(engine, 50, aborters=10)
        with make_sessionmaker(engine)() as s:
            counter = s.get(RegistrationCounter, 2026)
            stored = sorted(s.scalars(select(Card.reg_seq).where(Card.reg_seq.is_not(None))))
    finally:
        engine.dispose()
    assert len(numbers) == 50 and len(set(numbers)) == 50
    assert sorted(numbers) == [f"109-2026-{i:06d}" for i in range(1, 51)]
    assert stored == list(range(1, 51)) and counter.last_seq == 50
    logger.warning(
        "CONCURRENCY %s: 50 parallel confirmations (+10 rolled-back increments) in %.3f s, %.1f ms per card",
        engine.dialect.name,
        elapsed,
        elapsed * 1000 / 50,
    )


def test_same_card_confirmed_twice_at_once(db_url: str, sessionmaker: sessionmaker[Session]) -> None:
    with sessionmaker() as s:
        card_id = new_card(s).id
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def confirm() -> None:
        with sessionmaker() as s:
            barrier.wait()
            try:
                outcomes.append(cards.confirm_card(s, card_id=card_id, actor=OP, due_hours=1).reg_number)
            except (InvalidTransition, StaleVersion) as exc:
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=confirm) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = [o for o in outcomes if o.startswith("109-")]
    assert len(numbers) == 1 and len(outcomes) == 5
    with sessionmaker() as s:
        assert s.scalar(select(RegistrationCounter.last_seq)) == 1
