"""API schemas (pydantic): what the HTTP API accepts and returns, named by suffix (Create/Update/Public)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.params import MAX_ID
from models.handover import CardPhoto, Organisation
from models.records import Call, Card, Recording, TranscriptSegment, User

Role = Literal["operator", "supervisor", "qa", "admin", "executor"]
LanguageCode = Literal["ru", "kk", "mixed"]
UiLanguage = Literal["ru", "kk"]
CardStatusName = Literal["draft", "confirmed", "routed", "accepted", "in_progress", "returned", "resolved", "closed"]
DeadlineStageName = Literal["on_time", "due_soon", "overdue", "reminded", "escalated"]
ADDRESS_FIELDS = ("street", "house", "building", "apartment", "district", "landmark")


class Strict(BaseModel):
    """Inputs refuse unknown fields, so a typo is a 422, not a silent no-op, and numbers that are not finite
    (JSON's Infinity, -Infinity and NaN, which Python's parser accepts), which no field can store or send back."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


# ---------------------------------------------------------------------------------------------- auth, users


class LoginIn(Strict):
    """Credentials."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: int
    username: str
    full_name: str
    role: Role
    ui_language: str
    active: bool = True
    # True until the user has replaced a password someone else chose; only /api/auth/me and logout answer them.
    must_change_password: bool = False
    organisation_id: int | None = Field(default=None, description="an executor's organisation")
    created_at: datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserPublic:
        """From a record."""
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=user.role,  # type: ignore[arg-type]
            ui_language=user.ui_language,
            active=user.active,
            must_change_password=bool(user.must_change_password),
            organisation_id=user.organisation_id,
            created_at=user.created_at,
        )


class Token(BaseModel):
    """A login's answer."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserPublic


