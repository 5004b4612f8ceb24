"""The Stasis application: answers each caller, records the call, streams the caller's voice, hands them on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.tasks import BackgroundTasks
from core.types import Speaker
from telephony.ari import AriClient, AriError, Json
from telephony.ari_recordings import fetch_stored_recording, finished
from telephony.audiosocket import MediaDirectory, operator_media_uuid
from telephony.causes import CALLER_GONE, GONE_WHILE_AWAY, LEFT_DURING_SETUP, cause_name
from telephony.events import CallAnswered, CallEnded, CallEventSink, CallStarted, RecordingFinished

logger = logging.getLogger(__name__)

# Channel technologies that are helpers of some Stasis application, never callers.
HELPER_TECHS = ("Snoop/", "UnicastRTP/", "AudioSocket/", "WebSocket/")
HELPER_ARG = "callcard-helper"
ROLE_RECORD, ROLE_LISTEN, ROLE_MEDIA = "record", "listen", "media"
# The operator's voice: a snoop spy=out on the caller (what the caller hears) bridged with its own externalMedia.
ROLE_LISTEN_OPERATOR, ROLE_MEDIA_OPERATOR = "listen-operator", "media-operator"
HELPER_ID_PREFIXES = ("callcard-rec-", "callcard-lsn-", "callcard-em-", "callcard-lso-", "callcard-emo-")
RECENTLY_ENDED = 1000  # uniqueids of calls this application ended itself, remembered for the reconciler


def parse_ari_time(value: str | None) -> datetime:
    """An ARI timestamp ("2026-11-22T03:16:07.123+0000") as an aware datetime; now if missing or odd."""
    if value:
        for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
            with contextlib.suppress(ValueError):
                return datetime.strptime(value, fmt).astimezone(UTC)
    return datetime.now(UTC)


class AriCallPhase(StrEnum):
    """Where the application is with one caller.

    SETTING_UP -> HANDING_OVER (continue into the operators' context asked: the coming StasisEnd is the hand-over,
    not a hang-up) -> WITH_OPERATORS (recorded, streamed, handed over) -> ENDED. A caller re-adopted after a
    restart starts at HANDING_OVER: only its listening chain is set up again.
    """

    SETTING_UP = "setting_up"
    HANDING_OVER = "handing_over"
    WITH_OPERATORS = "with_operators"
    ENDED = "ended"


@dataclass
class AriCall:
    """What the application tracks of one caller channel."""

    uniqueid: str
    name: str
    media_uuid: str
    attempt: int = 0
    answered: bool = False  # a fact about the channel (state Up), not a step of the application's work
    phase: AriCallPhase = AriCallPhase.SETTING_UP

    @property
    def ended(self) -> bool:
        """The caller is gone (or callcard stopped following it)."""
        return self.phase is AriCallPhase.ENDED

    @property
    def handed_over(self) -> bool:
        """The caller left (or is leaving) Stasis for the operators' context."""
        return self.phase in (AriCallPhase.HANDING_OVER, AriCallPhase.WITH_OPERATORS)

    setup_task: asyncio.Task[None] | None = None
    helpers: dict[str, str] = field(default_factory=dict)  # channel id -> role
    bridge_id: str | None = None
    operator_bridge_id: str | None = None
    hangup_cause: int | None = None  # from ChannelHangupRequest
    last_seen: datetime | None = None  # time of the last event Asterisk sent about this caller
    recording_started: datetime | None = None  # when Asterisk accepted the recording of the call

    def ids(self) -> dict[str, str]:
        """Helper channel, bridge and recording names of the current set-up attempt."""
        tag = f"{self.uniqueid}-{self.attempt}" if self.attempt else self.uniqueid
        return {
            ROLE_RECORD: f"callcard-rec-{tag}",
            ROLE_LISTEN: f"callcard-lsn-{tag}",
            ROLE_MEDIA: f"callcard-em-{tag}",
            ROLE_LISTEN_OPERATOR: f"callcard-lso-{tag}",
            ROLE_MEDIA_OPERATOR: f"callcard-emo-{tag}",
            "bridge": f"callcard-br-{tag}",
            "operator_bridge": f"callcard-bro-{tag}",
            "recording": f"callcard-{tag}",
        }


