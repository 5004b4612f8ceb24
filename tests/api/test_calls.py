"""Calls API: who may read which call, call detail with transcript and card, recordings served with HTTP Range."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from models.repo import calls


def wav_bytes(samples: int = 8000) -> bytes:
    """A real 8 kHz mono s16le WAV (a ramp), so sizes and offsets are known."""
    pcm = b"".join(struct.pack("<h", (i * 37) % 30000 - 15000) for i in range(samples))
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(pcm))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", len(pcm))
    )
    return header + pcm


@pytest.fixture
def recorded_call(ctx: Any, tmp_path: Path) -> tuple[int, bytes]:
    data = wav_bytes()
    path = tmp_path / "rec" / "call.wav"
    path.parent.mkdir()
    path.write_bytes(data)
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="rec.1", caller_number="+77010000009")
        calls.add_segment(
            s,
            call_id=call.id,
            text="Сәлеметсіз бе, лифт істемейді",
            start_s=0.2,
            end_s=2.0,
            language="kk",
            words=[{"word": "лифт", "start": 1.0, "end": 1.3, "conf": 0.8}],
        )
        calls.add_recording(s, uniqueid="rec.1", path=str(path), duration_s=1.0, size_bytes=len(data))
        calls.save_proposal(s, call_id=call.id, proposal={"topic": "elevator", "emergency": "none"}, model_version="m")
        calls.end_call(s, uniqueid="rec.1", at=datetime.now(UTC))
        return call.id, data


def test_call_detail_for_qa(client: Any, qa_headers: Any, recorded_call: tuple[int, bytes]) -> None:
    call_id, data = recorded_call
    detail = client.get(f"/api/calls/{call_id}", headers=qa_headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["state"] == "ended" and body["duration_s"] is not None
    assert body["segments"][0]["text"] == "Сәлеметсіз бе, лифт істемейді"
    assert body["segments"][0]["words"][0] == {"word": "лифт", "start": 1.0, "end": 1.3, "conf": 0.8}
    assert body["card"]["proposed"]["topic"] == "elevator"
    assert body["recordings"][0]["url"].startswith(f"/api/calls/{call_id}/audio")
    listed = client.get("/api/calls?state=ended", headers=qa_headers).json()
    assert listed["count"] == 1 and listed["data"][0]["card_id"] == body["card"]["id"]
    assert client.get("/api/calls/424242", headers=qa_headers).status_code == 404


def test_audio_ranges(client: Any, qa_headers: Any, recorded_call: tuple[int, bytes]) -> None:
    call_id, data = recorded_call
    url = f"/api/calls/{call_id}/audio"
    size = len(data)
    whole = client.get(url, headers=qa_headers)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-type"] == "audio/wav"
    part = client.get(url, headers={**qa_headers, "Range": "bytes=0-43"})
    assert part.status_code == 206 and part.content == data[:44] and part.content.startswith(b"RIFF")
    assert part.headers["content-range"] == f"bytes 0-43/{size}"
    tail = client.get(url, headers={**qa_headers, "Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    open_end = client.get(url, headers={**qa_headers, "Range": f"bytes={size - 10}-"})
    assert open_end.status_code == 206 and open_end.content == data[-10:]
    clipped = client.get(url, headers={**qa_headers, "Range": f"bytes=100-{size * 2}"})
    assert clipped.status_code == 206 and clipped.content == data[100:]
    outside = client.get(url, headers={**qa_headers, "Range": f"bytes={size}-{size + 5}"})
    assert outside.status_code == 416 and outside.headers["content-range"] == f"bytes */{size}"
    assert "outside the recording" in outside.json()["detail"]
    ignored = client.get(url, headers={**qa_headers, "Range": "pages=1-2"})
    assert ignored.status_code == 200 and ignored.content == data


def test_operator_sees_only_live_and_own_calls(
    client: Any, ctx: Any, make_user: Any, token_for: Any, recorded_call: tuple[int, bytes]
) -> None:
    call_id, _ = recorded_call
    alice, bob = make_user("operator"), make_user("operator")
    ha = {"Authorization": f"Bearer {token_for(alice)}"}
    hb = {"Authorization": f"Bearer {token_for(bob)}"}
    with ctx.sessionmaker() as s:
        live, _ = calls.get_or_create_call(s, uniqueid="live.1")
        calls.mark_answered(s, uniqueid="live.1", at=datetime.now(UTC))
    # an ended call nobody of them handled: refused; a live call nobody has taken: allowed
    refused = client.get(f"/api/calls/{call_id}", headers=ha)
    assert refused.status_code == 403 and "Operators may open only" in refused.json()["detail"]
    assert client.get(f"/api/calls/{call_id}/audio", headers=ha).status_code == 403
    assert client.get(f"/api/calls/{live.id}", headers=ha).status_code == 200
    assert [c["id"] for c in client.get("/api/calls", headers=ha).json()["data"]] == [live.id]
    # confirming the ended call's card is refused, and opens nothing (it used to grant the transcript and audio)
    card_id = client.get(
        f"/api/calls/{call_id}", headers={"Authorization": f"Bearer {token_for(make_user('qa'))}"}
    ).json()["card"]["id"]
    assert client.post(f"/api/cards/{card_id}/confirm", headers=ha).status_code == 403
    assert client.get(f"/api/calls/{call_id}", headers=ha).status_code == 403
    # alice takes the live call: it is hers, no longer bob's to open
    assert client.post(f"/api/calls/{live.id}/claim", headers=ha).status_code == 200
    assert client.get(f"/api/calls/{live.id}", headers=ha).status_code == 200
    assert client.get(f"/api/calls/{live.id}", headers=hb).status_code == 403
    assert [c["id"] for c in client.get("/api/calls", headers=hb).json()["data"]] == []
    assert {c["id"] for c in client.get("/api/calls", headers=ha).json()["data"]} == {live.id}


def test_missing_recording_file(client: Any, ctx: Any, qa_headers: Any) -> None:
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="gone.1")
        calls.add_recording(s, uniqueid="gone.1", path="/nonexistent/gone.wav")
        bare, _ = calls.get_or_create_call(s, uniqueid="bare.1")
    gone = client.get(f"/api/calls/{call.id}/audio", headers=qa_headers)
    assert gone.status_code == 404 and "missing" in gone.json()["detail"]
    none = client.get(f"/api/calls/{bare.id}/audio", headers=qa_headers)
    assert none.status_code == 404 and "no recording" in none.json()["detail"]


def test_readiness_reports_components(make_ctx: Any, make_user: Any, token_for: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    ctx = make_ctx()
    admin = {"Authorization": f"Bearer {token_for(make_user('admin'))}"}  # details are for admins only
    ctx.components["asr"] = lambda: {"status": "ok", "ru": "ok", "kk": "missing"}
    ctx.components["classifier"] = lambda: (_ for _ in ()).throw(RuntimeError("artifact unreadable"))
    with TestClient(create_app(ctx)) as client:
        ready = client.get("/api/ready", headers=admin)
        assert client.get("/api/health").json() == {"status": "ok"}
    body = ready.json()
    assert ready.status_code == 200 and body["ready"] is True
    assert body["database"]["status"] == "ok" and body["taxonomy"]["topics"] > 0
    assert body["components"]["asr"]["kk"] == "missing"
    assert body["components"]["classifier"] == {"status": "error", "error": "artifact unreadable"}
    assert body["components"]["telephony"]["status"] == "not configured"


def test_readiness_fails_without_database(make_ctx: Any, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from models.db import make_engine, make_sessionmaker

    ctx = make_ctx()
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    ctx.sessionmaker = make_sessionmaker(dead)
    with TestClient(create_app(ctx)) as client:
        ready = client.get("/api/ready")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert "database cannot be reached" in ready.json()["detail"]
