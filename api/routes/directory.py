"""The directory of organisations and routing rules, for admins (the page /admin/directory): export it as the
organisations file, check a new file (a dry run) and apply it, and list the organisations and rules.

The file and its checks are handover/orgfile.py; the import, its dry run and its audit are handover/directory.py,
the same code as `callcard orgs import`, so the API's answer and the CLI's output list the same changes and moves.

Open cards that would move: applying a directory changes where cards go from then on; it does not re-route cards
already handed to an organisation (status "routed"). Those stay with their organisation, which may already be
working on them from its inbox or its own system; the list of cards that would move is for the monitoring
department, who re-route a card by hand (POST /api/cards/{id}/route with an organisation: the outbox tells both
organisations). Cards still waiting for an organisation (status "confirmed") get the new rules when routed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.access import HandoverAdmin
from api.deps import CtxDep, SessionDep, end_reads
from api.errors import ApiError
from handover.directory import ImportReport, Move, import_directory, load_directory
from handover.orgfile import Directory, OrgFileError, read_directory, write_csv, write_yaml
from models.handover import Organisation
from models.records import Card
from models.repo import organisations as repo
from models.repo.organisations import Change

router = APIRouter(prefix="/directory", tags=["directory"])

FileFormat = Literal["yaml", "csv"]
MEDIA_TYPES: dict[str, str] = {"yaml": "application/yaml; charset=utf-8", "csv": "text/csv; charset=utf-8"}
# The file's text; the app's body limit (Settings.max_body_bytes, 1 MB) refuses a larger request with 413 first.
MAX_TEXT_CHARS = 1_000_000
FILE_EXAMPLE = "version: 1\norganisations:\n  - code: astana-su-arnasy\n    ..."


# ----------------------------------------------------------------------------------------------- messages


class DirectoryFile(BaseModel):
    """An organisations file to check or apply (handover/orgfile.py describes both formats)."""

    model_config = ConfigDict(extra="forbid")

    format: FileFormat = Field(default="yaml", description="yaml or csv")
    text: str = Field(max_length=MAX_TEXT_CHARS, description="The whole file", examples=[FILE_EXAMPLE])
    base: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The `base` a dry run answered: applying refuses (409) if the stored directory changed since",
    )


class FileProblem(BaseModel):
    """One problem of a refused file: where it is and the validator's sentence."""

    line: int | None = Field(description="The file's line (a CSV row; where a YAML entry starts), when known")
    entry: str | None = Field(description='The entry, e.g. "rules #3 (heat-koktal)" or "line 7 (lifts)"')
    message: str = Field(description="The whole problem as the validator words it")


class ChangePublic(BaseModel):
    """One change to the directory."""

    entity: Literal["organisation", "routing_rule"]
    code: str
    action: Literal["create", "update", "deactivate", "delete"]
    fields: list[str] = Field(description="The fields an update changes")


class ChangeCounts(BaseModel):
    """How many organisations or rules a file creates, updates, deactivates (organisations) or deletes (rules)."""

    created: int = 0
    updated: int = 0
    deactivated: int = 0
    deleted: int = 0


class OrganisationName(BaseModel):
    """An organisation as a move names it."""

    code: str
    name_kk: str
    name_ru: str


class MovePublic(BaseModel):
    """An open card that the new rules send to another organisation than the rules before."""

    card_id: int
    reg_number: str | None
    status: str | None = Field(description="The card's status now (confirmed: waiting; routed: handed over)")
    from_organisation: OrganisationName | None = Field(description="Where the rules before send it (null: none)")
    to_organisation: OrganisationName | None = Field(description="Where the new rules send it (null: none)")
    rule: str | None = Field(description="The new rule's code")
    reason: str = Field(description="Why, as the routing engine says it")


class DirectoryReport(BaseModel):
    """What a file changes (a dry run: would change) and which open cards would go to another organisation.

    Applying does not re-route cards already handed over: the moves are for the monitoring department.
    """

    dry_run: bool
    applied: bool = Field(description="True when the file was written (dry_run=false)")
    organisations: int = Field(description="Organisations in the file")
    rules: int = Field(description="Rules in the file")
    changes: list[ChangePublic]
    organisation_changes: ChangeCounts
    rule_changes: ChangeCounts
    moves: list[MovePublic]
    base: str = Field(description="Fingerprint of the stored directory the file was checked against")


class DirectoryOrganisation(BaseModel):
    """An organisation as the admin page lists it (never the webhook's secret)."""

    id: int
    code: str
    name_kk: str
    name_ru: str
    services: list[str]
    receives: list[str]
    deadline_hours: dict[str, int]
    webhook: bool = Field(description="Whether a webhook address is set")
    active: bool
    rules: int = Field(description="How many routing rules send cards to it")


