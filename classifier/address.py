"""Address extraction from speech: street (against streets.yaml), house, building, apartment, district, landmark."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from classifier.base import Address, HeardWord, HouseStatus
from classifier.normalize import kk_fold, normalize
from classifier.numbers import SLASH_WORDS, NumberReading, NumberSpan, find_numbers, number_word, sounds_like_number
from classifier.phonetic import phonetic_key
from classifier.street_match import MIN_KEY_LETTERS, MIN_TYPED_KEY_LETTERS, SoundIndex, sounds_like
from classifier.token_repair import TokenRepair, common_words
from core.errors import ClassifierError

logger = logging.getLogger(__name__)


def default_streets_path() -> Path:
    """The street list shipped in the package."""
    return Path(str(resources.files("classifier") / "data" / "streets.yaml"))


# Words that name the kind of street; removed from a street's spoken form to get its core name.
STREET_TYPE_WORDS = frozenset({
    "проспект", "проспекта", "проспекте", "проспекту", "пр", "улица", "улице", "улицы", "улицу", "ул", "шоссе",
    "трасса", "трассе", "трассы", "бульвар", "бульваре", "бульвара", "микрорайон", "микрорайона", "микрорайоне",
    "мкр", "мкрн", "массив", "массиве", "поселок", "поселке", "жилой", "жилом", "переулок", "переулке", "на",
    "в", "даңғылы", "даңғылында", "даңғылындағы", "даңғылының", "даңғылына", "көшесі", "көшесінде",
    "көшесіндегі", "көшесінің", "көшесіне", "көше", "көшеде", "шағын", "ауданы", "ауданында", "ауданындағы",
    "аудан", "ауданда", "ауданының", "тұрғын", "алабы", "алабында", "тас", "жолы", "жолында", "трассасы",
    "бульвары", "бульварында", "қаласы",
})
_KIND_WORDS = frozenset(
    STREET_TYPE_WORDS - {"на", "в", "ауданы", "ауданында", "аудан", "ауданда", "ауданының", "ауданындағы"}
)
# Core names that are also ordinary words; they need a street word, a house number or "на"/"по" beside them.
COMMON_WORDS = frozenset({
    "мира", "победы", "республики", "республика", "московская", "московской", "конституции", "молодежный",
    "молодежном", "молодежного", "жастар", "достык", "достық", "самал", "самале", "самала", "жеңіс", "женис",
    "желтоксан", "желтоқсан", "тың", "алматы", "алаш", "өндіріс", "көктем", "коктем", "жағалау", "жагалау",
    "целинный", "целинном", "энергетик", "промышленный", "промышленном", "кирпичный", "кирпичном",
    "железнодорожный", "железнодорожном", "заречный", "заречном", "интернациональный", "интернациональном",
    "пригородный", "пригородном", "ақжол", "акжол", "сауран", "манас", "жетісу", "жетису", "гете", "шубар",
    "мәскеу", "жұлдыз", "жулдыз", "интернационал", "қарағанды", "туркестан", "түркістан", "отырар", "жамбыл",
    "абай", "темір", "промка", "коктал", "көктал",
})
_DISTRICT_WORDS = frozenset({
    "район", "района", "районе", "району", "ауданы", "ауданында", "ауданындағы", "ауданының", "аудан", "ауданда",
    "ауданнан", "ауданына",
})
_HOUSE_WORDS = frozenset({"дом", "дома", "доме", "домa", "д", "үй", "үйі", "үйде", "үйдің", "үйінде", "үйге", "үйдегі",
                          "үйінің", "үйіне", "здание", "здания"})
_HOUSE_BEFORE = frozenset({"дом", "дома", "доме", "д", "үй", "үйі", "номер", "нөмірі", "нөмір", "здание"})
_HOUSE_AFTER = frozenset({"үй", "үйі", "үйде", "үйдің", "үйінде", "үйге", "үйдегі", "үйінің", "үйіне", "доме", "дом",
                          "дома", "домом", "домe"})
_APT_WORDS = frozenset({"квартира", "квартиры", "квартире", "квартиру", "кв", "пәтер", "пәтері", "пәтерде",
                        "пәтерім", "пәтерінде", "пәтерге", "пәтердің", "пәтерімізде", "пәтеріміз", "квартирa"})
_BUILDING_WORDS = frozenset({"корпус", "корпуса", "корпусе", "блок", "блока", "блоке", "блогы", "блогында",
                             "блокта", "корпусы", "корпусында"})
_FILLER_BETWEEN = frozenset({"номер", "нөмірі", "нөмір", "дом", "дома", "үй", "үйі", "это", "вот", "ну", "эээ",
                             "әлгі", "енді", "мынау", "ал", "так", "значит"})
MAX_NAME_WORDS = 4  # a street name is never said in more words
MIN_CUT_NAME_LETTERS = 6  # a name heard with its ending cut keeps this many letters (or phonetic key letters)
MAX_CUT_LETTERS = 2  # ... and loses at most this many
MIN_CUT_CORE_LETTERS = 8  # only names this long are recognised cut short
FOLLOWING_KEY_LETTERS = 1  # after a name's first word, its next words match by sound at any length ("пен" ~ "бен")
CONTEXT_TOKENS = 8  # tokens before a mention that decide what it is (street words, "дом", "на")
_NOT_ADDRESS_AFTER = frozenset({
    "этаж", "этаже", "этажа", "қабат", "қабатта", "кіреберіс", "минут", "минуты", "час", "часа",
    "часов", "дня", "дней", "день", "сағат", "күн", "күннен", "жыл", "лет", "года", "год", "раз", "рет",
    "тенге", "теңге", "градус", "градуса", "градусов", "метр", "метров", "человек", "адам", "неделю", "недели",
    "апта", "ай", "месяц", "месяца", "месяцев", "минуттан", "сағаттан", "числа", "жастағы", "ночи", "утра",
    "этажей", "этажный", "этажного", "этажном", "қабатты", "минута", "минуту", "жаста", "жасар",
    "жасында", "жастан", "годика", "годиков", "сағатқа", "күнге",
})
# Words before a number that make it a measurement, not a house ("температура тридцать восемь үйге дәрігер")
_MEASURED = frozenset({
    "температура", "температуры", "температурасы", "температурам", "давление", "давлением", "қысымы",
    "градус", "возраст", "жасы", "жаста", "лет", "года", "годика", "сағат", "час", "часа", "минут", "вес", "салмағы",
})
# Words before "дома" that make it "at home", not "of the house" ("я дома один", "сидим дома")
_AT_HOME_BEFORE = frozenset({
    "я", "мы", "ты", "вы", "он", "она", "они", "сам", "сама", "сами", "сижу", "сидим", "сидит", "сидят", "был",
    "была", "были", "нахожусь", "находимся", "остался", "осталась", "остались", "уже", "тоже", "один", "одна",
})
# Words by which a caller takes back the number just said ("нет не тридцать один а тридцать три", "жоқ кешіріңіз").
CORRECTION_WORDS = frozenset({
    "нет", "не", "ой", "извините", "извиняюсь", "простите", "прошу", "прощения", "точнее", "вернее", "жоқ",
    "кешіріңіз", "кешір", "дұрысы", "дұрысын", "айтсам", "яғни", "ойбай",
})
# Words that may stand between a number and its correction besides correction words and fillers.
_CORRECTION_SKIPPED = frozenset({"а", "ал", "ә", "үй", "үйі", "дом", "номер", "нөмірі", "нөмір", "это", "сказать"})
MAX_CORRECTION_GAP = 6  # words between the number taken back and the correction (the wrong number said again too)
CORRECTED_STRENGTH = 3  # a house number the caller corrected to outweighs every other reading
_HOUSE_LETTERS = {"а": "А", "б": "Б", "в": "В", "г": "Г", "д": "Д", "a": "А", "b": "Б"}
# Kazakh words said after the number they name ("он екі үй", "елу пәтер"); Russian "дома" after a word is too often
# "возле дома".
_KK_AFTER_NUMBER = frozenset({w for w in _HOUSE_AFTER | _APT_WORDS if any(ch in w for ch in "үәө")})
_MICRODISTRICT_WORDS = frozenset({"микрорайон", "микрорайоне", "микрорайона", "мкр", "шағын", "мкрн"})
_ADDRESS_FOLLOWERS = frozenset({"квартира", "кв", "корпус", "блок", "пәтер", "үй", "дом", "подъезд"})

_DISTRICT_FORMS: dict[str, tuple[str, ...]] = {
    "almaty": ("алматы", "алматинск"),
    "baikonur": ("байконур", "байқоңыр", "байконурск"),
    "yesil": ("есиль", "есил", "есіл", "есильск"),
    "saryarka": ("сарыарка", "сарыарк", "сарыарқа", "сарыаркинск"),
    "nura": ("нура", "нұра", "нуринск"),
}

_DISTRICT_PREFIXES = tuple(f for forms in _DISTRICT_FORMS.values() for f in forms)

# Landmark nouns (Russian stem → nominative) and Kazakh postpositions (located form → base).
_RU_LANDMARKS: dict[str, str] = {
    "школ": "школа", "магазин": "магазин", "остановк": "остановка", "садик": "садик", "детсад": "детсад",
    "детского сада": "детский сад", "поликлиник": "поликлиника", "больниц": "больница", "рынк": "рынок",
    "рынок": "рынок", "базар": "базар", "мечет": "мечеть", "парк": "парк", "аптек": "аптека", "вокзал": "вокзал",
    "акимат": "акимат", "тц": "тц", "трц": "трц", "бц": "бц", "церкв": "церковь", "стадион": "стадион",
    "кафе": "кафе", "банк": "банк", "заправк": "заправка", "площадк": "площадка", "гараж": "гаражи",
    "подъезд": "подъезд", "моста": "мост", "мост": "мост", "университет": "университет", "колледж": "колледж",
    "почт": "почта", "цон": "цон", "байтерек": "байтерек", "хан шатыр": "хан шатыр", "мега": "мега",
    "кинотеатр": "кинотеатр", "светофор": "светофор", "перекрест": "перекресток", "библиотек": "библиотека",
    "супермаркет": "супермаркет", "детской площадк": "детская площадка", "спортзал": "спортзал",
}
_RU_LANDMARK_PREPS = frozenset({"возле", "около", "рядом", "напротив", "у", "за", "перед", "недалеко", "близ",
                                "позади", "между", "со", "с"})
_KK_LANDMARK_NOUNS = ("мектеп", "дүкен", "аялдама", "балабақша", "емхана", "аурухана", "базар", "мешіт",
                      "саябақ", "дәріхана", "әкімдік", "вокзал", "алаң", "көпір", "стадион", "банк", "почта",
                      "супермаркет", "тц", "бағдаршам", "қиылыс", "кафе", "гараж", "подъезд", "кіреберіс",
                      "университет", "колледж", "балалар")
_KK_POSTPOSITIONS: dict[str, str] = {
    "жанында": "жаны", "жанындағы": "жаны", "қасында": "қасы", "қасындағы": "қасы", "алдында": "алды",
    "алдындағы": "алды", "артында": "арты", "артындағы": "арты", "маңында": "маңы", "маңындағы": "маңы",
    "қарсысында": "қарсысы", "қарама": "қарсы", "тұсында": "тұсы", "кіреберісінде": "кіреберісі",
    "ішінде": "іші", "бойында": "бойы", "жанына": "жаны",
}

_RU_ENDINGS = ("ого", "ому", "ыми", "ами", "ями", "ой", "ей", "ом", "ем", "ую", "ая", "ые", "ий", "ый", "ах", "ях",
               "а", "я", "у", "ю", "е", "ы", "и", "о")
_KK_ENDINGS = (
    "ндағы", "ндегі", "дағы", "дегі", "тағы", "тегі", "ының", "інің", "ның", "нің", "дың", "дің", "тың", "тің",
    "ында", "інде", "нда", "нде", "дан", "ден", "тан", "тен", "нан", "нен", "ға", "ге", "қа", "ке", "да", "де",
    "та", "те", "сы", "сі", "мен",
)


_KK_FOLDED = tuple(dict.fromkeys(kk_fold(x) for x in _KK_ENDINGS))
_KK_FOLDED_ORDERED = tuple(kk_fold(x) for x in _KK_ENDINGS)


@lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """A matching key for a name: Kazakh letters folded, case endings stripped, never shorter than 4 letters."""
    t = kk_fold(token)
    for _ in range(2):
        for e in _KK_FOLDED_ORDERED:
            if t.endswith(e) and len(t) - len(e) >= 4:
                t = t[: -len(e)]
                break
        else:
            break
    for e in _RU_ENDINGS:
        if t.endswith(e) and len(t) - len(e) >= 4:
            return t[: -len(e)]
    return t


_COMMON_STEMS = frozenset(stem(w) for w in COMMON_WORDS)


@lru_cache(maxsize=65536)
def stem_candidates(token: str) -> tuple[str, ...]:
    """Every plausible stem of a spoken word (each Kazakh case ending tried), most literal first."""
    folded = kk_fold(token)
    out = [stem(token)]
    for e in _KK_FOLDED:
        if folded.endswith(e) and len(folded) - len(e) >= 4:
            base = folded[: -len(e)]
            for cand in (base, stem(base)):
                if cand not in out:
                    out.append(cand)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Street:
    """One entry of streets.yaml."""

    name: str
    kind: str
    district: str | None
    cores: tuple[tuple[str, ...], ...]  # stems of each spoken form's core words
    bare: bool  # the core may be said without a street word


class Certainty(Enum):
    """Whether a mention's value was heard clearly or only guessed from misheard or low-confidence words."""

    HEARD = "heard"
    UNCERTAIN = "uncertain"


