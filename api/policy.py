"""Who may see and do what: the one access policy every route, socket, export and search follows.

The table in docs/access.md is this module in words; tests/api/test_roles.py and tests/api/test_policy.py hold
each route to it. Two kinds of rule:

- role rules: which roles may ask at all (``ROLE_RULES``, enforced by ``api.access.allow``);
- record rules: for an operator, which calls and cards: ``decide`` for one record, and ``readable_calls`` /
  ``readable_cards`` / ``listable_cards`` for lists, searches and exports (the same rules as
  SQL, so a search can never answer about what the user may not open).

An operator works on the calls they hold: a live call nobody holds yet (to take it), and the calls they took,
while live and for ``OPERATOR_READ_HOURS`` after the hang-up (wrap-up and call-backs within the shift). Of other
appeals they read the registry fields needed to answer "what about my application" (status, registration
number, due date, topic, service, address, summary), never another call's transcript or recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from models.records import Call, Card
from models.repo.calls import LIVE_STATES

OPERATOR_READ_HOURS = 12


class Role(StrEnum):
    """The roles a user can have (models.records.ROLES)."""

    OPERATOR = "operator"  # answers calls at the desk
    SUPERVISOR = "supervisor"  # shift lead / monitoring department: every call and card, routing, deadlines
    QA = "qa"  # listens, reviews, corrects transcripts, marks classification errors
    ADMIN = "admin"  # everything, and users
    EXECUTOR = "executor"  # works for one organisation: its cards only, through its inbox


class Action(StrEnum):
    """Everything the API lets someone do, by name."""

    LIVE_FEED = "live_feed"
    CLAIM_CALL = "claim_call"
    LIST_CALLS = "list_calls"
    READ_CALL = "read_call"  # the call's transcript and recording
    CALLER_HISTORY = "caller_history"
    LIST_CARDS = "list_cards"
    READ_CARD = "read_card"
    READ_CARD_AUDIT = "read_card_audit"
    EXPORT_CARDS = "export_cards"
    CREATE_CARD = "create_card"
    EDIT_CARD = "edit_card"  # edit, confirm, dismiss an emergency alert
    HANDLE_CARD = "handle_card"  # route, resolve, close
    TRANSFER_CALL = "transfer_call"  # the emergency transfer of a live caller
    QA_REVIEW = "qa_review"  # QA queue and training export
    QA_CORRECT = "qa_correct"  # transcript corrections and classification marks; verdicts on automatic QA checks
    QA_TRENDS = "qa_trends"  # per-operator QA trends (operators: their own row only, see qa_trends_operator)
    DASHBOARD = "dashboard"
    TAXONOMY = "taxonomy"
    READ_ORGANISATIONS = "read_organisations"  # the active organisations, for the desk's choice
    ADMIN_USERS = "admin_users"
    ADMIN_HANDOVER = "admin_handover"  # organisations, rules, API keys, webhook secrets and deliveries
    MONITOR_DEADLINES = "monitor_deadlines"  # the monitoring department's queue: returned, due soon, overdue
    REOPEN_CARD = "reopen_card"  # the appellant says it is not fixed
    INBOX_READ = "inbox_read"  # an organisation's cards, as its executors see them
    INBOX_WORK = "inbox_work"  # accept, start, report done, return as "not ours", add a note or photos
    LEGAL_HOLD = "legal_hold"  # put a card under a legal hold (the retention policy removes nothing) or lift it
    RETENTION_RUNS = "retention_runs"  # the retention policy's runs: what each removed
    READ_UNMASKED = "read_unmasked"  # personal data (ИИН, phones, cards) shown as said; see personal_data_view
    READ_ACCESS_LOG = "read_access_log"  # who listened to which recording, who read which unmasked transcript
    EXPORT_MASKED_AUDIO = "export_masked_audio"  # a recording with its personal data replaced by a tone


_ALL = frozenset(Role)
_STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.QA, Role.ADMIN})  # the hotline's own people
_DESK = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
_MONITORING = frozenset({Role.SUPERVISOR, Role.ADMIN})
_REVIEW = frozenset({Role.SUPERVISOR, Role.QA, Role.ADMIN})

# Which roles may ask at all. Record rules (below) narrow it down for operators and executors. An executor asks
# for nothing of the hotline's own (calls, the registry, the live feed): only its organisation's inbox.
ROLE_RULES: dict[Action, frozenset[Role]] = {
    Action.LIVE_FEED: _STAFF,
    Action.CLAIM_CALL: _DESK,
    Action.LIST_CALLS: _STAFF,
    Action.READ_CALL: _STAFF,
    Action.CALLER_HISTORY: _STAFF,
    Action.LIST_CARDS: _STAFF,
    Action.READ_CARD: _STAFF,
    Action.READ_CARD_AUDIT: _STAFF,
    Action.EXPORT_CARDS: _REVIEW,
    Action.CREATE_CARD: _DESK,
    Action.EDIT_CARD: _DESK,
    Action.HANDLE_CARD: _DESK,
    Action.TRANSFER_CALL: _DESK,
    Action.QA_REVIEW: _REVIEW,
    Action.QA_CORRECT: frozenset({Role.QA, Role.ADMIN}),
    Action.QA_TRENDS: _STAFF,
    Action.DASHBOARD: _STAFF,
    Action.TAXONOMY: _ALL,
    Action.READ_ORGANISATIONS: _STAFF,
    Action.ADMIN_USERS: frozenset({Role.ADMIN}),
    Action.ADMIN_HANDOVER: frozenset({Role.ADMIN}),
    Action.MONITOR_DEADLINES: _MONITORING,
    Action.REOPEN_CARD: _MONITORING,
    Action.INBOX_READ: frozenset({Role.EXECUTOR, Role.SUPERVISOR, Role.ADMIN}),
    Action.INBOX_WORK: frozenset({Role.EXECUTOR}),
    Action.LEGAL_HOLD: _MONITORING,
    Action.RETENTION_RUNS: frozenset({Role.ADMIN}),
    Action.READ_UNMASKED: frozenset({Role.OPERATOR, Role.QA, Role.ADMIN}),
    Action.READ_ACCESS_LOG: frozenset({Role.ADMIN}),
    Action.EXPORT_MASKED_AUDIO: frozenset({Role.ADMIN}),
}

# Roles whose access is not narrowed to their own calls.
SEES_EVERY_CALL = frozenset({Role.SUPERVISOR, Role.QA, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: a user's id and role."""

    user_id: int
    role: Role
    organisation_id: int | None = None  # an executor's organisation

    @classmethod
    def of(cls, user: Any) -> Viewer:
        """From a models.records.User (or anything with ``id``, ``role`` and ``organisation_id``)."""
        return cls(int(user.id), Role(user.role), getattr(user, "organisation_id", None))

    @property
    def sees_every_call(self) -> bool:
        return self.role in SEES_EVERY_CALL


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the policy needs to know of a call."""

    state: str
    operator_id: int | None
    ended_at: datetime | None

    @classmethod
    def of(cls, call: Call) -> CallFacts:
        return cls(call.state, call.operator_id, call.ended_at)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """What the policy needs to know of a card (and of its call, if it has one)."""

    status: str
    created_by_id: int | None
    call: CallFacts | None
    organisation_id: int | None = None

    @classmethod
    def of(cls, card: Card) -> CardFacts:
        call = CallFacts.of(card.call) if card.call is not None else None
        return cls(card.status, card.created_by_id, call, card.organisation_id)


class Outcome(StrEnum):
    """How a decision came out."""

    ALLOWED = "allowed"
    REGISTRY_ONLY = "registry_only"  # a card of someone else's appeal: its registry fields, no transcript or audio
    FORBIDDEN = "forbidden"  # not for who asks (403)
    CONFLICT = "conflict"  # not in the record's current state (409)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, and the sentence that says why not (for the 403/409 answer)."""

    outcome: Outcome
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome in (Outcome.ALLOWED, Outcome.REGISTRY_ONLY)


