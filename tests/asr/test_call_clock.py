"""The call's clock with real Vosk decoding: sessions that start late, lost audio skipped, spans of a recording.

Issue 11, cases 4 and 5: a call re-adopted after a restart resumes its stream 17.9 s into the call, frames
dropped under overload leave holes, and the missing spans are decoded again from the recording afterwards,
without overlapping the live segments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr.audio import read_wav
from asr.base import FinalSegment, PartialSegment, Segment, Span
from asr.decoder import CallDecoder, DecoderOptions, LanguageModel
from asr.engine import UnavailableSpeechEngine, VoskSpeechEngine
from asr.language_policy import Phase
from asr.pool import WorkerPool
from asr.recognizers import RecognizerPool
from asr.spans import add_span, clamp_spans, merge_spans
from core.errors import AsrError
from tests.asr.conftest import KNOWN, OTHERS, Say, word_sequence, write

RATE = 8000  # the telephone rate of live calls
WORDS_RATE = 16000  # the phrase-list words (KNOWN) are recognised reliably from 16 kHz espeak audio
FRAME_S = 0.03  # one output frame of this model


@pytest.fixture
def engine(pool: WorkerPool) -> VoskSpeechEngine:
    return VoskSpeechEngine(pool)


def finals_of(segments: list[Segment]) -> list[FinalSegment]:
    return [s for s in segments if isinstance(s, FinalSegment)]


def words_of(segments: list[FinalSegment]) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for s in segments for w in s.words]


async def decode_live(engine: VoskSpeechEngine, x: np.ndarray, *, call_id: str, start_s: float = 0.0,
                      phrases: tuple[str, ...] | None = None, rate: int = RATE) -> list[Segment]:
    """Feed samples in 20 ms frames like a live call, then finish."""
    session = engine.open_session(call_id=call_id, language="ko", start_s=start_s, phrases=phrases,
                                  sample_rate=rate)
    out: list[Segment] = []
    data = x.tobytes()
    frame = rate // 50 * 2
    for i in range(0, len(data), frame):
        out += await session.feed(data[i:i + frame])
    out += await session.finish()
    await session.aclose()
    return out


def call_audio(say: Say, duration_s: float, speech: dict[float, tuple[str, ...]]) -> np.ndarray:
    """``duration_s`` of silence with the given words spoken from the given call times on (16 kHz)."""
    x = np.zeros(int(duration_s * WORDS_RATE), dtype=np.int16)
    for at, words in speech.items():
        part = word_sequence(say, words, WORDS_RATE)
        x[int(at * WORDS_RATE):int(at * WORDS_RATE) + part.size] = part
    return x


# -- 1. a stream that starts part-way through the call ---------------------------------------------------


async def test_a_session_started_late_is_timed_on_the_call_clock(engine: VoskSpeechEngine,
                                                                 sentence_wavs: dict[int, Path]) -> None:
    """The same audio decoded from call time 0 and from 17.9 s (a re-adopted call): the same words, every
    final and partial moved by exactly 17.9 s."""
    x, _ = read_wav(sentence_wavs[RATE])
    base = await decode_live(engine, x, call_id="clock-0")
    late = await decode_live(engine, x, call_id="clock-17.9", start_s=17.9)
    base_words, late_words = words_of(finals_of(base)), words_of(finals_of(late))
    assert len(base_words) >= 5
    assert [w for w, _, _ in late_words] == [w for w, _, _ in base_words]
    for (_, s0, e0), (_, s1, e1) in zip(base_words, late_words, strict=True):
        assert s1 - s0 == pytest.approx(17.9, abs=2e-4) and e1 - e0 == pytest.approx(17.9, abs=2e-4)
    late_finals = finals_of(late)
    assert late_finals[0].start >= 17.9
    assert [t for f in late_finals for t in (f.start, f.end)] == pytest.approx(
        [t + 17.9 for f in finals_of(base) for t in (f.start, f.end)], abs=2e-4)
    partials = [s for s in late if isinstance(s, PartialSegment)]
    assert partials and all(p.start >= 17.9 for p in partials)


async def test_the_worker_sends_typed_segments_on_the_call_clock(pool: WorkerPool,
                                                                 sentence_wavs: dict[int, Path]) -> None:
    """One segment shape from decoding to the caller: asr.base dataclasses come through the pipe as they are."""
    x, _ = read_wav(sentence_wavs[RATE])
    handle = pool.open_stream(language="ko", input_rate=RATE, call_id="typed", start_s=42.0)
    try:
        got = await pool.request(handle, "feed", x.tobytes()) + await pool.request(handle, "finish")
    finally:
        pool.close_stream(handle)
    assert got and all(type(s) in (FinalSegment, PartialSegment) for s in got)
    finals = finals_of(got)
    assert finals and all(f.start >= 42.0 and f.words and f.model_version for f in finals)
    assert all(42.0 <= w.start <= w.end <= 42.0 + x.size / RATE + FRAME_S for f in finals for w in f.words)


async def test_skipping_silence_does_not_move_the_words_before_it(engine: VoskSpeechEngine,
                                                                   sentence_wavs: dict[int, Path],
                                                                   speech_dir: Path) -> None:
    """Long silence is not decoded (skip_silence_after_s), but the call clock runs on: the words said before
    it keep their times, as they are when every block of the silence is decoded. (The utterance open when
    the silence starts is ended there; Vosk times its words only when it ends.)"""
    sentence, _ = read_wav(sentence_wavs[RATE])
    x = np.zeros(24 * RATE, dtype=np.int16)
    x[RATE:RATE + sentence.size] = sentence
    x[16 * RATE:16 * RATE + sentence.size] = sentence
    wav = write(speech_dir / "long_silence.wav", x, RATE)
    skipping = words_of(await engine.transcribe_file(wav, language="ko"))
    decoding_all = words_of(await engine.transcribe_file(wav, language="ko", options={"skip_silence_after_s": None}))
    speech_end = 1.0 + sentence.size / RATE
    spoken = [w for w in decoding_all if w[2] <= speech_end + FRAME_S]  # the words inside the first sentence
    assert len(spoken) >= 5
    got = [w for w in skipping if w[1] < 12.0]
    assert [w for w, _, _ in got[:len(spoken)]] == [w for w, _, _ in spoken]
    for (_, s1, e1), (_, s2, e2) in zip(got, spoken, strict=False):
        assert abs(s1 - s2) <= FRAME_S and abs(e1 - e2) <= FRAME_S
    # the utterance open when the silence began ends when skipping starts (3 s in), not after the silence
    assert all(w[2] <= speech_end + 3.0 + FRAME_S for w in got)
    assert all(w[1] < 12.0 or w[1] >= 16.0 - FRAME_S for w in skipping), "nothing placed in the silence"


# -- 2. lost audio is skipped ------------------------------------------------------------------------------


async def test_skip_flushes_moves_the_clock_and_records_the_gap(engine: VoskSpeechEngine, say: Say) -> None:
    """Speech, then 7.5 s of frames lost, then more speech: what was heard before the loss comes out at
    the skip exactly as if the call had ended there; what follows is on the call's clock, as if decoded
    from where it really was; the lost span is in ``gaps``."""
    rate = WORDS_RATE
    before = say(KNOWN[2], rate)  # ends mid-utterance: no pause after it
    after = word_sequence(say, KNOWN, rate)
    lost_s = 7.5
    resume = before.size / rate + lost_s

    session = engine.open_session(call_id="skip", language="ko", phrases=KNOWN, sample_rate=rate)
    heard: list[Segment] = []
    data = before.tobytes()
    for i in range(0, len(data), 640):
        heard += await session.feed(data[i:i + 640])
    at_skip = list(await session.skip(lost_s))
    assert finals_of(at_skip), "the utterance in progress is flushed at the skip"
    before_skip = finals_of(heard) + finals_of(at_skip)
    heard = []
    data = after.tobytes()
    for i in range(0, len(data), 640):
        heard += await session.feed(data[i:i + 640])
    heard += await session.finish()
    await session.aclose()

    only_before = finals_of(await decode_live(engine, before, call_id="before", phrases=KNOWN, rate=rate))
    assert [w for w, _, _ in words_of(before_skip)] == [w for w, _, _ in words_of(only_before)] == [KNOWN[2]]
    for (_, s1, e1), (_, s2, e2) in zip(words_of(before_skip), words_of(only_before), strict=True):
        assert abs(s1 - s2) <= FRAME_S and abs(e1 - e2) <= FRAME_S
    later = finals_of(heard)
    only_after = finals_of(await decode_live(engine, after, call_id="after", start_s=resume, phrases=KNOWN,
                                             rate=rate))
    assert [w for w, _, _ in words_of(later)] == [w for w, _, _ in words_of(only_after)] == list(KNOWN)
    for (_, s1, e1), (_, s2, e2) in zip(words_of(later), words_of(only_after), strict=True):
        assert abs(s1 - s2) <= FRAME_S and abs(e1 - e2) <= FRAME_S
    assert all(f.start >= resume - 1e-3 for f in later), (resume, later)
    assert session.gaps == (Span(round(before.size / rate, 3), round(resume, 3)),)
    assert session.seconds == pytest.approx(resume + after.size / rate)


async def test_skip_on_an_idle_or_ended_session_changes_nothing(engine: VoskSpeechEngine) -> None:
    session = engine.open_session(call_id="skip-edge", language="ko", start_s=3.0)
    assert await session.skip(0.0) == [] and await session.skip(-1.0) == []
    assert session.gaps == () and session.seconds == 3.0
    assert await session.skip(2.0) == []  # nothing heard yet: nothing to flush
    assert await session.skip(1.0) == []
    assert session.gaps == (Span(3.0, 6.0),), "adjacent lost spans merge"
    await session.finish()
    assert await session.skip(5.0) == [] and session.gaps == (Span(3.0, 6.0),)
    await session.aclose()


def test_skip_keeps_the_language_decision_and_ends_a_probe(det_model: Path, say: Say) -> None:
    """Inside the decoder: a call decided as "kk" stays decided across lost audio (no new decision, no
    held segments), a probe running when audio is lost ends without a switch, and times run on."""
    rpool = RecognizerPool(max_idle_per_key=2, max_idle_total=4, idle_ttl_s=0)
    languages = {"kk": LanguageModel(str(det_model), KNOWN), "ru": LanguageModel(str(det_model), OTHERS)}
    options = DecoderOptions(recheck_every_s=12.0, probe_min_s=30.0, probe_max_s=60.0)
    rate = WORDS_RATE
    decoder = CallDecoder(rpool, languages, language="auto", input_rate=rate, options=options, start_s=100.0)
    try:
        speech = word_sequence(say, KNOWN * 2, rate)
        out = decoder.accept(speech.tobytes())
        assert decoder.policy.phase is Phase.DECIDED and decoder.decisions[0][1] == "kk"
        assert decoder.decisions[0][0] >= 103.0, "decided on the call clock"
        decided = list(decoder.decisions)
        out += decoder.skip(5.0)
        assert decoder.now == pytest.approx(100.0 + speech.size / rate + 5.0)
        resume = decoder.now
        more = decoder.accept(word_sequence(say, KNOWN, rate).tobytes())
        finals = finals_of(more)
        assert finals and all(f.language == "kk" and f.start >= resume for f in finals), "given out at once"
        assert decoder.decisions == decided
        while decoder.policy.phase is not Phase.PROBING:  # up to the next re-check
            decoder.accept(np.zeros(rate // 2, np.int16).tobytes())
        assert set(decoder.leases) == {"kk", "ru"}
        decoder.skip(1.0)
        assert decoder.policy.phase is Phase.DECIDED and set(decoder.leases) == {"kk"}
        assert decoder.decisions == decided
        out += decoder.finish()
        ends = [f.end for f in finals_of(out)]
        assert ends == sorted(ends)
    finally:
        decoder.close()


# -- 3. decoding only the missing spans of a recording ---------------------------------------------------


SENTENCES_AT = (1.0, 18.5)  # call times at which the recording's two sentences begin


@pytest.fixture(scope="module")
def recording(sentence_wavs: dict[int, Path], speech_dir: Path) -> tuple[Path, float]:
    """A 30 s call (8 kHz): the test sentence at 1.0 s and again at 18.5 s; the call was re-adopted at 17.9 s."""
    sentence, _ = read_wav(sentence_wavs[RATE])
    x = np.zeros(30 * RATE, dtype=np.int16)
    for at in SENTENCES_AT:
        x[int(at * RATE):int(at * RATE) + sentence.size] = sentence
    return write(speech_dir / "readopted.wav", x, RATE), x.size / RATE


async def test_a_readopted_call_is_whole_and_without_overlap(engine: VoskSpeechEngine,
                                                            recording: tuple[Path, float]) -> None:
    """Case 4: live decoding resumes at 17.9 s on the call's clock; after hang-up only the missing 0-17.9 s
    is decoded from the recording. The live segments sit where the second sentence really is (not 17.9 s
    early), the recovered ones are exactly what decoding the whole recording gives for that part, and no
    segment of one overlaps the other."""
    wav, duration = recording
    x, _ = read_wav(wav)
    live = finals_of(await decode_live(engine, x[int(17.9 * RATE):], call_id="readopted", start_s=17.9))
    recovered = await engine.transcribe_file(wav, language="ko", spans=[Span(0.0, 17.9)])
    whole = await engine.transcribe_file(wav, language="ko")
    assert len(words_of(live)) >= 5 and len(words_of(recovered)) >= 5
    assert SENTENCES_AT[1] - FRAME_S <= live[0].start <= SENTENCES_AT[1] + 0.2, "on the call's clock"
    assert all(17.9 <= s.start <= s.end <= duration + FRAME_S for s in live)
    assert all(0.0 <= s.start <= s.end <= 17.9 for s in recovered)
    assert max(s.end for s in recovered) <= min(s.start for s in live), "no overlap"
    assert words_of(recovered) == [w for w in words_of(whole) if w[1] < 17.9]
    # the live part heard the same sentence: about as many words, starting and ending where the whole
    # recording's second sentence does
    second = [w for w in words_of(whole) if w[1] >= 17.9]
    assert len(words_of(live)) >= len(second) // 2
    assert abs(words_of(live)[0][1] - second[0][1]) <= 0.2 and abs(words_of(live)[-1][2] - second[-1][2]) <= 0.2


async def test_spans_are_clamped_merged_and_decoded_alone(engine: VoskSpeechEngine,
                                                         recording: tuple[Path, float]) -> None:
    wav, duration = recording
    whole = await engine.transcribe_file(wav, language="ko")
    late = await engine.transcribe_file(wav, language="ko", spans=[Span(17.0, 1000.0)])
    assert len(words_of(late)) >= 5
    assert all(17.0 <= s.start <= s.end <= duration for s in late), "a span past the end is cut to the file"
    early = await engine.transcribe_file(wav, language="ko", spans=[Span(-5.0, 1.0), Span(0.5, 9.0)])
    assert len(words_of(early)) >= 5
    assert all(0.0 <= w.start <= w.end <= 9.0 for s in early for w in s.words), "overlapping spans merge"
    assert [w for w, _, _ in words_of(early)] == [w for w, s, _ in words_of(whole) if s < 9.0]
    assert await engine.transcribe_file(wav, language="ko", spans=[Span(40.0, 50.0)]) == []
    assert await engine.transcribe_file(wav, language="ko", spans=[]) == []
    two = await engine.transcribe_file(wav, language="ko", spans=[Span(17.0, 26.5), Span(0.0, 9.0)])
    assert all((0.0 <= s.start and s.end <= 9.0) or (17.0 <= s.start and s.end <= 26.5) for s in two)
    assert [w for s in two for w in s.words if w.end <= 9.0] == [w for s in early for w in s.words]
    assert len([w for s in two for w in s.words if w.start >= 17.0]) >= 5
    starts = [s.start for s in two]
    assert starts == sorted(starts)


async def test_a_span_with_no_speech_gives_nothing(engine: VoskSpeechEngine, recording: tuple[Path, float]) -> None:
    wav, _ = recording
    assert await engine.transcribe_file(wav, language="ko", spans=[Span(11.0, 17.0)]) == []


# -- 4. an engine without models -------------------------------------------------------------------------


async def test_the_engine_without_models_keeps_the_clock_too(sentence_wavs: dict[int, Path]) -> None:
    engine = UnavailableSpeechEngine(["ru", "kk"])
    session = engine.open_session(call_id="none", start_s=17.9)
    assert await session.feed(bytes(RATE * 2)) == []  # 1 s
    assert await session.skip(2.5) == []
    assert await session.finish() == []
    assert session.gaps == (Span(18.9, 21.4),)
    with pytest.raises(AsrError, match="models missing"):
        await engine.transcribe_file(sentence_wavs[RATE], spans=[Span(0.0, 1.0)])
    assert await engine.redecode(sentence_wavs[RATE], spans=[Span(0.0, 1.0)]) is None


def test_span_arithmetic() -> None:
    assert merge_spans([Span(5, 6), Span(0, 1), Span(0.5, 2), Span(3, 3)]) == [Span(0, 2), Span(5, 6)]
    assert merge_spans([Span(0, 1), Span(1.2, 2)], join_within_s=0.5) == [Span(0, 2)]
    assert clamp_spans([Span(-1, 2), Span(9, 12), Span(20, 30)], duration=10.0) == [Span(0, 2), Span(9, 10)]
    gaps: list[Span] = []
    add_span(gaps, Span(4, 5))
    add_span(gaps, Span(1, 2))
    add_span(gaps, Span(4.5, 7))
    add_span(gaps, Span(8, 8))
    assert gaps == [Span(1, 2), Span(4, 7)] and Span(4, 7).duration == 3