# A house number with a word below this recogniser confidence is uncertain. Vosk-like damage (classifier.damage) gives
# intact words ~0.9 and misheard ones ~0.55; at 0.5 most flagged numbers were misheard by a letter and read right
# anyway (bench/classifier/address_damage.py at 30% WER: 0.64 right at 0.5, 0.72 at 0.35, 0.75 with no threshold;
# wrong houses 0.036, 0.041, 0.041), so only a word the recogniser itself doubts this much makes the house uncertain.
LOW_WORD_CONFIDENCE = 0.35


@dataclass(frozen=True, slots=True)
class Mention:
    """Something found in the text at tokens [start, end): kind is street/house/apartment/building/district/landmark."""

    kind: str
    value: str
    start: int
    end: int
    strength: int = 1  # how sure: 2 = with a keyword (улица, дом, пәтер), 1 = by position only
    certainty: Certainty = Certainty.HEARD


@dataclass(frozen=True, slots=True)
class AddressReading:
    """The address with how its house number was heard (the desk shows "street heard, house uncertain")."""

    address: Address
    house_status: HouseStatus


def heard_tokens(words: Sequence[HeardWord]) -> tuple[list[str], list[float]]:
    """Normalised tokens of recognised words with each token's confidence (a word may give 0, 1 or more tokens)."""
    toks: list[str] = []
    conf: list[float] = []
    for w in words:
        for t in normalize(w.word).split():
            toks.append(t)
            conf.append(float(w.confidence))
    return toks, conf