ALLOW = Decision(Outcome.ALLOWED)
REGISTRY = Decision(Outcome.REGISTRY_ONLY)


def _forbid(reason: str) -> Decision:
    return Decision(Outcome.FORBIDDEN, reason)


def _conflict(reason: str) -> Decision:
    return Decision(Outcome.CONFLICT, reason)


def role_allows(role: Role, action: Action) -> bool:
    """True when ``role`` may ask for ``action`` at all."""
    return role in ROLE_RULES[action]


def _holds(viewer: Viewer, call: CallFacts, now: datetime) -> bool:
    """The operator holds the call: took it, and it is live or ended within the read window."""
    if call.operator_id != viewer.user_id:
        return False
    return call.ended_at is None or call.ended_at >= now - timedelta(hours=OPERATOR_READ_HOURS)


def _open_to_take(call: CallFacts) -> bool:
    return call.state in LIVE_STATES and call.operator_id is None


def _may_read_call(viewer: Viewer, call: CallFacts, now: datetime) -> bool:
    return viewer.sees_every_call or _open_to_take(call) or _holds(viewer, call, now)


def _works_on_card(viewer: Viewer, card: CardFacts, now: datetime) -> bool:
    """The operator's own card: of a call they hold, or made by hand by them without a call."""
    if card.call is None:
        return card.created_by_id == viewer.user_id
    return _holds(viewer, card.call, now)


