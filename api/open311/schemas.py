"""The answers of GeoReport v2 (field names and meanings as the specification gives them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


class ErrorItem(BaseModel):
    """One error: the HTTP status and a sentence for people."""

    code: int
    description: str


class Endpoint(BaseModel):
    """Where the service list and the requests are, and in which formats."""

    specification: str = SPECIFICATION
    url: str
    changeset: str
    type: Literal["production", "test"] = "production"
    formats: list[str]


class Discovery(BaseModel):
    """GET discovery: who runs this endpoint and where it is."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    """A taxonomy service as an Open311 service: ``service_code`` is the taxonomy's service id."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    keywords: str
    group: str


class ServiceAttribute(BaseModel):
    """An attribute of a service definition (callcard's services define none: ``metadata`` is false)."""

    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None = None
    order: int
    description: str


class ServiceDefinition(BaseModel):
    """GET services/{service_code}: the attributes a request of this service takes."""

    service_code: str
    attributes: list[ServiceAttribute] = Field(default_factory=list)


class ServiceRequest(BaseModel):
    """A registered card of the organisation, as GeoReport v2's service request."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class RequestCreated(BaseModel):
    """POST requests: the new card's registration number and what became of it."""

    service_request_id: str
    service_notice: str
    account_id: str | None
