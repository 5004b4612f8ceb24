"""Personal data masked in one place: transcript segments (text and timed words), card free text, the appellant's
number, and the live feed's messages, as ``api.policy.personal_data_view`` decides.

ИИН, phone and card numbers are found by ``privacy.detect_personal_data`` on the words (said as words, the way
Vosk prints them) and, for text people typed (a card's summary, a QA correction), on numerals such as
"8 701 123 45 67". Each span becomes one token ("<iin>", "<phone>", "<card>") whose times span the span.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from api.policy import CallFacts, PersonalDataView, Surface, Viewer, appellant_number_shown, personal_data_view
from api.schemas import Address, AuditEventPublic, CallPublic, CardPublic, SegmentPublic, WordPublic
from calls.messages import (
    CallStartedMessage,
    CardProposedMessage,
    EmergencyAlertMessage,
    LiveMessage,
    LiveSegment,
    LiveWord,
    TranscriptFinalMessage,
    TranscriptPartialMessage,
)
from models.records import Call, Card, User
from privacy.base import PersonalDataSpan, TimedWord
from privacy.detect import detect_personal_data, kind_of_digits
from privacy.mask import PLACEHOLDER
from privacy.spoken_digits import digit_runs

_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = ".,;:!?«»\"'()[]…"
_NUMERAL = re.compile(r"^\+?\(?\d[\d()\-]*[.,;:]?$")
# A partial (an utterance still being heard) with this many spoken digits in a row may be a number not yet finished:
# it is not shown to a masked viewer until it is final and can be checked.
PARTIAL_DIGITS_HELD = 4


def _normal(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION).lower()


def _numeral_spans(tokens: Sequence[str], times: Sequence[tuple[float, float]]) -> list[PersonalDataSpan]:
    """Numbers typed as numerals: a run of numeral tokens ("8 701 123-45-67", "870512300123") that makes an ИИН,
    a phone or a card number, or one such token on its own."""
    spans: list[PersonalDataSpan] = []
    i = 0
    while i < len(tokens):
        if not _NUMERAL.match(tokens[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and _NUMERAL.match(tokens[j + 1]):
            j += 1
        digits = "".join(ch for tok in tokens[i : j + 1] for ch in tok if ch.isdigit())
        kind = kind_of_digits(digits)
        if kind is not None:
            spans.append(PersonalDataSpan(kind, i, j, times[i][0], times[j][1], digits))
        else:
            for k in range(i, j + 1):
                single = "".join(ch for ch in tokens[k] if ch.isdigit())
                one = kind_of_digits(single)
                if one is not None:
                    spans.append(PersonalDataSpan(one, k, k, times[k][0], times[k][1], single))
        i = j + 1
    return spans


def find_spans(tokens: Sequence[str], times: Sequence[tuple[float, float]]) -> list[PersonalDataSpan]:
    """Personal-data spans in ``tokens`` (said as words, or typed as numerals), in order, never overlapping."""
    words = [TimedWord(_normal(t), s, e) for t, (s, e) in zip(tokens, times, strict=True)]
    spans = list(detect_personal_data(words))
    taken = {k for s in spans for k in range(s.first_word, s.last_word + 1)}
    for span in _numeral_spans(tokens, times):
        if not any(k in taken for k in range(span.first_word, span.last_word + 1)):
            spans.append(span)
    return sorted(spans, key=lambda s: s.first_word)


def word_spans(words: Sequence[dict[str, Any]]) -> list[PersonalDataSpan]:
    """The spans in a stored segment's words ({"word","start","end","conf"}), with their call times."""
    tokens = [str(w.get("word", "")) for w in words]
    times = [(float(w.get("start", 0.0)), float(w.get("end", 0.0))) for w in words]
    return find_spans(tokens, times)


