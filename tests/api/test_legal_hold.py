"""Legal holds and the retention runs through the API, on SQLite and PostgreSQL: a hold is set, changed and lifted
(audited, shown on the card), bad input writes nothing, a held call survives a run, and after a run the call's
audio answers 410 with the date while its detail shows the anonymised transcript."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcard.retention_runner import run_retention
from models.records import AuditEvent, Card
from models.repo import calls
from privacy.retention import parse_policy

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
POLICY = parse_policy(
    "recordings: {action: delete, days: 30}\ntranscripts: {action: anonymise, days: 30}\n"
    "caller_numbers: {action: anonymise, days: 30}\n"
)
PHONE = "мой номер восемь семьсот один двести тридцать четыре пятьдесят шесть семьдесят восемь"


def old_call(ctx: Any, tmp_path: Path, key: str) -> tuple[int, int, Path]:
    """A call that ended 40 days ago, with a recording on disk, a transcript with a phone number and a card."""
    path = tmp_path / f"{key}.wav"
    path.write_bytes(b"RIFF" + bytes(64))
    ended = datetime.now(UTC) - timedelta(days=40)
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid=key, caller_number="+77011234567")
        calls.add_recording(s, uniqueid=key, path=str(path), duration_s=1.0, size_bytes=68)
        words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": 0.9} for i, w in enumerate(PHONE.split())]
        calls.add_segment(s, call_id=call.id, text=PHONE, start_s=0.0, end_s=6.0, words=words)
        card = calls.save_proposal(s, call_id=call.id, proposal={"topic": "heating"}, model_version="t")
        calls.end_call(s, uniqueid=key, at=ended)
        return call.id, card.id, path


def apply(ctx: Any) -> Any:
    return run_retention(
        ctx.sessionmaker, policy=POLICY, now=datetime.now(UTC), recordings_dir=ctx.settings.recordings_path
    )


@BOTH
def test_a_hold_is_set_changed_and_lifted_and_audited(
    client: Any, ctx: Any, tmp_path: Path, make_user: Any, token_for: Any
) -> None:
    boss = make_user("supervisor")
    headers = {"Authorization": f"Bearer {token_for(boss)}"}
    _, card_id, _ = old_call(ctx, tmp_path, "hold.1")
    url = f"/api/cards/{card_id}/legal-hold"

    held = client.put(url, json={"reason": "  Сот   сұрауы №12  "}, headers=headers)
    assert held.status_code == 200, held.text
    assert held.json()["legal_hold_reason"] == "Сот сұрауы №12" and held.json()["legal_hold_at"] is not None
    changed = client.put(url, json={"reason": "Запрос прокуратуры"}, headers=headers)
    assert changed.json()["legal_hold_at"] == held.json()["legal_hold_at"]
    assert client.get(f"/api/cards/{card_id}", headers=headers).json()["legal_hold_reason"] == "Запрос прокуратуры"
    lifted = client.delete(url, headers=headers)
    assert lifted.status_code == 200 and lifted.json()["legal_hold_at"] is None
    again = client.delete(url, headers=headers)
    assert again.status_code == 409 and "not under a legal hold" in again.json()["detail"]
    with ctx.sessionmaker() as s:
        trail = s.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.user_id)
            .where(AuditEvent.entity == "card", AuditEvent.entity_id == card_id, AuditEvent.action.like("legal_hold%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(r) for r in trail] == [
        ("legal_hold", boss.username, boss.id),
        ("legal_hold_changed", boss.username, boss.id),
        ("legal_hold_lifted", boss.username, boss.id),
    ]


@BOTH
def test_bad_input_writes_nothing(client: Any, ctx: Any, tmp_path: Path, auth_headers: Any) -> None:
    headers = auth_headers("admin")
    _, card_id, _ = old_call(ctx, tmp_path, "hold.bad")
    for body in ({"reason": "   "}, {"reason": ""}, {}, {"reason": "x" * 2001}):
        answer = client.put(f"/api/cards/{card_id}/legal-hold", json=body, headers=headers)
        assert answer.status_code == 422 and isinstance(answer.json()["detail"], str), (body, answer.text)
    missing = client.put("/api/cards/999999/legal-hold", json={"reason": "court"}, headers=headers)
    assert missing.status_code == 404 and missing.json()["detail"] == "Card 999999 does not exist."
    with ctx.sessionmaker() as s:
        card = s.get(Card, card_id)
        assert card is not None and card.legal_hold_at is None
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action.like("legal_hold%"))) is None


@BOTH
def test_a_run_spares_the_held_call_and_the_routes_say_what_was_removed(
    client: Any, ctx: Any, tmp_path: Path, auth_headers: Any
) -> None:
    admin = auth_headers("admin")
    gone_call, _, gone_file = old_call(ctx, tmp_path, "retention.gone")
    kept_call, kept_card, kept_file = old_call(ctx, tmp_path, "retention.kept")
    assert client.put(f"/api/cards/{kept_card}/legal-hold", json={"reason": "court"}, headers=admin).status_code == 200

    report = apply(ctx)

    assert (report.recordings, report.transcripts, report.caller_numbers, report.held) == (1, 1, 1, 1)
    assert not gone_file.exists() and kept_file.exists()
    audio = client.get(f"/api/calls/{gone_call}/audio", headers=admin)
    today = datetime.now(UTC).date().isoformat()
    assert audio.status_code == 410
    assert audio.json()["detail"] == (
        f"The recording of call {gone_call} was deleted under the retention policy on {today}."
    )
    assert client.get(f"/api/calls/{kept_call}/audio", headers=admin).status_code == 200
    detail = client.get(f"/api/calls/{gone_call}", headers=admin).json()
    assert detail["recordings"] == [] and detail["caller_number"] is None
    assert [s["text"] for s in detail["segments"]] == ["<phone>"]
    assert detail["recordings_removed_at"] and detail["transcript_removed_at"] and detail["caller_number_removed_at"]
    kept = client.get(f"/api/calls/{kept_call}", headers=admin).json()
    assert kept["caller_number"] == "+77011234567" and kept["recordings_removed_at"] is None

    runs = client.get("/api/admin/retention/runs", headers=admin)
    assert runs.status_code == 200
    body = runs.json()
    assert body["total"] == 1 and body["data"][0]["state"] == "finished"
    assert body["data"][0]["removed"]["held"] == 1 and body["data"][0]["removed"]["recording_files"] == 1
    assert body["data"][0]["policy"]["recordings"]["days"] == 30
    assert client.get("/api/admin/retention/runs?limit=0", headers=admin).status_code == 422
