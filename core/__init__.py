"""Shared leaf of callcard: settings, taxonomy, enums, errors, logging (stdlib and pydantic only)."""
