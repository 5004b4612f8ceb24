"""CardHub: fan-out to subscribers, late-subscriber snapshots, slow subscribers never block publishers."""

from __future__ import annotations

import asyncio

from calls.hub import CardHub


async def test_subscribers_get_their_calls_and_late_ones_catch_up() -> None:
    hub = CardHub()
    async with hub.subscribe() as everything, hub.subscribe(call_ids={2}) as only_two:
        hub.publish({"type": "call_started", "call_id": 1})
        hub.publish({"type": "call_started", "call_id": 2})
        hub.publish({"type": "transcript_partial", "call_id": 2, "text": "лифт тұрып"})
        hub.publish({"type": "card_proposed", "call_id": 2, "proposal": {"topic": "elevator"}})
        assert [(await everything.get())["call_id"] for _ in range(4)] == [1, 2, 2, 2]
        assert [(await only_two.get())["type"] for _ in range(3)] == [
            "call_started", "transcript_partial", "card_proposed"
        ]
    assert hub.subscribers == 0
    # A late subscriber sees the latest of each kind, not partials.
    assert [m["type"] for m in hub.snapshot(2)] == ["call_started", "card_proposed"]
    assert sorted(hub.live_calls()) == [1, 2]


async def test_an_ended_call_is_not_revived_by_later_messages() -> None:
    hub = CardHub()
    hub.publish({"type": "call_started", "call_id": 7})
    hub.publish({"type": "call_ended", "call_id": 7})
    hub.publish({"type": "card_updated", "call_id": 7, "status": "confirmed"})  # confirmed after hang-up
    hub.publish({"type": "card_updated", "call_id": 8, "status": "confirmed"})  # a call never seen live
    assert hub.live_calls() == [] and hub.snapshot(7) == []


async def test_a_slow_subscriber_loses_its_oldest_messages_and_blocks_no_one() -> None:
    hub = CardHub(queue_size=10)
    async with hub.subscribe() as slow:
        for i in range(25):
            hub.publish({"type": "transcript_partial", "call_id": 1, "text": str(i)})
        assert slow.dropped == 15
        got = [(await asyncio.wait_for(slow.get(), 1))["text"] for _ in range(10)]
        assert got == [str(i) for i in range(15, 25)]