class DirectoryOrganisations(BaseModel):
    """Every organisation, inactive ones too, by code."""

    data: list[DirectoryOrganisation]
    count: int


class DirectoryRule(BaseModel):
    """A routing rule as the admin page lists it."""

    position: int
    code: str
    organisation: OrganisationName
    services: list[str]
    topics: list[str]
    districts: list[str]
    street: str | None
    houses: list[str]
    object: str | None
    fallback: bool
    active: bool
    note: str | None


class DirectoryRules(BaseModel):
    """The routing table in order: the first rule that matches wins, then the service's fallback."""

    data: list[DirectoryRule]
    count: int


# ----------------------------------------------------------------------------------------------- checking


def _yaml_lines(text: str) -> dict[tuple[str, int], int]:
    """Where each YAML entry starts: (section, number) -> line (1-based); {} when the text does not compose."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return {}
    lines: dict[tuple[str, int], int] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value in ("organisations", "rules") and isinstance(value, yaml.SequenceNode):
                for number, item in enumerate(value.value, start=1):
                    lines[(key.value, number)] = item.start_mark.line + 1
    return lines


_WHERE = re.compile(r"^(?:line (?P<line>\d+)|(?P<section>organisations|rules) #(?P<number>\d+))(?: \(.*?\))?(?=: )")
_YAML_MARK = re.compile(r"line (\d+), column \d+")


def file_problems(problems: Sequence[str], text: str, fmt: str) -> list[FileProblem]:
    """Each problem with its line and entry, as far as the validator's sentence names them."""
    lines = _yaml_lines(text) if fmt == "yaml" else {}
    out: list[FileProblem] = []
    for problem in problems:
        found = _WHERE.match(problem)
        line: int | None = None
        entry: str | None = None
        if found:
            entry = found.group(0)
            if found.group("line"):
                line = int(found.group("line"))
            else:
                line = lines.get((found.group("section"), int(found.group("number"))))
        elif mark := _YAML_MARK.search(problem):
            line = int(mark.group(1))
        out.append(FileProblem(line=line, entry=entry, message=problem))
    return out


def _refuse(problems: Sequence[str], text: str, fmt: str) -> ApiError:
    listed = file_problems(problems, text, fmt)
    noun = "problem" if len(listed) == 1 else "problems"
    return ApiError(
        422,
        f"The organisations file has {len(listed)} {noun}; nothing was written.",
        problems=[p.model_dump() for p in listed],
    )


def checked_directory(body: DirectoryFile, ctx: CtxDep) -> Directory:
    """The file's directory, checked against the taxonomy and the street list (handover.orgfile.read_directory also
    refuses YAML aliases, nesting too deep, oversize CSV cells and unstorable text); ApiError 422 listing every
    problem."""
    try:
        directory = read_directory(body.text, fmt=body.format, taxonomy=ctx.taxonomy, streets=ctx.street_names)
    except OrgFileError as exc:
        raise _refuse(exc.problems, body.text, body.format) from exc
    return directory


