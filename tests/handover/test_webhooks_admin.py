"""Admins and webhooks through the real API (SQLite and PostgreSQL) and the CLI: setting a URL makes a secret shown
once, removing stops the events, bad input writes nothing, every change is audited; a delivery that keeps failing
is given up after the configured time and an admin's retry delivers it under the same delivery id."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from callcard.cli import cli
from models.db import make_engine, make_sessionmaker
from models.handover import Organisation, WebhookDelivery
from models.records import AuditEvent
from tests.handover.webhook_harness import Mode, Receiver, confirm, fast_worker, make_org, rows, states, until

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


def _audit(ctx: Any, org_id: int) -> list[tuple[str, dict[str, Any] | None]]:
    with ctx.sessionmaker() as s:
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "organisation", AuditEvent.entity_id == org_id)
            .order_by(AuditEvent.id)
        )
        return [(e.action, e.after) for e in events]


@BOTH
def test_set_and_remove_a_webhook(client: Any, ctx: Any, admin_headers: dict[str, str]) -> None:
    with ctx.sessionmaker() as s:
        org = make_org(s, "heat", "", "", webhook=False)
    url = f"/api/organisations/{org.id}/webhook"
    for bad in ("ftp://example.kz/x", "https://", "not a url", "https://user:pw@example.kz/x", "http://a b.kz/"):
        answer = client.put(url, json={"url": bad}, headers=admin_headers)
        assert answer.status_code == 422 and answer.json()["detail"], (bad, answer.text)
    assert client.put(
        "/api/organisations/99999/webhook", json={"url": "https://x.kz"}, headers=admin_headers
    ).json() == {"detail": "Organisation 99999 does not exist."}
    assert _audit(ctx, org.id) == [], "refused input writes nothing"

    first = client.put(url, json={"url": " https://heat.kz/callcard/events "}, headers=admin_headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert re.fullmatch(r"[0-9a-f]{64}", body["secret"]) and body["url"] == "https://heat.kz/callcard/events"
    assert body["receives"] == ["inbox", "webhook"]
    second = client.put(url, json={"url": "http://10.0.0.5:8080/hook"}, headers=admin_headers).json()
    assert second["secret"] != body["secret"], "every change makes a new secret"
    with ctx.sessionmaker() as s:
        stored = s.get(Organisation, org.id)
        assert stored.webhook_secret == second["secret"] and stored.webhook_url == "http://10.0.0.5:8080/hook"
    removed = client.delete(url, headers=admin_headers)
    assert removed.status_code == 200 and removed.json()["url"] is None and removed.json()["secret"] is None
    assert client.delete(url, headers=admin_headers).status_code == 200  # again: nothing to do, nothing written
    with ctx.sessionmaker() as s:
        stored = s.get(Organisation, org.id)
        assert stored.webhook_url is None and stored.webhook_secret is None and stored.receives == ["inbox"]
        assert confirm(s, org.id).status == "routed"
        assert s.scalars(select(WebhookDelivery)).all() == [], "no webhook, no events"
    audit = _audit(ctx, org.id)
    assert [a for a, _ in audit] == ["webhook_set", "webhook_set", "webhook_removed"]
    assert all(body["secret"] not in str(after) and second["secret"] not in str(after) for _, after in audit)


@BOTH
def test_deliveries_list_filters_and_pages(client: Any, ctx: Any, admin_headers: dict[str, str]) -> None:
    with ctx.sessionmaker() as s:
        heat = make_org(s, "heat", "http://127.0.0.1:9/hook", "k1")
        water = make_org(s, "water", "http://127.0.0.1:9/hook", "k2")
        for n in range(5):
            confirm(s, heat.id if n < 3 else water.id)
        failed = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        assert failed is not None
        failed.state = "failed"
        s.commit()
    page = client.get("/api/webhooks/deliveries?limit=2", headers=admin_headers).json()
    assert page["total"] == 5 and len(page["data"]) == 2 and page["data"][0]["id"] > page["data"][1]["id"]
    rest = client.get("/api/webhooks/deliveries?limit=2&offset=4", headers=admin_headers).json()
    assert [d["id"] for d in rest["data"]] == [failed.id]
    only = client.get(f"/api/webhooks/deliveries?organisation_id={water.id}", headers=admin_headers).json()
    assert only["total"] == 2 and {d["organisation"] for d in only["data"]} == {"water"}
    gone = client.get("/api/webhooks/deliveries?state=failed", headers=admin_headers).json()
    assert [d["delivery_id"] for d in gone["data"]] == [failed.delivery_id] and gone["data"][0][
        "event"
    ] == "card.routed"
    assert client.get("/api/webhooks/deliveries?state=lost", headers=admin_headers).status_code == 422
    pending = client.get("/api/webhooks/deliveries?state=pending", headers=admin_headers).json()["data"][0]
    refused = client.post(f"/api/webhooks/deliveries/{pending['id']}/retry", headers=admin_headers)
    assert refused.status_code == 409 and "only a failed delivery" in refused.json()["detail"]
    assert client.post("/api/webhooks/deliveries/99999/retry", headers=admin_headers).status_code == 404


@BOTH
async def test_given_up_after_the_configured_time_then_an_admin_retry_delivers_it(
    client: Any, ctx: Any, admin_headers: dict[str, str]
) -> None:
    receiver = Receiver(secrets={"heat": "s" * 40}, mode=Mode.FAILING)
    await receiver.start()
    worker = fast_worker(ctx.sessionmaker, give_up_s=1.0)
    with ctx.sessionmaker() as s:
        org = make_org(s, "heat", receiver.url, "s" * 40)
        confirm(s, org.id)
    await worker.start()
    try:
        await until(lambda: states(ctx.sessionmaker) == Counter(failed=1), within=30, what="the delivery given up")
        [row] = rows(ctx.sessionmaker)
        assert row.attempts >= 2 and row.last_status == 500 and row.failed_at is not None
        assert (row.failed_at - row.created_at).total_seconds() >= 1.0
        listed = client.get("/api/webhooks/deliveries?state=failed", headers=admin_headers).json()["data"]
        assert [d["delivery_id"] for d in listed] == [row.delivery_id] and listed[0]["last_error"].startswith(
            "HTTP 500"
        )
        receiver.mode = Mode.FINE
        answer = client.post(f"/api/webhooks/deliveries/{row.id}/retry", headers=admin_headers)
        assert answer.status_code == 200 and answer.json()["state"] == "pending"
        assert answer.json()["delivery_id"] == row.delivery_id
        worker.notify()
        await until(lambda: states(ctx.sessionmaker) == Counter(delivered=1), within=30, what="the retry delivered")
    finally:
        await worker.stop()
        await receiver.stop()
    assert set(receiver.ids()) == {row.delivery_id}, "every attempt, before and after the retry, under one id"
    assert receiver.answered[200] == 1 and receiver.answered[500] == row.attempts
    assert all(g.signed for g in receiver.got)
    assert [a for a, _ in _audit(ctx, org.id)] == ["webhook_retry"]
    assert _audit(ctx, org.id)[0][1] == {"delivery_id": row.delivery_id, "state": "pending"}


def test_cli_sets_a_webhook_and_prints_the_secret_once(db_url: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLCARD_DATA_DIR", str(tmp_path / "var"))
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        make_org(s, "heat", "", "", webhook=False)
    runner = CliRunner()
    done = runner.invoke(cli, ["orgs", "webhook", "heat", "https://heat.kz/hook", "--database", db_url])
    assert done.exit_code == 0, done.output
    secret = re.search(r"secret \(shown once\): ([0-9a-f]{64})", done.output)
    assert secret is not None and "webhooks go to https://heat.kz/hook" in done.output
    bad = runner.invoke(cli, ["orgs", "webhook", "heat", "gopher://x", "--database", db_url])
    missing = runner.invoke(cli, ["orgs", "webhook", "nope", "https://x.kz", "--database", db_url])
    assert bad.exit_code == 1 and "nothing changed" in bad.output and "https://" in bad.output
    assert missing.exit_code == 1 and "'nope' does not exist" in missing.output
    with sessions() as s:
        org = s.scalars(select(Organisation)).one()
        assert org.webhook_secret == secret.group(1) and org.webhook_url == "https://heat.kz/hook"
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.entity == "organisation"))]
        assert actions == ["webhook_set"] and secret.group(1) not in done.output.replace(secret.group(0), "")
    engine.dispose()
