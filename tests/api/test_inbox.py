"""An organisation's inbox over HTTP, on SQLite and PostgreSQL: an executor sees and works on its organisation's
cards only (another's answers 404, as a card that does not exist), photos are checked by their bytes and size, and
the monitoring department reads every organisation's inbox but cannot act for an organisation."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
from sqlalchemy import func, select

from handover.photos import MAX_PHOTO_BYTES, MAX_PHOTOS_PER_CARD
from models.handover import CardPhoto, Organisation
from models.records import AuditEvent, Card
from models.repo import calls as call_repo
from models.repo import cards
from models.repo.cards import Actor, Routing

pytestmark = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, grey) PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _org_of(ctx: Any, user: Any) -> Organisation:
    with ctx.sessionmaker() as s:
        org = s.get(Organisation, user.organisation_id)
        assert org is not None
        return org


def _card_for(ctx: Any, organisation_id: int | None, *, words: str = "Батарея суық, үйде жылу жоқ") -> int:
    """A confirmed card of a call (with the caller's words) handed over to the organisation."""
    with ctx.sessionmaker() as s:
        key = f"inbox.{s.scalar(select(func.count(Card.id)))}"
        call, _ = call_repo.get_or_create_call(s, uniqueid=key, caller_number="+77015550011")
        call_repo.add_segment(s, call_id=call.id, text=words, start_s=0.0, end_s=2.0)
        card = call_repo.save_proposal(s, call_id=call.id, proposal={"topic": "heating"}, model_version="t")
        cards.update_card(
            s,
            card_id=card.id,
            actor=Actor("op"),
            changes={"topic": "heating", "service": "heating_utility", "street": "Кенесары", "house": "40"},
        )

        def route(_s: Any, _c: Card) -> Routing:
            return Routing(organisation_id, "r", "test")

        cards.confirm_card(s, card_id=card.id, actor=Actor("op"), due_hours=24, router=route)
        return card.id


def _headers(token_for: Any, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


def test_an_executor_sees_and_works_on_its_organisations_cards_only(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    worker = make_user("executor")
    stranger = make_user("executor")
    mine = _card_for(ctx, worker.organisation_id)
    theirs = _card_for(ctx, stranger.organisation_id)
    me = _headers(token_for, worker)

    listing = client.get("/api/inbox", headers=me).json()
    assert [c["id"] for c in listing["data"]] == [mine] and listing["count"] == 1
    card = listing["data"][0]
    assert card["status"] == "routed" and card["reg_number"].startswith("109-")
    # Executors never see the caller's words (docs/access.md, personal data): the summary tells them the problem.
    assert card["excerpt"] == "" and card["address"]["street"] == "Кенесары"
    assert card["organisation"]["code"] == _org_of(ctx, worker).code
    assert "caller_number" not in card and "proposed" not in card

    for method, path, body in [
        ("GET", f"/api/inbox/{theirs}", None),
        ("POST", f"/api/inbox/{theirs}/accept", {}),
        ("GET", f"/api/inbox/{theirs}/photos/1", None),
        ("GET", "/api/inbox/999999", None),
    ]:
        answer = client.request(method, path, json=body, headers=me)
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["detail"].startswith("There is no card"), "the same answer as a card that does not exist"
    with ctx.sessionmaker() as s:
        assert s.get(Card, theirs).status == "routed"  # type: ignore[union-attr]

    for path in ("/api/cards", f"/api/cards/{mine}", "/api/calls", "/api/stats/dashboard", "/api/organisations"):
        assert client.get(path, headers=me).status_code == 403, path

    assert client.post(f"/api/inbox/{mine}/accept", json={}, headers=me).json()["status"] == "accepted"
    assert client.post(f"/api/inbox/{mine}/accept", json={}, headers=me).status_code == 409
    assert client.post(f"/api/inbox/{mine}/start", headers=me).json()["status"] == "in_progress"
    missing = client.post(f"/api/inbox/{mine}/done", json={"comment": " "}, headers=me)
    assert missing.status_code == 422 and "say what was done" in missing.json()["detail"].lower()
    done = client.post(f"/api/inbox/{mine}/done", json={"comment": "Жылу берілді"}, headers=me).json()
    assert done["status"] == "resolved" and done["status_notes"] == "Жылу берілді"
    with ctx.sessionmaker() as s:
        actors = s.scalars(
            select(AuditEvent.actor).where(AuditEvent.entity_id == mine, AuditEvent.action.in_(["accept", "done"]))
        ).all()
    assert set(actors) == {worker.username}


def test_photos_are_checked_by_their_bytes_and_size(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    worker = make_user("executor")
    card_id = _card_for(ctx, worker.organisation_id)
    me = _headers(token_for, worker)
    image = png()
    sent = client.post(f"/api/inbox/{card_id}/photos", files={"photo": ("leak.png", image, "image/png")}, headers=me)
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo["content_type"] == "image/png" and photo["size"] == len(image)
    back = client.get(f"/api/inbox/{card_id}/photos/{photo['id']}", headers=me)
    assert back.status_code == 200 and back.content == image and back.headers["content-type"] == "image/png"

    fake = client.post(
        f"/api/inbox/{card_id}/photos",
        files={"photo": ("x.png", b"<script>alert(1)</script>", "image/png")},
        headers=me,
    )
    assert fake.status_code == 422 and "JPEG, PNG or WebP" in fake.json()["detail"]
    huge = image + b"\x00" * (MAX_PHOTO_BYTES + 1 - len(image))
    too_big = client.post(f"/api/inbox/{card_id}/photos", files={"photo": ("big.png", huge, "image/png")}, headers=me)
    assert too_big.status_code == 413
    as_json = client.post(f"/api/inbox/{card_id}/photos", json={"photo": "x"}, headers=me)
    assert as_json.status_code == 422
    with ctx.sessionmaker() as s:
        assert s.scalar(select(func.count(CardPhoto.id))) == 1, "refused uploads store nothing"
    for _ in range(MAX_PHOTOS_PER_CARD - 1):
        client.post(f"/api/inbox/{card_id}/photos", files={"photo": ("p.png", image, "image/png")}, headers=me)
    over = client.post(f"/api/inbox/{card_id}/photos", files={"photo": ("p.png", image, "image/png")}, headers=me)
    assert over.status_code == 422 and str(MAX_PHOTOS_PER_CARD) in over.json()["detail"]
    shown = client.get(f"/api/inbox/{card_id}", headers=me).json()
    assert len(shown["photos"]) == MAX_PHOTOS_PER_CARD


def test_the_monitoring_department_reads_every_inbox_but_does_not_act_for_an_organisation(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    first, second = make_user("executor"), make_user("executor")
    a, b = _card_for(ctx, first.organisation_id), _card_for(ctx, second.organisation_id)
    unrouted = _card_for(ctx, None)
    chief = _headers(token_for, make_user("supervisor"))
    listing = client.get("/api/inbox", headers=chief).json()
    assert {c["id"] for c in listing["data"]} == {a, b}, "cards with no organisation are not in any inbox"
    only = client.get(f"/api/inbox?organisation_id={second.organisation_id}", headers=chief).json()
    assert [c["id"] for c in only["data"]] == [b]
    assert client.get(f"/api/inbox/{unrouted}", headers=chief).status_code == 404
    assert client.post(f"/api/inbox/{a}/accept", json={}, headers=chief).status_code == 403


def test_a_returned_card_leaves_the_inbox_once_routed_elsewhere(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    first, second = make_user("executor"), make_user("executor")
    card_id = _card_for(ctx, first.organisation_id)
    me = _headers(token_for, first)
    back = client.post(f"/api/inbox/{card_id}/return", json={"comment": "Бұл біздің желі емес"}, headers=me).json()
    assert back["status"] == "returned" and back["return_count"] == 1
    chief = _headers(token_for, make_user("supervisor"))
    queue = client.get("/api/cards?status=returned", headers=chief).json()
    assert [c["id"] for c in queue["data"]] == [card_id]
    moved = client.post(f"/api/cards/{card_id}/route", json={"organisation_id": second.organisation_id}, headers=chief)
    assert moved.status_code == 200, moved.text
    assert client.get(f"/api/inbox/{card_id}", headers=me).status_code == 404
    theirs = client.get("/api/inbox", headers=_headers(token_for, second)).json()
    assert [c["id"] for c in theirs["data"]] == [card_id]