class StreetIndex:
    """Streets, avenues and microdistricts indexed by the stems of their spoken forms, with fuzzy lookup."""

    def __init__(self, streets: list[Street]) -> None:
        self.streets = streets
        self.by_name = {s.name: s for s in streets}
        self._exact: dict[str, list[tuple[tuple[str, ...], Street]]] = {}
        for s in streets:
            for core in s.cores:
                self._exact.setdefault(core[0], []).append((core, s))
        self._numbered = {s.name.split()[-1]: s for s in streets if s.name.startswith("микрорайон ")
                          and s.name.split()[-1].isdigit()}
        self._sound: SoundIndex[tuple[tuple[str, ...], Street]] = SoundIndex()
        self._word_stems: set[str] = set()
        for s in streets:
            for core in s.cores:
                self._sound.add(core[0], (core, s))
                self._word_stems.update(core)
        self._word_keys = {phonetic_key(w) for w in self._word_stems if len(phonetic_key(w)) >= 4}
        self._cut: dict[str, list[tuple[tuple[str, ...], Street]]] = {}
        for s in streets:
            for core in s.cores:
                if len(core[0]) < MIN_CUT_CORE_LETTERS:
                    continue
                for form in (core[0], phonetic_key(core[0])):  # the letters, and the sounds
                    for cut in range(1, MAX_CUT_LETTERS + 1):
                        if len(form) - cut >= MIN_CUT_NAME_LETTERS:
                            entries = self._cut.setdefault(form[:-cut], [])
                            if (core, s) not in entries:
                                entries.append((core, s))

    @classmethod
    def load(cls, path: Path | None = None) -> StreetIndex:
        """Load streets.yaml (the project's list by default)."""
        p = path or default_streets_path()
        try:
            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ClassifierError(f"cannot read the street list {p}: {exc}") from exc
        return cls.from_data(raw)

    @classmethod
    def from_data(cls, raw: Any) -> StreetIndex:
        """Build from parsed YAML: a list of {name, kind, ru: [...], kk: [...], district}."""
        items = raw.get("streets", raw) if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise ClassifierError("the street list must be a YAML list of entries")
        streets: list[Street] = []
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            name = str(item["name"])
            forms = [name.lower()] + [str(f) for f in (item.get("ru") or [])] + [str(f) for f in (item.get("kk") or [])]
            cores: list[tuple[str, ...]] = []
            bare = False
            for form in forms:
                toks = form.lower().replace("ё", "е").replace("-", " ").replace(",", " ").replace(".", " ").split()
                core_words = [t for t in toks if t not in STREET_TYPE_WORDS]
                core = tuple(stem(t) for t in core_words)
                if not core or all(c.isdigit() or number_word(c) is not None for c in core_words):
                    continue  # numbered microdistricts are read by the number rule
                if len(core) == len(toks):
                    bare = True
                if core not in cores:
                    cores.append(core)
            streets.append(Street(name, str(item.get("kind") or "street"), item.get("district"), tuple(cores), bare))
        return cls(streets)

    def exact(self, key: str) -> list[tuple[tuple[str, ...], Street]]:
        """Entries whose core starts with exactly ``key``."""
        return self._exact.get(key, [])

    def lookup(
        self, stems: tuple[str, ...], min_letters: int = MIN_KEY_LETTERS
    ) -> list[tuple[tuple[str, ...], Street]]:
        """Entries whose core starts with one of a spoken word's stems: exactly, else by sound (a phonetic key of
        ``min_letters`` or more, a few edits for long names: classifier.street_match)."""
        found = [c for key in stems for c in self.exact(key)]
        return (
            found
            or self._sound.lookup(stems, min_letters)
            or [c for key in stems for form in (key, phonetic_key(key)) for c in self._cut.get(form, [])]
        )

    @staticmethod
    def cut_ending(spoken: str, core_word: str) -> bool:
        """A long name heard with its last sounds lost ("сейфулли" for сейфуллин, "бигяльдино" for бигельдинов)."""
        if len(core_word) < MIN_CUT_CORE_LETTERS or spoken in common_words():  # "кирпич" is not кирпичный cut
            return False
        return _cut_prefix(spoken, core_word) or _cut_prefix(phonetic_key(spoken), phonetic_key(core_word))

    def is_street_word(self, word: str) -> bool:
        """Whether a word is (a case form of) a word of a street's name."""
        return any(c in self._word_stems for c in stem_candidates(word))

    def sounds_like_street_word(self, word: str) -> bool:
        """Whether a word is (a case form of) a word of a street's name, exactly or by sound (no edits)."""
        return any(c in self._word_stems or phonetic_key(c) in self._word_keys for c in stem_candidates(word))

    def numbered_microdistrict(self, number: int) -> str:
        """Canonical name of "микрорайон N"."""
        s = self._numbered.get(str(number))
        return s.name if s else f"микрорайон {number}"


