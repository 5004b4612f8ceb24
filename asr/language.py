"""Per-call language decision between Kazakh and Russian: text evidence plus recognizer confidence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asr.base import FinalSegment

KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")

# Frequent words that are Kazakh and not Russian (and the reverse); lowercase, Cyrillic.
KAZAKH_WORDS = frozenset(
    """
    мен сен ол біз сіз олар және бар жоқ емес үшін бұл сол осы деп керек қалай неге қашан қайда кім не
    иә рахмет сәлеметсіз сәлем ия жақсы жаман болды болады болып келді келеді жатыр тұр еді ғой да де ма ме
    ба бе па пе үй көше су жарық жылу газ қала аудан пәтер мектеп бала балалар ауа жол көлік автобус
    ағай апай апа әке ана маған саған оған бізге сізге менің сенің оның біздің сіздің тұрамын тұрады
    шығады шықпайды істемейді жұмыс істейді келмейді жоқпа барма өтінемін көмектесіңіз көмек жедел
    бүгін ертең кеше қазір сағат бір екі үш төрт бес алты жеті сегіз тоғыз он жиырма отыз қырық елу
    алпыс жетпіс сексен тоқсан жүз мың көп аз үлкен кіші жаңа ескі ештеңе барлық әлі тағы енді
    """.split()
)
RUSSIAN_WORDS = frozenset(
    """
    и в не на что я с он как это по но из у за то от так его же вы мы все она они к да нет был
    здравствуйте пожалуйста спасибо алло добрый день вечер утро хорошо можно нужно надо уже еще ещё
    улица улице дом доме квартира квартире подъезд вода воды свет света отопление газа мусор двор
    дороге дорога у нас нам вам меня мне вас когда где почему сегодня вчера завтра сейчас очень
    один два три четыре пять шесть семь восемь девять десять двадцать тридцать сорок пятьдесят
    сто тысяча есть нету давно течет течёт не работает сломался сломалась прорыв авария помогите
    """.split()
)
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class TextEvidence:
    """Counts of Kazakh and Russian markers in a text."""

    kazakh: int
    russian: int
    tokens: int

    @property
    def score(self) -> float:
        """From -1 (clearly Russian) through 0 (no evidence) to +1 (clearly Kazakh)."""
        total = self.kazakh + self.russian
        return 0.0 if total == 0 else (self.kazakh - self.russian) / (total + 1)


def text_evidence(text: str) -> TextEvidence:
    """Count Kazakh markers (Kazakh letters, frequent Kazakh words) and Russian ones in ``text``."""
    kk = ru = 0
    tokens = _TOKEN.findall(text.lower())
    for token in tokens:
        if any(ch in KAZAKH_LETTERS for ch in token) or token in KAZAKH_WORDS:
            kk += 1
        elif token in RUSSIAN_WORDS:
            ru += 1
    return TextEvidence(kk, ru, len(tokens))


def classify_text(text: str, *, mixed_share: float = 0.25) -> str | None:
    """"kk", "ru", "mixed" (both languages well represented) or None when the text has no markers."""
    ev = text_evidence(text)
    total = ev.kazakh + ev.russian
    if total == 0:
        return None
    if min(ev.kazakh, ev.russian) / total >= mixed_share and min(ev.kazakh, ev.russian) >= 2:
        return "mixed"
    return "kk" if ev.kazakh > ev.russian else "ru"


def hypothesis_score(
    language: str, words: Sequence[tuple[str, float]], text: str, *, text_weight: float = 0.35
) -> float:
    """How well one recognizer's output fits: mean word confidence plus the text's agreement with ``language``.

    Unknown-word markers ("[unk]") count as zero confidence. With no words at all the score is 0.
    """
    if not words:
        return 0.0
    conf = sum(0.0 if w == "[unk]" else c for w, c in words) / len(words)
    ev = text_evidence(text).score
    agreement = ev if language == "kk" else -ev if language == "ru" else 0.0
    return conf + text_weight * agreement


@dataclass(slots=True)
class Hypothesis:
    """What one language's recognizer has produced over a decision window."""

    language: str
    words: list[tuple[str, float]]
    text: str

    @classmethod
    def from_results(cls, language: str, results: Iterable[FinalSegment], partial: str = "") -> Hypothesis:
        """Collect words and text from final segments and a pending partial."""
        words: list[tuple[str, float]] = []
        texts: list[str] = []
        for seg in results:
            words.extend((w.text, w.conf) for w in seg.words)
            texts.append(seg.text)
        if partial:
            texts.append(partial)
            words.extend((tok, 0.5) for tok in partial.split())
        return cls(language, words, " ".join(t for t in texts if t))

    @property
    def score(self) -> float:
        """hypothesis_score of this hypothesis."""
        return hypothesis_score(self.language, self.words, self.text)


def choose(hypotheses: Sequence[Hypothesis], *, default: str, current: str | None = None, margin: float = 0.0) -> str:
    """The best-scoring language; ``current`` keeps its place unless beaten by more than ``margin``."""
    scored = {h.language: h.score for h in hypotheses if h.words}
    if not scored:
        return current or default
    best = max(scored, key=lambda lang: (scored[lang], lang == current, lang == default))
    if current is not None and current in scored and best != current and scored[best] - scored[current] <= margin:
        return current
    if current is not None and current not in scored and not scored.get(best, 0.0) > margin:
        return current
    return best
