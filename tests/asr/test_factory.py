"""build_speech_engine: missing models give an engine that says so and records nothing; real models decode."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from asr.engine import UnavailableSpeechEngine, VoskSpeechEngine
from asr.factory import build_speech_engine
from asr.models import DOWNLOAD_COMMAND
from asr.session import NullSpeechSession


async def test_no_models_gives_a_silent_engine_and_one_clear_message(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asr.factory")
    engine = build_speech_engine(model_dirs={"ru": None, "kk": tmp_path / "nowhere"}, workers=2)
    assert isinstance(engine, UnavailableSpeechEngine)
    messages = [r.getMessage() for r in caplog.records if r.name == "asr.factory"]
    assert len(messages) == 1 and DOWNLOAD_COMMAND in messages[0]
    status = engine.status()
    assert status["ru"] == "missing" and status["kk"] == "missing" and DOWNLOAD_COMMAND in str(status["detail"])
    session = engine.open_session(call_id="c1", language="auto")
    assert isinstance(session, NullSpeechSession)
    assert await session.feed(np.ones(8000, np.int16).tobytes()) == []
    assert await session.finish() == []
    await session.aclose()
    assert await engine.redecode(tmp_path / "x.wav") is None
    await engine.aclose()


async def test_one_language_missing_still_decodes_the_other(korean_model: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asr.factory")
    engine = build_speech_engine(model_dirs={"ru": None, "kk": korean_model}, workers=1, wait=True)
    try:
        assert isinstance(engine, VoskSpeechEngine)
        status = engine.status()
        assert status["kk"] == "ok" and status["ru"] == "missing" and status["workers_alive"] == 1
        assert sum(DOWNLOAD_COMMAND in r.getMessage() for r in caplog.records) == 1
        # a Russian call falls back to the language there is; silence gives nothing and no error
        session = engine.open_session(call_id="c2", language="ru")
        assert await session.feed(bytes(16000)) == []
        assert await session.finish() == []
        await session.aclose()
    finally:
        await engine.aclose()