def _cut_prefix(spoken: str, whole: str) -> bool:
    """``spoken`` is ``whole`` without its last one or two letters, and long enough to tell."""
    return (
        len(spoken) >= MIN_CUT_NAME_LETTERS
        and whole.startswith(spoken)
        and 0 < len(whole) - len(spoken) <= MAX_CUT_LETTERS
    )


def _near(a: str, b: str, min_letters: int = MIN_KEY_LETTERS) -> bool:
    """Stems equal or sounding alike (classifier.street_match.sounds_like)."""
    return a == b or sounds_like(a, b, min_letters)


MIN_SOUND_KEYWORD = 5  # keywords this long are also recognised by sound ("кошесинде", "шағін"); street words never
_KEYWORD_WORDS = (STREET_TYPE_WORDS | _DISTRICT_WORDS | _HOUSE_WORDS | _HOUSE_BEFORE | _HOUSE_AFTER | _APT_WORDS
                  | _BUILDING_WORDS | SLASH_WORDS | {"номер", "нөмір", "нөмірі", "подъезд", "подъезде"})


def _keyword_forms() -> dict[str, str]:
    """Misheard spellings of address keywords → the keyword: Kazakh letters folded, or the same phonetic key."""
    words = _KEYWORD_WORDS
    by_form: dict[str, set[str]] = {}
    for w in words:
        by_form.setdefault(kk_fold(w), set()).add(w)
        if len(w) >= MIN_SOUND_KEYWORD:
            by_form.setdefault(phonetic_key(w), set()).add(w)
    return {form: next(iter(ws)) for form, ws in by_form.items() if len(ws) == 1 and form not in words}


