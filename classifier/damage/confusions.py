"""What Vosk confuses on telephone speech: the letter tables and word lists the damage model draws from.

Each table imitates one kind of error seen in Vosk's Russian and Kazakh models on 8 kHz telephone audio:

- VOICING: voiced/voiceless pairs (б/п, в/ф, г/к, д/т, ж/ш, з/с; Kazakh ғ/қ). Telephone band-limiting (300-3400 Hz)
  removes most of the low-frequency voicing bar, so the acoustic model hears "без" for "бес" and the reverse;
  Russian final devoicing makes it worse at word ends.
- VOWELS: unstressed vowel reduction (о/а "акание", е/и/я "иканье", "батарея" -> "батореи") and the Kazakh
  vowel pairs that differ only in frontness or rounding (ы/і, ө/о, ұ/у, ү/ұ, ә/а, е/э), which the short vowels of
  fast speech do not tell apart.
- KK_FOLD: a Kazakh letter written as its Russian neighbour (ә->а, ғ->г, қ->к, ң->н, ө->о, ұ->у, ү->у, һ->х,
  і->и): what a Russian-leaning lexicon or language model writes for Kazakh words in Kazakh and mixed calls.
- FILLERS: hesitations and discourse words that the recogniser writes as words ("ээ", "мм", "ну", "әлгі", "иә").
- FUNCTION_WORDS: short prepositions, particles and postpositions, the words Vosk drops most often (little
  acoustic energy, swallowed between content words).
"""

from __future__ import annotations

VOICING: dict[str, str] = {
    **{pair[0]: pair[1] for pair in "бп вф гк дт жш зс ғқ".split()},
    **{pair[1]: pair[0] for pair in "бп вф гк дт жш зс ғқ".split()},
}

# a vowel -> the vowels it is heard as
VOWELS: dict[str, tuple[str, ...]] = {
    vowel: tuple(heard)
    for vowel, heard in (
        entry.split(":") for entry in "о:а а:о е:ия и:еы я:ие э:е ы:іи і:ыи ө:о ұ:у ү:ұу у:ұо ә:ае".split()
    )
}

KK_FOLD = str.maketrans({"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"})
KAZAKH_LETTERS = frozenset("әғқңөұүһі")
LETTERS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі")

RU_FILLERS = ("ээ", "ну", "мм", "вот", "это", "а", "да", "эм")
KK_FILLERS = ("ээ", "мм", "әлгі", "иә", "енді", "ал", "ой", "мынау")

FUNCTION_WORDS = frozenset(
    # Russian prepositions, conjunctions, particles, pronouns
    "в во на с со к ко у о об от до по за из и а но не ни же ли бы то что как уже там тут вот ну да это мы я она "
    "они вы нас нам их его ее при под над для без "
    # Kazakh particles and postpositions
    "бе ба ма ме па пе да де та те ғой қой ғана қана мен бен пен үшін және еді ал сол бұл біз сіз ой".split()
)


def fillers_for(language: str) -> tuple[str, ...]:
    """The fillers a caller of this language says: Russian ones, Kazakh ones, or both for mixed speech."""
    if language == "kk":
        return KK_FILLERS
    if language == "ru":
        return RU_FILLERS
    return RU_FILLERS + tuple(f for f in KK_FILLERS if f not in RU_FILLERS)
