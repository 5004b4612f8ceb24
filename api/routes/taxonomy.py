"""The card vocabulary (topics, services, emergency codes, districts) and per-topic deadlines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CtxDep, CurrentUser

router = APIRouter(tags=["taxonomy"])


@router.get("/taxonomy")
def get_taxonomy(ctx: CtxDep, _user: CurrentUser) -> dict[str, Any]:
    """Every id the API accepts, with Russian and Kazakh names, and the hours each topic has until due."""
    tax = ctx.taxonomy
    body = tax.as_dict()
    body["deadlines_hours"] = {topic: tax.deadline_hours(topic) for topic in tax.topics}
    return body