_KEYWORD_FORMS = _keyword_forms()


def canonical_keyword(token: str, streets: StreetIndex) -> str:
    """An address keyword misheard by a letter or two ("кошеси" → "көшесі", "уй" → "үй"); other tokens as they are.

    A street's own word is never taken for a keyword that sounds like it ("батыр" ~ "пәтер").
    """
    if number_word(token) is not None or token in _KEYWORD_WORDS:
        return token
    hit = _KEYWORD_FORMS.get(kk_fold(token))
    if hit is None and len(token) >= MIN_SOUND_KEYWORD and not streets.is_street_word(token):
        hit = _KEYWORD_FORMS.get(phonetic_key(token))
    return hit or token


class AddressExtractor:
    """Finds address mentions in normalised tokens and merges them into one Address.

    Tokens are first repaired (fillers dropped, glued words split, split halves joined: classifier.token_repair),
    keywords misheard by a letter restored, and numbers read tolerantly where one is expected; mentions are
    reported in the caller's token positions.
    """

    def __init__(self, streets: StreetIndex) -> None:
        self.streets = streets
        self.repair = TokenRepair(streets, _KEYWORD_WORDS)

    def mentions(self, tokens: list[str], start: int = 0, confidences: Sequence[float] | None = None) -> list[Mention]:
        """Mentions whose first token is at or after ``start``; reads only a few tokens of context before it.

        Scanning costs time proportional to ``len(tokens) - start``, which lets a call's scorer rescan just the
        tail of the call when a segment arrives. ``confidences`` (one per token, the recogniser's) mark a house
        number said with unsure words as uncertain.
        """
        base = max(0, start - CONTEXT_TOKENS)
        fixed = self.repair.repair(tokens[base:], confidences[base:] if confidences is not None else None)
        first = next((k for k, s in enumerate(fixed.starts) if s >= start - base), len(fixed.tokens))
        found = self._mentions([canonical_keyword(t, self.streets) for t in fixed.tokens], first, fixed.confidence)
        return [replace(m, start=fixed.starts[m.start] + base, end=fixed.ends[m.end - 1] + base) for m in found]

    @staticmethod
    def _expected_numbers(tokens: list[str]) -> set[int]:
        """Positions where a keyword asks for a number: after дом/пәтер/корпус/дробь, before үй/пәтер/квартира."""
        out: set[int] = set()
        for k, tok in enumerate(tokens):
            if tok in _HOUSE_BEFORE or tok in _APT_WORDS or tok in _BUILDING_WORDS or tok in SLASH_WORDS:
                out.add(k + 1)
            if k > 0 and (tok in _KK_AFTER_NUMBER or tok in _MICRODISTRICT_WORDS):
                out.add(k - 1)
        return out

    @staticmethod
    def _after_streets(tokens: list[str], street_ends: set[int]) -> set[int]:
        """Positions right after a street name (past "көшесі", "дом", fillers), where a house number often comes."""
        out: set[int] = set()
        for e in street_ends:
            k = e
            while k < len(tokens) and k < e + 2 and (tokens[k] in _KIND_WORDS or tokens[k] in _FILLER_BETWEEN):
                k += 1
            out.add(k)
        return out

    def _mentions(self, tokens: list[str], start: int, confidence: list[float]) -> list[Mention]:
        n_all = len(tokens)
        keyed = self._expected_numbers(tokens)
        numbers = find_numbers(tokens, tolerant=True, keywords=_KEYWORD_WORDS, expected=keyed)
        num_at = {sp.start: sp for sp in numbers}
        # could a number start here (a misheard one too)? decides whether a bare street name stands before a number
        sounded = find_numbers(tokens, tolerant=True, keywords=_KEYWORD_WORDS, expected=keyed, likely=range(n_all))
        numberish = set(num_at) | {sp.start for sp in sounded if sp.reading is not NumberReading.FUZZY}
        house_ends = {sp.end for sp in numbers if sp.start > 0 and tokens[sp.start - 1] in _HOUSE_BEFORE}
        out: list[Mention] = []
        used: set[int] = set()
        stems = [stem_candidates(t) for t in tokens]
        street_mentions: list[Mention] = []
        i = 0
        n = len(tokens)
        while i < n:
            m = self._street_at(tokens, stems, i, num_at, numberish, house_ends)
            if m is not None:
                street_mentions.append(m)
                if m.start >= start:
                    out.append(m)
                used.update(range(m.start, m.end))
                i = m.end
                continue
            i += 1
        # Districts.
        for i in range(start, n):
            if i in used:
                continue
            d = self._district_at(tokens, i)
            if d is not None:
                out.append(d)
                used.add(i)
        # Numbers again, now also read where a street makes one expected.
        streets_end = {m.end: m for m in street_mentions}
        after_streets = self._after_streets(tokens, set(streets_end))
        numbers = find_numbers(tokens, tolerant=True, keywords=_KEYWORD_WORDS, expected=keyed, likely=after_streets)
        num_at = {sp.start: sp for sp in numbers}
        # Numbers: house / apartment / building by keyword or position.
        num_ends = {sp.end - 1 for sp in numbers}
        num_starts = {sp.start for sp in numbers}
        for sp in numbers:
            if sp.start < start or sp.start in used:
                continue
            if sp.start > 0 and tokens[sp.start - 1] in SLASH_WORDS and sp.start - 2 >= 0:
                continue  # the second half of "12 дробь 1"
            kind, strength = self._number_role(tokens, sp, streets_end, num_ends, num_starts)
            if kind is None:
                continue
            value, end, certainty = self._number_value(tokens, sp, kind, num_at, confidence)
            out.append(Mention(kind, value, sp.start, end, strength, certainty))
            if kind == "house":
                corrected = self._corrected_house(tokens, sp.start, value, end, num_at, confidence)
                if corrected is not None:
                    out.append(corrected)
        # Building letters: "блок б", "корпус а".
        for i in range(start, n - 1):
            if tokens[i] in _BUILDING_WORDS and tokens[i + 1] in _HOUSE_LETTERS:
                out.append(Mention("building", _HOUSE_LETTERS[tokens[i + 1]], i, i + 2, 2))
        # Landmarks.
        for i in range(start, n):
            lm = self._landmark_at(tokens, i)
            if lm is not None:
                out.append(lm)
        out.sort(key=lambda m: (m.start, m.kind))
        return out

    @staticmethod
    def _number_value(tokens: list[str], sp: NumberSpan, kind: str, num_at: dict[int, NumberSpan],
                      confidence: list[float]) -> tuple[str, int, Certainty]:
        """The value said from a number on ("12 дробь 1" → 12/1, "пять а" → 5А), where it ends and how it was heard."""
        n = len(tokens)
        value = str(sp.value)
        end = sp.end
        nxt = num_at.get(sp.end + 1)
        if end < n and tokens[end] in SLASH_WORDS and nxt is not None:
            value = f"{value}/{nxt.value}"
            end = nxt.end
        elif kind in ("house", "building") and end < n and tokens[end] in _HOUSE_LETTERS:
            letter = tokens[end]
            follower = tokens[end + 1] if end + 1 < n else ""
            if letter in ("б", "г", "д", "b") or not follower or follower in _ADDRESS_FOLLOWERS:
                value += _HOUSE_LETTERS[letter]
                end += 1
        certainty = Certainty.HEARD
        if kind == "house" and (
            any(s.reading is NumberReading.FUZZY for s in (sp, nxt) if s is not None and s.start < end)
            or min(confidence[sp.start : end]) < LOW_WORD_CONFIDENCE
        ):
            certainty = Certainty.UNCERTAIN
        return value, end, certainty

    def _corrected_house(self, tokens: list[str], start: int, value: str, end: int, num_at: dict[int, NumberSpan],
                         confidence: list[float]) -> Mention | None:
        """The house number a caller said instead of the one just said ("тридцать один нет не тридцать один а
        тридцать три", "он төрт үй жоқ кешіріңіз он бес үй"), as a house mention over the whole correction.

        Only a correction word between the two numbers makes the later one a correction, and only when it follows
        within a few words and is not an apartment, floor or time ("двадцать ой пять квартира" stays an apartment).
        The mention starts where the corrected number starts, so a tail rescan that reads that number finds it too.
        """
        n = len(tokens)
        said = {value}
        found: Mention | None = None
        k = end
        while True:
            corrected = False
            skipped = 0
            nxt: NumberSpan | None = None
            while k < n and skipped <= MAX_CORRECTION_GAP:
                tok = tokens[k]
                sp = num_at.get(k)
                if sp is not None and corrected:
                    rvalue, rend, _ = self._number_value(tokens, sp, "house", num_at, confidence)
                    if rvalue not in said:  # the correction (not the wrong number said again: "не тридцать один а")
                        nxt = sp
                        break
                    k = rend
                elif tok in CORRECTION_WORDS:
                    corrected = True
                    k += 1
                elif tok in _CORRECTION_SKIPPED or tok in _FILLER_BETWEEN:
                    k += 1
                else:
                    break
                skipped += 1
            if nxt is None:
                return found
            after = tokens[nxt.end] if nxt.end < n else ""
            apt_follows = nxt.end + 1 in num_at or nxt.end + 2 in num_at  # "двадцать пять квартира сорок"
            if (after in _APT_WORDS and not apt_follows) or after in _NOT_ADDRESS_AFTER or after in _BUILDING_WORDS:
                return found
            new_value, k, certainty = self._number_value(tokens, nxt, "house", num_at, confidence)
            found = Mention("house", new_value, start, k, CORRECTED_STRENGTH, certainty)
            said.add(new_value)

    def _street_at(self, tokens: list[str], stems: list[tuple[str, ...]], i: int,
                   num_at: dict[int, NumberSpan], numberish: set[int], house_ends: set[int]) -> Mention | None:
        tok = tokens[i]
        n = len(tokens)
        # "третьем микрорайоне", "бесінші шағын аудан", "микрорайон пять"
        sp = num_at.get(i)
        if sp is not None and sp.end < n and tokens[sp.end] in _MICRODISTRICT_WORDS:
            end = sp.end + (2 if tokens[sp.end] == "шағын" and sp.end + 1 < n and tokens[sp.end + 1] in _DISTRICT_WORDS
                            else 1)
            return Mention("street", self.streets.numbered_microdistrict(sp.value), i, end, 2)
        if tok in ("микрорайон", "микрорайоне", "мкр", "мкрн") and (i + 1) in num_at:
            sp2 = num_at[i + 1]
            if sp2.value <= 30:
                return Mention("street", self.streets.numbered_microdistrict(sp2.value), i, sp2.end, 2)
        if tok in STREET_TYPE_WORDS or tok in _DISTRICT_WORDS or len(tok) < 3 or tok.isdigit():
            return None
        best: tuple[int, Street, int] | None = None  # (length, street, end)
        exact = [c for key in stems[i] for c in self.streets.exact(key)]
        fuzzy = not exact
        candidates = exact
        beside_kind = (i > 0 and tokens[i - 1] in _KIND_WORDS) or (i + 1 < n and tokens[i + 1] in _KIND_WORDS)
        min_letters = MIN_TYPED_KEY_LETTERS if beside_kind else MIN_KEY_LETTERS
        if not candidates and number_word(tok) is None and not sounds_like_number(tok):
            # a short name ("апай" for абай) is matched by sound only beside a street word ("апай даңғылы")
            # a name of several words may start with a shorter word misheard ("герей жанибек хандар"): the rest of
            # the name must follow (checked below)
            candidates = self.streets.lookup(stems[i], min(min_letters, MIN_TYPED_KEY_LETTERS))
        if i + 1 < n and len(tok) >= 3 and len(tokens[i + 1]) >= 2:  # an ASR split: "кенес ары"
            joined = stem(tok + tokens[i + 1])
            joined_hits = [(c, s) for c, s in self.streets.exact(joined) if len(c) == 1 and len(joined) >= 7]
            if joined_hits:
                candidates += joined_hits
                fuzzy = False
        for core, street in candidates:
            j = i
            ok = True
            consumed = 0
            if core[0] not in stems[i] and len(core) == 1 and i + 1 < n and stem(tok + tokens[i + 1]) == core[0]:
                consumed = 2
            else:
                for c in core:
                    # the first word by its own allowance (a short one only when more words follow), the next ones
                    # by sound at any length once the first matched ("хусейн пен талал", "күйші тина")
                    allowance = (
                        (min_letters if len(core) == 1 else MIN_TYPED_KEY_LETTERS) if j == i else FOLLOWING_KEY_LETTERS
                    )
                    if j < n and any(
                        _near(k, c, allowance) or (j == i and StreetIndex.cut_ending(k, c)) for k in stems[j]
                    ):
                        j += 1
                    else:
                        ok = False
                        break
                consumed = j - i
            if not ok:
                continue
            if best is None or consumed > best[0]:
                best = (consumed, street, i + consumed)
        if best is None:
            return None
        _, street, end = best
        # the rest of the name when a shorter form matched ("бөгенба батыр": the form "богенбая", then "батыр")
        name_words = {w for core in street.cores for w in core}
        while end < n and end < i + MAX_NAME_WORDS and any(_near(k, w) for k in stems[end] for w in name_words):
            end += 1
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[end] if end < n else ""
        typed = before in _KIND_WORDS or after in _KIND_WORDS or (after == "шағын")
        if after in _DISTRICT_WORDS and not typed and self._is_district_name(tok):
            return None
        has_number = (
            end in numberish
            or (after in (_FILLER_BETWEEN | _KIND_WORDS) and (end + 1) in numberish)
            or i in house_ends  # "дом тридцать сыганак"
        )
        common = fuzzy or any(k in _COMMON_STEMS for k in stems[i])
        place = street.kind in ("microdistrict", "area")
        if not street.bare and not typed:
            return None
        if common and not (typed or has_number or before in ("на", "по") or (place and before in ("в", "во"))):
            return None
        if self._is_district_name(tok) and not typed and not has_number and before not in ("на", "по"):
            return None
        return Mention("street", street.name, i, end, 2 if typed else 1)

    @staticmethod
    def _is_district_name(tok: str) -> bool:
        return tok.startswith(_DISTRICT_PREFIXES)

    def _district_at(self, tokens: list[str], i: int) -> Mention | None:
        tok = tokens[i]
        if not tok.startswith(_DISTRICT_PREFIXES):
            return None
        n = len(tokens)
        for district, forms in _DISTRICT_FORMS.items():
            if not any(tok.startswith(f) for f in forms):
                continue
            if len(tok) > max(len(f) for f in forms) + 6:
                continue
            after = tokens[i + 1] if i + 1 < n else ""
            before = tokens[i - 1] if i > 0 else ""
            adjective = any(tok.startswith(f) for f in forms if f.endswith("ск"))
            if after in _DISTRICT_WORDS or adjective or before in ("в", "во") or before in _DISTRICT_WORDS:
                return Mention("district", district, i, i + (2 if after in _DISTRICT_WORDS else 1), 2)
        return None

    def _number_role(self, tokens: list[str], sp: NumberSpan, streets_end: dict[int, Mention],
                     num_ends: set[int], num_starts: set[int]) -> tuple[str | None, int]:
        n = len(tokens)
        before = tokens[sp.start - 1] if sp.start > 0 else ""
        before2 = tokens[sp.start - 2] if sp.start > 1 else ""
        after = tokens[sp.end] if sp.end < n else ""
        # a Kazakh "үй" right after another number belongs to that number ("тоқсан бір үй қырық екінші пәтер")
        # ("квартира пятнадцать дом шесть": Russian "дом" is said before its number)
        prefix_ok = sp.start - 2 not in num_ends or before not in _KK_AFTER_NUMBER
        if before in ("подъезд", "подъезде", "этаж", "этаже", "кіреберіс", "қабат", "қабатта") or before in _MEASURED:
            return None, 0
        # "дома" as "at home": "я дома одна", "мы дома два дня"
        if before == "дома" and (before2 in _AT_HOME_BEFORE or tokens[sp.start] in ("одна", "одни")):
            return None, 0
        if after in _NOT_ADDRESS_AFTER:
            return None, 0
        # "дом 19 квартира 70", "сегіз пәтер қырық үш": a number before "квартира" that another number follows
        apt_follows = after in _APT_WORDS and (sp.end + 1 in num_starts or sp.end + 2 in num_starts)
        if before in _APT_WORDS or (before in ("номер", "нөмірі") and before2 in _APT_WORDS):
            return "apartment", 2
        if before in _BUILDING_WORDS:
            return "building", 2
        if before in _HOUSE_BEFORE and prefix_ok:
            return "house", 2
        if (after not in _APT_WORDS or apt_follows) and self._after_street(tokens, sp, streets_end):
            return "house", 2 if after in _HOUSE_AFTER else 1
        if after in _APT_WORDS and not apt_follows:
            return "apartment", 2
        if after in _BUILDING_WORDS:
            return "building", 2
        if after in _HOUSE_AFTER:
            return "house", 2
        return None, 0

    @staticmethod
    def _after_street(tokens: list[str], sp: NumberSpan, streets_end: dict[int, Mention]) -> bool:
        """Whether the number comes right after a street (optionally after "көшесі", "дом", "номер")."""
        k = sp.start
        while k > 0 and tokens[k - 1] in (_KIND_WORDS | _FILLER_BETWEEN) and k > sp.start - 3:
            k -= 1
        return k in streets_end or sp.start in streets_end

    def _landmark_at(self, tokens: list[str], i: int) -> Mention | None:
        tok = tokens[i]
        n = len(tokens)
        if tok in _RU_LANDMARK_PREPS and i + 1 < n:
            j = i + 1
            if tok == "рядом" and j < n and tokens[j] in ("с", "со"):
                j += 1
            if tok == "недалеко" and j < n and tokens[j] == "от":
                j += 1
            if j < n:
                two = " ".join(tokens[j : j + 2])
                for st, name in _RU_LANDMARKS.items():
                    if " " in st and two.startswith(st):
                        return Mention("landmark", name, i, j + 2, 2)
                for st, name in _RU_LANDMARKS.items():
                    if " " not in st and tokens[j].startswith(st) and len(tokens[j]) <= len(st) + 3:
                        if tok in ("с", "со", "за") and st not in ("школ", "магазин", "остановк", "рынк", "парк"):
                            return None
                        if tok in ("с", "со"):
                            return None
                        return Mention("landmark", name, i, j + 1, 2)
            return None
        if tok in _KK_POSTPOSITIONS and i > 0:
            prev = tokens[i - 1]
            if any(prev.startswith(noun) for noun in _KK_LANDMARK_NOUNS):
                start = i - 1
                if prev.startswith("алаң") and i > 1 and tokens[i - 2].startswith("балалар"):
                    start = i - 2
                head = " ".join(tokens[start:i])
                return Mention("landmark", f"{head} {_KK_POSTPOSITIONS[tok]}", start, i + 1, 2)
        return None

    @staticmethod
    def judge(mentions: list[Mention]) -> AddressReading:
        """One Address from mentions: for each part the strongest, then the clearly heard, then the earliest.

        A house number that was not heard clearly is left out (house None) and the reading says UNCERTAIN: the
        desk asks the caller rather than send a crew to a guessed house.
        """
        best: dict[str, Mention] = {}
        for m in mentions:
            cur = best.get(m.kind)
            if cur is None or m.strength > cur.strength or (
                m.strength == cur.strength and cur.certainty is Certainty.UNCERTAIN and m.certainty is Certainty.HEARD
            ):
                best[m.kind] = m
        # A house said by position belongs to the chosen street.
        street = best.get("street")
        house = best.get("house")
        if street is not None and house is not None and house.strength == 1:
            linked = [m for m in mentions if m.kind == "house" and m.start >= street.end and m.start <= street.end + 3]
            if linked:
                best["house"] = linked[0]
        status = HouseStatus.ABSENT
        if "house" in best:
            status = HouseStatus.HEARD if best["house"].certainty is Certainty.HEARD else HouseStatus.UNCERTAIN
            if status is HouseStatus.UNCERTAIN:
                del best["house"]
        addr = Address(
            street=best["street"].value if "street" in best else None,
            house=best["house"].value if "house" in best else None,
            building=best["building"].value if "building" in best else None,
            apartment=best["apartment"].value if "apartment" in best else None,
            district=best["district"].value if "district" in best else None,
            landmark=best["landmark"].value if "landmark" in best else None,
        )
        return AddressReading(addr, status)

    @classmethod
    def merge(cls, mentions: list[Mention]) -> Address:
        """The Address of ``judge`` (an uncertain house number is None)."""
        return cls.judge(mentions).address

    def read(self, tokens: list[str], confidences: Sequence[float] | None = None) -> AddressReading:
        """The address said in normalised tokens with how its house number was heard."""
        return self.judge(self.mentions(tokens, 0, confidences))

    def extract(self, tokens: list[str], confidences: Sequence[float] | None = None) -> Address:
        """The address said in normalised tokens (all parts None when nothing is said)."""
        return self.read(tokens, confidences).address


def is_empty(address: Address) -> bool:
    """True when no part of the address is known."""
    parts = ("street", "house", "building", "apartment", "district", "landmark")
    return all(getattr(address, f) is None for f in parts)


def with_district(address: Address, district: str | None) -> Address:
    """A copy with the district set."""
    return replace(address, district=district)
