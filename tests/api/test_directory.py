"""The directory API on SQLite and PostgreSQL: export equals `callcard orgs export`; a bad file is refused whole
with every problem named and nothing written; a dry run writes nothing; applying writes and audits with the
admin's name; the open cards that would go elsewhere are listed (and stay where they are); admins only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from callcard.cli import cli
from core.taxonomy import bundled_path
from handover.assignment import route_for
from models.handover import Organisation, RoutingRule
from models.records import AuditEvent, Card
from models.repo import cards
from models.repo.cards import Actor

SAMPLE = bundled_path("orgs-astana.sample.yaml").read_text(encoding="utf-8")
BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
OPERATOR = Actor("aigerim", None)
HEATING_TO_KOKTAL = (
    "{code: fallback-heating, organisation: astana-teplotranzit,",
    "{code: fallback-heating, organisation: zhylu-koktal,",
)

Headers = dict[str, str]
DIRECTORY = ("organisation", "routing_rule")  # the audit log's entities of the directory


def counts(ctx: Any) -> tuple[int, int, int]:
    """(organisations, rules, their audit events) stored."""
    with ctx.sessionmaker() as s:
        return (
            s.scalar(select(func.count()).select_from(Organisation)) or 0,
            s.scalar(select(func.count()).select_from(RoutingRule)) or 0,
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity.in_(DIRECTORY))) or 0,
        )


def post(client: Any, headers: Headers, text: str, *, fmt: str = "yaml", dry_run: bool = True, **extra: Any) -> Any:
    return client.post(
        "/api/directory",
        params={"dry_run": str(dry_run).lower()},
        json={"format": fmt, "text": text, **extra},
        headers=headers,
    )


def apply_sample(client: Any, headers: Headers) -> None:
    answer = post(client, headers, SAMPLE, dry_run=False)
    assert answer.status_code == 200, answer.text


def export(client: Any, headers: Headers, fmt: str = "yaml") -> str:
    answer = client.get("/api/directory", params={"format": fmt}, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def routed_heating_card(ctx: Any, district: str = "yesil") -> Card:
    """A heating card confirmed and handed to its organisation by the stored rules (status routed)."""
    with ctx.sessionmaker() as s:
        draft = cards.create_card(
            s,
            actor=OPERATOR,
            values={"topic": "heating", "service": "heating_utility", "district": district, "summary": "cold"},
        )
        card = cards.confirm_card(s, card_id=draft.id, actor=OPERATOR, due_hours=24, router=route_for)
        s.expunge_all()
        return card


@BOTH
def test_export_equals_the_cli_export_in_both_formats(
    client: Any, ctx: Any, admin_headers: Headers, api_db: str
) -> None:
    assert export(client, admin_headers).startswith("version: 1\norganisations: []")
    apply_sample(client, admin_headers)
    for fmt in ("yaml", "csv"):
        cli_run = CliRunner().invoke(cli, ["orgs", "export", "--format", fmt, "--url", api_db])
        assert cli_run.exit_code == 0, cli_run.output
        answer = client.get("/api/directory", params={"format": fmt}, headers=admin_headers)
        assert answer.text == cli_run.output
        assert answer.headers["content-type"].startswith("application/yaml" if fmt == "yaml" else "text/csv")
        assert f'filename="organisations.{fmt}"' in answer.headers["content-disposition"]
    assert "zhylu-koktal" in answer.text and answer.text.startswith("kind,code,name_kk")


def _sample_with(old: str, new: str) -> str:
    assert SAMPLE.count(old) == 1, old
    return SAMPLE.replace(old, new)


BAD_FILES: dict[str, tuple[str, str, list[str]]] = {
    # name: (format, text, what the problems must say)
    "unknown service": (
        "yaml",
        _sample_with("services: [water_utility]\n", "services: [water_utility, sewage_magic]\n"),
        ["astana-su-arnasy", "unknown service 'sewage_magic'"],
    ),
    "unknown organisation in a rule": (
        "yaml",
        _sample_with(
            "  - code: lifts\n    organisation: astana-lift\n", "  - code: lifts\n    organisation: no-lift\n"
        ),
        ["rules #3 (lifts)", "organisation 'no-lift' is not in the file"],
    ),
    "duplicate codes": (
        "yaml",
        _sample_with("  - code: zhylu-koktal\n", "  - code: astana-teplotranzit\n"),
        ["code 'astana-teplotranzit' is used by another organisation"],
    ),
    "a house range that cannot parse": (
        "yaml",
        _sample_with('houses: ["1-99 odd"]', 'houses: ["1-99 oddish"]'),
        ["rules #5 (akimat-respubliki-odd)", "1-99 oddish"],
    ),
    "NUL written as a YAML escape": (
        "yaml",
        _sample_with('name_ru: "ГКП «Астана Су Арнасы»"', 'name_ru: "ГКП\\0 «Астана Су Арнасы»"'),
        ["organisations #1 (astana-su-arnasy): 'name_ru' contains the NUL character"],
    ),
    "a YAML alias": (
        "yaml",
        "organisations:\n  - &o {code: o, name_kk: a, name_ru: b, services: [roads]}\n  - *o\n",
        ["line 3: YAML aliases (*o) are not allowed"],
    ),
    "deep nesting": ("yaml", "[" * 20_000, ["nests too deeply"]),
    "not YAML": ("yaml", "organisations: [\n  - {code: x", ["the file is not valid YAML"]),
    "a CSV cell over the CSV limit": (
        "csv",
        'kind,code,name_kk,name_ru,services\norganisation,x,"' + "а" * 140_000 + '",b,roads\n',
        ["the file is not valid CSV"],
    ),
    "a CSV rule for an unknown organisation": (
        "csv",
        "kind,code,name_kk,name_ru,services,organisation\n"
        "organisation,roads-dept,Жол,Дороги,roads,\n"
        "rule,pothole,,,roads,nobody\n",
        ["line 3 (pothole): organisation 'nobody' is not in the file"],
    ),
}


@BOTH
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_its_problems_and_nothing_is_written(
    case: str, client: Any, ctx: Any, admin_headers: Headers
) -> None:
    apply_sample(client, admin_headers)
    before, stored = counts(ctx), export(client, admin_headers)
    fmt, text, wanted = BAD_FILES[case]
    for dry_run in (True, False):
        answer = post(client, admin_headers, text, fmt=fmt, dry_run=dry_run)
        assert answer.status_code == 422, answer.text
        body = answer.json()
        assert "nothing was written" in body["detail"]
        messages = " | ".join(p["message"] for p in body["problems"])
        for words in wanted:
            assert words in messages, (words, messages)
    assert counts(ctx) == before and export(client, admin_headers) == stored


def test_problems_name_their_lines(client: Any, admin_headers: Headers) -> None:
    text = _sample_with(
        "  - code: lifts\n    organisation: astana-lift\n", "  - code: lifts\n    organisation: no-lift\n"
    )
    answer = post(client, admin_headers, text)
    [problem] = answer.json()["problems"]
    line = text.splitlines().index("  - code: lifts") + 1
    assert problem == {
        "line": line,
        "entry": "rules #3 (lifts)",
        "message": "rules #3 (lifts): organisation 'no-lift' is not in the file",
    }


@BOTH
def test_hostile_and_oversize_bodies_are_refused_before_the_validator(
    client: Any, ctx: Any, admin_headers: Headers
) -> None:
    apply_sample(client, admin_headers)
    before = counts(ctx)
    nul = post(client, admin_headers, SAMPLE.replace("Астана Су Арнасы", "Астана\x00Су"), dry_run=False)
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"] and nul.json()["field"] == "text"
    big = SAMPLE + "# " + "x" * 1_000_000 + "\n"
    oversize = post(client, admin_headers, big, dry_run=False)
    assert oversize.status_code == 413
    assert oversize.json()["detail"] == "The request body is larger than the limit of 1000000 bytes."
    not_json = client.post("/api/directory", content=SAMPLE, headers={**admin_headers, "Content-Type": "text/yaml"})
    assert not_json.status_code == 415
    unknown_format = post(client, admin_headers, SAMPLE, fmt="xml")
    assert unknown_format.status_code == 422
    assert counts(ctx) == before


@BOTH
def test_a_dry_run_reports_the_changes_and_writes_nothing(client: Any, ctx: Any, admin_headers: Headers) -> None:
    answer = post(client, admin_headers, SAMPLE)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["dry_run"] is True and report["applied"] is False
    assert (report["organisations"], report["rules"]) == (24, 33)
    assert report["organisation_changes"] == {"created": 24, "updated": 0, "deactivated": 0, "deleted": 0}
    assert report["rule_changes"] == {"created": 33, "updated": 0, "deactivated": 0, "deleted": 0}
    assert {"entity": "organisation", "code": "astana-lift", "action": "create", "fields": []} in report["changes"]
    assert counts(ctx) == (0, 0, 0)
    assert export(client, admin_headers).startswith("version: 1\norganisations: []")


@BOTH
def test_apply_writes_in_one_go_and_audits_with_the_admins_name(
    client: Any, ctx: Any, make_user: Callable[..., Any], token_for: Callable[[Any], str]
) -> None:
    admin = make_user("admin", username="dana-admin")
    headers = {"Authorization": f"Bearer {token_for(admin)}"}
    apply_sample(client, headers)
    assert counts(ctx)[:2] == (24, 33)
    with ctx.sessionmaker() as s:
        last = s.scalar(select(func.max(AuditEvent.id))) or 0
    # an edit: a rule changes organisation, one organisation leaves the file (deactivated), a rule goes
    text = _sample_with(*HEATING_TO_KOKTAL)
    start = text.index("  - code: astana-vetservice\n")
    text = text[:start] + text[text.index("  # ---", start) :]
    text = text.replace(
        "  - {code: fallback-animals, organisation: astana-vetservice, services: [animal_control], fallback: true}\n",
        "",
    )
    dry = post(client, headers, text).json()
    assert dry["organisation_changes"] == {"created": 0, "updated": 0, "deactivated": 1, "deleted": 0}
    assert dry["rule_changes"]["updated"] >= 1 and dry["rule_changes"]["deleted"] == 1
    done = post(client, headers, text, dry_run=False, base=dry["base"])
    assert done.status_code == 200, done.text
    assert done.json()["applied"] is True and done.json()["changes"] == dry["changes"]
    with ctx.sessionmaker() as s:
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.id > last, AuditEvent.entity.in_(DIRECTORY)).order_by(AuditEvent.id)
        ).all()
        assert len(events) == len(dry["changes"]) >= 3
        assert {(e.actor, e.user_id) for e in events} == {("dana-admin", admin.id)}
        [update] = [e for e in events if e.action == "update" and "organisation" in (e.after or {})]
        assert update.after["organisation"] == "zhylu-koktal" and update.before["organisation"] == "astana-teplotranzit"
        vet = s.scalars(select(Organisation).where(Organisation.code == "astana-vetservice")).one()
        assert vet.active is False
    # the same file again changes nothing; the old check's base is refused now
    assert post(client, headers, text, dry_run=False).json()["changes"] == []
    stale = post(client, headers, SAMPLE, dry_run=False, base=dry["base"])
    assert stale.status_code == 409 and "check the file again" in stale.json()["detail"]


@BOTH
def test_the_cards_that_would_move_are_listed_and_stay_where_they_are(
    client: Any, ctx: Any, admin_headers: Headers
) -> None:
    apply_sample(client, admin_headers)
    card = routed_heating_card(ctx, "yesil")
    assert card.status == "routed" and card.routing_rule == "fallback-heating"
    report = post(client, admin_headers, _sample_with(*HEATING_TO_KOKTAL)).json()
    [move] = report["moves"]
    assert move["card_id"] == card.id and move["reg_number"] == card.reg_number and move["status"] == "routed"
    assert move["from_organisation"] == {
        "code": "astana-teplotranzit",
        "name_kk": "«Астана-Теплотранзит» АҚ",
        "name_ru": "АО «Астана-Теплотранзит»",
    }
    assert move["to_organisation"]["code"] == "zhylu-koktal" and move["rule"] == "fallback-heating"
    applied = post(client, admin_headers, _sample_with(*HEATING_TO_KOKTAL), dry_run=False).json()
    assert applied["moves"] == report["moves"]
    with ctx.sessionmaker() as s:
        stored = s.get(Card, card.id)
        assert stored is not None and stored.status == "routed" and stored.organisation_id == card.organisation_id
    # with the new rules stored, nothing more would move
    assert post(client, admin_headers, _sample_with(*HEATING_TO_KOKTAL)).json()["moves"] == []


@BOTH
def test_the_organisations_list_has_inactive_ones_counts_and_no_secret(
    client: Any, ctx: Any, admin_headers: Headers
) -> None:
    apply_sample(client, admin_headers)
    with ctx.sessionmaker() as s:
        su = s.scalars(select(Organisation).where(Organisation.code == "astana-su-arnasy")).one()
        su.webhook_url, su.webhook_secret = "https://hooks.example.kz/109", "s3cret-webhook-key"
        su.deadline_hours = {"normal": 48, "urgent": 6}
        s.scalars(select(Organisation).where(Organisation.code == "astana-lift")).one().active = False
        s.commit()
    answer = client.get("/api/directory/organisations", headers=admin_headers)
    assert answer.status_code == 200 and "s3cret" not in answer.text
    listed = {o["code"]: o for o in answer.json()["data"]}
    assert answer.json()["count"] == len(listed) == 24
    assert listed["astana-su-arnasy"]["webhook"] is True and listed["astana-su-arnasy"]["rules"] == 1
    assert listed["astana-su-arnasy"]["deadline_hours"] == {"normal": 48, "urgent": 6}
    assert listed["astana-su-arnasy"]["receives"] == ["inbox", "webhook"]
    assert listed["astana-lift"]["active"] is False and listed["astana-lift"]["rules"] == 1
    assert listed["zhylu-koktal"]["rules"] == 2 and listed["akimat-almaty"]["rules"] == 3
    assert listed["qala-zharygy"]["webhook"] is False
    rules = client.get("/api/directory/rules", headers=admin_headers).json()
    assert rules["count"] == 33 and [r["position"] for r in rules["data"]] == list(range(1, 34))
    first = rules["data"][0]
    assert first["code"] == "heat-koktal" and first["street"] == "микрорайон Коктал"
    assert first["organisation"]["name_ru"] == "ТОО «Коктал Жылу» (образец)"


@pytest.mark.parametrize("role", ["operator", "supervisor", "qa", "executor"])
def test_only_admins(role: str, client: Any, ctx: Any, auth_headers: Callable[[str], Headers]) -> None:
    headers = auth_headers(role)
    before = counts(ctx)
    for method, path in (
        ("GET", "/api/directory"),
        ("GET", "/api/directory/organisations"),
        ("GET", "/api/directory/rules"),
    ):
        assert client.request(method, path, headers=headers).status_code == 403
    refused = post(client, headers, SAMPLE, dry_run=False)
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert counts(ctx) == before
