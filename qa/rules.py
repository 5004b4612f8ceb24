"""The rule schema of the automatic QA checks, and reading, checking and writing rule sets.

A rule set is a list of rules. Each rule has an ``id`` (its stable name in scorecards and judgments), a ``kind``
(which check runs it: qa.checks), kk and ru names for people, ``enabled``, ``parameters`` of its kind and, for the
kinds that listen for words, ``phrases`` per language (kk, ru). Errors name the rule and the field in a sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

DEFAULT_VERSION = 0  # the shipped qa/data/rules.yaml, in force until QA leads save a version of their own
MAX_RULES = 100
MAX_PHRASES = 200
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Phrase = Annotated[str, Field(min_length=1, max_length=200)]
Seconds = Annotated[float, Field(gt=0, le=3600)]


class RuleKind(Enum):
    """The checks there are (one module each under qa/checks/)."""

    GREETING = "greeting"
    READBACK = "readback"
    EMERGENCY_TRANSFER = "emergency_transfer"
    SILENCE = "silence"
    TALK_OVER = "talk_over"
    REPEATED_QUESTION = "repeated_question"
    FORBIDDEN_PHRASE = "forbidden_phrase"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phrases(_Strict):
    """Phrases per language, as people say them (matched on normalised words; Kazakh letters may be heard as
    Russian ones)."""

    kk: list[Phrase] = Field(default_factory=list, max_length=MAX_PHRASES)
    ru: list[Phrase] = Field(default_factory=list, max_length=MAX_PHRASES)

    @field_validator("kk", "ru")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        for phrase in value:
            if not any(ch.isalnum() for ch in phrase):
                raise ValueError(f"the phrase {phrase!r} has no words")
        return [" ".join(p.split()) for p in value]

    def pairs(self) -> list[tuple[str, str]]:
        """(language, phrase) for every phrase."""
        return [("kk", p) for p in self.kk] + [("ru", p) for p in self.ru]

    def of(self, language: str) -> list[str]:
        return list(self.kk if language == "kk" else self.ru)


class _Rule(_Strict):
    id: RuleId
    name_kk: Name
    name_ru: Name
    enabled: bool = True


class GreetingParameters(_Strict):
    within_s: Seconds = 5.0  # the operator greets within this many seconds of the answer


class GreetingRule(_Rule):
    """The operator greets within ``within_s`` of the answer, in the caller's language (mixed caller: either)."""

    kind: Literal["greeting"]
    parameters: GreetingParameters = GreetingParameters()
    phrases: Phrases

    @field_validator("phrases")
    @classmethod
    def _both(cls, value: Phrases) -> Phrases:
        if not value.kk or not value.ru:
            raise ValueError("list greetings in both languages (kk and ru)")
        return value


class ReadbackParameters(_Strict):
    # A sequence number this short counts only beside "109", the year or the word "номер"/"нөмір".
    min_alone_digits: int = Field(default=3, ge=1, le=6)


class ReadbackRule(_Rule):
    """The operator reads the card's registration number back before the call ends."""

    kind: Literal["readback"]
    parameters: ReadbackParameters = ReadbackParameters()


class EmergencyTransferParameters(_Strict):
    within_s: Seconds = 30.0


class EmergencyTransferRule(_Rule):
    """After the emergency banner the operator transfers the caller within ``within_s``."""

    kind: Literal["emergency_transfer"]
    parameters: EmergencyTransferParameters = EmergencyTransferParameters()


class SilenceParameters(_Strict):
    longer_than_s: Seconds = 10.0


class SilenceRule(_Rule):
    """No speech from either side for more than ``longer_than_s`` while the call is up."""

    kind: Literal["silence"]
    parameters: SilenceParameters = SilenceParameters()


class TalkOverParameters(_Strict):
    total_s: Seconds = 4.0  # both talking at once for more than this in all
    instance_s: Seconds = 1.5  # or for more than this at one time


class TalkOverRule(_Rule):
    """The caller and the operator talk at once for too long."""

    kind: Literal["talk_over"]
    parameters: TalkOverParameters = TalkOverParameters()


class RepeatedQuestionParameters(_Strict):
    similarity: float = Field(default=0.75, gt=0, le=1)  # of two caller questions' normalised words
    min_words: int = Field(default=2, ge=1, le=20)  # shorter questions ("да?") are not compared


class RepeatedQuestionRule(_Rule):
    """The caller asks the same thing again; ``phrases`` are the repeat markers ("еще раз", "тағы да")."""

    kind: Literal["repeated_question"]
    parameters: RepeatedQuestionParameters = RepeatedQuestionParameters()
    phrases: Phrases = Phrases()


class ForbiddenPhraseRule(_Rule):
    """The operator says none of ``phrases`` (kk and ru lists, both checked whatever the call's language)."""

    kind: Literal["forbidden_phrase"]
    phrases: Phrases

    @field_validator("phrases")
    @classmethod
    def _some(cls, value: Phrases) -> Phrases:
        if not value.kk and not value.ru:
            raise ValueError("list at least one forbidden phrase")
        return value


