"""Errors the data functions raise; the API turns them into HTTP statuses (models/ imports nothing of ours)."""

from __future__ import annotations


class RepoError(Exception):
    """Base of every error raised on purpose by models.repo."""


class RecordNotFound(RepoError, LookupError):
    """The record asked for does not exist."""


class InvalidTransition(RepoError):
    """The card's current status does not allow this action (e.g. resolving a draft)."""


class StaleVersion(RepoError):
    """Someone else changed the record since the caller read it (optimistic version check failed)."""


class DuplicateRecord(RepoError):
    """A record with the same unique key already exists (e.g. a username)."""