class AriApplication:
    """Turns ARI events into call events and drives each call's set-up through ARI's REST interface.

    Per caller: answer; snoop ``spy=both`` recorded through ARI (the whole conversation, and it keeps
    recording after the caller leaves Stasis, because the snoop channel stays in this application while the
    audiohook stays on the caller); snoop ``spy=in`` bridged with an externalMedia channel (AudioSocket over
    TCP, slin) that streams the caller's voice to callcard; ``continue`` into the operators' context; then, with
    ``operator_voice``, snoop ``spy=out`` (what the caller hears: the operator) bridged with a second externalMedia
    channel that streams the operator's voice (a failure there costs only the live operator transcript: the
    recording has both voices). The application subscribes to the caller's channel so its hang-up is still seen
    after it left Stasis.
    """

    def __init__(
        self,
        client: AriClient,
        events: CallEventSink,
        directory: MediaDirectory,
        *,
        audiosocket_advertise: str,
        operators_context: str,
        operators_extension: str = "s",
        recordings_dir: Path,
        recording_format: str = "wav",
        delete_fetched_recordings: bool = True,
        helper_timeout: float = 5.0,
        operator_voice: bool = True,
    ) -> None:
        """Wire the application to its client, its event sink and the AudioSocket stream directory."""
        self.client = client
        self.events = events
        self.directory = directory
        self.advertise = audiosocket_advertise
        self.operators_context = operators_context
        self.operators_extension = operators_extension
        self.recordings_dir = recordings_dir
        self.recording_format = recording_format
        self.delete_fetched_recordings = delete_fetched_recordings
        self.helper_timeout = helper_timeout
        self.operator_voice = operator_voice
        self.calls: dict[str, AriCall] = {}
        self._helpers: dict[str, tuple[str, str]] = {}  # helper channel id -> (caller uniqueid, role)
        self._helper_up: dict[str, asyncio.Event] = {}
        self._recordings: dict[str, str] = {}  # recording name -> caller uniqueid
        self._tasks = BackgroundTasks("ARI application")
        self._runner: asyncio.Task[None] | None = None
        self._ended: OrderedDict[str, None] = OrderedDict()
        # Run after every (re)connection, once this application has reconciled its own calls (the reconciler).
        self.reconnect_hooks: list[Callable[[], Awaitable[object]]] = []

    # ----------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start receiving events (reconnecting for ever until ``stop``)."""
        events = self.client.run_events(self.handle_event, self._on_connect)
        self._runner = asyncio.create_task(events, name="ari-events")

    async def _on_connect(self) -> None:
        await self.reconcile()
        for hook in list(self.reconnect_hooks):
            try:
                await hook()
            except Exception:
                logger.exception("ARI reconnect hook %r failed", hook)

    def following(self, uniqueid: str) -> bool:
        """True while this application follows the call, or has just ended it itself (its events are its own)."""
        return uniqueid in self.calls or uniqueid in self._ended

    async def stop(self) -> None:
        """Stop the event loop and background work (calls stay as they are in Asterisk)."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        await self._tasks.close()
        self._runner = None

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    # -------------------------------------------------------------------------------------------- events

    async def handle_event(self, event: Json) -> None:
        """Dispatch one ARI event by its "type"."""
        kind = event.get("type")
        handler = {
            "StasisStart": self._on_stasis_start,
            "StasisEnd": self._on_stasis_end,
            "ChannelDestroyed": self._on_channel_destroyed,
            "ChannelStateChange": self._on_state_change,
            "ChannelHangupRequest": self._on_hangup_request,
            "RecordingFinished": self._on_recording_finished,
            "RecordingFailed": self._on_recording_failed,
        }.get(str(kind))
        if handler is None:
            return
        channel = event.get("channel") if kind != "RecordingFinished" and kind != "RecordingFailed" else None
        if kind not in ("RecordingFinished", "RecordingFailed") and (
            not isinstance(channel, dict) or not channel.get("id")
        ):
            logger.error("ARI %s event without a channel id; ignored", kind)
            return
        if isinstance(channel, dict):
            followed = self.calls.get(str(channel["id"]))
            if followed is not None:
                followed.last_seen = parse_ari_time(event.get("timestamp"))
        await handler(event)

    def _is_foreign_helper(self, channel: Json, args: list[str]) -> bool:
        # Never match ids by a bare "callcard-": with systemname=callcard-... every Asterisk id starts so.
        name = str(channel.get("name", ""))
        return (
            name.startswith(HELPER_TECHS)
            or str(channel.get("id", "")).startswith(HELPER_ID_PREFIXES)
            or (bool(args) and args[0] == HELPER_ARG)
        )

    async def _on_stasis_start(self, event: Json) -> None:
        channel: Json = event["channel"]
        cid = str(channel["id"])
        args = [str(a) for a in event.get("args") or []]
        if cid in self._helpers:
            uid, role = self._helpers[cid]
            self._helper_up.setdefault(cid, asyncio.Event()).set()
            call = self.calls.get(uid)
            if role == ROLE_RECORD and call is not None and not call.ended:
                self._spawn(self._start_recording(call, cid), f"ari-record-{uid}")
            return
        if self._is_foreign_helper(channel, args):
            logger.debug("ignoring helper channel %s (%s)", cid, channel.get("name"))
            return
        if cid in self.calls:
            logger.warning("duplicate StasisStart for channel %s; the call is already being handled", cid)
            return
        await self._adopt(channel, at=parse_ari_time(event.get("timestamp")))

    async def _adopt(self, channel: Json, *, at: datetime) -> None:
        cid = str(channel["id"])
        caller = channel.get("caller") or {}
        dialplan = channel.get("dialplan") or {}
        call = AriCall(uniqueid=cid, name=str(channel.get("name", "")), media_uuid=str(uuid.uuid4()))
        call.answered = channel.get("state") == "Up"
        call.last_seen = at
        self.calls[cid] = call
        self._register_streams(call)
        logger.info("call %s entered Stasis on %s", cid, call.name)
        await self.events.on_event(
            CallStarted(
                uniqueid=cid,
                at=parse_ari_time(channel.get("creationtime")) if channel.get("creationtime") else at,
                channel=call.name,
                linkedid=channel.get("linkedid"),
                caller_number=caller.get("number") or None,
                caller_name=caller.get("name") or None,
                dialled_number=dialplan.get("exten") or None,
                source="ari",
                media_uuid=call.media_uuid,
            )
        )
        if call.answered:
            await self.events.on_event(CallAnswered(uniqueid=cid, at=at))
        call.setup_task = self._spawn(self._setup(call), f"ari-setup-{cid}")

    async def _on_stasis_end(self, event: Json) -> None:
        cid = str(event["channel"]["id"])
        if cid in self._helpers:
            return
        call = self.calls.get(cid)
        if call is None or call.ended:
            return
        if call.handed_over:
            logger.info("call %s left Stasis for the operators (%s)", cid, self.operators_context)
            # Asterisk drops the implicit subscription at StasisEnd; subscribe (again) to hear the hang-up.
            self._spawn(self._follow(call), f"ari-follow-{cid}")
            return
        if call.hangup_cause is not None:  # the caller hung up while callcard was setting the call up
            cause = cause_name(call.hangup_cause)
        else:
            cause = LEFT_DURING_SETUP
        await self._end(call, cause=cause, at=parse_ari_time(event.get("timestamp")))

    async def _on_channel_destroyed(self, event: Json) -> None:
        cid = str(event["channel"]["id"])
        at = parse_ari_time(event.get("timestamp"))
        helper = self._helpers.pop(cid, None)
        self._helper_up.pop(cid, None)
        if helper is not None:
            uid, role = helper
            call = self.calls.get(uid)
            if call is not None:
                call.helpers.pop(cid, None)
            if role == ROLE_RECORD and call is not None and not call.ended:
                # The snoop dies with its target: if the caller is gone too, that is the end of the call.
                self._spawn(self._check_caller(call, at), f"ari-check-{uid}")
            return
        call = self.calls.get(cid)
        if call is None or call.ended:
            return
        await self._end(call, cause=cause_name(event.get("cause"), event.get("cause_txt")), at=at)

    async def _on_state_change(self, event: Json) -> None:
        channel = event["channel"]
        call = self.calls.get(str(channel["id"]))
        if call is not None and not call.answered and channel.get("state") == "Up":
            call.answered = True
            await self.events.on_event(CallAnswered(uniqueid=call.uniqueid, at=parse_ari_time(event.get("timestamp"))))

    async def _on_hangup_request(self, event: Json) -> None:
        cid = str(event["channel"]["id"])
        call = self.calls.get(cid)
        if call is not None:
            soft = bool(event.get("soft"))
            logger.info("call %s: hang-up requested (%scause %s)", cid, "soft, " if soft else "", event.get("cause"))
            # Real Asterisk: a soft hang-up request carries Asterisk's internal soft-hangup flag in "cause" (32 for
            # an ARI DELETE, 4 at shutdown), not a Q.850 cause; the real cause comes in a later, non-soft request.
            if not soft and isinstance(event.get("cause"), int) and call.hangup_cause is None:
                call.hangup_cause = int(event["cause"])

    async def _on_recording_finished(self, event: Json) -> None:
        rec = event.get("recording") or {}
        name = str(rec.get("name", ""))
        uid = self._recordings.pop(name, None)
        if uid is None:
            logger.debug("recording %s is not one of callcard's", name)
            return
        fmt = str(rec.get("format") or self.recording_format)
        self._spawn(self._store_recording(uid, name, fmt), f"ari-fetch-{uid}")

    async def _on_recording_failed(self, event: Json) -> None:
        rec = event.get("recording") or {}
        uid = self._recordings.pop(str(rec.get("name", "")), None)
        if uid is not None:
            logger.error("recording of call %s failed: %s", uid, rec.get("cause") or rec.get("state"))

    # --------------------------------------------------------------------------------------------- set-up

    def _expect(self, call: AriCall, channel_id: str, role: str) -> asyncio.Event:
        self._helpers[channel_id] = (call.uniqueid, role)
        call.helpers[channel_id] = role
        return self._helper_up.setdefault(channel_id, asyncio.Event())

    async def _setup(self, call: AriCall) -> None:
        """Set a call up; for a caller already handed over (re-adopted after a restart) only the listening chain."""
        uid = call.uniqueid
        ids = call.ids()
        handed_over = call.handed_over
        try:
            if not call.answered:
                await self.client.answer(uid)
                if not call.answered:
                    call.answered = True
                    await self.events.on_event(CallAnswered(uniqueid=uid, at=datetime.now(UTC)))
            await self.client.subscribe(f"channel:{uid}")
            if not handed_over:
                self._recordings[ids["recording"]] = uid
                self._expect(call, ids[ROLE_RECORD], ROLE_RECORD)
                await self.client.snoop(uid, spy="both", snoop_id=ids[ROLE_RECORD], app_args=f"{HELPER_ARG},record")
            listen_up = self._expect(call, ids[ROLE_LISTEN], ROLE_LISTEN)
            await self.client.snoop(uid, spy="in", snoop_id=ids[ROLE_LISTEN], app_args=f"{HELPER_ARG},listen")
            await self.client.create_bridge(ids["bridge"], type="mixing", name=f"callcard {uid}")
            call.bridge_id = ids["bridge"]
            media_up = self._expect(call, ids[ROLE_MEDIA], ROLE_MEDIA)
            await self.client.external_media(
                external_host=self.advertise,
                data=call.media_uuid,
                channel_id=ids[ROLE_MEDIA],
                encapsulation="audiosocket",
                transport="tcp",
                format="slin",
            )
            await asyncio.wait_for(asyncio.gather(listen_up.wait(), media_up.wait()), self.helper_timeout)
            await self.client.add_to_bridge(ids["bridge"], [ids[ROLE_LISTEN], ids[ROLE_MEDIA]])
            if not handed_over:
                call.phase = AriCallPhase.HANDING_OVER
                try:
                    await self.client.continue_in_dialplan(
                        uid, context=self.operators_context, extension=self.operators_extension, priority=1
                    )
                except AriError:
                    call.phase = AriCallPhase.SETTING_UP
                    raise
            call.phase = AriCallPhase.WITH_OPERATORS
            if self.operator_voice:
                await self._listen_to_operator(call)
            logger.info(
                "call %s set up: %sstreaming %s, %s",
                uid,
                "" if handed_over else "recording, ",
                call.media_uuid,
                "already with the operators" if handed_over else f"handed to {self.operators_context}",
            )
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            logger.error("call %s: helper channels did not enter Stasis within %.0f s", uid, self.helper_timeout)
            await self._cleanup(call)
        except AriError as exc:
            if exc.not_found:
                logger.info("call %s: caller gone during set-up (%s)", uid, exc)
                await self._cleanup(call)
                await self._check_caller(call, datetime.now(UTC))
            elif exc.transient:
                logger.warning("call %s: set-up interrupted (%s); it resumes when ARI is back", uid, exc)
            else:
                logger.error("call %s: set-up failed: %s", uid, exc)
                await self._cleanup(call)

    def _register_streams(self, call: AriCall) -> None:
        self.directory.register(call.media_uuid, call.uniqueid)
        if self.operator_voice:
            self.directory.register(operator_media_uuid(call.media_uuid), call.uniqueid, Speaker.OPERATOR)

    async def _listen_to_operator(self, call: AriCall) -> None:
        """Stream what the caller hears (the operator) to callcard. Never fatal: the recording has both voices."""
        uid, ids = call.uniqueid, call.ids()
        try:
            listen_up = self._expect(call, ids[ROLE_LISTEN_OPERATOR], ROLE_LISTEN_OPERATOR)
            await self.client.snoop(
                uid, spy="out", snoop_id=ids[ROLE_LISTEN_OPERATOR], app_args=f"{HELPER_ARG},listen-operator"
            )
            await self.client.create_bridge(ids["operator_bridge"], type="mixing", name=f"callcard {uid} operator")
            call.operator_bridge_id = ids["operator_bridge"]
            media_up = self._expect(call, ids[ROLE_MEDIA_OPERATOR], ROLE_MEDIA_OPERATOR)
            await self.client.external_media(
                external_host=self.advertise,
                data=operator_media_uuid(call.media_uuid),
                channel_id=ids[ROLE_MEDIA_OPERATOR],
                encapsulation="audiosocket",
                transport="tcp",
                format="slin",
            )
            await asyncio.wait_for(asyncio.gather(listen_up.wait(), media_up.wait()), self.helper_timeout)
            await self.client.add_to_bridge(
                ids["operator_bridge"], [ids[ROLE_LISTEN_OPERATOR], ids[ROLE_MEDIA_OPERATOR]]
            )
        except asyncio.CancelledError:
            raise
        except (AriError, TimeoutError) as exc:
            logger.warning(
                "call %s: the operator's voice is not streamed (%s); it is decoded from the recording after the call",
                uid,
                exc or "helpers did not enter Stasis in time",
            )

    async def _follow(self, call: AriCall) -> None:
        try:
            await self.client.subscribe(f"channel:{call.uniqueid}")
        except AriError as exc:
            if exc.not_found or exc.status == 422:
                await self._check_caller(call, datetime.now(UTC))
            else:
                logger.warning("call %s: cannot subscribe to its channel: %s", call.uniqueid, exc)

    async def _start_recording(self, call: AriCall, snoop_id: str) -> None:
        name = call.ids()["recording"]
        try:
            await self.client.record(snoop_id, name=name, format=self.recording_format, if_exists="overwrite")
            call.recording_started = datetime.now(UTC)
            logger.info("call %s: recording %s started", call.uniqueid, name)
        except AriError as exc:
            logger.error("call %s: recording could not start: %s", call.uniqueid, exc)
            self._recordings.pop(name, None)

    async def _fetch_recording(self, uid: str, name: str, fmt: str, *, quiet: bool = False) -> RecordingFinished | None:
        info = await fetch_stored_recording(
            self.client, name, fmt, self.recordings_dir, delete=self.delete_fetched_recordings, quiet=quiet
        )
        if info is None:
            logger.warning("call %s: no recording %s", uid, name)
            return None
        return finished(uid, info, fmt=fmt)

    async def _store_recording(self, uid: str, name: str, fmt: str) -> None:
        event = await self._fetch_recording(uid, name, fmt)
        if event is not None:
            await self.events.on_event(event)

    # ------------------------------------------------------------------------------------------ endings

    async def _check_caller(self, call: AriCall, at: datetime) -> None:
        try:
            await self.client.get_channel(call.uniqueid)
        except AriError as exc:
            if exc.not_found and not call.ended:
                await self._end(call, cause=CALLER_GONE, at=at)

    async def _end(self, call: AriCall, *, cause: str | None, at: datetime) -> None:
        if call.ended:
            return
        call.phase = AriCallPhase.ENDED
        task = call.setup_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
        logger.info("call %s ended (%s)", call.uniqueid, cause)
        self.calls.pop(call.uniqueid, None)
        self._ended[call.uniqueid] = None
        while len(self._ended) > RECENTLY_ENDED:
            self._ended.popitem(last=False)
        recording: RecordingFinished | None = None
        if cause == GONE_WHILE_AWAY:
            # Asterisk restarted or crashed: no RecordingFinished will come; fetch what it stored, if anything,
            # and end the call when it really ended (the recording's end, or the last event seen), not now.
            name = call.ids()["recording"]
            if self._recordings.pop(name, None) is not None:
                recording = await self._fetch_recording(call.uniqueid, name, self.recording_format, quiet=True)
            at = self._best_end(call, recording, not_after=at)
        try:
            await self.events.on_event(CallEnded(uniqueid=call.uniqueid, at=at, cause=cause))
            if recording is not None:
                await self.events.on_event(recording)
        finally:
            self._spawn(self._cleanup(call), f"ari-cleanup-{call.uniqueid}")

    @staticmethod
    def _best_end(call: AriCall, recording: RecordingFinished | None, *, not_after: datetime) -> datetime:
        """The latest moment the call is known to have been up: the recording's end or the last event seen."""
        known = [t for t in (call.last_seen,) if t is not None]
        if recording is not None and recording.duration_s is not None and call.recording_started is not None:
            known.append(call.recording_started + timedelta(seconds=recording.duration_s))
        return min(max(known), not_after) if known else not_after

    async def _cleanup(self, call: AriCall) -> None:
        """Hang up the listening helpers and destroy the bridge (the recording snoop ends with the caller)."""
        for cid, role in list(call.helpers.items()):
            if role == ROLE_RECORD and not call.ended:
                continue
            with contextlib.suppress(AriError):
                await self.client.hangup(cid)
        for bridge_id in (call.bridge_id, call.operator_bridge_id):
            if bridge_id is not None:
                with contextlib.suppress(AriError):
                    await self.client.destroy_bridge(bridge_id)
        call.bridge_id = call.operator_bridge_id = None
        if call.ended:
            self.directory.forget_call(call.uniqueid)

    async def _readopt(
        self, channel: Json, record_snoop_id: str, now: datetime, recording_since: datetime | None = None
    ) -> None:
        """Follow again a caller that callcard set up before it restarted (its recording snoop is still running).

        ``recording_since`` is the recording snoop's creation time: the new stream's audio starts that far into
        the call's recording, so its transcript is timed on the call's clock.
        """
        cid = str(channel["id"])
        tag = record_snoop_id[len("callcard-rec-") :]
        call = AriCall(uniqueid=cid, name=str(channel.get("name", "")), media_uuid=str(uuid.uuid4()))
        call.answered = channel.get("state") == "Up"
        call.phase = AriCallPhase.HANDING_OVER
        call.last_seen = now
        call.recording_started = recording_since
        suffix = tag[len(cid) :]  # "" or "-<attempt>" of the set-up that created the snoop
        call.attempt = (int(suffix[1:]) if suffix[1:].isdigit() else 0) + 1
        self.calls[cid] = call
        self._helpers[record_snoop_id] = (cid, ROLE_RECORD)
        call.helpers[record_snoop_id] = ROLE_RECORD
        self._recordings[f"callcard-{tag}"] = cid
        self._register_streams(call)
        # The old listening snoops and bridges lost their media connections with the old process.
        for old in (f"callcard-lsn-{tag}", f"callcard-lso-{tag}"):
            with contextlib.suppress(AriError):
                await self.client.hangup(old)
        for old in (f"callcard-br-{tag}", f"callcard-bro-{tag}"):
            with contextlib.suppress(AriError):
                await self.client.destroy_bridge(old)
        logger.info("call %s re-adopted after a restart (recording %s continues)", cid, f"callcard-{tag}")
        caller = channel.get("caller") or {}
        await self.events.on_event(
            CallStarted(
                uniqueid=cid,
                at=parse_ari_time(channel.get("creationtime")) if channel.get("creationtime") else now,
                channel=call.name,
                caller_number=caller.get("number") or None,
                caller_name=caller.get("name") or None,
                dialled_number=(channel.get("dialplan") or {}).get("exten") or None,
                source="ari",
                media_uuid=call.media_uuid,
                audio_offset_s=max(0.0, (now - recording_since).total_seconds()) if recording_since else 0.0,
            )
        )
        call.setup_task = self._spawn(self._setup(call), f"ari-relisten-{cid}")

    async def reconcile(self) -> None:
        """After a (re)connection: end calls whose channels vanished, resume set-ups, adopt missed callers."""
        try:
            channels = await self.client.list_channels()
        except AriError as exc:
            logger.error("cannot re-read channels after reconnecting: %s", exc)
            return
        up = {str(c.get("id")): c for c in channels if isinstance(c, dict)}
        now = datetime.now(UTC)
        for uid, call in list(self.calls.items()):
            if call.ended:
                continue
            if uid not in up:
                await self._end(call, cause=GONE_WHILE_AWAY, at=now)
                continue
            with contextlib.suppress(AriError):
                await self.client.subscribe(f"channel:{uid}")
            busy = call.setup_task is not None and not call.setup_task.done()
            if call.phase is AriCallPhase.SETTING_UP and not busy:
                await self._cleanup(call)
                call.attempt += 1
                logger.info("call %s: resuming set-up after reconnect (attempt %d)", uid, call.attempt + 1)
                call.setup_task = self._spawn(self._setup(call), f"ari-setup-{uid}")
        for cid, channel in up.items():
            # A recording snoop of ours whose caller callcard does not know: callcard restarted mid-call.
            name = str(channel.get("name", ""))
            if cid.startswith("callcard-rec-") and name.startswith("Snoop/") and cid not in self._helpers:
                target = name[len("Snoop/") :].rsplit("-", 1)[0]
                if target in up and target not in self.calls:
                    since = parse_ari_time(channel.get("creationtime")) if channel.get("creationtime") else None
                    await self._readopt(up[target], cid, now, since)
        for cid, channel in up.items():
            if cid in self.calls or cid in self._helpers:
                continue
            dialplan = channel.get("dialplan") or {}
            app_data = str(dialplan.get("app_data", ""))
            in_our_app = dialplan.get("app_name") == "Stasis" and app_data.split(",")[0] == self.client.app
            if in_our_app and not self._is_foreign_helper(channel, app_data.split(",")[1:]):
                logger.info("adopting channel %s found in Stasis after reconnecting", cid)
                await self._adopt(channel, at=now)
