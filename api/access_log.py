"""Writing the personal-data access log from a request: an access that cannot be logged is refused (503)."""

from __future__ import annotations

import logging

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.errors import ApiError
from models.records import User
from models.repo import access_log

logger = logging.getLogger(__name__)

NOT_LOGGED = "The access log could not be written, so this is not shown; try again in a moment or tell an admin."


def log_access(
    session: Session, request: Request, user: User, *, kind: str, call_id: int, detail: str | None = None
) -> None:
    """Log ``user``'s access of ``kind`` to call ``call_id``, committed before anything is served; ApiError 503
    when the log cannot be written."""
    client = request.client.host if request.client is not None else None
    who = access_log.Accessor(user_id=user.id, actor=user.username, role=user.role, client=client)
    try:
        access_log.record(session, who=who, kind=kind, call_id=call_id, detail=detail)
    except SQLAlchemyError as exc:
        session.rollback()
        logger.error("access log: %s of call %s by %s not written: %s", kind, call_id, user.username, exc)
        raise ApiError(503, NOT_LOGGED) from exc