class UserCreate(Strict):
    """A new user; without a password one is generated and returned once."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[\w.@-]+$")
    full_name: str = Field(default="", max_length=200)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=256)
    ui_language: UiLanguage = "ru"
    organisation_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="required for an executor: the organisation they work for"
    )


class UserCreated(UserPublic):
    """The new user, with the generated password when none was given."""

    password: str | None = None


class UserUpdate(Strict):
    """Changes to a user (admin)."""

    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    active: bool | None = None
    ui_language: UiLanguage | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    organisation_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="an executor's organisation")


class MeUpdate(Strict):
    """What users may change about themselves; a new password needs the current one."""

    full_name: str | None = Field(default=None, max_length=200)
    ui_language: UiLanguage | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    current_password: str | None = Field(default=None, max_length=256)


class UsersPublic(BaseModel):
    """A list of users."""

    data: list[UserPublic]
    count: int


# ---------------------------------------------------------------------------------------------- cards


class AddressIn(Strict):
    """Address parts; district is a taxonomy id."""

    street: str | None = Field(default=None, max_length=200)
    house: str | None = Field(default=None, max_length=32)
    building: str | None = Field(default=None, max_length=32)
    apartment: str | None = Field(default=None, max_length=32)
    district: str | None = Field(default=None, max_length=32)
    landmark: str | None = Field(default=None, max_length=200)


class Address(BaseModel):
    """Address parts as stored."""

    street: str | None = None
    house: str | None = None
    building: str | None = None
    apartment: str | None = None
    district: str | None = None
    landmark: str | None = None


class CardFields(Strict):
    """Working fields a person may set; only the fields sent are changed. ``version`` guards against races."""

    topic: str | None = Field(default=None, max_length=64)
    service: str | None = Field(default=None, max_length=64)
    emergency: str | None = Field(default=None, max_length=8)
    emergency_also: list[str] | None = Field(default=None, max_length=4)
    address: AddressIn | None = None
    summary: str | None = Field(default=None, max_length=5000)
    language: LanguageCode | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_ID)

    def changes(self) -> dict[str, Any]:
        """The fields sent, flattened to card column names (address parts become street, house, ...)."""
        out: dict[str, Any] = {}
        for name in self.model_fields_set - {"address", "version", "call_id", "caller_number", "organisation_id"}:
            value = getattr(self, name)
            out[name] = [] if name == "emergency_also" and value is None else value
        if self.address is not None:
            for name in self.address.model_fields_set:
                out[name] = getattr(self.address, name) or None
        return out


OrganisationId = Field(
    default=None,
    ge=1,
    le=MAX_ID,
    description="The organisation the card goes to (GET /api/organisations); null: the routing rules decide.",
)


class CardEdits(CardFields):
    """Working fields and the organisation a person chose; only the fields sent are changed."""

    organisation_id: int | None = OrganisationId

    def choice(self) -> dict[str, Any]:
        """``{"organisation_id": id or None}`` when it was sent (a choice, or null to withdraw one), else ``{}``."""
        return {"organisation_id": self.organisation_id} if "organisation_id" in self.model_fields_set else {}


class CardCreate(CardFields):
    """A manual card, optionally for a call that has no card yet."""

    call_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    caller_number: str | None = Field(default=None, max_length=64, pattern=r"^\+?[0-9]{1,20}$")

    def changes(self) -> dict[str, Any]:
        """As CardEdits, plus the caller number."""
        out = super().changes()
        if "caller_number" in self.model_fields_set:
            out["caller_number"] = self.caller_number
        return out


class CardConfirm(CardEdits):
    """Confirmation, with the last edits."""


class CardRoute(Strict):
    """Routing to a service (default: the card's service) and to an organisation (default: the card's, or the
    routing rules' when it has none that serves the service)."""

    service: str | None = Field(default=None, max_length=64)
    organisation_id: int | None = OrganisationId
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class CardResolve(Strict):
    """What was done."""

    resolution: str = Field(min_length=1, max_length=5000)
    first_call_resolution: bool | None = None
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class CardClose(Strict):
    """Closing, with an optional reason."""

    reason: str | None = Field(default=None, max_length=5000)
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class CardTransfer(Strict):
    """Move the live caller to an emergency service."""

    code: str = Field(min_length=3, max_length=3)


class TransferFailed(BaseModel):
    """The caller was NOT seen at the emergency service: the operator must dial it by hand (502, or 504 on time-out)."""

    detail: str = Field(description='A sentence for the operator, ending "Dial 103 by hand."')
    code: str
    dial_by_hand: str = Field(description="The number the operator must dial now")
    reason: str = Field(
        description="caller_gone, dialplan_missing, refused, transfer_channel_failed, asterisk_unreachable, timeout"
    )
    elapsed_s: float


class CardDismissEmergency(Strict):
    """Why the emergency alert is wrong."""

    reason: str = Field(min_length=1, max_length=2000)
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class Proposed(BaseModel):
    """What the model proposed (the contract's proposal dict)."""

    topic: str | None = None
    service: str | None = None
    emergency: str | None = None
    emergency_also: list[str] = []
    language: str | None = None
    address: Address = Address()
    summary: str | None = None
    confidence: dict[str, float] = {}
    alternatives: dict[str, Any] = {}
    model_version: str | None = None
    # "uncertain": a street was heard but not the house number; the desk asks the caller for it
    house_status: Literal["heard", "uncertain", "absent"] | None = None
    proposed_at: datetime | None = None


class OrganisationRef(BaseModel):
    """An organisation as a card names it."""

    id: int
    code: str
    name_kk: str
    name_ru: str

    @classmethod
    def of(cls, org: Organisation) -> OrganisationRef:
        """From a record."""
        return cls(id=org.id, code=org.code, name_kk=org.name_kk, name_ru=org.name_ru)


class OrganisationPublic(OrganisationRef):
    """An active organisation, for the desk's choice: its names and the taxonomy services it serves."""

    services: list[str]

    @classmethod
    def of(cls, org: Organisation) -> OrganisationPublic:
        """From a record."""
        return cls(id=org.id, code=org.code, name_kk=org.name_kk, name_ru=org.name_ru, services=list(org.services))


class OrganisationsPublic(BaseModel):
    """Organisations, by code."""

    data: list[OrganisationPublic]
    count: int


class RoutingPreview(BaseModel):
    """Where a card would go now: the organisation (null: none found, the monitoring department routes it by
    hand), the rule that chose it (null for a person's choice), and the reason as a sentence."""

    organisation: OrganisationRef | None
    routing_rule: str | None
    routing_reason: str
    chosen: bool = Field(description="True when it is a person's choice rather than the routing rules'")


class CardPublic(BaseModel):
    """A card as the API shows it."""

    id: int
    call_id: int | None
    status: CardStatusName
    caller_number: str | None
    proposed: Proposed | None
    topic: str | None
    service: str | None
    emergency: str | None
    emergency_also: list[str]
    address: Address
    summary: str | None
    language: str | None
    reg_number: str | None
    due_at: datetime | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    routed_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    resolution: str | None
    first_call_resolution: bool | None
    organisation: OrganisationRef | None = None
    routing_rule: str | None = None
    routing_reason: str | None = None
    priority: Literal["normal", "urgent"] = "normal"
    accepted_at: datetime | None = None
    status_notes: str | None = None
    return_count: int = 0
    reopen_count: int = 0
    deadline_stage: DeadlineStageName = "on_time"
    emergency_transferred_to: str | None
    emergency_transferred_at: datetime | None
    emergency_dismissed_reason: str | None
    qa_marks: dict[str, Any]
    operator_edited: list[str]
    legal_hold_at: datetime | None = None  # under a legal hold: the retention policy removes nothing of its call
    legal_hold_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, card: Card, confirmed_by: str | None = None, organisation: Organisation | None = None) -> CardPublic:
        """From a record (``confirmed_by``: the confirming user's username; ``organisation``: the card's)."""
        proposed = None
        if card.proposed_at is not None:
            proposed = Proposed(
                topic=card.proposed_topic,
                service=card.proposed_service,
                emergency=card.proposed_emergency,
                emergency_also=list(card.proposed_emergency_also or []),
                language=card.proposed_language,
                address=Address(**{f: getattr(card, f"proposed_{f}") for f in ADDRESS_FIELDS}),
                summary=card.proposed_summary,
                confidence=dict(card.proposed_confidence or {}),
                alternatives=dict(card.proposed_alternatives or {}),
                model_version=card.model_version,
                house_status=card.proposed_house_status,  # type: ignore[arg-type]
                proposed_at=card.proposed_at,
            )
        return cls(
            id=card.id,
            call_id=card.call_id,
            status=card.status,  # type: ignore[arg-type]
            caller_number=card.caller_number,
            proposed=proposed,
            topic=card.topic,
            service=card.service,
            emergency=card.emergency,
            emergency_also=list(card.emergency_also or []),
            address=Address(**{f: getattr(card, f) for f in ADDRESS_FIELDS}),
            summary=card.summary,
            language=card.language,
            reg_number=card.reg_number,
            due_at=card.due_at,
            confirmed_by=confirmed_by,
            confirmed_at=card.confirmed_at,
            routed_at=card.routed_at,
            resolved_at=card.resolved_at,
            closed_at=card.closed_at,
            resolution=card.resolution,
            first_call_resolution=card.first_call_resolution,
            organisation=OrganisationRef.of(organisation) if organisation is not None else None,
            routing_rule=card.routing_rule,
            routing_reason=card.routing_reason,
            priority=card.priority,  # type: ignore[arg-type]
            accepted_at=card.accepted_at,
            status_notes=card.status_notes,
            return_count=card.return_count,
            reopen_count=card.reopen_count,
            deadline_stage=card.deadline_stage,  # type: ignore[arg-type]
            emergency_transferred_to=card.emergency_transferred_to,
            emergency_transferred_at=card.emergency_transferred_at,
            emergency_dismissed_reason=card.emergency_dismissed_reason,
            qa_marks=dict(card.qa_marks or {}),
            operator_edited=list(card.operator_edited or []),
            legal_hold_at=card.legal_hold_at,
            legal_hold_reason=card.legal_hold_reason,
            created_at=card.created_at,
            updated_at=card.updated_at,
            version=card.version,
        )


