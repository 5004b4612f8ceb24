"""One call's decoding, run inside a worker: resampling, recognizer leases, typed segments on the call's clock."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from asr.audio import StreamResampler
from asr.base import FinalSegment, PartialSegment, Segment, Word
from asr.language import classify_text
from asr.language_policy import Action, Heard, LanguagePolicy, Phase, PolicyConfig, Verdict
from asr.models import model_version
from asr.recognizers import PooledRecognizer, RecognizerKey, RecognizerPool

logger = logging.getLogger(__name__)

UNDETERMINED = "und"  # a model of unknown language (`callcard transcribe --model DIR`)


@dataclass(frozen=True, slots=True)
class LanguageModel:
    """The model behind one language label, with an optional fixed phrase list."""

    model_dir: str
    grammar: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class DecoderOptions:
    """Knobs of one call's decoding. Times are seconds of call audio."""

    max_utterance_s: float = 25.0  # force an utterance end after this much unbroken speech (bounds memory)
    partial_every_s: float = 0.5  # ask for a partial at most this often
    block_s: float = 0.1  # recognizers get fixed blocks, so results do not depend on how input was chunked
    partials: bool = True
    decide_min_s: float = 3.0  # language decision: at least this much audio...
    decide_min_words: int = 3  # ...and this many words from the leading recognizer
    decide_max_s: float = 10.0  # decide with whatever words there are after this long
    decide_give_up_s: float = 20.0  # no words at all by then: take the default language, re-check later
    recheck_every_s: float = 45.0  # then probe the other language this often
    probe_min_s: float = 4.0
    probe_max_s: float = 8.0
    switch_margin: float = 0.1
    default_language: str = "ru"
    skip_silence_after_s: float | None = 3.0  # past this much unbroken silence, stop decoding it (None: never)
    silence_peak: int = 64  # a block whose samples all stay within this is silence (-54 dBFS)
    native_rate: bool = False  # give 8 kHz straight to models that allow Vosk to upsample (else soxr to their rate)

    def policy(self) -> PolicyConfig:
        """The language policy's share of these options."""
        return PolicyConfig(
            decide_min_s=self.decide_min_s, decide_min_words=self.decide_min_words, decide_max_s=self.decide_max_s,
            decide_give_up_s=self.decide_give_up_s, recheck_every_s=self.recheck_every_s,
            probe_min_s=self.probe_min_s, probe_max_s=self.probe_max_s, switch_margin=self.switch_margin,
        )


