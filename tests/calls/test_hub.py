"""CardHub: fan-out to subscribers, late-subscriber snapshots, slow subscribers never block publishers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from calls.hub import CardHub
from calls.messages import (
    CallEndedMessage,
    CallStartedMessage,
    CallStoredMessage,
    CardProposedMessage,
    CardUpdatedMessage,
    TranscriptPartialMessage,
    decode,
    encode,
)
from classifier.base import CardProposal

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _started(key: str, call_id: int | None) -> CallStartedMessage:
    return CallStartedMessage(call_key=key, call_id=call_id, caller_number="+77011234567", started_at=NOW)


async def test_subscribers_get_every_call_and_late_ones_catch_up() -> None:
    hub = CardHub()
    proposal = CardProposal(topic="elevator", service="lift_company", emergency="none")
    async with hub.subscribe() as everything:
        hub.publish(_started("a.1", 1))
        hub.publish(_started("b.2", None))  # the database was down when this call started
        hub.publish(TranscriptPartialMessage(call_key="b.2", call_id=None, text="лифт тұрып", language="kk", start=0))
        hub.publish(CardProposedMessage(call_key="b.2", call_id=None, card_id=None, proposal=proposal))
        hub.publish(CallStoredMessage(call_key="b.2", call_id=2))
        got = [await everything.get() for _ in range(5)]
        assert [m.call_key for m in got] == ["a.1", "b.2", "b.2", "b.2", "b.2"]
    assert hub.subscribers == 0
    # A late subscriber sees the latest of each kind (not partials), and the id learned late.
    snapshot = hub.snapshot("b.2")
    assert [m.type for m in snapshot] == ["call_started", "card_proposed"]
    assert isinstance(snapshot[0], CallStartedMessage) and snapshot[0].call_id == 2
    assert sorted(hub.live_calls()) == ["a.1", "b.2"]


async def test_an_ended_call_is_not_revived_by_later_messages() -> None:
    hub = CardHub()
    hub.publish(_started("c.7", 7))
    hub.publish(CallEndedMessage(call_key="c.7", call_id=7, ended_at=NOW))
    hub.publish(CardUpdatedMessage(call_key="c.7", call_id=7, card_id=3, status="confirmed"))  # after hang-up
    hub.publish(CardUpdatedMessage(call_key="d.8", call_id=8, card_id=4, status="confirmed"))  # never seen live
    assert hub.live_calls() == [] and hub.snapshot("c.7") == []


async def test_a_slow_subscriber_loses_its_oldest_messages_and_blocks_no_one() -> None:
    hub = CardHub(queue_size=10)
    async with hub.subscribe() as slow:
        for i in range(25):
            hub.publish(TranscriptPartialMessage(call_key="e.1", call_id=1, text=str(i), language="ru", start=0))
        assert slow.dropped == 15
        got = [await asyncio.wait_for(slow.get(), 1) for _ in range(10)]
        assert [m.text for m in got if isinstance(m, TranscriptPartialMessage)] == [str(i) for i in range(15, 25)]


def test_messages_round_trip_through_their_json() -> None:
    proposal = CardProposal(topic="heating", service="heat_network", emergency="104", emergency_also=("101",))
    message = CardProposedMessage(call_key="f.1", call_id=None, card_id=None, proposal=proposal)
    data = encode(message)
    assert data["type"] == "card_proposed" and data["call_id"] is None
    assert data["proposal"]["emergency_also"] == ["101"] and data["proposal"]["address"]["street"] is None
    assert decode(data) == message
    assert encode(_started("g.1", 5))["started_at"] == "2026-12-07T09:00:00Z"