def mask_text(text: str | None) -> str | None:
    """Free text (a card's summary, a segment's text) with each personal number replaced by its token."""
    if not text:
        return text
    tokens = _TOKEN.findall(text)
    spans = find_spans(tokens, [(0.0, 0.0)] * len(tokens))
    if not spans:
        return text
    starts = {s.first_word: s for s in spans}
    out: list[str] = []
    i = 0
    while i < len(tokens):
        span = starts.get(i)
        if span is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(PLACEHOLDER[span.kind])
            i = span.last_word + 1
    return " ".join(out)


def _masked_words(words: Sequence[WordPublic]) -> list[WordPublic]:
    spans = find_spans([w.word for w in words], [(w.start, w.end) for w in words])
    if not spans:
        return list(words)
    starts = {s.first_word: s for s in spans}
    out: list[WordPublic] = []
    i = 0
    while i < len(words):
        span = starts.get(i)
        if span is None:
            out.append(words[i])
            i += 1
            continue
        covered = words[span.first_word : span.last_word + 1]
        conf = min(w.conf for w in covered)
        out.append(WordPublic(word=PLACEHOLDER[span.kind], start=covered[0].start, end=covered[-1].end, conf=conf))
        i = span.last_word + 1
    return out


def masked_segment(segment: SegmentPublic) -> SegmentPublic:
    """A transcript segment (live, re-decoded or a QA correction) with its personal data masked."""
    return segment.model_copy(update={"text": mask_text(segment.text) or "", "words": _masked_words(segment.words)})


def mask_caller_number(number: str | None) -> str | None:
    """The appellant's number as a role without the need sees it: "+77011234567" -> "+7 701 *** ** 67"."""
    if not number:
        return number
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        return f"+7 {digits[1:4]} *** ** {digits[-2:]}"
    if len(digits) == 10 and digits[0] == "7":
        return f"+7 {digits[0:3]} *** ** {digits[-2:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def _masked_address(address: Address) -> Address:
    return address.model_copy(update={"landmark": mask_text(address.landmark)})


def masked_card(card: CardPublic, *, keep_number: bool = False) -> CardPublic:
    """A card with personal numbers hidden in its free text (summary, landmark, resolution, status notes, the
    proposal's summary and landmark) and the appellant's number masked (kept with ``keep_number``)."""
    update: dict[str, Any] = {
        "summary": mask_text(card.summary),
        "resolution": mask_text(card.resolution),
        "status_notes": mask_text(card.status_notes),
        "address": _masked_address(card.address),
        "caller_number": card.caller_number if keep_number else mask_caller_number(card.caller_number),
    }
    if card.proposed is not None:
        update["proposed"] = card.proposed.model_copy(
            update={"summary": mask_text(card.proposed.summary), "address": _masked_address(card.proposed.address)}
        )
    return card.model_copy(update=update)


def masked_card_text(card: CardPublic) -> CardPublic:
    """A card with personal numbers hidden in its free text only: for the registry view, which hides the caller's
    number its own way (api.access.registry_view: all but the last four digits)."""
    return masked_card(card).model_copy(update={"caller_number": card.caller_number})


def _masked_values(values: dict[str, Any] | None, keep_number: bool) -> dict[str, Any] | None:
    if values is None:
        return None
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "caller_number" and isinstance(value, str):
            out[name] = value if keep_number else mask_caller_number(value)
        elif isinstance(value, str):
            out[name] = mask_text(value)
        else:
            out[name] = value
    return out


def masked_event(event: AuditEventPublic, *, keep_number: bool = False) -> AuditEventPublic:
    """An audit event with personal numbers hidden in the texts it recorded before and after (the appellant's
    number kept with ``keep_number``)."""
    before, after = _masked_values(event.before, keep_number), _masked_values(event.after, keep_number)
    return event.model_copy(update={"before": before, "after": after})


AnyCall = TypeVar("AnyCall", bound=CallPublic)