class _Lease:
    """A pooled recognizer lent to one call for one language, with the call-time offset of its clock."""

    def __init__(self, pool: RecognizerPool, key: RecognizerKey, language: str, call_base: float) -> None:
        self.pool = pool
        self.language = language
        self.pooled: PooledRecognizer = pool.acquire(key)
        self.rate = key.rate
        self.offset = call_base - self.pooled.seconds  # call time = Vosk time + offset
        self.utt_start = call_base
        self.utt_samples = 0
        self.version = model_version(Path(key.model_dir))
        self.last_partial = ""

    @property
    def now(self) -> float:
        """Call time of the audio this lease has consumed."""
        return self.pooled.seconds + self.offset

    def skip(self, samples: int) -> None:
        """Let ``samples`` of silence pass without decoding them (the call clock still advances).

        Only between utterances (``flush`` first): Vosk times the words of an open utterance when it ends,
        on the offset of that moment, so skipping inside one would move its words by the silence skipped.
        """
        self.offset += samples / self.rate
        if self.utt_samples == 0:
            self.utt_start = self.now

    def jump_to(self, call_time: float) -> None:
        """Audio up to ``call_time`` is missing: the next audio fed is at ``call_time`` (after a flush)."""
        self.offset = call_time - self.pooled.seconds
        self.utt_start = call_time

    def feed(self, pcm: bytes, max_utterance_s: float) -> FinalSegment | None:
        """Decode a chunk; return a final segment when an utterance ended (or was cut)."""
        if not pcm:
            return None
        ended = self.pooled.accept(pcm)
        self.utt_samples += len(pcm) // 2
        if ended:
            return self._final(self.pooled.rec.Result())
        if self.utt_samples / self.rate >= max_utterance_s:
            return self._final(self.pooled.rec.FinalResult())
        return None

    def partial(self) -> str:
        """The current utterance's words so far."""
        return str(json.loads(self.pooled.rec.PartialResult()).get("partial", ""))

    def flush(self) -> FinalSegment | None:
        """End the current utterance; its final segment, if it has words."""
        return self._final(self.pooled.rec.FinalResult())

    def release(self) -> None:
        """Give the recognizer back to the pool."""
        self.pool.release(self.pooled)

    def _final(self, raw: str) -> FinalSegment | None:
        res = json.loads(raw)
        utt_start, self.utt_start, self.utt_samples, self.last_partial = self.utt_start, self.now, 0, ""
        text = str(res.get("text", "")).strip()
        if not text:
            return None
        words = tuple(
            Word(
                str(w["word"]),
                round(float(w["start"]) + self.offset, 4),
                round(float(w["end"]) + self.offset, 4),
                round(float(w.get("conf", 1.0)), 4),
            )
            for w in res.get("result", ())
        )
        language = self.language
        if language == UNDETERMINED:
            guess = classify_text(text)
            language = guess if guess in ("kk", "ru") else UNDETERMINED
        return FinalSegment(
            text=text,
            language=language,
            start=words[0].start if words else round(utt_start, 4),
            end=words[-1].end if words else round(self.now, 4),
            words=words,
            confidence=_mean_conf(words),
            model_version=self.version,
        )


def _mean_conf(words: tuple[Word, ...]) -> float:
    return round(sum(w.conf for w in words) / len(words), 4) if words else 0.0


