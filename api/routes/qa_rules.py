"""The automatic QA checks over HTTP: the rules in force (QA leads save new versions) and each call's scorecard."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.access import CallReader, QaCorrector, QaReviewer, enforce
from api.deps import SessionDep, end_reads
from api.errors import ApiError
from api.params import RecordId
from api.personal_data import mask_text
from api.policy import Action
from api.schemas import Strict
from models.quality import QaRuleSet, QaScorecard
from models.records import Call, User
from models.repo import qa_scoring
from qa.rules import MAX_RULES, RuleSet, RuleSetError, default_rule_set, parse_rules, rule_set_of
from qa.stored import score_stored

logger = logging.getLogger(__name__)

router = APIRouter(tags=["qa"])


class RuleSetPublic(BaseModel):
    """A version of the QA rules: "default" is the shipped set (version 0), in force until QA leads save one."""

    version: int
    source: Literal["default", "saved"]
    note: str | None = None
    created_by_id: int | None = None
    created_at: datetime | None = None
    rules: list[dict[str, Any]]

    @classmethod
    def of(cls, row: QaRuleSet | None) -> RuleSetPublic:
        if row is None:
            return cls(version=0, source="default", rules=default_rule_set().as_json())
        return cls(
            version=row.version,
            source="saved",
            note=row.note,
            created_by_id=row.created_by_id,
            created_at=row.created_at,
            rules=list(row.rules),
        )


class RuleSetIn(Strict):
    """A new version of the rules: every rule (docs/qa.md), and why it changed."""

    rules: list[dict[str, Any]] = Field(max_length=MAX_RULES)
    note: str | None = Field(default=None, max_length=1000)


class ResultPublic(BaseModel):
    """One check's outcome, with the rule's kk and ru names as they were in the version that scored it."""

    rule: str
    name_kk: str
    name_ru: str
    outcome: Literal["passed", "failed", "not_applicable"]
    at_s: float | None
    evidence: str


class ScorecardPublic(BaseModel):
    """The newest scorecard of a call (``checks``: the checks that applied; ``failed``: those that failed)."""

    id: int
    call_id: int
    operator_id: int | None
    rule_set_version: int
    asr_model_version: str | None
    classifier_model_version: str | None
    checks: int
    failed: int
    asr_confidence: float | None
    emergency: str | None
    scored_at: datetime
    results: list[ResultPublic]


def _rule_set(session: SessionDep, version: int) -> RuleSet | None:
    if version == 0:
        return default_rule_set()
    row = qa_scoring.rule_set_version(session, version)
    if row is None:
        return None
    try:
        return rule_set_of(row.version, row.rules)
    except RuleSetError:
        logger.warning("QA rule set version %d no longer reads; scorecards show rule ids only", version)
        return None


def _public(session: SessionDep, card: QaScorecard) -> ScorecardPublic:
    rules = _rule_set(session, card.rule_set_version)
    names = rules.names() if rules is not None else {}
    results = []
    for item in card.results or []:
        rule = str(item.get("rule", ""))
        kk, ru = names.get(rule, (rule, rule))
        results.append(
            ResultPublic(
                rule=rule,
                name_kk=kk,
                name_ru=ru,
                outcome=item.get("outcome", "not_applicable"),
                at_s=item.get("at_s"),
                evidence=mask_text(str(item.get("evidence", ""))) or "",  # quotes: masked for everyone
            )
        )
    return ScorecardPublic(
        id=card.id,
        call_id=card.call_id,
        operator_id=card.operator_id,
        rule_set_version=card.rule_set_version,
        asr_model_version=card.asr_model_version,
        classifier_model_version=card.classifier_model_version,
        checks=card.checks,
        failed=card.failed,
        asr_confidence=card.asr_confidence,
        emergency=card.emergency,
        scored_at=card.scored_at,
        results=results,
    )


def _readable_call(session: SessionDep, call_id: int, user: User) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    enforce(user, Action.READ_CALL, call=call)
    return call


@router.get("/qa/rules", response_model=RuleSetPublic)
def get_rules(session: SessionDep, _user: QaReviewer) -> RuleSetPublic:
    """The automatic QA rules in force: the newest saved version, else the shipped default (version 0)."""
    out = RuleSetPublic.of(qa_scoring.latest_rule_set(session))
    end_reads(session)
    return out


@router.put("/qa/rules", response_model=RuleSetPublic)
def put_rules(body: RuleSetIn, session: SessionDep, user: QaCorrector) -> RuleSetPublic:
    """Save the rules as a new version (QA leads); calls scored from now on use it. Invalid rules: 422, nothing
    saved. Versions are never edited, so every scorecard still names the rules that made it."""
    try:
        rules = parse_rules(body.rules)
    except RuleSetError as exc:
        raise ApiError(422, f"The rules were not saved: {exc}.") from None
    row = qa_scoring.save_rule_set(
        session,
        rules=RuleSet(0, rules).as_json(),
        note=body.note.strip() if body.note and body.note.strip() else None,
        user_id=user.id,
        actor=user.username,
    )
    logger.info("QA rules version %d saved by %s (%d rules)", row.version, user.username, len(rules))
    return RuleSetPublic.of(row)


@router.get("/calls/{call_id}/scorecard", response_model=ScorecardPublic)
def get_scorecard(call_id: RecordId, session: SessionDep, user: CallReader) -> ScorecardPublic:
    """The call's newest scorecard, with each rule's kk and ru name (who may read the call may read it)."""
    _readable_call(session, call_id, user)
    card = qa_scoring.latest_scorecard(session, call_id)
    if card is None:
        raise ApiError(404, f"Call {call_id} has not been scored yet.")
    out = _public(session, card)
    end_reads(session)
    return out


@router.post("/calls/{call_id}/scorecard", response_model=ScorecardPublic, status_code=201)
def rescore(call_id: RecordId, session: SessionDep, user: QaCorrector) -> ScorecardPublic:
    """Score the call again now, with the rules in force and its transcript as corrected (a new scorecard)."""
    call = _readable_call(session, call_id, user)
    if call.state in qa_scoring.LIVE_STATES:
        raise ApiError(409, f"Call {call_id} is still in progress; it is scored once it ends.")
    try:
        card = qa_scoring.score_call(session, call_id, scorer=score_stored)
    except RuleSetError as exc:
        raise ApiError(409, f"The QA rules in force no longer read ({exc}); save them again.") from None
    if card is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    logger.info("call %d rescored by %s", call_id, user.username)
    return _public(session, card)


def rescore_quietly(session: SessionDep, call_id: int) -> None:
    """Score a call again after QA corrected its transcript; a failure is logged and never fails the request."""
    try:
        qa_scoring.score_call(session, call_id, scorer=score_stored)
    except Exception:
        session.rollback()
        logger.exception("call %d: rescoring after a QA correction failed", call_id)
