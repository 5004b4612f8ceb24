"""The states a call goes through in callcard, as enums (never as boolean flags).

``CallPhase`` is the in-memory life of a call the manager follows; ``AsrStatus`` is what the database says
of the call's transcript, and decides the post-call work.
"""

from __future__ import annotations

from enum import StrEnum


class CallPhase(StrEnum):
    """One followed call, from its first event until its live processing is over.

    STARTING -> LIVE -> DRAINING -> FINISHED, or STARTING -> RECORDING_ONLY -> DRAINING -> FINISHED when the
    call is not decoded live (beyond capacity, no speech engine, or live processing failed).
    """

    STARTING = "starting"  # CallStarted seen; audio is buffered while the processor is built
    LIVE = "live"  # audio is decoded as it arrives
    RECORDING_ONLY = "recording_only"  # audio is not decoded live; the recording is decoded after hang-up
    DRAINING = "draining"  # the caller hung up; the last audio is being processed
    FINISHED = "finished"  # live processing is over (post-call work may start)

    @property
    def accepts_audio(self) -> bool:
        """Whether audio frames are queued for live decoding in this phase."""
        return self in (CallPhase.STARTING, CallPhase.LIVE)


class AsrStatus(StrEnum):
    """The transcript's state, stored on the call (``calls.asr_status``)."""

    LIVE = "live"  # being decoded live
    COMPLETE = "complete"  # live decoding covered the whole call
    INCOMPLETE = "incomplete"  # live decoding missed spans (``asr_gaps``): they are decoded after the call
    DEFERRED = "deferred"  # not decoded live (capacity, failure): the whole recording is decoded after the call
    POSTCALL_DONE = "postcall_done"  # post-call decoding filled what live decoding missed
    POSTCALL_FAILED = "postcall_failed"  # post-call decoding kept failing: shown to admins, retried by hand
    NO_MODEL = "no_model"  # no speech model: nothing to decode with

    @property
    def needs_postcall(self) -> bool:
        """Whether the recording still has to be decoded after the call."""
        return self in (AsrStatus.LIVE, AsrStatus.INCOMPLETE, AsrStatus.DEFERRED)
