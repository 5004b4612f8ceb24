"""Data side of the automatic QA checks: a call as the checks read it, the rule set in force, stored scorecards.

models/ imports nothing of ours, so the checks themselves (qa/) come in as a ``Scorer``, like the routing engine
comes into models.repo.cards as a Router: ``score_call(session, call_id, scorer=qa.stored.score_stored)``.

The call's clock: segment times are seconds from the start of the call's audio, which begins when the call is
answered; banner, transfer and dismissal times (audit events, the card) are put on it by subtracting the answer
time (the start time for a call never marked answered).

The rule set in force is the newest ``QaRuleSet`` row; with none stored, the scorer uses the shipped default
(qa/data/rules.yaml) as version 0.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.quality import QaRuleSet, QaScorecard
from models.records import AuditEvent, Call, Card, TranscriptSegment
from models.repo import audit
from models.repo.qa import latest_corrections

logger = logging.getLogger(__name__)

# The transcript the checks read: live and post-call segments (a re-decode is a second opinion, not the call).
SCORED_SOURCES = ("live", "postcall")
NOT_EMERGENCY = (None, "", "none")
LIVE_STATES = ("ringing", "live")


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One segment as the checks read it: QA's latest correction in place of its original."""

    speaker: str
    start_s: float
    end_s: float
    text: str
    words: list[dict[str, Any]]
    language: str | None


@dataclass(frozen=True, slots=True)
class StoredCall:
    """Everything the checks need of one call (times in seconds on the call's clock) and the rule set in force
    (``rule_set_version`` None: none stored, the shipped default applies)."""

    call_id: int
    turns: tuple[StoredTurn, ...]
    answered_s: float | None
    ended_s: float | None
    caller_language: str | None
    reg_number: str | None
    emergency_code: str | None
    emergency_s: float | None
    transfer_s: float | None
    transfer_code: str | None
    emergency_dismissed_s: float | None
    rule_set_version: int | None
    rules: list[dict[str, Any]] | None


class ScoredCall(Protocol):
    """What a scorer returns (qa.scorecard.Scorecard)."""

    @property
    def rule_set_version(self) -> int: ...

    @property
    def checks(self) -> int: ...

    @property
    def failed(self) -> int: ...

    def results_json(self) -> list[dict[str, Any]]: ...


Scorer = Callable[[StoredCall], ScoredCall]


def latest_rule_set(session: Session) -> QaRuleSet | None:
    """The rule set in force: the newest stored version (None: the shipped default, version 0)."""
    return session.scalars(select(QaRuleSet).order_by(QaRuleSet.version.desc()).limit(1)).first()


def rule_set_version(session: Session, version: int) -> QaRuleSet | None:
    """One stored version of the rules."""
    return session.scalars(select(QaRuleSet).where(QaRuleSet.version == version)).first()


def save_rule_set(
    session: Session, *, rules: list[dict[str, Any]], note: str | None, user_id: int | None, actor: str
) -> QaRuleSet:
    """Store ``rules`` (already checked by qa.rules) as the next version; audited (entity "qa_rules")."""
    for attempt in range(3):
        newest = session.scalar(select(func.max(QaRuleSet.version))) or 0
        row = QaRuleSet(version=newest + 1, rules=rules, note=note, created_by_id=user_id)
        session.add(row)
        try:
            session.flush()
            audit.record(
                session,
                actor=actor,
                user_id=user_id,
                entity="qa_rules",
                entity_id=row.version,
                action="save",
                after={"version": row.version, "rules": len(rules), "note": note},
            )
            session.commit()
            return row
        except IntegrityError:
            session.rollback()  # someone saved the same version at the same time: take the next one
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def scored_turns(session: Session, call_id: int) -> list[TranscriptSegment]:
    """The call's final live and post-call segments, each replaced by QA's latest correction of it, in time order."""
    originals = list(
        session.scalars(
            select(TranscriptSegment).where(
                TranscriptSegment.call_id == call_id,
                TranscriptSegment.source.in_(SCORED_SOURCES),
                TranscriptSegment.is_final.is_(True),
            )
        ).all()
    )
    corrected = latest_corrections(session, segment_ids=[s.id for s in originals])
    turns = [corrected.get(s.id, s) for s in originals]
    return sorted(turns, key=lambda s: (s.start_s, s.id))


def _offset(at: datetime | None, origin: datetime) -> float | None:
    return None if at is None else round((at - origin).total_seconds(), 3)


def _card_events(session: Session, card_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        ).all()
    )


@dataclass(frozen=True, slots=True)
class _Emergency:
    code: str | None = None
    banner: datetime | None = None
    transfer: datetime | None = None
    transfer_code: str | None = None
    dismissed: datetime | None = None