Rule = Annotated[
    GreetingRule
    | ReadbackRule
    | EmergencyTransferRule
    | SilenceRule
    | TalkOverRule
    | RepeatedQuestionRule
    | ForbiddenPhraseRule,
    Field(discriminator="kind"),
]
_RULES = TypeAdapter(list[Rule])


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One version of the rules (0: the shipped default)."""

    version: int
    rules: tuple[Rule, ...]

    def enabled(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def names(self) -> dict[str, tuple[str, str]]:
        """rule id -> (name_kk, name_ru)."""
        return {r.id: (r.name_kk, r.name_ru) for r in self.rules}

    def as_json(self) -> list[dict[str, Any]]:
        """The stored shape (models.quality.QaRuleSet.rules)."""
        return rules_json(self.rules)


class RuleSetError(ValueError):
    """Rules that cannot be used; ``problems`` are sentences for people, one per mistake."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


def _where(loc: tuple[int | str, ...], raw: Any) -> tuple[str, str]:
    """("rule 2 (greeting)", "parameters.within_s") from a pydantic location."""
    if not loc or not isinstance(loc[0], int):
        return "the rule list", ".".join(str(p) for p in loc)
    index = loc[0]
    label = f"rule {index + 1}"
    item = raw[index] if isinstance(raw, list) and index < len(raw) else None
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        label += f" ({item['id']})"
    rest = [str(p) for p in loc[1:]]
    if rest and rest[0] in {k.value for k in RuleKind}:
        rest = rest[1:]  # the union's tag pydantic adds to the location
    return label, ".".join(rest)


def _explain(exc: ValidationError, raw: Any) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        label, field = _where(tuple(error["loc"]), raw)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            kinds = ", ".join(k.value for k in RuleKind)
            message = f"kind {error['input'].get('kind')!r} is not a check there is; use one of {kinds}"
        elif error["type"] == "union_tag_not_found":
            message = "says no kind; add kind: one of " + ", ".join(k.value for k in RuleKind)
        elif error["type"] == "extra_forbidden":
            message = "is not a field of this kind of rule"
        elif error["type"] == "missing":
            message = "is required"
        elif error["type"] == "string_pattern_mismatch":
            message = "must be lower-case latin letters, digits and _, starting with a letter (2-64 characters)"
        problems.append(f"{label}: {field} {message}" if field else f"{label} {message}")
    return problems


def parse_rules(raw: Any) -> tuple[Rule, ...]:
    """Rules from parsed YAML or JSON: a list of rules, or {"rules": [...]}; RuleSetError says what is wrong."""
    if isinstance(raw, dict) and set(raw) <= {"rules", "note", "version"} and "rules" in raw:
        raw = raw["rules"]
    if not isinstance(raw, list):
        raise RuleSetError(["the rules must be a list of rules (or a mapping with a rules: list)"])
    if not raw:
        raise RuleSetError(["the rule list is empty; keep at least one rule (a rule can be disabled instead)"])
    if len(raw) > MAX_RULES:
        raise RuleSetError([f"there are {len(raw)} rules; at most {MAX_RULES} are allowed"])
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise RuleSetError([f"rule {n} must be a mapping of fields (id, kind, name_kk, name_ru, ...)"])
    try:
        rules = _RULES.validate_python(raw)
    except ValidationError as exc:
        raise RuleSetError(_explain(exc, raw)) from None
    seen: set[str] = set()
    duplicates = []
    for rule in rules:
        if rule.id in seen:
            duplicates.append(f"the id {rule.id} is used by more than one rule; ids must be unique")
        seen.add(rule.id)
    if duplicates:
        raise RuleSetError(duplicates)
    return tuple(rules)


def read_rules_yaml(text: str) -> tuple[Rule, ...]:
    """Rules from a YAML (or JSON) file's text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RuleSetError([f"the file is not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_rules(raw)


def rules_json(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Rules as plain JSON values (every field written out, defaults included)."""
    return [rule.model_dump(mode="json") for rule in rules]


def dump_rules_yaml(rules: Sequence[Rule], *, version: int | None = None) -> str:
    """Rules as the YAML file QA leads edit (``callcard qa rules export``)."""
    header = "# callcard automatic QA rules (docs/qa.md)"
    if version is not None:
        header += f"; exported version {version}"
    body = yaml.safe_dump({"rules": rules_json(rules)}, allow_unicode=True, sort_keys=False, width=120)
    return f"{header}\n{body}"


def default_rule_set() -> RuleSet:
    """The shipped rules (qa/data/rules.yaml) as version 0."""
    text = resources.files("qa").joinpath("data/rules.yaml").read_text(encoding="utf-8")
    return RuleSet(DEFAULT_VERSION, read_rules_yaml(text))


def rule_set_of(version: int | None, rules: Any) -> RuleSet:
    """The rule set stored as ``version`` (None: none stored, the shipped default is in force)."""
    if version is None:
        return default_rule_set()
    return RuleSet(version, parse_rules(rules))
