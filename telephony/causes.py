"""One hang-up cause vocabulary for every way callcard hears a hang-up (ARI, FastAGI, the reconciler).

The names are Asterisk's own texts for Q.850 causes (``ast_cause2str``, the ``cause_txt`` of ARI's
ChannelDestroyed), so a FastAGI ``${HANGUPCAUSE}`` of 16 and an ARI ``cause: 16, cause_txt: "Normal Clearing"``
are stored alike. Hang-ups that callcard infers itself have their own names below.
"""

from __future__ import annotations

from telephony.events import ReconciledCause

# Asterisk's causes[] table (main/channel.c): Q.850 code -> description.
Q850: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    5: "Misdialed trunk prefix",
    6: "Channel unacceptable",
    7: "Call awarded and being delivered in an established channel",
    8: "Pre-empted",
    14: "Number ported elsewhere",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    23: "Redirected to new destination",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    30: "Response to STATus ENQuiry",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    43: "Access information discarded",
    44: "Requested channel not available",
    50: "Facility not subscribed",
    52: "Outgoing call barred",
    54: "Incoming call barred",
    57: "Bearer capability not authorized",
    58: "Bearer capability not available",
    65: "Bearer capability not implemented",
    66: "Channel not implemented",
    69: "Facility not implemented",
    81: "Invalid call reference value",
    88: "Incompatible destination",
    95: "Invalid message unspecified",
    96: "Mandatory information element is missing",
    97: "Message type nonexist.",
    98: "Wrong message",
    99: "Info. element nonexist or not implemented",
    100: "Invalid information element contents",
    101: "Wrong call state",
    102: "Recovery on timer expiry",
    103: "Mandatory IE length error",
    111: "Protocol error, unspecified",
    127: "Interworking, unspecified",
}
_BY_TEXT = {text.casefold(): text for text in Q850.values()}

# Hang-ups callcard infers (no cause from Asterisk).
GONE_WHILE_AWAY = "channel gone while ARI was disconnected"
LEFT_DURING_SETUP = "left Stasis during set-up"
CALLER_GONE = "caller channel gone"
# The reconciler's causes are telephony.events.ReconciledCause (calls/ may import only telephony.events).
RECONCILED = tuple(str(c) for c in ReconciledCause)


def cause_name(cause: int | str | None, text: str | None = None) -> str | None:
    """The one name of a hang-up cause given as a Q.850 number (int or digits) and/or Asterisk's text.

    ``cause_name(16) == cause_name("16") == cause_name(None, "normal clearing") == "Normal Clearing"``.
    A number Asterisk has no text for becomes ``"cause <n>"``; an unknown text is kept as given; nothing
    known gives None.
    """
    code: int | None = None
    if isinstance(cause, int) and not isinstance(cause, bool):
        code = cause
    elif isinstance(cause, str) and cause.strip().isdigit():
        code = int(cause.strip())
    elif isinstance(cause, str) and cause.strip() and text is None:
        text = cause
    if code is not None and code in Q850:
        return Q850[code]
    if text is not None and text.strip():
        return _BY_TEXT.get(text.strip().casefold(), text.strip())
    if code is not None:
        return f"cause {code}"
    return None
