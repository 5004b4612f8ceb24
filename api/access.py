"""The access policy (api.policy) as FastAPI dependencies and checks: the one way routes ask who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends

from api.deps import CurrentUser
from api.errors import ApiError
from api.policy import ROLE_RULES, Action, CallFacts, CardFacts, Decision, Outcome, Role, Viewer, decide, role_allows
from api.schemas import CardPublic
from models.records import Call, Card, User


def allow(action: Action) -> Callable[..., User]:
    """A dependency that lets through the roles ``action`` admits (api.policy.ROLE_RULES); 403 for the rest."""

    def check(user: CurrentUser) -> User:
        if role_allows(Role(user.role), action):
            return user
        allowed = " or ".join(sorted(ROLE_RULES[action]))
        raise ApiError(403, f"Your role ({user.role}) may not do this; it needs {allowed}.")

    check.__name__ = f"allow_{action.value}"
    return check


def enforce(
    user: User,
    action: Action,
    *,
    call: Call | None = None,
    card: Card | None = None,
    now: datetime | None = None,
) -> Decision:
    """The policy's decision for ``user`` doing ``action`` on a record; ApiError 403 or 409 when refused."""
    decision = decide(
        Viewer.of(user),
        action,
        now=now or datetime.now(UTC),
        call=CallFacts.of(call) if call is not None else None,
        card=CardFacts.of(card) if card is not None else None,
    )
    if decision.outcome is Outcome.FORBIDDEN:
        raise ApiError(403, decision.reason)
    if decision.outcome is Outcome.CONFLICT:
        raise ApiError(409, decision.reason)
    return decision


def mask_number(number: str | None) -> str | None:
    """A phone number with all but its last four digits hidden (+7701***4567 -> ********4567)."""
    if not number:
        return number
    keep = 4 if len(number) > 6 else 2
    return "*" * (len(number) - keep) + number[-keep:]


def registry_view(card: CardPublic) -> CardPublic:
    """What an operator may read of someone else's appeal: its registry fields, without the model's proposal,
    QA's marks or the caller's full number."""
    hidden: dict[str, Any] = {
        "proposed": None,
        "qa_marks": {},
        "operator_edited": [],
        "caller_number": mask_number(card.caller_number),
        "legal_hold_reason": None,
    }
    return card.model_copy(update=hidden)


def viewer(user: User) -> Viewer:
    """The policy's view of a user."""
    return Viewer.of(user)


LiveUser = Annotated[User, Depends(allow(Action.LIVE_FEED))]
Reopener = Annotated[User, Depends(allow(Action.REOPEN_CARD))]
Monitor = Annotated[User, Depends(allow(Action.MONITOR_DEADLINES))]
HandoverAdmin = Annotated[User, Depends(allow(Action.ADMIN_HANDOVER))]
LegalHolder = Annotated[User, Depends(allow(Action.LEGAL_HOLD))]
RetentionAdmin = Annotated[User, Depends(allow(Action.RETENTION_RUNS))]
CallReader = Annotated[User, Depends(allow(Action.READ_CALL))]
CardReader = Annotated[User, Depends(allow(Action.READ_CARD))]
CardExporter = Annotated[User, Depends(allow(Action.EXPORT_CARDS))]
DeskUser = Annotated[User, Depends(allow(Action.EDIT_CARD))]
QaReviewer = Annotated[User, Depends(allow(Action.QA_REVIEW))]
QaCorrector = Annotated[User, Depends(allow(Action.QA_CORRECT))]
QaTrendsUser = Annotated[User, Depends(allow(Action.QA_TRENDS))]
DashboardUser = Annotated[User, Depends(allow(Action.DASHBOARD))]
AdminUser = Annotated[User, Depends(allow(Action.ADMIN_USERS))]