class CardsPublic(BaseModel):
    """A page of cards and the total matching."""

    data: list[CardPublic]
    count: int


class AuditEventPublic(BaseModel):
    """One audit event."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    user_id: int | None
    entity: str
    entity_id: int
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditEventsPublic(BaseModel):
    """A page of audit events."""

    data: list[AuditEventPublic]
    count: int


# ---------------------------------------------------------------------------------------------- calls


class WordPublic(BaseModel):
    """One recognised word."""

    word: str
    start: float
    end: float
    conf: float


class SegmentPublic(BaseModel):
    """A transcript segment (live, re-decoded, or a QA correction of ``corrects_id``)."""

    id: int
    start: float
    end: float
    text: str
    language: str | None
    confidence: float | None
    words: list[WordPublic]
    speaker: str
    source: str
    corrects_id: int | None
    engine: str | None
    model_version: str | None
    created_by_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, seg: TranscriptSegment) -> SegmentPublic:
        """From a record."""
        return cls(
            id=seg.id,
            start=seg.start_s,
            end=seg.end_s,
            text=seg.text,
            language=seg.language,
            confidence=seg.confidence,
            words=[WordPublic(**w) for w in seg.words or []],
            speaker=seg.speaker,
            source=seg.source,
            corrects_id=seg.corrects_id,
            engine=seg.engine,
            model_version=seg.model_version,
            created_by_id=seg.created_by_id,
            created_at=seg.created_at,
        )


class RecordingPublic(BaseModel):
    """A call's audio file (played through ``url``)."""

    id: int
    kind: str
    format: str
    sample_rate: int
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    complete: bool
    created_at: datetime
    url: str

    @classmethod
    def of(cls, rec: Recording) -> RecordingPublic:
        """From a record."""
        return cls(
            id=rec.id,
            kind=rec.kind,
            format=rec.format,
            sample_rate=rec.sample_rate,
            duration_s=rec.duration_s,
            size_bytes=rec.size_bytes,
            sha256=rec.sha256,
            complete=rec.complete,
            created_at=rec.created_at,
            url=f"/api/calls/{rec.call_id}/audio?recording_id={rec.id}",
        )


