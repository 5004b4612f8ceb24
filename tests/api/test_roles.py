"""Every route, every role: a table of who may call what; the others get 401 (anonymous) or 403."""

from __future__ import annotations

from typing import Any

import pytest

from api.app import API_ROUTERS, create_app

ANY = {"operator", "supervisor", "qa", "admin"}  # the hotline's own people
EVERYONE = {*ANY, "executor"}  # and an organisation's executors
DESK = {"operator", "supervisor", "admin"}  # the desk: take calls, make and change cards, transfer
REVIEW = {"supervisor", "qa", "admin"}  # every call and card, bulk exports
QA = {"qa", "admin"}  # transcript corrections, classification marks
ADMIN = {"admin"}
PUBLIC = {"anonymous", *EVERYONE}
INBOX = {"executor", "supervisor", "admin"}  # an organisation's cards (executors: their organisation's only)
EXECUTOR = {"executor"}  # the organisation's steps and photos
MONITORING = {"supervisor", "admin"}
ROLES = ["anonymous", "operator", "supervisor", "qa", "admin", "executor"]

# (method, path template, roles allowed): the role column of docs/access.md. Paths use {card}, {call}, {user},
# {segment}, {number}, {key} placeholders. Record rules (an operator's own calls) are in test_access_policy.py.
# What each role sees of personal data on every route returning transcripts, cards or the caller's number (masked
# or not): the table MASKING in test_personal_data.py, which checks that it covers every such route.
ROUTES: list[tuple[str, str, set[str]]] = [
    ("POST", "/api/auth/login", PUBLIC),
    ("GET", "/api/auth/me", EVERYONE),
    ("PATCH", "/api/auth/me", EVERYONE),
    ("POST", "/api/auth/logout", EVERYONE),
    ("GET", "/api/cards", ANY),
    ("GET", "/api/cards/export.csv", REVIEW),
    ("POST", "/api/cards", DESK),
    ("GET", "/api/cards/{card}", ANY),
    ("GET", "/api/cards/{card}/audit", ANY),
    ("GET", "/api/cards/{card}/routing", ANY),  # operators: the cards they may read in full
    ("PATCH", "/api/cards/{card}", DESK),
    ("POST", "/api/cards/{card}/confirm", DESK),
    ("POST", "/api/cards/{card}/route", DESK),
    ("POST", "/api/cards/{card}/resolve", DESK),
    ("POST", "/api/cards/{card}/close", DESK),
    ("POST", "/api/cards/{card}/reopen", MONITORING),
    ("POST", "/api/cards/{card}/transfer", DESK),
    ("POST", "/api/cards/{card}/dismiss-emergency", DESK),
    ("POST", "/api/cards/{card}/qa-marks", QA),
    ("GET", "/api/calls", ANY),
    ("GET", "/api/calls/{call}", ANY),  # operators: the calls they hold (the record rules)
    ("GET", "/api/calls/{call}/audio", ANY),
    ("HEAD", "/api/calls/{call}/audio", ANY),
    ("POST", "/api/calls/{call}/claim", DESK),
    ("GET", "/api/callers/{number}/history", ANY),  # operators: their caller's number only
    ("POST", "/api/segments/{segment}/corrections", QA),
    ("GET", "/api/training/export.jsonl", REVIEW),
    ("GET", "/api/privacy/access-log", ADMIN),
    ("GET", "/api/calls/{call}/recordings/{recording}/masked", ADMIN),  # 404 here: the call has no recording
    ("GET", "/api/stats/dashboard", ANY),
    ("GET", "/api/stats/organisations", ANY),
    ("GET", "/api/stats/asr-quality", REVIEW),  # QA_REVIEW: counts over QA's corrections
    ("GET", "/api/taxonomy", EVERYONE),
    ("GET", "/api/organisations", ANY),
    ("GET", "/api/health", PUBLIC),
    ("GET", "/api/ready", PUBLIC),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/users/{user}", ADMIN),
    ("PATCH", "/api/users/{user}", ADMIN),
    ("POST", "/api/live/{key}/transfer", DESK),  # by the call's key: works while the database is down
    ("GET", "/api/inbox", INBOX),
    ("GET", "/api/inbox/{card}", INBOX),
    ("POST", "/api/inbox/{card}/{step}", EXECUTOR),
    ("POST", "/api/inbox/{card}/photos", EXECUTOR),
    ("GET", "/api/inbox/{card}/photos/{photo}", INBOX),
    ("GET", "/api/directory", ADMIN),
    ("POST", "/api/directory", ADMIN),  # a dry run by default (nothing written)
    ("GET", "/api/directory/organisations", ADMIN),
    ("GET", "/api/directory/rules", ADMIN),
    ("GET", "/api/webhooks/deliveries", ADMIN),
    ("POST", "/api/webhooks/deliveries/{row}/retry", ADMIN),
    ("PUT", "/api/organisations/{org}/webhook", ADMIN),
    ("DELETE", "/api/organisations/{org}/webhook", ADMIN),
    ("PUT", "/api/cards/{card}/legal-hold", MONITORING),
    ("DELETE", "/api/cards/{card}/legal-hold", MONITORING),  # 409 here: the card is not under a hold
    ("GET", "/api/admin/retention/runs", ADMIN),
    ("GET", "/api/qa/queue", REVIEW),
    ("POST", "/api/qa/samples", REVIEW),
    ("GET", "/api/qa/samples", REVIEW),
    ("POST", "/api/qa/samples/{sample}/reviewed", REVIEW),
    ("GET", "/api/qa/calls/{call}/review", REVIEW),
    ("POST", "/api/qa/scorecards/{scorecard}/judgments", QA),
    ("GET", "/api/qa/rules/precision", REVIEW),
    ("GET", "/api/qa/rules", REVIEW),
    ("PUT", "/api/qa/rules", QA),  # QA leads save a new version of the automatic checks
    ("GET", "/api/calls/{call}/scorecard", ANY),  # operators: the calls they may read (404 before scoring)
    ("POST", "/api/calls/{call}/scorecard", QA),  # rescore now
    ("GET", "/api/stats/operators/qa-trends", ANY),  # operators: their own row only
]

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/auth/login"): {"username": "role-login", "password": "role-login-pw"},
    ("POST", "/api/cards"): {"topic": "heating", "summary": "Суық"},
    ("PATCH", "/api/cards/{card}"): {"summary": "edited"},
    ("POST", "/api/cards/{card}/resolve"): {"resolution": "done"},
    ("POST", "/api/cards/{card}/transfer"): {"code": "103"},
    ("POST", "/api/cards/{card}/dismiss-emergency"): {"reason": "not real"},
    ("POST", "/api/cards/{card}/qa-marks"): {"marks": {"topic": "should be heating"}},
    ("POST", "/api/segments/{segment}/corrections"): {"text": "түзетілген мәтін"},
    ("POST", "/api/users"): {"username": "new-user", "role": "operator", "password": "Long-enough-pw-71"},
    ("PATCH", "/api/users/{user}"): {"full_name": "Renamed"},
    ("PATCH", "/api/auth/me"): {"ui_language": "kk"},
    ("POST", "/api/live/{key}/transfer"): {"code": "103"},
    ("POST", "/api/cards/{card}/reopen"): {"reason": "still no heating"},
    ("POST", "/api/inbox/{card}/{step}"): {"comment": "on our way"},
    ("POST", "/api/directory"): {"format": "yaml", "text": "organisations: []"},
    ("PUT", "/api/organisations/{org}/webhook"): {"url": "https://example.kz/callcard/events"},
    ("PUT", "/api/cards/{card}/legal-hold"): {"reason": "a court asked to keep the call"},
    ("POST", "/api/qa/samples"): {"week": "2026-W50"},
    ("PUT", "/api/qa/rules"): {
        "rules": [{"id": "silence", "kind": "silence", "name_kk": "Үнсіздік", "name_ru": "Тишина"}]
    },
    ("POST", "/api/qa/scorecards/{scorecard}/judgments"): {"rule": "greeting", "verdict": "agree"},
}
PLACEHOLDERS = {"{card}": "{card_id}", "{call}": "{call_id}", "{user}": "{user_id}", "{key}": "{call_key}"}
PLACEHOLDERS["{segment}"] = "{segment_id}"
PLACEHOLDERS["{photo}"] = "{photo_id}"
PLACEHOLDERS["{row}"] = "{row_id}"
PLACEHOLDERS["{org}"] = "{organisation_id}"
PLACEHOLDERS["{sample}"] = "{sample_id}"
PLACEHOLDERS["{scorecard}"] = "{scorecard_id}"
PLACEHOLDERS["{recording}"] = "{recording_id}"