def masked_call(call: AnyCall, *, keep_number: bool = False) -> AnyCall:
    """A call with the appellant's number masked (kept with ``keep_number``; any subclass keeps its own fields,
    e.g. CallDetail)."""
    if keep_number:
        return call
    return call.model_copy(update={"caller_number": mask_caller_number(call.caller_number)})


# ------------------------------------------------------------------------------------------ the live feed


def _masked_live_segment(segment: LiveSegment) -> LiveSegment:
    public = [WordPublic(word=w.word, start=w.start, end=w.end, conf=w.conf) for w in segment.words]
    words = tuple(LiveWord(w.word, w.start, w.end, w.conf) for w in _masked_words(public))
    return replace(segment, text=mask_text(segment.text) or "", words=words)


def _unfinished_number(text: str) -> bool:
    tokens = [_normal(t) for t in _TOKEN.findall(text)]
    return any(sum(len(g.digits) for g in run.groups) >= PARTIAL_DIGITS_HELD for run in digit_runs(tokens))


def masked_live(message: LiveMessage, *, keep_number: bool = False) -> LiveMessage | None:
    """A live message as a masked viewer gets it (the appellant's number kept with ``keep_number``); None when it
    is not sent at all (a partial that may hold a number not finished yet)."""
    if isinstance(message, TranscriptFinalMessage):
        return replace(message, segment=_masked_live_segment(message.segment))
    if isinstance(message, TranscriptPartialMessage):
        if _unfinished_number(message.text) or any(_NUMERAL.match(t) for t in _TOKEN.findall(message.text)):
            return None
        return message
    if isinstance(message, CallStartedMessage):
        return message if keep_number else replace(message, caller_number=mask_caller_number(message.caller_number))
    if isinstance(message, CardProposedMessage):
        proposal = message.proposal
        address = replace(proposal.address, landmark=mask_text(proposal.address.landmark))
        return replace(message, proposal=replace(proposal, summary=mask_text(proposal.summary) or "", address=address))
    if isinstance(message, EmergencyAlertMessage):
        return replace(message, evidence=mask_text(message.evidence) or "")
    return message


# ------------------------------------------------------------------------------------------ the policy applied


def view_of(user: User, call: Call | None, surface: Surface, now: datetime | None = None) -> PersonalDataView:
    """The policy's view of ``call``'s personal data for ``user`` on ``surface``."""
    facts = CallFacts.of(call) if call is not None else None
    return personal_data_view(Viewer.of(user), facts, now or datetime.now(UTC), surface)


def number_shown(user: User, call: Call | None, surface: Surface, now: datetime | None = None) -> bool:
    """The policy's api.policy.appellant_number_shown for ``user`` and ``call`` on ``surface``."""
    facts = CallFacts.of(call) if call is not None else None
    return appellant_number_shown(Viewer.of(user), facts, now or datetime.now(UTC), surface)


def card_as_seen(user: User, card: Card, public: CardPublic, surface: Surface = Surface.LISTING) -> CardPublic:
    """``public`` (the card ``card`` as CardPublic) as ``user`` may see its personal data."""
    if view_of(user, card.call, surface) is PersonalDataView.UNMASKED:
        return public
    return masked_card(public, keep_number=number_shown(user, card.call, surface))


def cards_as_seen(user: User, rows: Sequence[Card], public: Sequence[CardPublic]) -> list[CardPublic]:
    """Many cards (``public`` in the order of ``rows``) as ``user`` may see them in a list."""
    now = datetime.now(UTC)
    if user.role != "operator":  # only an operator's view depends on the call: no need to load each one
        unmasked = view_of(user, None, Surface.LISTING, now) is PersonalDataView.UNMASKED
        keep = number_shown(user, None, Surface.LISTING, now)
        return [shown if unmasked else masked_card(shown, keep_number=keep) for shown in public]
    out = []
    for card, shown in zip(rows, public, strict=True):
        unmasked = view_of(user, card.call, Surface.LISTING, now) is PersonalDataView.UNMASKED
        out.append(shown if unmasked else masked_card(shown))
    return out