NOT_YOUR_CALL = (
    f"Operators may open only live calls nobody has taken and the calls they took (until {OPERATOR_READ_HOURS} h "
    "after the hang-up); ask a supervisor or QA for others."
)


def decide(
    viewer: Viewer,
    action: Action,
    *,
    now: datetime,
    call: CallFacts | None = None,
    card: CardFacts | None = None,
) -> Decision:
    """May ``viewer`` do ``action`` on this call or card now? Role rules first, then the record rules.

    ``call`` is the call acted on (for card actions: the card's call, if it has one).
    """
    if not role_allows(viewer.role, action):
        return _forbid(f"Your role ({viewer.role}) may not do this.")
    if card is not None and call is None:
        call = card.call
    if viewer.role is Role.EXECUTOR:
        return _executor_decides(viewer, card)
    if action is Action.CLAIM_CALL:
        assert call is not None
        if call.state not in LIVE_STATES:
            return _conflict("This call has ended; it can no longer be taken.")
        if call.operator_id not in (None, viewer.user_id):
            return _conflict("This call is already being handled by another operator.")
        return ALLOW
    if action is Action.TRANSFER_CALL:
        if call is None:
            return _conflict("This card has no call, so there is no caller to transfer.")
        if call.state not in LIVE_STATES:
            return _conflict("This call has ended; call the caller back instead.")
        if not viewer.sees_every_call and call.operator_id not in (None, viewer.user_id):
            return _forbid("This call is being handled by another operator.")
        return ALLOW
    if viewer.sees_every_call:
        return ALLOW
    # An operator, from here on.
    if action in (Action.READ_CALL, Action.CALLER_HISTORY):
        assert call is not None
        return ALLOW if _may_read_call(viewer, call, now) else _forbid(NOT_YOUR_CALL)
    if action in (Action.READ_CARD, Action.READ_CARD_AUDIT):
        assert card is not None
        if (call is not None and _may_read_call(viewer, call, now)) or _works_on_card(viewer, card, now):
            return ALLOW
        if action is Action.READ_CARD and card.status != "draft":
            return REGISTRY
        return _forbid("Operators may open only the cards of the calls they handle.")
    if action is Action.CREATE_CARD:
        if call is None or _holds(viewer, call, now):  # a card by hand (a walk-in, a letter), or their call's
            return ALLOW
        return _forbid("Take the call first: operators make cards only for the calls they handle.")
    if action in (Action.EDIT_CARD, Action.HANDLE_CARD):
        assert card is not None
        if _works_on_card(viewer, card, now):
            return ALLOW
        if call is not None and _open_to_take(call):
            return _forbid("Take the call first: its card is edited by the operator who handles it.")
        return _forbid("Only the operator handling this call (or a supervisor) may change its card.")
    return ALLOW


def qa_trends_operator(viewer: Viewer) -> int | None:
    """Whose QA trends ``viewer`` sees (QA_TRENDS): None for every operator's (supervisors, QA, admins); an
    operator sees only their own row: their scores coach them, colleagues' scores are not theirs to compare."""
    return None if viewer.sees_every_call else viewer.user_id


NOT_YOUR_ORGANISATION = "This card is not in your organisation's hands."


def _executor_decides(viewer: Viewer, card: CardFacts | None) -> Decision:
    """An executor acts on its organisation's registered cards only (404 to the route: no existence oracle)."""
    if card is None:
        return ALLOW
    if viewer.organisation_id is None or card.organisation_id != viewer.organisation_id or card.status == "draft":
        return _forbid(NOT_YOUR_ORGANISATION)
    return ALLOW


# ------------------------------------------------------------------------------- personal data


class PersonalDataView(StrEnum):
    """How personal data (ИИН, phone and card numbers, the appellant's number) is shown to someone."""

    UNMASKED = "unmasked"  # as said; a view of a transcript this way is written to the access log
    MASKED = "masked"  # each number replaced by "<iin>", "<phone>", "<card>"; the caller's number "+7 701 *** ** 67"
    NONE = "none"  # no transcript at all (executors)


