"""Address extraction from speech: street (against streets.yaml), house, building, apartment, district, landmark."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from classifier.base import Address
from classifier.normalize import kk_fold
from classifier.numbers import SLASH_WORDS, NumberSpan, find_numbers, number_word
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
CONTEXT_TOKENS = 8  # tokens before a mention that decide what it is (street words, "дом", "на")
_NOT_ADDRESS_AFTER = frozenset({
    "этаж", "этаже", "этажа", "қабат", "қабатта", "кіреберіс", "минут", "минуты", "час", "часа",
    "часов", "дня", "дней", "день", "сағат", "күн", "күннен", "жыл", "лет", "года", "год", "раз", "рет",
    "тенге", "теңге", "градус", "градуса", "градусов", "метр", "метров", "человек", "адам", "неделю", "недели",
    "апта", "ай", "месяц", "месяца", "месяцев", "минуттан", "сағаттан", "числа", "жастағы", "ночи", "утра",
})
_HOUSE_LETTERS = {"а": "А", "б": "Б", "в": "В", "г": "Г", "д": "Д", "a": "А", "b": "Б"}
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


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True, slots=True)
class Street:
    """One entry of streets.yaml."""

    name: str
    kind: str
    district: str | None
    cores: tuple[tuple[str, ...], ...]  # stems of each spoken form's core words
    bare: bool  # the core may be said without a street word


@dataclass(frozen=True, slots=True)
class Mention:
    """Something found in the text at tokens [start, end): kind is street/house/apartment/building/district/landmark."""

    kind: str
    value: str
    start: int
    end: int
    strength: int = 1  # how sure: 2 = with a keyword (улица, дом, пәтер), 1 = by position only


class StreetIndex:
    """Streets, avenues and microdistricts indexed by the stems of their spoken forms, with fuzzy lookup."""

    def __init__(self, streets: list[Street]) -> None:
        self.streets = streets
        self.by_name = {s.name: s for s in streets}
        self._exact: dict[str, list[tuple[tuple[str, ...], Street]]] = {}
        self._fuzzy: dict[str, set[str]] = {}
        for s in streets:
            for core in s.cores:
                self._exact.setdefault(core[0], []).append((core, s))
        for key in self._exact:
            if len(key) >= 6:
                for d in _deletes(key):
                    self._fuzzy.setdefault(d, set()).add(key)
        for key in self._exact:
            if len(key) >= 6:
                self._fuzzy.setdefault(key, set()).add(key)
        self._numbered = {s.name.split()[-1]: s for s in streets if s.name.startswith("микрорайон ")
                          and s.name.split()[-1].isdigit()}

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

    def lookup(self, key: str) -> list[tuple[tuple[str, ...], Street]]:
        """Entries whose core starts with ``key`` (exact stem, else within one edit for long names)."""
        found = self._exact.get(key)
        if found:
            return found
        if len(key) < 6:
            return []
        keys: set[str] = set()
        for d in _deletes(key) | {key}:
            keys |= self._fuzzy.get(d, set())
        out: list[tuple[tuple[str, ...], Street]] = []
        for k in sorted(keys):
            if abs(len(k) - len(key)) <= 1:
                out.extend(self._exact[k])
        return out

    def numbered_microdistrict(self, number: int) -> str:
        """Canonical name of "микрорайон N"."""
        s = self._numbered.get(str(number))
        return s.name if s else f"микрорайон {number}"


def _near(a: str, b: str) -> bool:
    """Stems equal or within one edit (only for longer words)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 6 or abs(len(a) - len(b)) > 1:
        return False
    return bool(_deletes(a) & (_deletes(b) | {b})) or a in _deletes(b)


class AddressExtractor:
    """Finds address mentions in normalised tokens and merges them into one Address."""

    def __init__(self, streets: StreetIndex) -> None:
        self.streets = streets

    def mentions(self, tokens: list[str], start: int = 0) -> list[Mention]:
        """Mentions whose first token is at or after ``start``; reads only a few tokens of context before it.

        Scanning costs time proportional to ``len(tokens) - start``, which lets a call's scorer rescan just the
        tail of the call when a segment arrives.
        """
        base = max(0, start - CONTEXT_TOKENS)
        found = self._mentions(tokens[base:], start - base)
        return [replace(m, start=m.start + base, end=m.end + base) for m in found]

    def _mentions(self, tokens: list[str], start: int) -> list[Mention]:
        numbers = find_numbers(tokens)
        num_at = {sp.start: sp for sp in numbers}
        out: list[Mention] = []
        used: set[int] = set()
        stems = [stem_candidates(t) for t in tokens]
        street_mentions: list[Mention] = []
        i = 0
        n = len(tokens)
        while i < n:
            m = self._street_at(tokens, stems, i, num_at)
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
        # Numbers: house / apartment / building by keyword or position.
        streets_end = {m.end: m for m in street_mentions}
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
            out.append(Mention(kind, value, sp.start, end, strength))
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

    def _street_at(self, tokens: list[str], stems: list[tuple[str, ...]], i: int,
                   num_at: dict[int, NumberSpan]) -> Mention | None:
        tok = tokens[i]
        n = len(tokens)
        # "третьем микрорайоне", "бесінші шағын аудан", "микрорайон пять"
        sp = num_at.get(i)
        if sp is not None and sp.end < n and tokens[sp.end] in ("микрорайон", "микрорайоне", "микрорайона", "мкр",
                                                               "шағын", "мкрн"):
            end = sp.end + (2 if tokens[sp.end] == "шағын" and sp.end + 1 < n else 1)
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
        candidates = exact or list(self.streets.lookup(stems[i][0]))
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
                    if j < n and any(_near(k, c) for k in stems[j]):
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
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[end] if end < n else ""
        typed = before in _KIND_WORDS or after in _KIND_WORDS or (after == "шағын")
        if after in _DISTRICT_WORDS and not typed and self._is_district_name(tok):
            return None
        has_number = end in num_at or (after in _FILLER_BETWEEN and (end + 1) in num_at)
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
        prefix_ok = sp.start - 2 not in num_ends
        if before in ("подъезд", "подъезде", "этаж", "этаже", "кіреберіс", "қабат", "қабатта"):
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
    def merge(mentions: list[Mention]) -> Address:
        """One Address from mentions: for each part the strongest, then the earliest mention."""
        best: dict[str, Mention] = {}
        for m in mentions:
            cur = best.get(m.kind)
            if cur is None or m.strength > cur.strength:
                best[m.kind] = m
        # A house said by position belongs to the chosen street.
        street = best.get("street")
        house = best.get("house")
        if street is not None and house is not None and house.strength == 1:
            linked = [m for m in mentions if m.kind == "house" and m.start >= street.end and m.start <= street.end + 3]
            if linked:
                best["house"] = linked[0]
        addr = Address(
            street=best["street"].value if "street" in best else None,
            house=best["house"].value if "house" in best else None,
            building=best["building"].value if "building" in best else None,
            apartment=best["apartment"].value if "apartment" in best else None,
            district=best["district"].value if "district" in best else None,
            landmark=best["landmark"].value if "landmark" in best else None,
        )
        return addr

    def extract(self, tokens: list[str]) -> Address:
        """The address said in normalised tokens (all parts None when nothing is said)."""
        return self.merge(self.mentions(tokens))


def is_empty(address: Address) -> bool:
    """True when no part of the address is known."""
    parts = ("street", "house", "building", "apartment", "district", "landmark")
    return all(getattr(address, f) is None for f in parts)


def with_district(address: Address, district: str | None) -> Address:
    """A copy with the district set."""
    return replace(address, district=district)
