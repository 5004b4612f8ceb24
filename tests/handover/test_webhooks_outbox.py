"""The outbox's write side as the worker sees it, on SQLite and PostgreSQL: a confirmation for an organisation that
receives webhooks writes exactly one card.routed row in the card's transaction (a change that fails writes none,
even when it fails at the commit) and wakes the worker once; signatures and the retry schedule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from handover.webhook_delivery import RetryPolicy
from handover.webhook_outbox import on_new_rows
from handover.webhook_signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, headers, signature, verify
from models.handover import WebhookDelivery
from models.repo import cards
from tests.handover.webhook_harness import DRAFT, NOW, OP, confirm, make_org, router_to


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def test_a_confirmation_writes_one_routed_row_in_its_transaction(sessionmaker: sessionmaker[Session]) -> None:
    woken: list[str] = []
    also: list[str] = []
    on_new_rows(sessionmaker, lambda: woken.append("wake"))
    on_new_rows(sessionmaker, lambda: also.append("wake"))  # a second watcher of the same sessions is woken too
    with sessionmaker() as s:
        org = make_org(s, "heat", "https://heat.kz/hook", "k" * 64)
        inbox_only = make_org(s, "akimat", "", "", webhook=False)
        card = confirm(s, org.id, now=NOW)
        assert woken == ["wake"]
        [row] = s.scalars(select(WebhookDelivery)).all()
        assert (row.event, row.card_id, row.organisation_id, row.state) == ("card.routed", card.id, org.id, "pending")
        assert card.confirmed_at == NOW and row.attempts == 0 and row.next_attempt_at == row.created_at
        body = json.loads(row.body)
        assert body["card"]["service_request_id"] == card.reg_number and body["delivery_id"] == row.delivery_id

        confirm(s, inbox_only.id, now=NOW)  # an organisation without webhooks: no row, no wake-up
        assert _count(s) == 1 and woken == ["wake"]

        # a change that fails in its own checks writes nothing
        no_topic = cards.create_card(s, actor=OP, values={**DRAFT, "topic": None})
        with pytest.raises(ValueError, match="topic"):
            cards.confirm_card(s, card_id=no_topic.id, actor=OP, due_hours=24, now=NOW, router=router_to(org.id))
        assert _count(s) == 1 and woken == ["wake"]

        # a change that fails at its commit, after the row was flushed, writes nothing either
        draft = cards.create_card(s, actor=OP, values=DRAFT)

        def refuse(_session: Session) -> None:
            raise RuntimeError("the disk is full")

        event.listen(s, "before_commit", refuse)
        with pytest.raises(RuntimeError, match="disk"):
            cards.confirm_card(s, card_id=draft.id, actor=OP, due_hours=24, now=NOW, router=router_to(org.id))
        event.remove(s, "before_commit", refuse)
        assert _count(s) == 1 and woken == ["wake"] == also
        assert cards.get_card(s, card_id=draft.id).status == "draft"


def test_signature_and_headers() -> None:
    body = '{"event":"card.routed","card":{"summary":"Жылу жоқ"}}'.encode()
    sent = headers(body=body, secret="k", event="card.routed", delivery_id="d-1")
    assert sent[SIGNATURE_HEADER] == signature(body, "k") and sent[SIGNATURE_HEADER].startswith("sha256=")
    assert sent[EVENT_HEADER] == "card.routed" and sent[DELIVERY_HEADER] == "d-1"
    assert sent["Content-Type"] == "application/json" and "callcard" in sent["User-Agent"]
    assert verify(body, "k", sent[SIGNATURE_HEADER])
    assert not verify(body + b" ", "k", sent[SIGNATURE_HEADER]), "a changed body fails"
    assert not verify(body, "other", sent[SIGNATURE_HEADER]), "another organisation's key fails"
    assert not verify(body, "k", None) and not verify(body, "k", sent[SIGNATURE_HEADER][7:])
    # a known answer (openssl dgst -sha256 -hmac key <<< -n hello)
    assert signature(b"hello", "key") == "sha256=9307b3b915efb5171ff14d8cb55fbcc798c6c0ef1456d66ded1a6aa723a58b7b"


def test_retry_schedule_is_capped_full_jitter_until_the_give_up_time() -> None:
    policy = RetryPolicy(give_up_after=timedelta(hours=24), backoff_base_s=1.0, backoff_max_s=60.0)
    for attempt, cap in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)):
        waits = [policy.backoff_s(attempt) for _ in range(200)]
        assert all(0.0 <= w <= cap for w in waits) and max(waits) > cap / 2, (attempt, max(waits))
    assert policy.next_attempt(attempt=3, created_at=NOW, now=NOW + timedelta(hours=24)) is None
    almost = NOW + timedelta(hours=24) - timedelta(seconds=1)
    last = policy.next_attempt(attempt=30, created_at=NOW, now=almost)
    assert last is not None and almost <= last <= NOW + timedelta(hours=24), "never later than the give-up time"
    with pytest.raises(ValueError):
        RetryPolicy(backoff_base_s=10.0, backoff_max_s=1.0)


def test_an_admins_retry_starts_a_new_give_up_window(sessionmaker: sessionmaker[Session]) -> None:
    """A failed delivery retried by an admin gets the configured time again, not one last attempt."""
    from handover.webhook_outbox import claim
    from models.repo import outbox

    policy = RetryPolicy(give_up_after=timedelta(hours=1), backoff_base_s=1.0, backoff_max_s=60.0)
    with sessionmaker() as s:
        org = make_org(s, "heat", "https://heat.kz/hook", "k" * 64)
        confirm(s, org.id, now=NOW)
        [row] = s.scalars(select(WebhookDelivery)).all()
        created = row.created_at
        outbox.record_failure(s, row_id=row.id, status=500, error="HTTP 500", now=created, retry_at=None)
        later = created + timedelta(days=2)
        outbox.retry(s, row_id=row.id, now=later)
    [claimed] = claim(sessionmaker, now=later, limit=10, lease_s=30)
    assert claimed.created_at == later, "the window starts at the retry"
    again = policy.next_attempt(attempt=claimed.attempts + 1, created_at=claimed.created_at, now=later)
    assert again is not None and later < again <= later + timedelta(hours=1)
    assert policy.next_attempt(attempt=9, created_at=claimed.created_at, now=later + timedelta(hours=1)) is None