class CallPublic(BaseModel):
    """A call as the API shows it."""

    id: int
    uniqueid: str
    linkedid: str | None
    channel: str | None
    caller_number: str | None
    caller_name: str | None
    dialled_number: str | None
    source: str
    state: str
    language: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    hangup_cause: str | None
    operator_id: int | None
    transferred_to: str | None
    frames_dropped: int
    asr_status: str | None
    card_id: int | None = None
    # When the retention policy deleted the recordings, anonymised or deleted the transcript, cleared the number.
    recordings_removed_at: datetime | None = None
    transcript_removed_at: datetime | None = None
    caller_number_removed_at: datetime | None = None

    @classmethod
    def of(cls, call: Call, card_id: int | None = None) -> CallPublic:
        """From a record."""
        duration = (call.ended_at - call.started_at).total_seconds() if call.ended_at else None
        return cls(
            id=call.id,
            uniqueid=call.uniqueid,
            linkedid=call.linkedid,
            channel=call.channel,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            dialled_number=call.dialled_number,
            source=call.source,
            state=call.state,
            language=call.language,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            duration_s=duration,
            hangup_cause=call.hangup_cause,
            operator_id=call.operator_id,
            transferred_to=call.transferred_to,
            frames_dropped=call.frames_dropped,
            asr_status=call.asr_status,
            card_id=card_id,
            recordings_removed_at=call.recordings_removed_at,
            transcript_removed_at=call.transcript_removed_at,
            caller_number_removed_at=call.caller_number_removed_at,
        )


class CallsPublic(BaseModel):
    """A page of calls."""

    data: list[CallPublic]
    count: int


class CallDetail(CallPublic):
    """A call with its recordings, transcript (live segments and corrections) and card."""

    recordings: list[RecordingPublic]
    segments: list[SegmentPublic]
    card: CardPublic | None


# ---------------------------------------------------------------------------------------------- service


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """Readiness: database, taxonomy and the wired components.

    ``components.telephony`` says whether ARI's events WebSocket is connected right now (``ari.connected``) and
    whether Asterisk's dialplan has the places callcard sends callers to (``dialplan.status``: ok, missing with
    the ``missing`` list, or unverified with a ``detail``).
    """

    ready: bool
    database: dict[str, Any]
    taxonomy: dict[str, Any]
    components: dict[str, dict[str, Any]]


# ------------------------------------------------------------------------------ the second line: the inbox

InboxStep = Literal["accept", "start", "done", "return", "note"]


class PhotoPublic(BaseModel):
    """A photo attached to a card (its bytes at ``/api/inbox/{card_id}/photos/{id}``)."""

    id: int
    content_type: str
    size: int
    uploaded_by: str
    created_at: datetime

    @classmethod
    def of(cls, photo: CardPhoto) -> PhotoPublic:
        """From a record (its bytes are not read)."""
        return cls(
            id=photo.id,
            content_type=photo.content_type,
            size=photo.size,
            uploaded_by=photo.uploaded_by,
            created_at=photo.created_at,
        )


class InboxCard(BaseModel):
    """A card as its organisation sees it: the appeal, where, the caller's own words, what was done, photos.

    No caller number, no proposal, no operator's notes: what the organisation needs to do the work."""

    id: int
    reg_number: str | None
    status: CardStatusName
    priority: Literal["normal", "urgent"]
    topic: str | None
    service: str | None
    emergency: str | None
    address: Address
    summary: str | None
    language: str | None
    excerpt: str = Field(description="the start of what the caller said (the caller's transcript, up to 600 chars)")
    organisation: OrganisationRef | None
    confirmed_at: datetime | None
    routed_at: datetime | None
    accepted_at: datetime | None
    resolved_at: datetime | None
    due_at: datetime | None
    deadline_stage: DeadlineStageName
    status_notes: str | None
    return_count: int
    reopen_count: int
    photos: list[PhotoPublic]
    version: int


class InboxCards(BaseModel):
    """A page of an organisation's cards and the total matching."""

    data: list[InboxCard]
    count: int


class InboxStepIn(Strict):
    """A step on an organisation's card; ``comment`` is required for done (what was done) and return (why)."""

    comment: str | None = Field(default=None, max_length=5000)
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class CardReopen(Strict):
    """Why the card is reopened: what the appellant said."""

    reason: str = Field(min_length=1, max_length=5000)
    version: int | None = Field(default=None, ge=1, le=MAX_ID)
