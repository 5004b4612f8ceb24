"""The organisations that do the work: the active ones, for the desk's choice of where a card goes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from api.access import allow
from api.deps import CtxDep, SessionDep, end_reads
from api.policy import Action
from api.schemas import OrganisationPublic, OrganisationsPublic
from api.validation import check_id
from models.handover import Organisation
from models.records import User

router = APIRouter(prefix="/organisations", tags=["organisations"])

OrganisationReader = Annotated[User, Depends(allow(Action.READ_ORGANISATIONS))]


@router.get("", response_model=OrganisationsPublic)
def list_organisations(
    ctx: CtxDep,
    session: SessionDep,
    _user: OrganisationReader,
    service: Annotated[str | None, Query(max_length=64, description="only those serving this service")] = None,
) -> OrganisationsPublic:
    """The active organisations with their Kazakh and Russian names and the services they serve, by code."""
    check_id(ctx.taxonomy, "service", service)
    rows = session.scalars(select(Organisation).where(Organisation.active.is_(True)).order_by(Organisation.code))
    found = [OrganisationPublic.of(o) for o in rows if service is None or service in (o.services or ())]
    end_reads(session)
    return OrganisationsPublic(data=found, count=len(found))
