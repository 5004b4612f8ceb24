"""The sample ARI events carry every field Asterisk's data models (rest-api/api-docs) mark as required."""

from __future__ import annotations

import pytest

from telephony.ari_app import parse_ari_time
from tests.peers.ari_peer import ari_time, load_fixture

# Required properties, from events.json / channels.json / recordings.json of Asterisk's source.
EVENT = {"type", "application", "timestamp"}
REQUIRED = {
    "stasis_start": EVENT | {"args", "channel"},
    "stasis_end": EVENT | {"channel"},
    "channel_state_change": EVENT | {"channel"},
    "channel_hangup_request": EVENT | {"channel"},
    "channel_destroyed": EVENT | {"cause", "cause_txt", "channel"},
    "recording_finished": EVENT | {"recording"},
}
CHANNEL = {
    "id",
    "protocol_id",
    "name",
    "state",
    "caller",
    "connected",
    "accountcode",
    "dialplan",
    "creationtime",
    "language",
}
DIALPLAN = {"context", "exten", "priority", "app_name", "app_data"}
LIVE_RECORDING = {"name", "format", "state", "target_uri"}


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_fixture_has_required_fields(name: str) -> None:
    event = load_fixture(name)
    assert REQUIRED[name] <= set(event)
    if "channel" in event:
        assert CHANNEL <= set(event["channel"])
        assert DIALPLAN <= set(event["channel"]["dialplan"])
        assert set(event["channel"]["caller"]) == {"name", "number"}
    if "recording" in event:
        assert LIVE_RECORDING <= set(event["recording"])
    assert parse_ari_time(event["timestamp"]).tzinfo is not None


def test_channel_fixture_and_timestamps() -> None:
    assert CHANNEL <= set(load_fixture("channel"))
    stamp = ari_time(1795317367.131)
    assert stamp == "2026-11-22T09:16:07.131+0600"
    assert parse_ari_time(stamp).timestamp() == pytest.approx(1795317367.131)
