"""Real Vosk decoding through callcard's sessions: fidelity to bare Vosk, phrase lists, real-world audio, crashes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asr.audio import read_wav
from asr.base import FinalSegment, PartialSegment, Span
from asr.decoder import LanguageModel
from asr.engine import VoskSpeechEngine
from asr.pool import WorkerPool
from tests.asr.conftest import KNOWN, OTHERS, Say, word_sequence, write

BARE_VOSK = r"""
import json, sys, wave
import numpy as np, soxr, vosk
vosk.SetLogLevel(-1)
model_dir, wav_path = sys.argv[1], sys.argv[2]
w = wave.open(wav_path)
x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
rate = w.getframerate()
if rate != 16000:  # one-shot resampling of the whole signal, independent of callcard's streaming code
    y = soxr.resample(x.astype(np.float32), rate, 16000, quality="HQ")
    x = np.clip(np.round(y), -32768, 32767).astype("<i2")
data = x.tobytes()
rec = vosk.KaldiRecognizer(vosk.Model(model_dir), 16000)
rec.SetWords(True)
out = []
for i in range(0, len(data), 3200):  # 0.1 s blocks
    if rec.AcceptWaveform(data[i:i + 3200]):
        out.append(json.loads(rec.Result()))
out.append(json.loads(rec.FinalResult()))
print(json.dumps([[w["word"], w["start"], w["end"]] for r in out for w in r.get("result", [])]))
"""

FRAME_S = 0.03  # one output frame of this model (10 ms features, frame subsampling 3)


def bare_vosk(model: Path, wav: Path) -> list[tuple[str, float, float]]:
    """Words and times from plain Vosk in a fresh process."""
    res = subprocess.run([sys.executable, "-c", BARE_VOSK, str(model), str(wav)], check=True,
                         capture_output=True, text=True, timeout=120)
    return [(w, s, e) for w, s, e in json.loads(res.stdout)]


def words_of(segments: list[FinalSegment]) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for s in segments for w in s.words]


@pytest.fixture
def engine(pool: WorkerPool) -> VoskSpeechEngine:
    return VoskSpeechEngine(pool)


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_session_matches_bare_vosk(engine: VoskSpeechEngine, det_model: Path,
                                         sentence_wavs: dict[int, Path], rate: int) -> None:
    """Same words, and times within a frame, as bare Vosk on the same audio at the model's rate."""
    wav = sentence_wavs[rate]
    ours = words_of(await engine.transcribe_file(wav, language="ko"))
    theirs = bare_vosk(det_model, wav)
    assert len(theirs) >= 5
    assert [w for w, _, _ in ours] == [w for w, _, _ in theirs]
    for (_, s1, e1), (_, s2, e2) in zip(ours, theirs, strict=True):
        assert abs(s1 - s2) <= FRAME_S and abs(e1 - e2) <= FRAME_S


async def test_live_chunks_give_the_same_result_as_a_file(engine: VoskSpeechEngine,
                                                          sentence_wavs: dict[int, Path]) -> None:
    """20 ms frames fed like a live call decode exactly like the file path (chunking does not matter)."""
    x, rate = read_wav(sentence_wavs[8000])
    session = engine.open_session(call_id="live-1", language="ko")
    finals: list[FinalSegment] = []
    partials: list[PartialSegment] = []
    data = x.tobytes()
    for i in range(0, len(data), 320):
        for seg in await session.feed(data[i:i + 320]):
            (finals if isinstance(seg, FinalSegment) else partials).append(seg)  # type: ignore[arg-type]
    finals += [s for s in await session.finish() if isinstance(s, FinalSegment)]
    await session.aclose()
    whole = await engine.transcribe_file(sentence_wavs[8000], language="ko")
    assert words_of(finals) == words_of(whole)
    assert partials, "partial segments arrive while speaking"
    assert all(p.language == "ko" for p in partials)


async def test_phrase_list_recognises_short_words(engine: VoskSpeechEngine, say: Say, speech_dir: Path) -> None:
    """With a runtime phrase list, espeak's 예, 아니요, 안녕하세요 come out as the right phrase."""
    phrases = KNOWN + OTHERS
    for word in KNOWN:
        x = np.concatenate([np.zeros(8000, np.int16), say(word, 16000), np.zeros(16000, np.int16)])
        wav = write(speech_dir / f"word_{KNOWN.index(word)}.wav", x, 16000)
        segs = await engine.transcribe_file(wav, language="ko", phrases=phrases)
        said = [w.text for s in segs for w in s.words]
        assert said and set(said) == {word}, (word, said)  # only the right phrase (espeak may echo it)
        assert all(s.words[0].conf > 0.5 for s in segs)


