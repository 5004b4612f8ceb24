"""QA's review of the automatic checks: the queue, the weekly sample per operator, verdicts on each automatic
result and the rules' precision they measure, and per-operator trends for the dashboard."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from api.access import QaCorrector, QaReviewer, QaTrendsUser, viewer
from api.access_log import log_access
from api.deps import CtxDep, SessionDep
from api.errors import ApiError
from api.params import MAX_ID, Offset, OptionalRecordId, RecordId
from api.personal_data import mask_text, view_of
from api.policy import PersonalDataView, Surface, qa_trends_operator
from api.routes.cards import parse_when
from api.schemas import Strict
from models.quality import QaJudgment, QaScorecard
from models.records import Call
from models.repo import qa_judgments, qa_review, qa_sampling, qa_trends
from models.repo.qa_review import RuleName, name_of
from models.repo.qa_sampling import IsoWeek, SampleRow, SampleState

logger = logging.getLogger(__name__)

router = APIRouter(tags=["qa review"])

MAX_TREND_WEEKS = 26


# ------------------------------------------------------------------------------------------------- messages


class RuleNamePublic(BaseModel):
    """A rule's id and its names in kk and ru (the id where the rule set does not name it)."""

    id: str
    name_kk: str
    name_ru: str

    @classmethod
    def of(cls, name: RuleName) -> RuleNamePublic:
        return cls(id=name.id, name_kk=name.name_kk, name_ru=name.name_ru)


class QueueItemPublic(BaseModel):
    """A call in the QA queue with its scorecard in force."""

    scorecard_id: int
    call_id: int
    operator_id: int | None
    operator_name: str | None
    started_at: datetime
    checks: int
    failed: int
    failed_rules: list[RuleNamePublic]
    emergency: str | None
    asr_confidence: float | None
    scored_at: datetime
    rule_set_version: int
    sample_id: int | None
    sample_week: str | None
    sample_state: SampleState | None


class QueuePublic(BaseModel):
    """A page of the queue, worst first."""

    total: int
    limit: int
    offset: int
    items: list[QueueItemPublic]


class SamplePublic(BaseModel):
    """A call drawn into an operator's weekly sample."""

    id: int
    week: str
    operator_id: int
    operator_name: str
    call_id: int
    call_started_at: datetime
    drawn_at: datetime
    state: SampleState
    reviewed_at: datetime | None
    reviewed_by_id: int | None

    @classmethod
    def of(cls, row: SampleRow) -> SamplePublic:
        return cls(
            id=row.id,
            week=row.week,
            operator_id=row.operator_id,
            operator_name=row.operator_name,
            call_id=row.call_id,
            call_started_at=row.call_started_at,
            drawn_at=row.drawn_at,
            state=row.state,
            reviewed_at=row.reviewed_at,
            reviewed_by_id=row.reviewed_by_id,
        )


class SamplesPublic(BaseModel):
    """A week's sample."""

    week: str
    per_operator: int
    samples: list[SamplePublic]


class OperatorCount(BaseModel):
    operator_id: int
    calls: int


class DrawPublic(BaseModel):
    """What a draw added; every operator's count in the week's sample now."""

    week: str
    per_operator: int
    added: list[int]
    totals: list[OperatorCount]


class DrawIn(Strict):
    """The ISO week to draw ("2026-W50"); default: the current week on the city's clock."""

    week: str | None = Field(default=None, max_length=8, examples=["2026-W50"])


class JudgmentIn(Strict):
    """QA's word on one automatic result of the scorecard."""

    rule: str = Field(min_length=1, max_length=64)
    verdict: Literal["agree", "disagree"]
    note: str | None = Field(default=None, max_length=1000)


class JudgmentPublic(BaseModel):
    id: int
    scorecard_id: int
    rule: str
    outcome: str
    verdict: str
    note: str | None
    user_id: int
    at: datetime

    @classmethod
    def of(cls, j: QaJudgment) -> JudgmentPublic:
        return cls(
            id=j.id,
            scorecard_id=j.scorecard_id,
            rule=j.rule,
            outcome=j.outcome,
            verdict=j.verdict,
            note=j.note,
            user_id=j.user_id,
            at=j.at,
        )