def fingerprint(directory: Directory) -> str:
    """A digest of a directory as the YAML file writes it: equal directories, equal fingerprints."""
    return hashlib.sha256(write_yaml(directory).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------- answers


def _counts(changes: Sequence[Change], entity: str) -> ChangeCounts:
    actions = [c.action for c in changes if c.entity == entity]
    return ChangeCounts(
        created=actions.count("create"),
        updated=actions.count("update"),
        deactivated=actions.count("deactivate"),
        deleted=actions.count("delete"),
    )


def _name(code: str | None, names: Mapping[str, OrganisationName]) -> OrganisationName | None:
    if code is None:
        return None
    return names.get(code) or OrganisationName(code=code, name_kk=code, name_ru=code)


Names = Mapping[str, OrganisationName]


def _move(move: Move, statuses: Mapping[int, str], before: Names, after: Names) -> MovePublic:
    return MovePublic(
        card_id=move.card_id,
        reg_number=move.reg_number,
        status=statuses.get(move.card_id),
        from_organisation=_name(move.before.organisation, before),
        to_organisation=_name(move.after.organisation, after),
        rule=move.after.rule.code if move.after.rule is not None else None,
        reason=move.after.reason,
    )


def _names(directory: Directory) -> dict[str, OrganisationName]:
    orgs = directory.organisations
    return {o.code: OrganisationName(code=o.code, name_kk=o.name_kk, name_ru=o.name_ru) for o in orgs}


def _report(
    report: ImportReport, new: Directory, old: Directory, base: str, statuses: Mapping[int, str]
) -> DirectoryReport:
    changes = [
        ChangePublic(
            entity="organisation" if c.entity == repo.ORGANISATION else "routing_rule",
            code=c.code,
            action=c.action,  # type: ignore[arg-type]  # sync_directory's four actions
            fields=sorted(c.after) if c.action == "update" else [],
        )
        for c in report.changes
    ]
    before, after = _names(old), _names(new)
    return DirectoryReport(
        dry_run=report.dry_run,
        applied=not report.dry_run,
        organisations=len(new.organisations),
        rules=len(new.rules),
        changes=changes,
        organisation_changes=_counts(report.changes, repo.ORGANISATION),
        rule_changes=_counts(report.changes, repo.ROUTING_RULE),
        moves=[_move(m, statuses, {**after, **before}, {**before, **after}) for m in report.moves],
        base=base,
    )


# ----------------------------------------------------------------------------------------------- routes


@router.get(
    "",
    response_class=Response,
    responses={
        200: {
            "description": "The organisations file (the same text as `callcard orgs export`)",
            "content": {
                "application/yaml": {"schema": {"type": "object", "description": "handover/orgfile.py's YAML"}},
                "text/csv": {"schema": {"type": "string", "description": "one row per organisation or rule"}},
            },
        }
    },
)
def export_directory(
    session: SessionDep,
    _admin: HandoverAdmin,
    fmt: Annotated[FileFormat, Query(alias="format", description="yaml or csv")] = "yaml",
) -> Response:
    """Every organisation and the routing table as the organisations file (YAML or CSV)."""
    directory = load_directory(session)
    end_reads(session)
    text = write_csv(directory) if fmt == "csv" else write_yaml(directory)
    return Response(
        text,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="organisations.{fmt}"', "Cache-Control": "no-store"},
    )


@router.post("", response_model=DirectoryReport)
def import_file(
    body: DirectoryFile,
    ctx: CtxDep,
    session: SessionDep,
    admin: HandoverAdmin,
    dry_run: Annotated[bool, Query(description="true (the default): check and report, write nothing")] = True,
) -> DirectoryReport:
    """Check an organisations file and answer what it changes and which open cards would go elsewhere; with
    dry_run=false, write it in one transaction, audited with the admin's name.

    422 lists every problem with its line or entry (nothing is written); 409 when ``base`` is given and another
    change was applied since that check. Cards already handed to an organisation are not re-routed: the moves
    are for the monitoring department.
    """
    directory = checked_directory(body, ctx)
    old = load_directory(session)
    base = fingerprint(old)
    if not dry_run and body.base is not None and body.base != base:
        end_reads(session)
        raise ApiError(409, "The organisations were changed by someone else since your check; check the file again.")
    try:
        report = import_directory(session, directory, actor=admin.username, user_id=admin.id, dry_run=dry_run)
    except IntegrityError as exc:
        raise ApiError(409, "Another change to the organisations was applied at the same time; try again.") from exc
    ids = [m.card_id for m in report.moves]
    rows = session.execute(select(Card.id, Card.status).where(Card.id.in_(ids))).all() if ids else []
    end_reads(session)
    return _report(report, directory, old, base, {int(card_id): str(status) for card_id, status in rows})


@router.get("/organisations", response_model=DirectoryOrganisations)
def list_all_organisations(session: SessionDep, _admin: HandoverAdmin) -> DirectoryOrganisations:
    """Every organisation, inactive ones too, with its channels, deadlines, whether a webhook is set (never its
    secret) and how many rules send cards to it."""
    counts = repo.rules_per_organisation(session)
    rows: Sequence[Organisation] = repo.list_organisations(session)
    end_reads(session)
    data = [
        DirectoryOrganisation(
            id=o.id,
            code=o.code,
            name_kk=o.name_kk,
            name_ru=o.name_ru,
            services=list(o.services or ()),
            receives=list(o.receives or ()),
            deadline_hours={str(k): int(v) for k, v in (o.deadline_hours or {}).items()},
            webhook=bool(o.webhook_url),
            active=o.active,
            rules=counts.get(o.id, 0),
        )
        for o in rows
    ]
    return DirectoryOrganisations(data=data, count=len(data))


@router.get("/rules", response_model=DirectoryRules)
def list_rules(session: SessionDep, _admin: HandoverAdmin) -> DirectoryRules:
    """The routing table in order, each rule with its conditions and organisation."""
    rules = repo.list_rules(session)
    end_reads(session)
    data = [
        DirectoryRule(
            position=r.position,
            code=r.code,
            organisation=OrganisationName(
                code=r.organisation.code, name_kk=r.organisation.name_kk, name_ru=r.organisation.name_ru
            ),
            services=list(r.services or ()),
            topics=list(r.topics or ()),
            districts=list(r.districts or ()),
            street=r.street,
            houses=list(r.houses or ()),
            object=r.named_object,
            fallback=r.fallback,
            active=r.active,
            note=r.note,
        )
        for r in rules
    ]
    return DirectoryRules(data=data, count=len(data))
