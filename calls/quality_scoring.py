"""Each call scored with the QA rules once its transcript is settled: after post-call work, never during the call.

The checks read the whole conversation (both voices, with the card's registration number and the emergency
transfer's times), so a call is scored when the post-call worker is done with it; a call whose scoring fails (the
database down, rules that no longer read) is logged and scored again by ``callcard qa score``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from calls.messages import CallKey
from core.tasks import BackgroundTasks
from models.records import Call, Card, TranscriptSegment
from models.repo.qa_scoring import latest_scorecard, score_call
from qa.stored import score_stored

logger = logging.getLogger(__name__)


class CallScoring:
    """Scores calls in the background, one at a time (scoring is cheap: text rules over one call's words)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._tasks = BackgroundTasks("QA scoring")
        self._lock = asyncio.Lock()
        self.scored = 0

    def request(self, key: CallKey) -> None:
        """Score the call ``key`` soon (its transcript is settled)."""
        self._tasks.spawn(self._score(key), f"qa-score-{key}")

    async def _score(self, key: CallKey) -> None:
        async with self._lock:
            try:
                if await asyncio.to_thread(self._score_now, key):
                    self.scored += 1
            except Exception:
                logger.exception("call %s: QA scoring failed; `callcard qa score` scores it again", key)

    def _score_now(self, key: CallKey) -> bool:
        with self._sessions() as session:
            call_id = session.scalars(select(Call.id).where(Call.uniqueid == key)).first()
            if call_id is None or _scored_since_last_change(session, call_id):
                return False
            return score_call(session, call_id, scorer=score_stored) is not None

    async def stop(self) -> None:
        """Let the scorings in progress finish (they are short), then stop."""
        await self._tasks.wait(within=10.0)
        await self._tasks.close()


def _scored_since_last_change(session: Session, call_id: int) -> bool:
    """The call's scorecard in force is newer than its newest segment and its card's last change."""
    latest = latest_scorecard(session, call_id)
    if latest is None:
        return False
    changed = [
        session.scalar(select(func.max(TranscriptSegment.created_at)).where(TranscriptSegment.call_id == call_id)),
        session.scalar(select(Card.updated_at).where(Card.call_id == call_id)),
    ]
    return all(at is None or _aware(at) <= _aware(latest.scored_at) for at in changed)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
