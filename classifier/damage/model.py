"""The damage model: turn a clean utterance into what Vosk could have written for it, with per-word confidences.

Error types and what each imitates (letter tables in ``confusions``):

- deletion: a word is not written. Short function words (prepositions, particles, postpositions) are dropped
  ``function_word_factor`` times as often as others: they carry little energy and are swallowed between content
  words on telephone audio.
- substitution, one of
  - voicing: one voiced/voiceless letter swapped ("бес" -> "без"), the band-limited channel losing the voicing bar;
  - vowel: one vowel swapped ("батарея" -> "батория", "вы" -> "ви"), unstressed reduction and the Kazakh vowel
    pairs;
  - ending: the last one or two letters lost, sometimes with a vowel changed too ("жиырма" -> "жиыр", "жиырмо";
    Vosk's "жыру" is of this kind): word ends are the least stressed part of the word;
  - vocabulary: a real other word of the same language that starts alike, the language model preferring a
    frequent word (only when a vocabulary is passed in; otherwise another kind is drawn);
  - number words: a letter wrong in a number word ("он бір" -> "ан бір", "жиырма бес" -> "жиырма без"), at their
    own, higher rate: numbers are short, unpredictable for the language model and said fast.
- Kazakh folding (kk and mixed only): the Kazakh letters of a word written as their Russian neighbours.
- merge: a word glued to the next one ("кенесары қырық" -> "кенесарықырық"), the decoder missing a word boundary;
  twice as likely before a number word or a short word.
- split: a long word (8+ letters) cut in two ("подъездте" -> "подъ ездте"), a boundary inserted inside it.
- insertion: a filler written after a word ("ээ", "мм", "ну", "әлгі", "иә"), hesitations turned into words.

Sources: the quoted examples ("батареи"/"батореи", "жыру", "кенесарықырық", "ан бір", "жиырма без") are Vosk
outputs given by the classifier's lead; vowel reduction and final devoicing as the main letter-level confusions of
Russian recognisers: Karpov, Kipyatkova, Ronzhin, "Speech recognition for East Slavic languages: the case of
Russian" (SLTU 2012) and Smirnov et al., "A Russian keyword spotting system based on LVCSR and linguistic
knowledge" (J. Electrical and Computer Engineering, 2016, on telecom audio); the 300-3400 Hz telephone band: ITU-T
G.712. The rates themselves are not measured on Vosk: they are shares chosen to look like typical ASR error mixes
(substitutions most, then deletions, few insertions) and are scaled to the target WER.

Output: only lower-case letters and single spaces; digits and other characters of the input are dropped (Vosk
writes numbers as words, and the corpus holds no digits). Each output word carries a confidence drawn from a Beta
distribution, like Vosk's "conf": intact words high, damaged words lower but overlapping, inserted fillers low.

Every rate is a base rate multiplied by one knob; the knob per language and target WER is solved once by
``python -m classifier.damage --calibrate`` and stored in ``calibration.KNOBS``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from classifier.base import HeardWord  # what Vosk gives per word (word, confidence)
from classifier.damage.confusions import FUNCTION_WORDS, KAZAKH_LETTERS, fillers_for
from classifier.damage.rates import BASE_RATES, ConfidenceShapes, ErrorRates
from classifier.damage.words import Substitutions, Vocabulary, clean_words, fold_kazakh, is_number_word

LANGUAGES = ("ru", "kk", "mixed")


@dataclass(frozen=True, slots=True)
class Damaged:
    """A damaged transcript: the space-joined words and each word with its confidence."""

    text: str
    words: tuple[HeardWord, ...]


MIN_SPLIT_LENGTH = 8


@dataclass(slots=True)
class _Token:
    word: str
    damaged: bool
    filler: bool = False


@dataclass(frozen=True, slots=True)
class _Draws:
    """The uniforms of one input word, drawn whatever the rates: a higher knob only adds errors (bisection)."""

    delete: float
    substitute: float
    fold: float
    merge: float
    split: float
    insert: float
    detail: int  # seeds the choices inside an error (which letter, which filler)

    @classmethod
    def drawn(cls, rng: random.Random) -> _Draws:
        delete, substitute, fold, merge, split, insert = (rng.random() for _ in range(6))
        return cls(delete, substitute, fold, merge, split, insert, detail=rng.getrandbits(32))


class DamageModel:
    """Vosk-like recognition errors at a target corpus word error rate (0.2, 0.3, 0.4 are calibrated points)."""

    def __init__(
        self,
        wer: float,
        seed: int = 0,
        *,
        vocabulary: Vocabulary | None = None,
        confidence: ConfidenceShapes | None = None,
    ) -> None:
        from classifier.damage.calibration import knob_for

        if not 0.0 <= wer < 1.0:
            raise ValueError(f"wer must be in [0, 1), got {wer}")
        self.wer = wer
        self.seed = seed
        self.confidence = confidence or ConfidenceShapes()
        self._substitutions = Substitutions(vocabulary)
        self._rates = {lang: BASE_RATES.scaled(knob_for(wer, lang)) for lang in LANGUAGES}

    @classmethod
    def with_knob(cls, knob: float, seed: int = 0) -> DamageModel:
        """A model whose base rates are scaled by ``knob`` in every language (calibration only)."""
        model = cls(0.0, seed)
        model._rates = {lang: BASE_RATES.scaled(knob) for lang in LANGUAGES}
        return model

    def damage(self, text: str, language: str) -> Damaged:
        """The damaged transcript of ``text``; the same (seed, text, language) always gives the same result."""
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
        rates = self._rates[language]
        digest = hashlib.blake2b(f"{self.seed}\x00{language}\x00{text}".encode(), digest_size=8).digest()
        rng = random.Random(int.from_bytes(digest, "big"))
        words = clean_words(text)
        draws = [_Draws.drawn(rng) for _ in words]
        tokens = self._boundary_pass(self._words_pass(words, draws, rates, language), rates)
        conf_rng = random.Random(rng.getrandbits(64))
        heard = tuple(HeardWord(t.word, round(self._confidence(t, conf_rng), 3)) for t in tokens)
        return Damaged(" ".join(h.word for h in heard), heard)

    def _words_pass(
        self, words: list[str], draws: list[_Draws], rates: ErrorRates, language: str
    ) -> list[tuple[_Token, _Draws]]:
        kazakh_ok = language != "ru"
        fillers = fillers_for(language)
        out: list[tuple[_Token, _Draws]] = []
        for word, d in zip(words, draws, strict=True):
            detail = random.Random(d.detail)
            p_delete = rates.deletion * (rates.function_word_factor if word in FUNCTION_WORDS else 1.0)
            if d.delete >= p_delete:
                form = word
                if kazakh_ok and d.fold < rates.kk_fold and KAZAKH_LETTERS & set(form):
                    form = fold_kazakh(form)
                numeric = is_number_word(word)
                if d.substitute < (rates.number_word if numeric else rates.substitution):
                    form = self._substitutions.substitute(form, numeric, language, detail)
                out.append((_Token(form, damaged=form != word), d))
            if d.insert < rates.insertion:
                out.append((_Token(detail.choice(fillers), damaged=True, filler=True), d))
        return out

    def _boundary_pass(self, tokens: list[tuple[_Token, _Draws]], rates: ErrorRates) -> list[_Token]:
        out: list[_Token] = []
        i = 0
        while i < len(tokens):
            token, d = tokens[i]
            if i + 1 < len(tokens) and not token.filler and not tokens[i + 1][0].filler:
                following = tokens[i + 1][0].word
                factor = 2.0 if is_number_word(following) or len(following) <= 3 else 1.0
                if d.merge < rates.merge * factor:
                    out.append(_Token(token.word + following, damaged=True))
                    i += 2
                    continue
            if len(token.word) >= MIN_SPLIT_LENGTH and d.split < rates.split:
                cut = random.Random(d.detail + 1).randint(3, len(token.word) - 3)
                out += [_Token(token.word[:cut], damaged=True), _Token(token.word[cut:], damaged=True)]
            else:
                out.append(token)
            i += 1
        return out

    def _confidence(self, token: _Token, rng: random.Random) -> float:
        if token.filler:
            shape = self.confidence.filler
        elif token.damaged:
            shape = self.confidence.damaged
        else:
            shape = self.confidence.intact
        return rng.betavariate(shape.alpha, shape.beta)