class ResultView(BaseModel):
    """One automatic result as the scorecard panel shows it, with the reviewers' verdicts on it."""

    rule: str
    name_kk: str
    name_ru: str
    outcome: str
    at_s: float | None
    evidence: str
    my_verdict: Literal["agree", "disagree"] | None
    my_note: str | None
    agreed: int
    disagreed: int


class ScorecardView(BaseModel):
    id: int
    call_id: int
    rule_set_version: int
    asr_model_version: str | None
    classifier_model_version: str | None
    checks: int
    failed: int
    emergency: str | None
    asr_confidence: float | None
    scored_at: datetime
    results: list[ResultView]


class ReviewPublic(BaseModel):
    """A call's scorecard in force (None: not scored yet) and its weekly sample (None: not drawn)."""

    call_id: int
    scorecard: ScorecardView | None
    sample: SamplePublic | None


class AgreementPublic(BaseModel):
    judged: int
    agreed: int
    share: float | None


class RulePrecisionPublic(BaseModel):
    """QA's agreement with a rule's automatic "failed" results (its precision) and its "passed" ones."""

    rule: str
    name_kk: str
    name_ru: str
    failed: AgreementPublic
    passed: AgreementPublic


class PrecisionPublic(BaseModel):
    rule_set_version: int | None
    rules: list[RulePrecisionPublic]


class RuleRatePublic(BaseModel):
    failed: int
    applicable: int
    rate: float | None


class WeekTrendPublic(BaseModel):
    week: str
    calls: int
    with_failed: int
    failed_share: float | None
    rules: dict[str, RuleRatePublic]


class OperatorTrendPublic(BaseModel):
    operator_id: int
    name: str
    weeks: list[WeekTrendPublic]


class TrendsPublic(BaseModel):
    """Per operator per ISO week (oldest first): calls scored, the share with a failed check, per-rule rates."""

    weeks: list[str]
    rules: list[RuleNamePublic]
    operators: list[OperatorTrendPublic]


# ----------------------------------------------------------------------------------------------- helpers


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