class Surface(StrEnum):
    """Where personal data is shown: the same viewer may see a call unmasked on its page, masked in a list."""

    CALL_PAGE = "call_page"  # one call: GET /api/calls/{id}, the QA page, a QA correction's answer
    LISTING = "listing"  # lists, searches, one card, caller history, the inbox
    LIVE_FEED = "live_feed"  # WS /api/live
    EXPORT = "export"  # cards CSV, training export: masked for everyone


def personal_data_view(viewer: Viewer, call: CallFacts | None, now: datetime, surface: Surface) -> PersonalDataView:
    """The one rule for personal data in transcripts and cards.

    - Exports: masked for everyone. Executors: no transcript (the inbox's card text masked).
    - An operator sees a live call unmasked everywhere but exports while they hold it, or while nobody holds it yet
      (the call they are about to take: the desk shows the caller's number, as every ACD shows it); after the
      hang-up, and once a colleague took it, masked.
    - QA and admins: unmasked on the call's own page (each view logged), masked in lists, searches and the live feed.
    - Supervisors: masked.
    """
    del now  # the rule needs no clock today: "live" is the call's state; kept so a window can be added here
    if viewer.role is Role.EXECUTOR:
        return PersonalDataView.NONE
    if surface is Surface.EXPORT or not role_allows(viewer.role, Action.READ_UNMASKED):
        return PersonalDataView.MASKED
    if viewer.role is Role.OPERATOR:
        live = call is not None and call.ended_at is None and call.state in LIVE_STATES
        takeable = call is not None and call.operator_id in (None, viewer.user_id)
        return PersonalDataView.UNMASKED if live and takeable else PersonalDataView.MASKED
    return PersonalDataView.UNMASKED if surface is Surface.CALL_PAGE else PersonalDataView.MASKED


def appellant_number_shown(viewer: Viewer, call: CallFacts | None, now: datetime, surface: Surface) -> bool:
    """Whether the appellant's number (the caller ID stored with a call or card, not numbers said in a transcript)
    is shown in full: to whoever sees the call's personal data unmasked, and to supervisors and admins on every
    surface but exports, because the monitoring department calls appellants back ("the appellant hears back")."""
    if surface is Surface.EXPORT or viewer.role is Role.EXECUTOR:
        return False
    if viewer.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return personal_data_view(viewer, call, now, surface) is PersonalDataView.UNMASKED


# ------------------------------------------------------------------------------- the same rules, as SQL


def _holds_sql(user_id: int, now: datetime) -> ColumnElement[bool]:
    return and_(
        Call.operator_id == user_id,
        or_(Call.ended_at.is_(None), Call.ended_at >= now - timedelta(hours=OPERATOR_READ_HOURS)),
    )


def readable_calls(viewer: Viewer, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause on ``Call``: the calls ``viewer`` may open (READ_CALL)."""
    if viewer.sees_every_call:
        return true()
    if not role_allows(viewer.role, Action.READ_CALL):
        return false()
    return or_(and_(Call.state.in_(LIVE_STATES), Call.operator_id.is_(None)), _holds_sql(viewer.user_id, now))


def readable_cards(viewer: Viewer, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause on ``Card``: the cards ``viewer`` may read in full (their call's transcript included)."""
    if viewer.sees_every_call:
        return true()
    if not role_allows(viewer.role, Action.READ_CARD):
        return false()
    calls = select(Call.id).where(readable_calls(viewer, now))
    return or_(Card.call_id.in_(calls), and_(Card.call_id.is_(None), Card.created_by_id == viewer.user_id))


def listable_cards(viewer: Viewer, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause on ``Card``: the cards ``viewer`` may find at all (in full, or by registry fields)."""
    if viewer.sees_every_call:
        return true()
    if not role_allows(viewer.role, Action.LIST_CARDS):
        return false()
    return or_(readable_cards(viewer, now), Card.status != "draft")


def inbox_cards(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause on ``Card``: the cards in an organisation's inbox as ``viewer`` may see them (INBOX_READ).

    An executor: its organisation's registered cards. The monitoring department sees every organisation's.
    """
    if viewer.role is Role.EXECUTOR:
        if viewer.organisation_id is None:
            return false()
        return and_(Card.organisation_id == viewer.organisation_id, Card.status != "draft")
    if role_allows(viewer.role, Action.INBOX_READ):
        return and_(Card.organisation_id.is_not(None), Card.status != "draft")
    return false()
