"""One call's decoding, run inside a worker: resampling, recognizer leases, language decision, segment dicts."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asr.audio import StreamResampler
from asr.language import Hypothesis, choose, classify_text
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
        """Let ``samples`` of silence pass without decoding them (the call clock still advances)."""
        self.offset += samples / self.rate

    def feed(self, pcm: bytes, max_utterance_s: float) -> dict[str, object] | None:
        """Decode a chunk; return a final segment dict when an utterance ended (or was cut)."""
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

    def flush(self) -> dict[str, object] | None:
        """End the current utterance; its final segment dict, if it has words."""
        return self._final(self.pooled.rec.FinalResult())

    def release(self) -> None:
        """Give the recognizer back to the pool."""
        self.pool.release(self.pooled)

    def _final(self, raw: str) -> dict[str, object] | None:
        res = json.loads(raw)
        utt_start, self.utt_start, self.utt_samples, self.last_partial = self.utt_start, self.now, 0, ""
        text = str(res.get("text", "")).strip()
        if not text:
            return None
        words: list[list[Any]] = [
            [
                str(w["word"]),
                round(float(w["start"]) + self.offset, 4),
                round(float(w["end"]) + self.offset, 4),
                round(float(w.get("conf", 1.0)), 4),
            ]
            for w in res.get("result", ())
        ]
        language = self.language
        if language == UNDETERMINED:
            guess = classify_text(text)
            language = guess if guess in ("kk", "ru") else UNDETERMINED
        return {
            "kind": "final",
            "language": language,
            "text": text,
            "start": words[0][1] if words else round(utt_start, 4),
            "end": words[-1][2] if words else round(self.now, 4),
            "words": words,
            "confidence": round(sum(w[3] for w in words) / len(words), 4) if words else 0.0,
            "model_version": self.version,
        }


class CallDecoder:
    """Decodes one call: feed input-rate PCM, get segment dicts ("partial"/"final") back, in order.

    With ``language="auto"`` all languages are decoded for the first seconds; the best one by confidence
    and Kazakh/Russian text evidence is kept, and the others are probed again every ``recheck_every_s``.
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
        self._next_partial = 0.0
        self.leases: dict[str, _Lease] = {}
        self.held: dict[str, list[dict[str, object]]] = {}
        self.closed = False
        default = self.options.default_language if self.options.default_language in languages else next(iter(languages))
        if language != "auto" or len(languages) == 1:
            self.state = "single"
            self.primary = language if language != "auto" else next(iter(languages))
            self._lease(self.primary)
        else:
            self.state = "deciding"
            self.primary = default
            for lang in languages:
                self._lease(lang)
                self.held[lang] = []
        self.window_start = 0.0
        self.next_check = self.options.recheck_every_s
        self.decisions: list[tuple[float, str]] = []  # (call time, language) each time the choice changed
        self._emitted_end = 0.0  # end of the last final segment given out

    # -- public -----------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Seconds of call audio received."""
        return self.input_samples / self.input_rate

    def accept(self, pcm: bytes) -> list[dict[str, object]]:
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
        out: list[dict[str, object]] = []
        for rate, resampler in self._resamplers.items():
            buf = self._blocks[rate]
            buf += resampler.process(data)
            block = max(2, int(rate * self.options.block_s) * 2)
            while len(buf) >= block:
                chunk = bytes(buf[:block])
                del buf[:block]
                self._feed_block(rate, chunk, out)
                self._advance(out)
        if self.options.partials and self.now >= self._next_partial:
            self._next_partial = self.now + self.options.partial_every_s
            self._partial(out)
        return self._in_order(out)

    def finish(self) -> list[dict[str, object]]:
        """End of the call: flush the resampler and recognizers; the last final segments."""
        if self.closed:
            return []
        out: list[dict[str, object]] = []
        for rate, resampler in self._resamplers.items():
            buf = self._blocks[rate]
            buf += resampler.flush()
            if buf:
                self._feed_block(rate, bytes(buf), out)
                buf.clear()
        for lang, lease in list(self.leases.items()):
            self._collect(lang, lease.flush(), out)
        if self.state == "deciding":
            self._decide(out, final=True)
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

    def _in_order(self, out: list[dict[str, object]]) -> list[dict[str, object]]:
        """Finals never overlap what was already given out.

        A language switch hands the call to a recognizer that heard the same audio; a word it places across the
        switch point is cut to start where the previous language's last word ended (or dropped when it ends
        before that), so the call's transcript stays one ordered line.
        """
        kept: list[dict[str, object]] = []
        for seg in out:
            if seg.get("kind") != "final":
                kept.append(seg)
                continue
            edge = self._emitted_end
            words = seg["words"]
            assert isinstance(words, list)
            if float(seg["start"]) < edge - 1e-3 and words:  # type: ignore[arg-type]
                words = [[w[0], max(w[1], edge), w[2], w[3]] for w in words if w[2] > edge + 1e-3]
                if not words:
                    continue
                seg = {
                    **seg,
                    "words": words,
                    "text": " ".join(str(w[0]) for w in words),
                    "start": words[0][1],
                    "confidence": round(sum(w[3] for w in words) / len(words), 4),
                }
            self._emitted_end = max(edge, float(seg["end"]))  # type: ignore[arg-type]
            kept.append(seg)
        return kept

    def _feed_block(self, rate: int, chunk: bytes, out: list[dict[str, object]]) -> None:
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
                    lease.skip(n)
                else:
                    self._collect(lang, lease.feed(chunk, self.options.max_utterance_s), out)

    def _call_time(self, rate: int) -> float:
        return self._out_samples[rate] / rate

    def _lease(self, lang: str) -> _Lease:
        key = self.keys[lang]
        lease = _Lease(self.pool, key, lang, self._call_time(key.rate))
        self.leases[lang] = lease
        return lease

    def _drop(self, lang: str) -> None:
        lease = self.leases.pop(lang, None)
        if lease is not None:
            lease.release()

    def _collect(self, lang: str, seg: dict[str, object] | None, out: list[dict[str, object]]) -> None:
        if seg is None:
            return
        if self.state == "single":
            out.append(seg)
        elif self.state == "probing" and lang == self.primary:
            out.append(seg)
            self.held.setdefault(lang, []).append(seg)
        else:
            self.held.setdefault(lang, []).append(seg)

    def _partial(self, out: list[dict[str, object]]) -> None:
        lang = self.primary if self.state != "deciding" else self._leader()
        lease = self.leases.get(lang)
        if lease is None:
            return
        text = lease.partial()
        if text and text != lease.last_partial:
            lease.last_partial = text
            out.append({"kind": "partial", "language": lang, "text": text, "start": round(lease.utt_start, 4)})

    def _hypotheses(self, partials: bool = False) -> list[Hypothesis]:
        """Each language's evidence so far: its final segments (and its pending partial if asked)."""
        return [
            Hypothesis.from_results(lang, self.held.get(lang, ()), lease.partial() if partials else "")
            for lang, lease in self.leases.items()
        ]

    def _leader(self) -> str:
        hyps = self._hypotheses()
        return choose(hyps, default=self.primary)

    def _advance(self, out: list[dict[str, object]]) -> None:
        opts = self.options
        if self.state == "deciding":
            elapsed = self.now - self.window_start
            if elapsed < opts.decide_min_s:
                return
            hyps = self._hypotheses()
            most = max(len(h.words) for h in hyps)
            if most >= opts.decide_min_words:
                self._decide(out)
            elif elapsed >= opts.decide_max_s and (most > 0 or any(h.words for h in self._hypotheses(True))):
                self._decide(out, partials=True)
            elif elapsed >= opts.decide_give_up_s:
                self._decide(out)
        elif self.state == "single" and len(self.keys) > 1 and self.now >= self.next_check:
            self.state = "probing"
            self.window_start = self.now
            self.held = {self.primary: []}
            for lang in self.keys:
                if lang != self.primary:
                    self._lease(lang)
                    self.held[lang] = []
        elif self.state == "probing":
            elapsed = self.now - self.window_start
            others = [h for h in self._hypotheses() if h.language != self.primary]
            has_words = any(h.words for h in others)
            probed = any(self.held.get(h.language) for h in others)
            if elapsed >= opts.probe_max_s or (elapsed >= opts.probe_min_s and probed):
                self._end_probe(out, has_words)

    def _decide(self, out: list[dict[str, object]], final: bool = False, partials: bool = False) -> None:
        """Keep the best language: emit its held finals, release the others."""
        hyps = self._hypotheses(partials)
        winner = choose(hyps, default=self.primary)
        self.primary = winner
        self.decisions.append((round(self.now, 3), winner))
        logger.debug("language decided: %s at %.1f s", winner, self.now)
        out.extend(self.held.get(winner, ()))
        self.held = {}
        for lang in list(self.leases):
            if lang != winner:
                self._drop(lang)
        self.state = "single"
        self.next_check = self.now + self.options.recheck_every_s

    def _end_probe(self, out: list[dict[str, object]], has_words: bool) -> None:
        """Compare the probed languages with the current one over the probe window; switch if clearly better."""
        primary_lease = self.leases[self.primary]
        hyps = [Hypothesis.from_results(self.primary, self.held.get(self.primary, ()), primary_lease.partial())]
        hyps += [
            Hypothesis.from_results(lang, self.held.get(lang, ()), lease.partial())
            for lang, lease in self.leases.items()
            if lang != self.primary
        ]
        winner = choose(hyps, default=self.primary, current=self.primary, margin=self.options.switch_margin)
        if winner != self.primary and has_words:
            logger.debug("language switch %s -> %s at %.1f s", self.primary, winner, self.now)
            self.state = "single"
            last = primary_lease.flush()
            if last is not None:
                out.append(last)
            self._drop(self.primary)
            self.leases[winner].flush()  # its words overlap what the old language already gave
            self.primary = winner
            self.decisions.append((round(self.now, 3), winner))
        for lang in list(self.leases):
            if lang != self.primary:
                self._drop(lang)
        self.held = {}
        self.state = "single"
        self.next_check = self.now + self.options.recheck_every_s