def _week(text: str | None, zone: tzinfo) -> IsoWeek:
    if text is None or not text.strip():
        return IsoWeek.of(datetime.now(UTC), zone)
    try:
        return IsoWeek.parse(text)
    except ValueError as exc:
        raise ApiError(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.", field="week") from exc


# ------------------------------------------------------------------------------------------------- routes


@router.get("/qa/queue", response_model=QueuePublic)
def qa_queue(
    session: SessionDep,
    _user: QaReviewer,
    operator_id: OptionalRecordId = None,
    date_from: Annotated[str | None, Query(max_length=40, description="calls started at or after")] = None,
    date_to: Annotated[str | None, Query(max_length=40, description="calls started before")] = None,
    failed_rule: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    sampled: Annotated[bool, Query(description="only calls drawn into a weekly sample")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> QueuePublic:
    """Scored calls, worst first: more failed checks, then emergencies, then low recognition confidence."""
    flt = qa_review.QueueFilter(
        operator_id=operator_id,
        date_from=parse_when(date_from, name="date_from"),
        date_to=parse_when(date_to, name="date_to", end=True),
        failed_rule=failed_rule,
        sampled_only=sampled,
    )
    page = qa_review.queue(session, flt, limit=limit, offset=offset)
    names = qa_review.rule_names(session)
    items = [
        QueueItemPublic(
            scorecard_id=i.scorecard_id,
            call_id=i.call_id,
            operator_id=i.operator_id,
            operator_name=i.operator_name,
            started_at=i.started_at,
            checks=i.checks,
            failed=i.failed,
            failed_rules=[RuleNamePublic.of(name_of(names, r)) for r in i.failed_rules],
            emergency=i.emergency,
            asr_confidence=i.asr_confidence,
            scored_at=i.scored_at,
            rule_set_version=i.rule_set_version,
            sample_id=i.sample_id,
            sample_week=i.sample_week,
            sample_state=None
            if i.sample_id is None
            else (SampleState.REVIEWED if i.sample_reviewed_at is not None else SampleState.PENDING),
        )
        for i in page.items
    ]
    return QueuePublic(total=page.total, limit=limit, offset=offset, items=items)


@router.post("/qa/samples", response_model=DrawPublic)
def draw_samples(
    ctx: CtxDep, session: SessionDep, user: QaReviewer, body: Annotated[DrawIn | None, Body()] = None
) -> DrawPublic:
    """Draw the week's random sample: tops every operator up to the configured number of their ended calls
    (``qa_sample_per_operator_week``); drawing again adds only what is missing, never a call twice."""
    zone = _zone(ctx.settings.local_timezone)
    week = _week(body.week if body is not None else None, zone)
    result = qa_sampling.draw(session, week, per_operator=ctx.settings.qa_sample_per_operator_week, zone=zone)
    logger.info("QA sample %s drawn by %s: %d calls added", result.week, user.username, len(result.added))
    return DrawPublic(
        week=result.week,
        per_operator=result.per_operator,
        added=result.added,
        totals=[OperatorCount(operator_id=k, calls=v) for k, v in sorted(result.totals.items())],
    )


@router.get("/qa/samples", response_model=SamplesPublic)
def list_samples(
    ctx: CtxDep,
    session: SessionDep,
    _user: QaReviewer,
    week: Annotated[str | None, Query(max_length=8, description="ISO week, 2026-W50; default: this week")] = None,
) -> SamplesPublic:
    """A week's drawn calls, by operator."""
    iso = _week(week, _zone(ctx.settings.local_timezone))
    rows = qa_sampling.week_samples(session, iso)
    return SamplesPublic(
        week=str(iso),
        per_operator=ctx.settings.qa_sample_per_operator_week,
        samples=[SamplePublic.of(r) for r in rows],
    )


@router.post("/qa/samples/{sample_id}/reviewed", response_model=SamplePublic)
def mark_sample_reviewed(sample_id: RecordId, session: SessionDep, user: QaReviewer) -> SamplePublic:
    """Mark a drawn call reviewed (marking it again keeps the first reviewer and time)."""
    row = qa_sampling.mark_reviewed(session, sample_id, user_id=user.id)
    if row is None:
        raise ApiError(404, f"Sample {sample_id} does not exist.")
    return SamplePublic.of(row)


@router.get("/qa/calls/{call_id}/review", response_model=ReviewPublic)
def call_review(call_id: RecordId, request: Request, session: SessionDep, user: QaReviewer) -> ReviewPublic:
    """The QA page's scorecard panel: the call's scorecard in force with rule names, your verdicts and the
    counts of all reviewers' verdicts; and the call's weekly sample."""
    call = session.get(Call, call_id)
    if call is None:
        raise ApiError(404, f"Call {call_id} does not exist.")
    card = qa_review.newest_scorecard(session, call_id)
    sample = qa_sampling.sample_of_call(session, call_id)
    # Evidence quotes the conversation: personal numbers in it as the call's page shows them to this viewer.
    unmasked = view_of(user, call, Surface.CALL_PAGE) is PersonalDataView.UNMASKED
    quoted = [str(r.get("evidence") or "") for r in (card.results or [] if card is not None else [])]
    if unmasked and any(mask_text(text) != text for text in quoted):
        log_access(session, request, user, kind="unmasked_transcript", call_id=call_id, detail="QA scorecard evidence")
    return ReviewPublic(
        call_id=call_id,
        scorecard=_scorecard_view(session, card, user.id, unmasked=unmasked) if card else None,
        sample=SamplePublic.of(sample) if sample is not None else None,
    )


def _scorecard_view(session: SessionDep, card: QaScorecard, user_id: int, *, unmasked: bool) -> ScorecardView:
    names = qa_review.rule_names(session)
    judgments = qa_judgments.of_scorecard(session, card.id)
    results = []
    for r in card.results or []:
        rule = str(r.get("rule"))
        name = name_of(names, rule)
        mine = next((j for j in judgments if j.rule == rule and j.user_id == user_id), None)
        at_s = r.get("at_s")
        results.append(
            ResultView(
                rule=rule,
                name_kk=name.name_kk,
                name_ru=name.name_ru,
                outcome=str(r.get("outcome")),
                at_s=float(at_s) if isinstance(at_s, int | float) else None,
                evidence=_evidence(str(r.get("evidence") or ""), unmasked=unmasked),
                my_verdict="agree" if mine and mine.verdict == "agree" else "disagree" if mine else None,
                my_note=mine.note if mine else None,
                agreed=sum(1 for j in judgments if j.rule == rule and j.verdict == "agree"),
                disagreed=sum(1 for j in judgments if j.rule == rule and j.verdict == "disagree"),
            )
        )
    return ScorecardView(
        id=card.id,
        call_id=card.call_id,
        rule_set_version=card.rule_set_version,
        asr_model_version=card.asr_model_version,
        classifier_model_version=card.classifier_model_version,
        checks=card.checks,
        failed=card.failed,
        emergency=card.emergency,
        asr_confidence=card.asr_confidence,
        scored_at=card.scored_at,
        results=results,
    )


def _evidence(text: str, *, unmasked: bool) -> str:
    return text if unmasked else (mask_text(text) or "")


@router.post("/qa/scorecards/{scorecard_id}/judgments", response_model=JudgmentPublic)
def judge(scorecard_id: RecordId, body: JudgmentIn, session: SessionDep, user: QaCorrector) -> JudgmentPublic:
    """Agree or disagree with one automatic result; judging it again changes your verdict."""
    try:
        judgment = qa_judgments.record(
            session,
            scorecard_id=scorecard_id,
            rule=body.rule,
            verdict=body.verdict,
            note=body.note or None,
            user_id=user.id,
        )
    except qa_judgments.UnknownResult as exc:
        raise ApiError(404, str(exc)) from exc
    logger.info("QA verdict on scorecard %d rule %s by %s: %s", scorecard_id, body.rule, user.username, body.verdict)
    return JudgmentPublic.of(judgment)


@router.get("/qa/rules/precision", response_model=PrecisionPublic)
def rules_precision(
    session: SessionDep,
    _user: QaReviewer,
    rule_set_version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> PrecisionPublic:
    """Per rule: of its automatic "failed" results QA judged, the share QA agreed with (precision); the same for
    "passed"."""
    names = qa_review.rule_names(session)
    rows = qa_judgments.precision(session, rule_set_version=rule_set_version)
    out = []
    for row in rows:
        name = name_of(names, row.rule)
        out.append(
            RulePrecisionPublic(
                rule=row.rule,
                name_kk=name.name_kk,
                name_ru=name.name_ru,
                failed=AgreementPublic(judged=row.failed.judged, agreed=row.failed.agreed, share=row.failed.share),
                passed=AgreementPublic(judged=row.passed.judged, agreed=row.passed.agreed, share=row.passed.share),
            )
        )
    return PrecisionPublic(rule_set_version=rule_set_version, rules=out)


@router.get("/stats/operators/qa-trends", response_model=TrendsPublic)
def operator_qa_trends(
    ctx: CtxDep,
    session: SessionDep,
    user: QaTrendsUser,
    weeks: Annotated[int, Query(ge=1, le=MAX_TREND_WEEKS)] = 8,
) -> TrendsPublic:
    """Per operator per ISO week: calls scored, the share with a failed check, each rule's failure rate over the
    calls it applied to. Supervisors, QA and admins see every operator; an operator sees only their own row."""
    zone = _zone(ctx.settings.local_timezone)
    names, rows = qa_trends.trends(
        session, now=datetime.now(UTC), weeks=weeks, zone=zone, operator_id=qa_trends_operator(viewer(user))
    )
    rule_names = qa_review.rule_names(session)
    seen = sorted({r for o in rows for w in o.weeks for r in w.rules})
    return TrendsPublic(
        weeks=names,
        rules=[RuleNamePublic.of(name_of(rule_names, r)) for r in seen],
        operators=[
            OperatorTrendPublic(
                operator_id=o.operator_id,
                name=o.name,
                weeks=[
                    WeekTrendPublic(
                        week=w.week,
                        calls=w.calls,
                        with_failed=w.with_failed,
                        failed_share=w.failed_share,
                        rules={
                            k: RuleRatePublic(failed=v.failed, applicable=v.applicable, rate=v.rate)
                            for k, v in sorted(w.rules.items())
                        },
                    )
                    for w in o.weeks
                ],
            )
            for o in rows
        ],
    )
