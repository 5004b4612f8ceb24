"""Keyword-only data functions over the records; each public function commits its own unit of work."""

from models.repo.errors import DuplicateRecord, InvalidTransition, RecordNotFound, RepoError, StaleVersion

__all__ = ["DuplicateRecord", "InvalidTransition", "RecordNotFound", "RepoError", "StaleVersion"]
