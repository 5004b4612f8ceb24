"""The OpenAPI document as the API's contract: one error model, every status an operation can send, and the
taxonomy's ids as enums.

FastAPI's own document declares only 200 and a 422 whose ``detail`` is an array; callcard answers every error
with ``ApiErrorBody`` (``detail`` is a sentence). ``build_openapi`` starts from FastAPI's document and:

- declares ``ApiErrorBody`` once and uses it for every error status;
- derives each operation's error statuses from what the route depends on, so a new route is documented
  without anyone listing its statuses by hand (``error_statuses``);
- turns the taxonomy's vocabularies (topic, service, emergency, district) into enums, in bodies, answers and
  query parameters, from the taxonomy the application was created with.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.deps import get_ctx
from api.errors import ApiErrorBody
from core.taxonomy import EMERGENCY_CODES, Taxonomy

ERROR_REF = {"$ref": "#/components/schemas/ApiErrorBody"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What each error status means, as every operation's document says it.
DESCRIPTIONS = {
    400: "The request is malformed (e.g. a body that is not UTF-8).",
    401: "Not logged in: no token, or it expired, was revoked or names a disabled account.",
    403: "Logged in, but this user's role or the access policy does not allow it.",
    404: "The record named in the request does not exist.",
    409: "The record's state does not allow it now (changed meanwhile, already done, or taken by someone else).",
    413: "The request body is larger than the server accepts.",
    415: "The request body is not JSON.",
    422: "Some input is not valid; `detail` says which and why (`errors` lists each field for malformed input).",
    429: "Too many attempts; wait as `Retry-After` says.",
    500: "An unexpected error; `ref` names the server's log entry.",
    503: "The database did not answer; try again shortly.",
}
# Statuses that a route's own code answers and its dependencies do not show. Routes may instead declare them
# with ``responses={429: {"description": ...}}``; the error model is filled in either way.
OWN_STATUSES: dict[str, tuple[int, ...]] = {
    "auth_login": (401, 429),
}
# Request and answer fields whose values are taxonomy ids, by field or query parameter name.
TAXONOMY_FIELDS = ("topic", "service", "emergency", "district")


def _dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def _body_field_names(route: APIRoute) -> set[str]:
    names: set[str] = set()
    for param in route.dependant.body_params:
        annotation = param.field_info.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names.update(candidate.model_fields)
        names.add(param.name)
    return names


def error_statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what its route depends on:

    - every operation: 500; with the database (the ApiContext): 503;
    - authenticated (a bearer security requirement): 401 and 403 (role, policy, password change due);
    - a path parameter, or a parameter or body field naming a record (``*_id``): 404;
    - an authenticated write: 409 (a stale ``version``, a state that does not allow it, a duplicate);
    - a request body (POST, PUT, PATCH): 400 (not UTF-8), 413, 415 and 422; any parameter: 422;
    - what the route declares itself or is listed for in ``OWN_STATUSES``.
    """
    statuses = {500}
    calls = set(_dependency_calls(route.dependant))
    if get_ctx in calls:
        statuses.add(503)
    authenticated = bool(operation.get("security"))
    if authenticated:
        statuses |= {401, 403}
    dependant = route.dependant
    params = [*dependant.path_params, *dependant.query_params, *dependant.header_params]
    named_ids = {p.name for p in params} | _body_field_names(route)
    if dependant.path_params or any(name.endswith("_id") for name in named_ids):
        statuses.add(404)
    methods = set(route.methods or ())
    if methods & WRITE_METHODS:
        statuses |= {400, 413, 415, 422}
        if authenticated:
            statuses.add(409)
    if params or dependant.body_params:
        statuses.add(422)
    statuses |= set(OWN_STATUSES.get(str(operation.get("operationId")), ()))
    return statuses


def _document_errors(routers: list[APIRouter], prefix: str, schema: dict[str, Any]) -> None:
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path_item = schema["paths"].get(prefix + route.path_format, {})
        for method in route.methods or ():
            operation = path_item.get(method.lower())
            if operation is None:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(error_statuses(route, operation) | declared):
                response = responses.setdefault(str(status), {})
                content = response.get("content", {}).get("application/json", {})
                if not content.get("schema") or content["schema"].get("$ref", "").endswith("HTTPValidationError"):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
                if not response.get("description") or response["description"] == "Validation Error":
                    response["description"] = DESCRIPTIONS.get(status, "An error; `detail` says what went wrong.")
            operation["responses"] = dict(sorted(responses.items()))


def _vocabularies(taxonomy: Taxonomy) -> dict[str, list[str]]:
    return {
        "topic": sorted(taxonomy.topics),
        "service": sorted(taxonomy.services),
        "emergency": sorted(taxonomy.emergency),
        "district": sorted(taxonomy.districts),
        "emergency_code": [code for code in EMERGENCY_CODES if code in taxonomy.emergency],
    }


def _with_enum(schema: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """``schema`` (a string, possibly nullable through anyOf) restricted to ``values``."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [_with_enum(s, values) if s.get("type") == "string" else s for s in schema["anyOf"]]}
    if schema.get("type") == "string":
        kept = {k: v for k, v in schema.items() if k not in ("maxLength", "minLength", "pattern")}
        return {**kept, "enum": values}
    return schema


def _enum_fields(schema: dict[str, Any], taxonomy: Taxonomy) -> None:
    vocab = _vocabularies(taxonomy)
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        properties: dict[str, Any] = component.get("properties") or {}
        for field in TAXONOMY_FIELDS:
            if field in properties:
                properties[field] = _with_enum(properties[field], vocab[field])
        if "emergency_also" in properties:
            also = properties["emergency_also"]
            for variant in [also, *also.get("anyOf", [])]:
                if variant.get("type") == "array":
                    variant["items"] = _with_enum(variant.get("items", {"type": "string"}), vocab["emergency_code"])
        if name == "CardTransfer" and "code" in properties:
            properties["code"] = _with_enum(properties["code"], vocab["emergency_code"])
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") in TAXONOMY_FIELDS:
                    parameter["schema"] = _with_enum(parameter["schema"], vocab[parameter["name"]])


def _error_components(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error = ApiErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in error.pop("$defs", {}).items():
        components[name] = definition
    components["ApiErrorBody"] = error
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)


def build_openapi(
    app: FastAPI, routers: list[APIRouter], prefix: str, taxonomy: Taxonomy, extra_components: dict[str, Any]
) -> dict[str, Any]:
    """The application's OpenAPI document (see the module's docstring). ``routers`` are the API's routers, mounted
    at ``prefix``; ``extra_components`` (e.g. the live WebSocket's messages, which FastAPI does not document) are
    added to its schemas."""
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in extra_components.items():
        components.setdefault(name, definition)
    _document_errors(routers, prefix, schema)
    _error_components(schema)
    _enum_fields(schema, taxonomy)
    return schema
