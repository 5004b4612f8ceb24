"""callcard's exception hierarchy: one base, one subclass per area."""

from __future__ import annotations


class CallcardError(Exception):
    """Base of every error callcard raises on purpose."""


class ConfigError(CallcardError):
    """Settings or data files are invalid; the service must not start."""


class TaxonomyError(ConfigError):
    """taxonomy.yaml is malformed, or a value is not one of its ids."""


class NotFoundError(CallcardError):
    """A record that was asked for does not exist."""


class ConflictError(CallcardError):
    """The request contradicts the record's current state (e.g. confirming a closed card)."""


class TelephonyError(CallcardError):
    """Asterisk could not be reached or answered unexpectedly."""


class ProtocolError(TelephonyError):
    """A peer sent bytes that break the protocol (AGI, AudioSocket, ARI)."""


class AsrError(CallcardError):
    """Speech recognition failed or is not available."""


class ModelMissingError(AsrError):
    """A recognition model directory is not installed."""


class ClassifierError(CallcardError):
    """The card classifier failed or its artifact is unusable."""