def _emergency(session: Session, card: Card) -> _Emergency:
    """When the banner first showed (the first proposal of an emergency), when the caller was transferred (the
    attempt that succeeded, else the transfer's record) and when the banner was dismissed."""
    events = _card_events(session, card.id)
    code: str | None = None
    banner: datetime | None = None
    for event in events:
        proposed = (event.after or {}).get("proposed_emergency")
        if event.action in ("create", "propose") and proposed not in NOT_EMERGENCY:
            code, banner = str(proposed), event.at
            break
    if banner is None and card.proposed_emergency not in NOT_EMERGENCY:
        code, banner = card.proposed_emergency, card.proposed_at
    transfer: datetime | None = None
    transfer_code: str | None = None
    last_attempt: AuditEvent | None = None
    for event in events:
        if event.action == audit.TRANSFER_ATTEMPT:
            last_attempt = event
        elif event.action == audit.TRANSFER_DONE:
            transfer = last_attempt.at if last_attempt is not None else event.at
            transfer_code = str((event.after or {}).get("emergency_transferred_to") or card.emergency_transferred_to)
            break
    if transfer is None and card.emergency_transferred_at is not None:
        transfer, transfer_code = card.emergency_transferred_at, card.emergency_transferred_to
    dismissed = next((e.at for e in events if e.action == "dismiss_emergency"), None)
    return _Emergency(code, banner, transfer, transfer_code, dismissed)


def _caller_language(call: Call, card: Card | None, turns: Sequence[TranscriptSegment]) -> str | None:
    for value in (card.language if card else None, call.language, card.proposed_language if card else None):
        if value in ("ru", "kk", "mixed"):
            return str(value)
    heard = {t.language for t in turns if t.speaker == "caller" and t.language in ("ru", "kk")}
    if len(heard) == 2:
        return "mixed"
    return heard.pop() if heard else None


def stored_call(session: Session, call_id: int) -> StoredCall | None:
    """The call as the checks read it (None: no such call)."""
    call = session.get(Call, call_id)
    if call is None:
        return None
    card = session.scalars(select(Card).where(Card.call_id == call_id)).first()
    segments = scored_turns(session, call_id)
    origin = call.answered_at or call.started_at
    ended_s = _offset(call.ended_at, origin)
    if ended_s is None and segments:
        ended_s = max(s.end_s for s in segments)
    emergency = _emergency(session, card) if card is not None else _Emergency()
    rules = latest_rule_set(session)
    return StoredCall(
        call_id=call.id,
        turns=tuple(
            StoredTurn(s.speaker, float(s.start_s), float(s.end_s), s.text, list(s.words or []), s.language)
            for s in segments
        ),
        answered_s=0.0 if call.answered_at is not None else None,
        ended_s=ended_s,
        caller_language=_caller_language(call, card, segments),
        reg_number=card.reg_number if card is not None else None,
        emergency_code=emergency.code,
        emergency_s=_offset(emergency.banner, origin),
        transfer_s=_offset(emergency.transfer, origin),
        transfer_code=emergency.transfer_code,
        emergency_dismissed_s=_offset(emergency.dismissed, origin),
        rule_set_version=rules.version if rules is not None else None,
        rules=list(rules.rules) if rules is not None else None,
    )


def _asr_figures(session: Session, call_id: int) -> tuple[str | None, float | None]:
    """The recogniser's model version(s) and the mean confidence of its words (QA's corrections excluded)."""
    rows = session.scalars(
        select(TranscriptSegment).where(
            TranscriptSegment.call_id == call_id, TranscriptSegment.source.in_(SCORED_SOURCES)
        )
    ).all()
    versions = Counter(r.model_version for r in rows if r.model_version)
    confs = [
        float(w["conf"])
        for r in rows
        for w in (r.words or [])
        if isinstance(w, dict) and isinstance(w.get("conf"), int | float)
    ]
    version = ", ".join(v for v, _ in versions.most_common())[:128] or None
    return version, (round(sum(confs) / len(confs), 4) if confs else None)


def score_call(session: Session, call_id: int, *, scorer: Scorer) -> QaScorecard | None:
    """Score the call with the rules in force and store a new scorecard (the newest one of a call is in force).

    None when there is no such call or it is still ringing or live. The scorer's errors propagate; the
    caller decides (post-call work and the correction route log them and go on).
    """
    call = session.get(Call, call_id)
    if call is None or call.state in LIVE_STATES:
        return None
    data = stored_call(session, call_id)
    if data is None:
        return None
    card = session.scalars(select(Card).where(Card.call_id == call_id)).first()
    scored = scorer(data)
    asr_version, confidence = _asr_figures(session, call_id)
    emergency = data.emergency_code or (card.emergency if card is not None else None)
    row = QaScorecard(
        call_id=call_id,
        operator_id=call.operator_id,
        rule_set_version=scored.rule_set_version,
        asr_model_version=asr_version,
        classifier_model_version=card.model_version if card is not None else None,
        results=scored.results_json(),
        checks=scored.checks,
        failed=scored.failed,
        asr_confidence=confidence,
        emergency=emergency if emergency not in NOT_EMERGENCY else None,
        scored_at=utcnow(),
    )
    session.add(row)
    session.commit()
    logger.info(
        "call %d scored: %d of %d checks failed (rules v%d)", call_id, row.failed, row.checks, row.rule_set_version
    )
    return row


def latest_scorecard(session: Session, call_id: int) -> QaScorecard | None:
    """The scorecard in force for a call: its newest."""
    return session.scalars(
        select(QaScorecard).where(QaScorecard.call_id == call_id).order_by(QaScorecard.id.desc()).limit(1)
    ).first()


def calls_to_score(session: Session, *, since: datetime | None = None, limit: int = 10_000) -> list[int]:
    """Ended calls (oldest first), optionally those started at or after ``since``."""
    stmt = select(Call.id).where(Call.state.not_in(LIVE_STATES)).order_by(Call.started_at, Call.id).limit(limit)
    if since is not None:
        stmt = stmt.where(Call.started_at >= since)
    return list(session.scalars(stmt).all())