def test_table_covers_every_route() -> None:
    declared = set()
    for router in API_ROUTERS:
        for route in router.routes:
            for method in getattr(route, "methods", None) or set():
                declared.add((method, "/api" + route.path))
    table = set()
    for method, path, _ in ROUTES:
        for short, long in PLACEHOLDERS.items():
            path = path.replace(short, long)
        table.add((method, path))
    assert declared == table


def _refused(status: int, role: str) -> bool:
    return status == (401 if role == "anonymous" else 403)


@pytest.mark.parametrize("role", ROLES)
def test_roles(role: str, client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    """Each route with a call the acting user holds (when their role takes calls) and its card: the role alone
    decides between refused (401/403) and not refused."""
    from datetime import UTC, datetime

    from models.repo import calls as call_repo

    me = None if role == "anonymous" else make_user(role)
    target_user = make_user("operator")
    make_user("qa", username="role-login", password="role-login-pw")
    outcomes = {}
    for n, (method, template, allowed) in enumerate(ROUTES):
        # a fresh live call and card per route, so a state change by one route cannot hide another's check
        key = f"roles.{n}"
        with ctx.sessionmaker() as s:
            call, _ = call_repo.get_or_create_call(s, uniqueid=key, caller_number=f"+7701000{n:04d}")
            call_repo.mark_answered(s, uniqueid=key, at=datetime.now(UTC))
            segment = call_repo.add_segment(s, call_id=call.id, text="жылу жоқ", start_s=0.0, end_s=1.0)
            card = call_repo.save_proposal(s, call_id=call.id, proposal={"topic": "heating"}, model_version="t")
            if me is not None and me.role in DESK:
                call.operator_id = me.id  # the acting desk user holds the call
                s.commit()
        path = template.format(
            card=card.id,
            call=call.id,
            user=target_user.id,
            number=call.caller_number,
            key=key,
            segment=segment.id,
            step="accept",
            photo=1,
            row=1,
            org=1,
            recording=1,
            sample=1,
            scorecard=1,
        )
        # a fresh login per route: logging out must not hide the routes after it
        headers = {} if me is None else {"Authorization": f"Bearer {token_for(me)}"}
        answer = client.request(method, path, json=BODIES.get((method, template)), headers=headers)
        outcomes[(method, template)] = answer.status_code
        if role in allowed:
            assert not _refused(answer.status_code, role) and answer.status_code != 401, (method, template, answer.text)
        else:
            assert _refused(answer.status_code, role), (method, template, answer.status_code, answer.text)
    assert len(outcomes) == len(ROUTES)


def test_nothing_written_anonymously(client: Any, ctx: Any) -> None:
    from sqlalchemy import func, select

    from models.records import AuditEvent, Card, User

    for method, template, allowed in ROUTES:
        if "anonymous" in allowed or method in ("GET", "HEAD"):
            continue
        path = template.format(
            card=1,
            call=1,
            user=1,
            number="1",
            key="1.1",
            segment=1,
            step="accept",
            photo=1,
            row=1,
            org=1,
            recording=1,
            sample=1,
            scorecard=1,
        )
        answer = client.request(method, path, json=BODIES.get((method, template)))
        assert answer.status_code == 401 and "log in" in answer.json()["detail"]
    with ctx.sessionmaker() as s:
        for model in (AuditEvent, Card, User):
            assert s.scalar(select(func.count()).select_from(model)) == 0


def test_openapi_lists_routes(client: Any) -> None:
    spec = client.get("/api/openapi.json").json()
    assert "/api/cards/{card_id}/confirm" in spec["paths"]
    # The live feed's messages are part of the contract: a union discriminated by "type", every call named by key.
    live = spec["components"]["schemas"]["LiveMessage"]
    kinds = set(live["discriminator"]["mapping"])
    wanted = {"call_started", "call_stored", "transcript_final", "card_proposed", "emergency_alert", "call_ended"}
    assert wanted <= kinds
    started = spec["components"]["schemas"]["CallStartedMessage"]
    assert {"call_key", "call_id", "transcription"} <= set(started["properties"])
    assert client.get("/api/docs").status_code == 200
    assert create_app  # the factory others extend
