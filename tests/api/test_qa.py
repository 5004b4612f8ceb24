"""QA routes: corrections beside the original (audited), classification-error marks, the training export."""

from __future__ import annotations

import json
from typing import Any

from models.records import AuditEvent, Card
from tests.api.web_data import PROPOSAL, confirm, make_call, segments


def test_a_correction_is_stored_beside_the_original_and_audited(client: Any, ctx: Any, qa_headers: Any) -> None:
    call_id, seg_ids, _ = make_call(ctx)
    r = client.post(
        f"/api/segments/{seg_ids[0]}/corrections", json={"text": "  нет  горячей воды  "}, headers=qa_headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["source"] == "qa" and body["corrects_id"] == seg_ids[0] and body["text"] == "нет горячей воды"
    # The same number of words keeps the original timings.
    assert [w["start"] for w in body["words"]] == [0.0, 0.2, 0.4]
    rows = segments(ctx, call_id)
    assert rows[0].text == "нет горячей воды" and rows[0].source == "live", "the original is untouched"
    with ctx.sessionmaker() as s:
        event = s.query(AuditEvent).filter_by(entity="transcript", entity_id=body["id"]).one()
        assert event.action == "correct" and event.before["text"] == "нет горячей воды"

    # Correcting the correction still names the live original; new word count: times spread over the segment.
    r2 = client.post(
        f"/api/segments/{body['id']}/corrections", json={"text": "нет горячей воды третий день"}, headers=qa_headers
    )
    assert r2.status_code == 201
    assert r2.json()["corrects_id"] == seg_ids[0]
    words = r2.json()["words"]
    assert len(words) == 5 and words[0]["start"] == 0.0 and abs(words[-1]["end"] - 0.9) < 1e-6
    # The call detail shows both beside the original.
    detail = client.get(f"/api/calls/{call_id}", headers=qa_headers).json()
    assert [s["source"] for s in detail["segments"]].count("qa") == 2


def test_bad_corrections_are_refused_and_write_nothing(
    client: Any, ctx: Any, qa_headers: Any, operator_headers: Any
) -> None:
    call_id, seg_ids, _ = make_call(ctx)
    url = f"/api/segments/{seg_ids[0]}/corrections"
    assert client.post(url, json={"text": "   "}, headers=qa_headers).status_code == 422
    assert client.post(url, json={"text": ""}, headers=qa_headers).status_code == 422
    bad_words = {"text": "a", "words": [{"word": "a", "start": 2.0, "end": 1.0}]}
    r = client.post(url, json=bad_words, headers=qa_headers)
    assert r.status_code == 422 and "detail" in r.json()
    assert client.post(url, json={"text": "x", "extra": 1}, headers=qa_headers).status_code == 422
    assert client.post("/api/segments/999999/corrections", json={"text": "x"}, headers=qa_headers).status_code == 404
    r = client.post(url, json={"text": "подмена"}, headers=operator_headers)
    assert r.status_code == 403 and "detail" in r.json()
    assert client.post(url, json={"text": "x"}).status_code == 401
    assert all(s.source == "live" for s in segments(ctx, call_id))


def test_qa_marks_merge_and_are_audited(client: Any, ctx: Any, qa_headers: Any, operator_headers: Any) -> None:
    _, _, card_id = make_call(ctx, proposal=PROPOSAL)
    url = f"/api/cards/{card_id}/qa-marks"
    r = client.post(url, json={"topic": "это отопление"}, headers=qa_headers)
    assert r.status_code == 200, r.text
    r = client.post(url, json={"address": "дом 21, не 12"}, headers=qa_headers)
    assert r.json()["qa_marks"] == {"topic": "это отопление", "address": "дом 21, не 12"}
    assert client.post(url, json={"colour": "x"}, headers=qa_headers).status_code == 422
    assert client.post(url, json={}, headers=qa_headers).status_code == 422
    assert client.post(url, json={"topic": "x"}, headers=operator_headers).status_code == 403
    assert client.post("/api/cards/999999/qa-marks", json={"topic": "x"}, headers=qa_headers).status_code == 404
    with ctx.sessionmaker() as s:
        assert s.get(Card, card_id).qa_marks == {"topic": "это отопление", "address": "дом 21, не 12"}
        assert s.query(AuditEvent).filter_by(entity="card", entity_id=card_id, action="qa_marks").count() == 2


def test_training_export_has_confirmed_cards_with_corrected_text(
    client: Any, ctx: Any, qa_headers: Any, operator_headers: Any
) -> None:
    _, seg_ids, card_id = make_call(ctx, texts=("газ пахнет", "Жубанова бес"), language="kk", proposal=PROPOSAL)
    assert card_id is not None
    confirm(ctx, card_id, topic="gas_supply", service="gas_utility", emergency="104", emergency_also=["103"])
    client.post(f"/api/segments/{seg_ids[1]}/corrections", json={"text": "Жубанова бес үй"}, headers=qa_headers)
    make_call(ctx, texts=("черновик",), proposal=PROPOSAL)  # a draft: not training data
    r = client.get("/api/training/export.jsonl", headers=qa_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 1
    row = lines[0]
    assert row == {
        "text": "газ пахнет Жубанова бес үй",
        "topic": "gas_supply",
        "emergency": "104",
        "emergency_also": ["103"],
        "language": "ru",  # the card's language (from the proposal) wins over the segments'
        "address": {
            "street": "Кенесары",
            "house": "12",
            "building": None,
            "apartment": "45",
            "district": "yesil",
            "landmark": None,
        },
        "source": "operator",
    }
    assert client.get("/api/training/export.jsonl", headers=operator_headers).status_code == 403
