"""The retention policy (pure): what each kind of a call's personal data becomes after how many days, loaded from
YAML (core/data/retention.yaml, or a site's file) with errors a person can act on; each kind's cut-off for a given
``now``; when the daily job is due; and what an anonymised transcript segment keeps.

Applying it to the database is models.repo.retention; the daily job is callcard.retention_runner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

import core
from privacy.base import PersonalDataSpan, TimedWord
from privacy.detect import detect_personal_data
from privacy.mask import PLACEHOLDER

DEFAULT_POLICY_FILE = Path(core.__file__).resolve().parent / "data" / "retention.yaml"


class RetentionKind(StrEnum):
    """The kinds of personal data a call holds, each with its own action and days."""

    RECORDINGS = "recordings"
    TRANSCRIPTS = "transcripts"
    CALLER_NUMBERS = "caller_numbers"


class RetentionAction(StrEnum):
    """What happens to a kind of data after its days."""

    DELETE = "delete"
    ANONYMISE = "anonymise"
    KEEP = "keep"  # the kind is not touched


# The actions each kind admits.
ALLOWED_ACTIONS: dict[RetentionKind, tuple[RetentionAction, ...]] = {
    RetentionKind.RECORDINGS: (RetentionAction.DELETE, RetentionAction.KEEP),
    RetentionKind.TRANSCRIPTS: (RetentionAction.ANONYMISE, RetentionAction.DELETE, RetentionAction.KEEP),
    RetentionKind.CALLER_NUMBERS: (RetentionAction.ANONYMISE, RetentionAction.KEEP),
}
MAX_DAYS = 100 * 366


class RetentionPolicyError(ValueError):
    """A policy file that cannot be used; the message says where and what to write instead."""


@dataclass(frozen=True, slots=True)
class KindRule:
    """One kind's rule: its action, after how many days from the end of the call (None with ``keep``)."""

    action: RetentionAction
    days: int | None

    @property
    def active(self) -> bool:
        return self.action is not RetentionAction.KEEP


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The rule of every kind, and where it was read from."""

    recordings: KindRule
    transcripts: KindRule
    caller_numbers: KindRule
    source: str = "built-in"

    def rule(self, kind: RetentionKind) -> KindRule:
        rule: KindRule = getattr(self, kind.value)
        return rule

    def cutoffs(self, now: datetime) -> dict[RetentionKind, datetime | None]:
        """Per kind, the moment before which a call must have ended to lose that kind (None: kept)."""
        if now.tzinfo is None:
            raise ValueError("the retention clock must be timezone-aware")
        out: dict[RetentionKind, datetime | None] = {}
        for kind in RetentionKind:
            rule = self.rule(kind)
            out[kind] = now - timedelta(days=rule.days) if rule.active and rule.days is not None else None
        return out

    def as_json(self, now: datetime | None = None) -> dict[str, Any]:
        """The policy as stored with each run: per kind the action and days (and the cut-off at ``now``)."""
        cut = self.cutoffs(now) if now is not None else {}
        out: dict[str, Any] = {"source": self.source}
        for kind in RetentionKind:
            rule = self.rule(kind)
            entry: dict[str, Any] = {"action": rule.action.value, "days": rule.days}
            if now is not None:
                moment = cut[kind]
                entry["cutoff"] = moment.isoformat() if moment is not None else None
            out[kind.value] = entry
        return out


def _rule(kind: RetentionKind, raw: Any, where: str) -> KindRule:
    allowed = ALLOWED_ACTIONS[kind]
    names = ", ".join(a.value for a in allowed)
    if not isinstance(raw, Mapping):
        raise RetentionPolicyError(
            f"{where}: `{kind}` must be a mapping with `action` and `days`, e.g. action: {names}"
        )
    unknown = sorted(str(k) for k in raw if k not in ("action", "days"))
    if unknown:
        raise RetentionPolicyError(f"{where}: `{kind}` has unknown keys {unknown}; only `action` and `days` are read")
    action_raw = raw.get("action")
    if action_raw == "anonymize":
        action_raw = "anonymise"
    try:
        action = RetentionAction(str(action_raw))
    except ValueError:
        raise RetentionPolicyError(f"{where}: `{kind}.action` is {action_raw!r}; it must be one of: {names}") from None
    if action not in allowed:
        raise RetentionPolicyError(f"{where}: `{kind}.action` cannot be {action.value!r}; it must be one of: {names}")
    days = raw.get("days")
    if action is RetentionAction.KEEP:
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
            raise RetentionPolicyError(f"{where}: `{kind}.days` must be a whole number of days, not {days!r}")
        return KindRule(action, days)
    if days is None:
        raise RetentionPolicyError(f"{where}: `{kind}.days` is missing: after how many days to {action.value}?")
    if isinstance(days, bool) or not isinstance(days, int):
        raise RetentionPolicyError(f"{where}: `{kind}.days` must be a whole number of days, not {days!r}")
    if not 1 <= days <= MAX_DAYS:
        raise RetentionPolicyError(f"{where}: `{kind}.days` is {days}; it must be between 1 and {MAX_DAYS}")
    return KindRule(action, days)


def policy_from_mapping(raw: Any, *, source: str = "built-in") -> RetentionPolicy:
    """A policy from parsed YAML; RetentionPolicyError naming the first mistake."""
    if not isinstance(raw, Mapping):
        raise RetentionPolicyError(
            f"{source}: the policy must be a mapping of {', '.join(k.value for k in RetentionKind)}"
        )
    unknown = sorted(str(k) for k in raw if k not in {k.value for k in RetentionKind})
    if unknown:
        known = ", ".join(k.value for k in RetentionKind)
        raise RetentionPolicyError(f"{source}: unknown kinds {unknown}; the kinds are {known}")
    missing = [k.value for k in RetentionKind if k.value not in raw]
    if missing:
        raise RetentionPolicyError(f"{source}: no rule for {', '.join(missing)} (write `action: keep` to keep it)")
    rules = {kind.value: _rule(kind, raw[kind.value], source) for kind in RetentionKind}
    return RetentionPolicy(**rules, source=source)


def parse_policy(text: str, *, source: str = "built-in") -> RetentionPolicy:
    """A policy from YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RetentionPolicyError(f"{source}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    return policy_from_mapping(raw, source=source)


def load_policy(path: Path | None = None) -> RetentionPolicy:
    """The site's policy file, or the shipped default (core/data/retention.yaml) when ``path`` is None."""
    path = path or DEFAULT_POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RetentionPolicyError(f"cannot read the retention policy {path}: {exc.strerror or exc}") from None
    return parse_policy(text, source=str(path))


def run_due(now: datetime, *, hour: int, tz: tzinfo, last_run_at: datetime | None) -> bool:
    """Whether the daily run is due at ``now``: it is ``hour`` o'clock or later on the city's clock, and no run
    started earlier that same local day (so a restart does not run it twice)."""
    if not 0 <= hour <= 23:
        raise ValueError(f"the retention hour must be 0..23, not {hour}")
    local = now.astimezone(tz)
    if local.hour < hour:
        return False
    return last_run_at is None or last_run_at.astimezone(tz).date() < local.date()


@dataclass(frozen=True, slots=True)
class AnonymisedSegment:
    """What an anonymised transcript segment keeps: the placeholders of its personal data, with their times."""

    text: str
    words: list[dict[str, Any]]


def _timed(words: Sequence[Mapping[str, Any]]) -> list[TimedWord]:
    out = []
    for w in words:
        start = float(w.get("start") or 0.0)
        out.append(TimedWord(str(w.get("word") or ""), start, float(w.get("end") or start)))
    return out


def _lowest_conf(words: Sequence[Mapping[str, Any]], span: PersonalDataSpan) -> float:
    """The span's least confident word's confidence (1.0 when the words carry none), as the placeholder's."""
    confs = [float(w["conf"]) for w in words[span.first_word : span.last_word + 1] if w.get("conf") is not None]
    return min(confs, default=1.0)


def anonymise_words(words: Sequence[Mapping[str, Any]]) -> AnonymisedSegment:
    """A stored segment's words ({"word", "start", "end", "conf"}) anonymised: every word said is dropped; each
    span of personal data (ИИН, phone, card) stays as its placeholder ("<iin>", "<phone>", "<card>") with the
    span's start and end (and its least confident word's confidence), so a reviewer still sees where personal data
    was said and nothing of what was said."""
    spans = detect_personal_data(_timed(words))
    ordered = sorted(spans, key=lambda s: s.first_word)
    kept: list[dict[str, Any]] = [
        {"word": PLACEHOLDER[s.kind], "start": s.start, "end": s.end, "conf": _lowest_conf(words, s)} for s in ordered
    ]
    return AnonymisedSegment(text=" ".join(PLACEHOLDER[s.kind] for s in ordered), words=kept)