class CallDecoder:
    """Decodes one call: feed input-rate PCM, get typed segments (partial and final) back, in order.

    Every time is on the call's clock: the first sample fed is at ``start_s``. With ``language="auto"`` all
    languages are decoded for the first seconds; asr.language_policy chooses the best one by confidence and
    Kazakh/Russian text evidence, and has the others probed again every ``recheck_every_s``.
    """

    def __init__(
        self,
        pool: RecognizerPool,
        languages: dict[str, LanguageModel],
        *,
        language: str = "auto",
        input_rate: int = 8000,
        phrases: tuple[str, ...] | None = None,
        options: DecoderOptions | None = None,
        candidates: tuple[str, ...] | None = None,
        start_s: float = 0.0,
    ) -> None:
        if not languages:
            raise ValueError("no language models")
        if language != "auto" and language not in languages:
            raise ValueError(f"language {language!r} has no model (have {sorted(languages)})")
        if language != "auto":
            languages = {language: languages[language]}
        elif candidates:
            unknown = [c for c in candidates if c not in languages]
            if unknown:
                raise ValueError(f"no model for {unknown} (have {sorted(languages)})")
            languages = {c: languages[c] for c in candidates}
        self.pool = pool
        self.options = options or DecoderOptions()
        self.input_rate = input_rate
        self.start_s = start_s
        native = input_rate if self.options.native_rate else None
        self.keys = {
            lang: pool.key_for(lm.model_dir, phrases if phrases else lm.grammar, native)
            for lang, lm in languages.items()
        }
        self._resamplers: dict[int, StreamResampler] = {}
        self._blocks: dict[int, bytearray] = {}
        self._silent: dict[int, int] = {}  # samples of unbroken silence so far, per rate
        self._out_samples: dict[int, int] = {}
        for key in self.keys.values():
            if key.rate not in self._resamplers:
                self._resamplers[key.rate] = StreamResampler(input_rate, key.rate)
                self._out_samples[key.rate] = 0
                self._blocks[key.rate] = bytearray()
                self._silent[key.rate] = 0
        self.input_samples = 0
        self._pending_byte = b""
        self._next_partial = start_s
        self.leases: dict[str, _Lease] = {}
        self.held: dict[str, list[FinalSegment]] = {}
        self.closed = False
        self.policy = LanguagePolicy(tuple(languages), config=self.options.policy(),
                                     default=self.options.default_language, start_s=start_s)
        if self.policy.phase is Phase.DECIDING:
            for lang in languages:
                self._lease(lang)
                self.held[lang] = []
        else:
            self._lease(self.policy.primary)
        self._emitted_end = start_s  # end of the last final segment given out

    # -- public -----------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Call time reached: ``start_s`` plus the audio received and skipped."""
        return self.start_s + self.input_samples / self.input_rate

    @property
    def primary(self) -> str:
        """The language whose segments are given out (while deciding: the default so far)."""
        return self.policy.primary

    @property
    def decisions(self) -> list[tuple[float, str]]:
        """(call time, language) each time the choice was made."""
        return self.policy.decisions

    def accept(self, pcm: bytes) -> list[Segment]:
        """Decode the next chunk of s16le mono PCM at the input rate."""
        if self.closed:
            return []
        data = self._pending_byte + pcm
        if len(data) % 2:
            data, self._pending_byte = data[:-1], data[-1:]
        else:
            self._pending_byte = b""
        if not data:
            return []
        self.input_samples += len(data) // 2
        out: list[Segment] = []
        for rate, resampler in self._resamplers.items():
            buf = self._blocks[rate]
            buf += resampler.process(data)
            block = max(2, int(rate * self.options.block_s) * 2)
            while len(buf) >= block:
                chunk = bytes(buf[:block])
                del buf[:block]
                self._feed_block(rate, chunk, out)
                self._apply(self.policy.step(self.now, self._listen), out)
        if self.options.partials and self.now >= self._next_partial:
            self._next_partial = self.now + self.options.partial_every_s
            self._partial(out)
        return self._in_order(out)

    def skip(self, seconds: float) -> list[Segment]:
        """``seconds`` of the call's audio are missing here: end the utterances in progress (their finals are
        returned), then go on as if that much time had passed. A running language probe ends without a switch;
        while deciding, the held finals stay held until the decision."""
        if self.closed or seconds <= 0:
            return []
        out: list[Segment] = []
        self._drain(out)
        for rate in self._resamplers:
            self._resamplers[rate] = StreamResampler(self.input_rate, rate)
            self._silent[rate] = 0
        for lang, lease in list(self.leases.items()):
            self._collect(lang, lease.flush(), out)
        self._pending_byte = b""
        self.input_samples += round(seconds * self.input_rate)
        for rate in self._out_samples:
            self._out_samples[rate] = round(self.input_samples * rate / self.input_rate)
        for lease in self.leases.values():
            lease.jump_to(self._call_time(lease.rate))
        self._apply(self.policy.cancel_probe(self.now), out)
        self._next_partial = self.now
        return self._in_order(out)

    def finish(self) -> list[Segment]:
        """End of the call: flush the resampler and recognizers; the last final segments."""
        if self.closed:
            return []
        out: list[Segment] = []
        self._drain(out)
        for lang, lease in list(self.leases.items()):
            self._collect(lang, lease.flush(), out)
        self._apply(self.policy.conclude(self.now, self._listen), out)
        self.close()
        return self._in_order(out)

    def close(self) -> None:
        """Return every recognizer to the pool (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for lease in self.leases.values():
            lease.release()
        self.leases.clear()

    # -- internals --------------------------------------------------------------------------------

    def _drain(self, out: list[Segment]) -> None:
        """Decode what the resamplers and block buffers still hold (end of the call, or before a gap)."""
        for rate, resampler in self._resamplers.items():
            buf = self._blocks[rate]
            buf += resampler.flush()
            if buf:
                self._feed_block(rate, bytes(buf), out)
                buf.clear()

    def _in_order(self, out: list[Segment]) -> list[Segment]:
        """Finals never overlap what was already given out.

        A language switch hands the call to a recognizer that heard the same audio; a word it places across the
        switch point is cut to start where the previous language's last word ended (or dropped when it ends
        before that), so the call's transcript stays one ordered line.
        """
        kept: list[Segment] = []
        for seg in out:
            if not isinstance(seg, FinalSegment):
                kept.append(seg)
                continue
            edge = self._emitted_end
            if seg.start < edge - 1e-3 and seg.words:
                words = tuple(replace(w, start=max(w.start, edge)) for w in seg.words if w.end > edge + 1e-3)
                if not words:
                    continue
                seg = replace(seg, words=words, text=" ".join(w.text for w in words), start=words[0].start,
                              confidence=_mean_conf(words))
            self._emitted_end = max(edge, seg.end)
            kept.append(seg)
        return kept

    def _feed_block(self, rate: int, chunk: bytes, out: list[Segment]) -> None:
        n = len(chunk) // 2
        self._out_samples[rate] += n
        skip = False
        limit = self.options.skip_silence_after_s
        if limit is not None:
            if n and int(np.abs(np.frombuffer(chunk, dtype="<i2").astype(np.int32)).max()) <= self.options.silence_peak:
                self._silent[rate] += n
                skip = self._silent[rate] > limit * rate
            else:
                self._silent[rate] = 0
        for lang, lease in list(self.leases.items()):
            if lease.rate == rate:
                if skip:
                    if lease.utt_samples:  # the utterance before the silence ends here, timed where it was
                        self._collect(lang, lease.flush(), out)
                    lease.skip(n)
                else:
                    self._collect(lang, lease.feed(chunk, self.options.max_utterance_s), out)

    def _call_time(self, rate: int) -> float:
        return self.start_s + self._out_samples[rate] / rate

    def _lease(self, lang: str) -> _Lease:
        key = self.keys[lang]
        lease = _Lease(self.pool, key, lang, self._call_time(key.rate))
        self.leases[lang] = lease
        return lease

    def _drop(self, lang: str) -> None:
        lease = self.leases.pop(lang, None)
        if lease is not None:
            lease.release()

    def _collect(self, lang: str, seg: FinalSegment | None, out: list[Segment]) -> None:
        if seg is None:
            return
        phase = self.policy.phase
        if phase is Phase.DECIDED:
            out.append(seg)
        elif phase is Phase.PROBING and lang == self.primary:
            out.append(seg)
            self.held.setdefault(lang, []).append(seg)
        else:
            self.held.setdefault(lang, []).append(seg)

    def _partial(self, out: list[Segment]) -> None:
        lang = self.policy.leader(self._listen)
        lease = self.leases.get(lang)
        if lease is None:
            return
        text = lease.partial()
        if text and text != lease.last_partial:
            lease.last_partial = text
            out.append(PartialSegment(text=text, language=lang, start=round(lease.utt_start, 4)))

    def _listen(self, with_partials: bool) -> list[Heard]:
        """What each active recognizer heard in the policy's window (its pending partial if asked)."""
        return [
            Heard(lang, tuple(self.held.get(lang, ())), lease.partial() if with_partials else "")
            for lang, lease in self.leases.items()
        ]

    def _apply(self, verdict: Verdict, out: list[Segment]) -> None:
        """Carry out the policy's verdict on the recognizers and the held segments."""
        action, lang = verdict.action, verdict.language
        if action is Action.WAIT:
            return
        if action is Action.DECIDE:
            logger.debug("language decided: %s at %.1f s", lang, verdict.at)
            out.extend(self.held.get(lang, ()))
        elif action is Action.PROBE:
            self.held = {lang: []}
            for other in self.keys:
                if other != lang:
                    self._lease(other)
                    self.held[other] = []
            return
        elif action is Action.SWITCH:
            assert verdict.previous is not None
            logger.debug("language switch %s -> %s at %.1f s", verdict.previous, lang, verdict.at)
            last = self.leases[verdict.previous].flush()
            if last is not None:
                out.append(last)
            self._drop(verdict.previous)
            self.leases[lang].flush()  # its words overlap what the old language already gave
        self.held = {}
        for other in list(self.leases):
            if other != lang:
                self._drop(other)
