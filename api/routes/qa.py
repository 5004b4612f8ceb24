"""Quality review: transcript corrections, classification-error marks, and the training export."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import StreamingResponse
from pydantic import Field, model_validator

from api.access import QaCorrector, QaReviewer
from api.deps import CtxDep, SessionDep, actor_of
from api.errors import ApiError
from api.params import OptionalMoment, RecordId
from api.personal_data import card_as_seen, mask_text
from api.policy import Surface
from api.routes.cards import to_public
from api.routes.qa_rules import rescore_quietly
from api.schemas import CardPublic, SegmentPublic, Strict
from models.repo import cards, qa
from models.repo.audit import CONTENT_FIELDS

logger = logging.getLogger(__name__)

router = APIRouter(tags=["qa"])

# What QA may mark as misclassified on a card.
MARK_FIELDS = (*CONTENT_FIELDS, "address")


MarkNote = Annotated[str, Field(max_length=1000)]


class WordIn(Strict):
    """A corrected word with its time in the call."""

    word: str = Field(min_length=1, max_length=200)
    start: float = Field(ge=0)
    end: float = Field(ge=0)
    conf: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> WordIn:
        if self.end < self.start:
            raise ValueError("a word cannot end before it starts")
        return self


class SegmentCorrection(Strict):
    """QA's corrected text of a segment; words with times are optional (else aligned from the original)."""

    text: str = Field(min_length=1, max_length=5000)
    words: list[WordIn] | None = Field(default=None, max_length=2000)


@router.post("/segments/{segment_id}/corrections", response_model=SegmentPublic, status_code=201)
def correct_segment(
    segment_id: RecordId, body: SegmentCorrection, session: SessionDep, user: QaCorrector
) -> SegmentPublic:
    """Store a corrected transcript beside the original segment (never overwriting it); audited.

    Correcting a correction corrects the same original, so ``corrects_id`` always names the live segment.
    """
    words = [w.model_dump() for w in body.words] if body.words is not None else None
    try:
        segment = qa.add_correction(
            session, segment_id=segment_id, text=body.text, actor=user.username, user_id=user.id, words=words
        )
    except ValueError as exc:
        raise ApiError(422, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    logger.info("segment %d corrected by %s as segment %d", segment_id, user.username, segment.id)
    rescore_quietly(session, segment.call_id)  # the scorecard follows the corrected transcript
    return SegmentPublic.of(segment)


@router.post("/cards/{card_id}/qa-marks", response_model=CardPublic)
def mark_card(
    card_id: RecordId,
    session: SessionDep,
    user: QaCorrector,
    marks: Annotated[dict[str, MarkNote], Body(examples=[{"topic": "should be heating"}])],
) -> CardPublic:
    """Mark classification errors on a card: {field: note}; merged with earlier marks (an empty note clears
    the mark's text). Audited."""
    if not marks:
        raise ApiError(422, 'Send at least one mark, e.g. {"topic": "should be heating"}.')
    unknown = sorted(set(marks) - set(MARK_FIELDS))
    if unknown:
        raise ApiError(
            422, f"These are not card fields QA can mark: {', '.join(unknown)}; use {', '.join(MARK_FIELDS)}."
        )
    card = cards.set_qa_marks(
        session, card_id=card_id, actor=actor_of(user), marks={k: v.strip() for k, v in marks.items()}
    )
    return card_as_seen(user, card, to_public(session, card), Surface.CALL_PAGE)


@router.get(
    "/training/export.jsonl",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def training_export(
    ctx: CtxDep,
    session: SessionDep,
    _user: QaReviewer,
    date_from: OptionalMoment = None,
    date_to: OptionalMoment = None,
) -> StreamingResponse:
    """Confirmed cards with their transcript (QA-corrected where corrected) as classifier training lines:
    {"text","topic","emergency","emergency_also","language","address","source":"operator"} per line.

    Masked for everyone (docs/access.md, "Personal data"): each ИИН, phone and card number in the text and the
    landmark is one token, "<iin>", "<phone>" or "<card>"."""

    # End the request session's transaction now: on SQLite it holds the write lock the stream needs.
    session.rollback()

    def lines() -> Iterator[bytes]:
        count = 0
        with ctx.sessionmaker() as session:
            for row in qa.training_rows(session, date_from=date_from, date_to=date_to):
                count += 1
                row["text"] = mask_text(row["text"])
                address = row.get("address")
                if isinstance(address, dict):
                    address["landmark"] = mask_text(address.get("landmark"))
                yield (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        logger.info("training export: %d lines", count)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="callcard-training.jsonl"'},
    )
