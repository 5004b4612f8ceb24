"""Typed messages of the personal-data detector: the words Vosk heard and the spans found among them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class TimedWord:
    """One word as Vosk prints it (lower case, numbers as words), with its start and end in seconds."""

    text: str
    start: float
    end: float


class PersonalDataKind(Enum):
    """What a span of personal data is."""

    IIN = "iin"  # ИИН / ЖСН, the 12-digit individual identification number
    PHONE = "phone"
    CARD = "card"


@dataclass(frozen=True, slots=True)
class PersonalDataSpan:
    """Personal data said over words ``first_word``..``last_word`` (inclusive indices), from ``start`` to ``end``
    seconds; ``digits`` is the number as heard."""

    kind: PersonalDataKind
    first_word: int
    last_word: int
    start: float
    end: float
    digits: str
