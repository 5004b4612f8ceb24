"""Which language a caller speaks: "ru", "kk" or "mixed", from Kazakh letters and function words."""

from __future__ import annotations

from dataclasses import dataclass

KK_LETTERS = frozenset("әғқңөұүһі")

# Frequent Kazakh words written without Kazakh-only letters (so letters alone would miss them).
KK_WORDS = frozenset({
    "және", "мен", "бар", "жоқ", "бе", "ба", "ма", "ме", "па", "пе", "ғой", "ғана", "үшін", "деп", "енді", "әлгі",
    "мынау", "сосын", "тұр", "жатыр", "керек", "біз", "сіз", "сен", "ол", "бұл", "осы", "сол", "не", "неге",
    "қашан", "қайда", "кім", "иә", "ал", "бірақ", "өте", "көп", "аз", "тағы", "қазір", "кеше", "бүгін",
    "ертең", "үй", "су", "жарық", "газ", "жол", "бала", "балалар", "адам", "келіп", "кетті", "болды", "болып",
    "отыр", "келді", "айтып", "айтыңызшы", "рахмет", "сәлеметсіз", "сәлем", "ешкім", "ештеңе", "мұнда",
    "сонда", "анау", "мына", "жаңағы", "ой", "апырай", "ау", "ей", "шығып", "иісі", "көшесі", "даңғылы",
    "ауданы", "пәтер", "тез", "дейді", "екен", "еді", "емес", "басқа", "барлық", "бәрі", "жерде", "тұрмыз",
    "отырмыз", "жатырмыз", "келіңіздер", "көмектесіңіздер", "шақырыңыздар", "мектеп", "балабақша", "қала",
    "жылу", "батарея", "суық", "ыстық", "кезек", "шам", "сым", "ит", "иттер", "қоқыс", "ағаш", "қар",
})
# Frequent Russian function words (never Kazakh).
RU_WORDS = frozenset({
    "и", "в", "на", "не", "что", "это", "у", "нас", "есть", "нет", "как", "я", "мы", "вы", "вот", "ну", "очень",
    "уже", "там", "здесь", "пожалуйста", "с", "по", "к", "из", "за", "от", "до", "для", "так", "же", "бы", "ли",
    "когда", "где", "почему", "кто", "все", "всё", "еще", "ещё", "только", "можно", "нужно", "надо", "дом",
    "доме", "улица", "улице", "квартира", "девушка", "здравствуйте", "алло", "слушайте", "короче", "просто",
    "потому", "тоже", "сейчас", "вчера", "сегодня", "завтра", "был", "была", "было", "были", "меня",
    "мне", "нам", "вам", "его", "ее", "их", "они", "он", "она", "оно", "тут", "этот", "эта", "эти", "который",
    "которая", "если", "чтобы", "или", "но", "а", "да", "со", "во", "подскажите", "скажите", "помогите",
    "вообще", "опять", "снова", "давно", "совсем", "никто", "ничего", "какой", "какая", "неделю", "дня", "день",
})


# Kazakh politeness words and fillers that Russian speakers use too ("иә", "әлгі", "рахмет"), and Kazakh street
# words inside Russian addresses ("даңғылы"): they do not make a Russian sentence mixed.
KK_FILLERS = frozenset({
    "иә", "әлгі", "енді", "сәлеметсіз", "бе", "рахмет", "айналайын", "ой", "апай", "мынау", "жаңағы", "ал",
    "сосын", "ау", "апырай", "ойбай", "әй", "ағай", "апа", "аға", "қарағым", "сәлем", "даңғылы", "көшесі", "шағын",
    "ауданы",
})


@dataclass(frozen=True, slots=True)
class LanguageVote:
    """Counts behind a language decision."""

    kk: int  # Kazakh-looking tokens (Kazakh letters or frequent Kazakh words)
    ru: int  # Russian function words
    kk_content: int = 0  # tokens with Kazakh letters that are not fillers or street words

    @property
    def language(self) -> str:
        """"kk", "ru" or "mixed" from the counts."""
        return decide(self.kk, self.ru)


def vote(tokens: list[str]) -> LanguageVote:
    """Count Kazakh-looking and Russian-looking tokens."""
    kk = ru = content = 0
    for t in tokens:
        letters = any(ch in KK_LETTERS for ch in t)
        if t in KK_WORDS or letters:
            kk += 1
        if t in RU_WORDS:
            ru += 1
        if letters and t not in KK_FILLERS:
            content += 1
    return LanguageVote(kk, ru, content)


def decide(kk: int, ru: int) -> str:
    """Turn counts into a label; a language needs real presence (not one borrowed word) to make "mixed"."""
    if kk == 0 and ru == 0:
        return "ru"
    total = kk + ru
    if kk / total >= 0.85:
        return "kk"
    if ru / total >= 0.85:
        return "ru"
    if kk >= 2 and ru >= 2:
        return "mixed"
    return "kk" if kk > ru else "ru"


def refine(model_label: str, kk: int, ru: int, kk_content: int, ru_lex: int = 0, kk_lex: int = 0) -> str:
    """Correct a model's language label with token evidence (chosen on out-of-fold predictions over train).

    Russian with real Kazakh words in it is mixed; "mixed" without any Kazakh is Russian; Kazakh with several
    Russian function words, or with a word only Russian training lines use, is mixed. ``ru_lex``/``kk_lex``
    count words of the training lexicons (words seen in at least three lines of one language, never the other).
    """
    if model_label == "ru" and (kk_content >= 1 or kk_lex >= 1):
        return "mixed"
    if model_label == "mixed" and kk == 0:
        return "ru"
    if model_label == "kk" and (ru >= 2 or ru_lex >= 1):
        return "mixed"
    return model_label


def build_lexicon(texts_by_language: list[tuple[list[str], str]], min_lines: int = 3) -> dict[str, list[str]]:
    """Words that only Russian lines (or only Kazakh lines) of the training data use, in >= ``min_lines`` lines."""
    from collections import Counter

    ru: Counter[str] = Counter()
    kk: Counter[str] = Counter()
    for toks, lang in texts_by_language:
        if lang == "ru":
            ru.update(set(toks))
        elif lang == "kk":
            kk.update(set(toks))
    return {
        "ru": sorted(w for w, c in ru.items() if c >= min_lines and kk[w] == 0),
        "kk": sorted(w for w, c in kk.items() if c >= min_lines and ru[w] == 0),
    }


def detect(text_tokens: list[str]) -> str:
    """Language of normalised tokens."""
    return vote(text_tokens).language