async def test_timings_inside_the_audio_and_increasing(engine: VoskSpeechEngine, say: Say, speech_dir: Path) -> None:
    x = word_sequence(say, KNOWN * 2, 8000)
    wav = write(speech_dir / "seq8.wav", x, 8000)
    segs = await engine.transcribe_file(wav, language="ko")
    words = [w for s in segs for w in s.words]
    assert words
    duration = len(x) / 8000
    last = 0.0
    for w in words:
        assert 0.0 <= w.start <= w.end <= duration + FRAME_S
        assert w.start >= last - 1e-6
        last = w.end
    for s in segs:
        assert s.start <= s.end and s.language == "ko" and s.model_version


@pytest.mark.parametrize("kind", ["silence", "clipped", "mulaw", "alaw", "stereo44k", "empty", "truncated"])
async def test_audio_as_it_really_comes(engine: VoskSpeechEngine, sentence_wavs: dict[int, Path],
                                        speech_dir: Path, kind: str) -> None:
    """None of these crashes a worker; speech in any encoding gives words inside the audio."""
    src = sentence_wavs[8000]
    path = speech_dir / f"real_{kind}.wav"
    if kind == "silence":
        write(path, np.zeros(8000 * 10, np.int16), 8000)
    elif kind == "clipped":
        x, _ = read_wav(src)
        write(path, np.clip(x.astype(np.int32) * 20, -32768, 32767).astype(np.int16), 8000)
    elif kind in ("mulaw", "alaw"):
        enc = "u-law" if kind == "mulaw" else "a-law"
        await asyncio.to_thread(subprocess.run, ["sox", str(src), "-e", enc, str(path)], check=True)
    elif kind == "stereo44k":
        await asyncio.to_thread(subprocess.run, ["sox", str(src), "-r", "44100", "-c", "2", str(path)], check=True)
    elif kind == "empty":
        write(path, np.zeros(0, np.int16), 8000)
    elif kind == "truncated":
        data = src.read_bytes()
        path.write_bytes(data[: len(data) // 2 + 1])
    pids = engine.pool.pids()
    segs = await engine.transcribe_file(path, language="ko")
    assert engine.pool.pids() == pids and engine.pool.alive() == 2
    if kind in ("silence", "empty"):
        assert segs == []
    else:
        assert segs, kind
        end = read_wav(path)[0].size / read_wav(path)[1]
        assert all(0 <= w.start <= w.end <= end + FRAME_S for s in segs for w in s.words)


async def test_garbage_file_is_refused_clearly(engine: VoskSpeechEngine, speech_dir: Path) -> None:
    from asr.audio import AudioFormatError

    path = speech_dir / "garbage.wav"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(AudioFormatError, match="not a WAV"):
        await engine.transcribe_file(path, language="ko")
    assert engine.pool.alive() == 2


async def test_hour_long_call(engine: VoskSpeechEngine, say: Say) -> None:
    """An hour of line noise with speech at known places: times stay exact, fed faster than real time."""
    rate = 8000
    word = say("안녕하세요", rate)
    onset = int(np.argmax(np.abs(word) > 1000)) / rate  # espeak's leading silence
    places = [5.0, 1800.0, 3590.0]
    rng = np.random.default_rng(1)
    session = engine.open_session(call_id="hour", language="ko", phrases=KNOWN)
    finals: list[FinalSegment] = []
    started = time.monotonic()
    total = 3600 * rate
    pos = 0
    noise = rng.integers(-20, 21, size=rate * 10).astype(np.int16)  # -64 dBFS line noise
    while pos < total:
        n = min(rate * 10, total - pos)
        block = noise[:n].copy()
        for p in places:
            at = int(p * rate)
            if pos <= at < pos + n:
                k = min(word.size, pos + n - at)
                block[at - pos:at - pos + k] = word[:k]
        finals += [s for s in await session.feed(block.tobytes()) if isinstance(s, FinalSegment)]
        pos += n
    finals += [s for s in await session.finish() if isinstance(s, FinalSegment)]
    await session.aclose()
    assert time.monotonic() - started < 120
    # the end of the last word is where the speech stops: the same place in the word every time (a word's
    # start moves with how the model aligns the silence before it)
    ends = [s.words[-1].end for s in finals if s.words]
    assert len(ends) == len(places), [(s.text, s.start) for s in finals]
    lag = ends[0] - places[0]
    assert onset < lag <= word.size / rate + FRAME_S
    for got, want in zip(ends, places, strict=True):
        assert abs((got - want) - lag) <= FRAME_S, ("times stay exact over the hour", ends)


async def test_killed_worker_is_restarted_and_others_go_on(pool: WorkerPool, say: Say,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="asr")
    engine = VoskSpeechEngine(pool)
    a = engine.open_session(call_id="victim", language="ko", phrases=KNOWN)
    b = engine.open_session(call_id="bystander", language="ko", phrases=KNOWN)
    assert a._handle is not None and b._handle is not None
    assert a._handle.worker != b._handle.worker
    speech = word_sequence(say, KNOWN, 8000).tobytes()
    await a.feed(speech[: len(speech) // 2])
    await b.feed(speech[: len(speech) // 2])
    victim_pid = pool.pids()[a._handle.worker]
    assert victim_pid is not None
    os.kill(victim_pid, signal.SIGKILL)
    lost = await a.feed(speech[len(speech) // 2:])  # in flight when the worker died, or after
    assert lost == [] or all(isinstance(s, (FinalSegment, PartialSegment)) for s in lost)
    b_out = await b.feed(speech[len(speech) // 2:]) + await b.finish()
    assert [s.text for s in b_out if isinstance(s, FinalSegment)], "the other call decodes on"
    deadline = time.monotonic() + 60
    while pool.alive() < 2 and time.monotonic() < deadline:  # noqa: ASYNC110 - polling another process
        await asyncio.sleep(0.2)
    assert pool.alive() == 2 and victim_pid not in pool.pids()
    offset = a.seconds
    more = await a.feed(speech) + await a.finish()
    assert a.gaps, "the lost audio is reported"
    assert all(isinstance(g, Span) and 0.0 <= g.start < g.end <= offset + 1e-3 for g in a.gaps), a.gaps
    crash_logs = [r.getMessage() for r in caplog.records if r.name == "asr.pool"]
    assert any("victim" in m and "bystander" not in m for m in crash_logs), crash_logs
    finals = [s for s in more if isinstance(s, FinalSegment)]
    assert finals and all(s.start >= offset - 1e-3 for s in finals), "the call goes on, on its own clock"
    await a.aclose()
    await b.aclose()


@pytest.mark.parametrize("kk_grammar_first", [True, False])
async def test_language_decision_with_two_real_recognizers(pool: WorkerPool, say: Say, speech_dir: Path,
                                                          kk_grammar_first: bool) -> None:
    """Two recognizers stand in for kk and ru (phrase lists of words said / not said); the fitting one wins.

    Run both ways round so that neither label wins by default.
    """
    words = KNOWN * 4
    wav = write(speech_dir / f"lang_{kk_grammar_first}.wav", word_sequence(say, words, 16000), 16000)
    engine = VoskSpeechEngine(pool)
    expected = "kk"
    segs = await engine.transcribe_file(wav, language="auto", candidates=("kk", "ru") if kk_grammar_first
                                        else ("ru", "kk"),
                                        options={"default_language": "ru" if kk_grammar_first else "kk"})
    assert segs
    assert {s.language for s in segs} == {expected}
    assert segs[0].start < 1.0, "the words held during the decision are not lost"


async def test_redecode_after_the_call_uses_the_big_pool(pool: WorkerPool, sentence_wavs: dict[int, Path]) -> None:
    """With a big model configured, a finished recording is decoded again from the file (here: same model)."""
    assert await VoskSpeechEngine(pool).redecode(sentence_wavs[8000]) is None  # none configured
    engine = VoskSpeechEngine(pool, big_pool=pool)
    again = await engine.redecode(sentence_wavs[8000], language="ko")
    live = await engine.transcribe_file(sentence_wavs[8000], language="ko")
    assert again and words_of(again) == words_of(live)


async def test_rechecking_the_language_loses_and_repeats_nothing(pool: WorkerPool, say: Say,
                                                                speech_dir: Path) -> None:
    """With a re-check every 5 s, probes of the other language come and go: segments stay in order, none
    overlaps another, and each keeps its language."""
    wav = write(speech_dir / "probes.wav", word_sequence(say, KNOWN * 6, 16000), 16000)
    engine = VoskSpeechEngine(pool)
    segs = await engine.transcribe_file(wav, language="auto", candidates=("kk", "ru"),
                                        options={"recheck_every_s": 5.0, "probe_min_s": 2.0})
    assert len(segs) >= 6
    assert {s.language for s in segs} == {"kk"}
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end <= b.start + 1e-3
    said = [w.text for s in segs for w in s.words]
    assert said.count("안녕하세요") >= 4


async def test_a_stream_that_cannot_open_harms_nothing(pool: WorkerPool, sentence_wavs: dict[int, Path]) -> None:
    """A stream the worker refuses (here: a language it has no model for) fails alone, clearly, and stops."""
    from asr.session import VoskSpeechSession

    bad = VoskSpeechSession(pool, call_id="bad-lang", language="xx")
    for _ in range(4):
        assert await bad.feed(bytes(3200)) == []
    assert bad.finished and bad.errors and "xx" in bad.errors[0]
    await bad.aclose()
    segs = await VoskSpeechEngine(pool).transcribe_file(sentence_wavs[16000], language="ko")
    assert segs and pool.alive() == 2


async def test_native_rate_option_feeds_8k_to_a_model_that_allows_it(engine: VoskSpeechEngine, det_model: Path,
                                                                     sentence_wavs: dict[int, Path]) -> None:
    """With native_rate the Korean model (--allow-upsample=true) gets 8 kHz as is; times stay in the audio."""
    from asr.audio import model_allows_upsample

    assert model_allows_upsample(det_model)
    segs = await engine.transcribe_file(sentence_wavs[8000], language="ko", options={"native_rate": True})
    x, rate = read_wav(sentence_wavs[8000])
    words = [w for s in segs for w in s.words]
    assert len(words) >= 5
    assert all(0 <= w.start <= w.end <= x.size / rate + FRAME_S for w in words)


@pytest.mark.parametrize("first, then", [("kk", "ru"), ("ru", "kk")])
async def test_a_language_switch_keeps_the_transcript_in_order(det_model: Path, say: Say, speech_dir: Path,
                                                               first: str, then: str) -> None:
    """Words of one stand-in language, then of the other, with a re-check every 5 s: the call switches.

    The stand-ins are phrase-list recognizers of the one real model, and a phrase list makes Vosk sure of
    every word (this model has no "[unk]"), so which probe wins is not a fair test of the choice itself (the
    decision test above and tests/asr/test_language.py cover that). What this checks with real recognizers is
    the switch: the call changes language at least once, every segment keeps the language that heard it,
    and across the switches nothing overlaps or repeats. A pool of its own gives fresh recognizers, so the run
    does not depend on what earlier tests left in the shared pool's recognizers.
    """
    words = {"kk": KNOWN, "ru": OTHERS}
    audio = np.concatenate([word_sequence(say, words[first] * 3, 16000),
                            word_sequence(say, words[then] * 5, 16000)])
    wav = write(speech_dir / f"switch_{first}_{then}.wav", audio, 16000)
    own = WorkerPool({"kk": LanguageModel(str(det_model), KNOWN), "ru": LanguageModel(str(det_model), OTHERS)},
                     workers=1, threads=2)
    own.start()
    try:
        segs = await VoskSpeechEngine(own).transcribe_file(
            wav, language="auto", candidates=("kk", "ru"),
            options={"recheck_every_s": 5.0, "probe_min_s": 2.0, "default_language": then})
    finally:
        await asyncio.to_thread(own.close)
    langs = [s.language for s in segs]
    assert set(langs) == {"kk", "ru"}, f"the call switched language: {langs}"
    for s in segs:
        assert set(w.text for w in s.words) <= set(words[s.language]), "each segment is its recognizer's"
        assert s.text == " ".join(w.text for w in s.words)
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end <= b.start + 1e-3, f"segments overlap across a switch: {a} / {b}"
    assert segs[-1].end <= len(audio) / 16000 + 0.05
