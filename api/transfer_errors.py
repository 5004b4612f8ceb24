"""The one answer to a transfer that did not happen: what went wrong and the number to dial by hand."""

from __future__ import annotations

from api.errors import ApiError


def transfer_failed(status: int, code: str, reason: str, detail: str, took: float) -> ApiError:
    """502 (or 504 on time-out): the caller was NOT moved; the operator must dial ``code`` by hand now."""
    sentence = detail[:1].upper() + detail[1:] if detail else "Asterisk did not move the call"
    return ApiError(
        status,
        f"The caller was NOT transferred to {code}: {sentence.rstrip('.')}. Dial {code} by hand.",
        code=code,
        dial_by_hand=code,
        reason=reason,
        elapsed_s=took,
    )


def no_telephony(code: str) -> ApiError:
    """503: callcard has no connection to Asterisk, so the operator must dial ``code`` by hand."""
    return ApiError(
        503,
        f"Telephony is not connected, so callcard cannot move the call. Dial {code} by hand.",
        code=code,
        dial_by_hand=code,
    )
