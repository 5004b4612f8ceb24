"""Personal data on every route and export (docs/access.md, "Personal data"): who sees ИИН, phone and card numbers
as said and who sees "<iin>", "<phone>", "<card>"; the access log (listens once per playback, unmasked views, a
log that cannot be written refuses the view); the admins' toned WAV. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from api.app import API_ROUTERS
from calls.messages import CallEndedMessage, LiveMessage, decode
from models.records import Call, Card, Recording
from models.repo import audit
from models.repo import calls as call_repo

DATA = Path(__file__).resolve().parents[2] / "privacy" / "data" / "pii_utterances.jsonl"
UTTERANCES = {u["id"]: u for u in map(json.loads, DATA.read_text(encoding="utf-8").splitlines())}
CALLER_SAYS = ("u002", "u019", "u032")  # an ИИН, a phone and a card, said as words (Russian)
OPERATOR_SAYS = "u013"  # the operator reads a phone number back
STEP_S, WORD_S = 0.1, 0.08
RATE = 8000
NUMBER = "+77011234567"
SUMMARY = "Перезвонить на 8 701 123 45 67, ИИН 990301365680"
# What must not reach a masked viewer: the numbers said (as words), typed (as numerals), and the caller's number.
RAW = (
    "девяносто девять ноль три",
    "сорок четыре ноль ноль один",
    "плюс семь семьсот пять",
    "990301365680",
    "701 123 45 67",
)
RAW_NUMBER = ("77011234567",)
MASKED_NUMBER = "+7 701 *** ** 67"

BOTH = pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)


def _masked_words(uid: str) -> list[str]:
    """The utterance as the labelled set says it must be masked (independent of the detector)."""
    u = UTTERANCES[uid]
    words = list(u["words"])
    for kind, first, last in sorted(u["spans"], key=lambda s: -s[1]):
        words[first : last + 1] = [f"<{kind}>"]
    return words


def _timed(uid: str, start: float) -> list[dict[str, Any]]:
    return [
        {"word": w, "start": round(start + j * STEP_S, 3), "end": round(start + j * STEP_S + WORD_S, 3), "conf": 0.9}
        for j, w in enumerate(UTTERANCES[uid]["words"])
    ]


@dataclass
class Scene:
    call_id: int
    card_id: int
    key: str
    users: dict[str, Any]  # role -> user; "operator" holds the call, "other" is another operator
    segment_starts: dict[str, float]


def _scene(ctx: Any, make_user: Any) -> Scene:
    users = {role: make_user(role) for role in ("operator", "supervisor", "qa", "admin", "executor")}
    users["other"] = make_user("operator")
    starts = {uid: 2.0 * i for i, uid in enumerate(CALLER_SAYS)} | {OPERATOR_SAYS: 7.0}
    with ctx.sessionmaker() as s:
        call, _ = call_repo.get_or_create_call(s, uniqueid="pd.1", caller_number=NUMBER)
        call_repo.mark_answered(s, uniqueid="pd.1", at=datetime.now(UTC))
        for uid, start in starts.items():
            words = _timed(uid, start)
            call_repo.add_segment(
                s,
                call_id=call.id,
                text=" ".join(w["word"] for w in words),
                start_s=start,
                end_s=words[-1]["end"],
                language="ru",
                words=words,
                speaker="operator" if uid == OPERATOR_SAYS else "caller",
            )
        card = call_repo.save_proposal(s, call_id=call.id, proposal={"topic": "heating"}, model_version="t")
        call = s.get(Call, call.id)
        card = s.get(Card, card.id)
        call.operator_id = users["operator"].id
        card.summary = SUMMARY
        card.status = "routed"
        card.reg_number = "109-2026-000001"
        card.confirmed_at = card.routed_at = datetime.now(UTC)
        card.organisation_id = users["executor"].organisation_id
        audit.record(
            s,
            actor="operator",
            user_id=users["operator"].id,
            entity="card",
            entity_id=card.id,
            action="update",
            before={"summary": None},
            after={"summary": SUMMARY, "caller_number": NUMBER},
        )
        s.commit()
        return Scene(call.id, card.id, "pd.1", users, starts)


def _end(ctx: Any, scene: Scene) -> None:
    with ctx.sessionmaker() as s:
        call_repo.end_call(s, uniqueid=scene.key, at=datetime.now(UTC))


def _get(client: Any, token_for: Any, user: Any, path: str, **kw: Any) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token_for(user)}"} | kw.pop("headers", {}), **kw)


def _log(client: Any, token_for: Any, scene: Scene, **query: Any) -> list[dict[str, Any]]:
    r = _get(
        client, token_for, scene.users["admin"], "/api/privacy/access-log", params={"call_id": scene.call_id} | query
    )
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


# --------------------------------------------------------------------------------- every route, every role

# Routes that answer with transcripts, cards or the caller's number. A new GET route answering with one of these
# models must be added here (test_the_table_covers_every_route_with_personal_data).
PERSONAL_MODELS = {"CardPublic", "CallPublic", "CallDetail", "SegmentPublic", "InboxCard", "AuditEventPublic"}
U, M, NO, NONE = "unmasked", "masked", "refused", "neither"  # NONE: 200, the call is not in the answer
# (method, path, while the operator holds the live call: role -> view, after the hang-up: role -> view)
ROLES = ("operator", "other", "supervisor", "qa", "admin", "executor")


def _row(op: str, other: str, sup: str, qa: str, admin: str, ex: str) -> dict[str, str]:
    return dict(zip(ROLES, (op, other, sup, qa, admin, ex), strict=True))


MASKING: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    ("GET", "/api/calls/{call}", _row(U, NO, M, U, U, NO), _row(M, NO, M, U, U, NO)),
    ("GET", "/api/calls", _row(U, NONE, M, M, M, NO), _row(M, NONE, M, M, M, NO)),
    ("GET", "/api/cards", _row(U, M, M, M, M, NO), _row(M, M, M, M, M, NO)),
    ("GET", "/api/cards?q=иин", _row(U, M, M, M, M, NO), _row(M, M, M, M, M, NO)),  # the registry search
    ("GET", "/api/cards/{card}", _row(U, M, M, M, M, NO), _row(M, M, M, M, M, NO)),
    ("GET", "/api/cards/{card}/audit", _row(U, NO, M, M, M, NO), _row(M, NO, M, M, M, NO)),
    ("GET", "/api/callers/{number}/history", _row(U, NO, M, M, M, NO), _row(M, NO, M, M, M, NO)),
    ("GET", "/api/cards/export.csv", _row(NO, NO, M, M, M, NO), _row(NO, NO, M, M, M, NO)),
    ("GET", "/api/training/export.jsonl", _row(NO, NO, M, M, M, NO), _row(NO, NO, M, M, M, NO)),
    ("GET", "/api/inbox", _row(NO, NO, M, NO, M, M), _row(NO, NO, M, NO, M, M)),
    ("GET", "/api/inbox/{card}", _row(NO, NO, M, NO, M, M), _row(NO, NO, M, NO, M, M)),
    ("POST", "/api/cards/{card}/qa-marks", _row(NO, NO, NO, U, U, NO), _row(NO, NO, NO, U, U, NO)),
]
# Routes whose answer carries the appellant's number but no transcript or card text.
NUMBER_ONLY = {"/api/calls"}
# Routes that change a card answer with it as GET /api/cards/{card} shows it (api.personal_data.card_as_seen);
# these are not GET routes and are held to that by their shared code path.
CHANGING = {"PATCH", "POST", "PUT", "DELETE"}


def _view_of(body: str) -> str:
    """How the answer shows the personal data said or typed in the call (not the appellant's number field)."""
    raw = any(r in body for r in RAW)
    masked = any(t in body for t in ("<iin>", "<phone>", "<card>"))
    assert raw != masked or not raw, f"both raw and masked personal data in one answer: {body[:400]}"
    return U if raw else M if masked else NONE


def _number_of(body: str) -> str:
    """How the answer shows the appellant's number: U (in full), M (masked) or NONE (not in it)."""
    full = any(r in body for r in RAW_NUMBER)
    masked = MASKED_NUMBER in body
    assert not (full and masked), f"the appellant's number both in full and masked: {body[:400]}"
    return U if full else M if masked else NONE


def _number_wanted(role: str, path: str, view: str) -> str:
    """api.policy.appellant_number_shown: supervisors and admins see it in full everywhere but exports (the
    monitoring department calls appellants back); everyone else as they see the call's personal data."""
    export = "export" in path
    if role in ("supervisor", "admin") and not export:
        return U
    return U if view == U else M


def test_the_table_covers_every_route_with_personal_data() -> None:
    table = {(m, p.split("?")[0]) for m, p, _, _ in MASKING}
    found: set[tuple[str, str]] = set()
    for router in API_ROUTERS:
        for route in router.routes:
            model = getattr(route, "response_model", None)
            if model is None:
                continue
            schema = TypeAdapter(model).json_schema()
            names = set(schema.get("$defs", {})) | {str(schema.get("title", ""))}
            for method in getattr(route, "methods", set()) - CHANGING:
                path = "/api" + str(getattr(route, "path", "")).replace("{call_id}", "{call}").replace(
                    "{card_id}", "{card}"
                )
                if names & PERSONAL_MODELS:
                    found.add((method, path))
    assert found - table == set()
    assert {("GET", "/api/calls/{call}"), ("GET", "/api/inbox/{card}"), ("GET", "/api/cards/{card}/audit")} <= found


@BOTH
@pytest.mark.parametrize("role", ROLES)
def test_every_route_shows_personal_data_as_the_policy_says(
    role: str, client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    scene = _scene(ctx, make_user)
    user = scene.users[role]
    for phase in ("live", "ended"):
        if phase == "ended":
            _end(ctx, scene)
        for method, template, live_views, ended_views in MASKING:
            wanted = (live_views if phase == "live" else ended_views)[role]
            path = template.format(call=scene.call_id, card=scene.card_id, number=NUMBER)
            body = {"topic": "should be heating"} if method == "POST" else None
            headers = {"Authorization": f"Bearer {token_for(user)}"}
            r = client.request(method, path, json=body, headers=headers)
            where = (phase, role, method, path, r.status_code)
            if wanted == NO:
                assert r.status_code == 403, where
                continue
            assert r.status_code == 200, (*where, r.text)
            number = _number_of(r.text)
            if template in NUMBER_ONLY:  # the answer holds no transcript or card text: the number tells the view
                assert _view_of(r.text) == NONE, (*where, r.text[:600])
                expected = NONE if wanted == NONE else _number_wanted(role, path, wanted)
                assert number == expected, (*where, "appellant's number", r.text[:600])
                continue
            assert _view_of(r.text) == wanted, (*where, r.text[:600])
            assert number in (NONE, _number_wanted(role, path, wanted)), (*where, "appellant's number", r.text[:600])


@BOTH
def test_the_masked_transcript_is_the_labelled_one(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    scene = _scene(ctx, make_user)
    r = _get(client, token_for, scene.users["supervisor"], f"/api/calls/{scene.call_id}")
    assert r.status_code == 200
    call = r.json()
    assert call["caller_number"] == NUMBER  # the monitoring department calls appellants back (appellant_number_shown)
    by_start = {seg["start"]: seg for seg in call["segments"]}
    for uid, start in scene.segment_starts.items():
        seg = by_start[start]
        assert seg["text"].split() == _masked_words(uid)
        assert [w["word"] for w in seg["words"]] == _masked_words(uid)
        ((kind, first, last),) = UTTERANCES[uid]["spans"]
        token = next(w for w in seg["words"] if w["word"] == f"<{kind}>")
        assert token["start"] == pytest.approx(start + first * STEP_S)
        assert token["end"] == pytest.approx(start + last * STEP_S + WORD_S)
    assert call["card"]["summary"] == "Перезвонить на <phone> ИИН <iin>"
    # the CSV export: the caller's number and the summary masked for an admin too
    r = _get(client, token_for, scene.users["admin"], "/api/cards/export.csv")
    row = next(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    masked = ("'" + MASKED_NUMBER, "Перезвонить на <phone> ИИН <iin>")  # "'": a spreadsheet shows "+..." as text
    assert (row["caller_number"], row["summary"]) == masked
    # the training export: the caller's words only, masked
    r = _get(client, token_for, scene.users["qa"], "/api/training/export.jsonl")
    (line,) = [json.loads(x) for x in r.text.splitlines()]
    assert line["text"].split() == [w for uid in CALLER_SAYS for w in _masked_words(uid)]
    # a QA correction typed with numerals is masked for those who see masked data
    seg_id = next(s["id"] for s in call["segments"] if s["start"] == 0.0)
    r = client.post(
        f"/api/segments/{seg_id}/corrections",
        json={"text": "мой иин 990301365680"},
        headers={"Authorization": f"Bearer {token_for(scene.users['qa'])}"},
    )
    assert r.status_code == 201 and r.json()["text"] == "мой иин 990301365680", "QA on the call's page: as typed"
    r = _get(client, token_for, scene.users["supervisor"], f"/api/calls/{scene.call_id}")
    correction = next(s for s in r.json()["segments"] if s["source"] == "qa")
    assert correction["text"] == "мой иин <iin>" and [w["word"] for w in correction["words"]] == ["мой", "иин", "<iin>"]


@BOTH
def test_executors_never_see_transcripts(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    scene = _scene(ctx, make_user)
    mine = _get(client, token_for, scene.users["executor"], f"/api/inbox/{scene.card_id}").json()
    assert mine["excerpt"] == "" and mine["summary"] == "Перезвонить на <phone> ИИН <iin>"
    theirs = _get(client, token_for, scene.users["supervisor"], f"/api/inbox/{scene.card_id}").json()
    assert theirs["excerpt"].startswith("значит мой иин <iin> это мой")


# --------------------------------------------------------------------------------- the live feed


def _final(scene: Scene, uid: str, seg_id: int) -> LiveMessage:
    words = _timed(uid, 0.0)
    return decode(
        {
            "type": "transcript_final",
            "call_key": scene.key,
            "call_id": scene.call_id,
            "stored_at": "2026-12-08T03:00:01+00:00",
            "segment": {
                "id": seg_id,
                "start": 0.0,
                "end": words[-1]["end"],
                "text": " ".join(UTTERANCES[uid]["words"]),
                "language": "ru",
                "confidence": 0.9,
                "words": words,
            },
        }
    )


@BOTH
def test_the_live_feed_masks_for_all_but_the_holder_while_live(
    client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    scene = _scene(ctx, make_user)

    def publish(message: LiveMessage) -> None:
        client.portal.call(ctx.hub.publish, message)

    publish(
        decode(
            {
                "type": "call_started",
                "call_key": scene.key,
                "call_id": scene.call_id,
                "caller_number": NUMBER,
                "started_at": "2026-12-08T03:00:00+00:00",
            }
        )
    )
    holder, sup = scene.users["operator"], scene.users["supervisor"]
    with (
        client.websocket_connect(f"/api/live?token={token_for(holder)}") as ws_op,
        client.websocket_connect(f"/api/live?token={token_for(sup)}") as ws_sup,
    ):
        for ws, number in ((ws_op, NUMBER), (ws_sup, NUMBER)):  # the transcript is masked, the number is not
            started = ws.receive_json()
            assert started["caller_number"] == number
            assert ws.receive_json()["type"] == "ready"
        publish(_final(scene, "u002", 1))
        assert ws_op.receive_json()["segment"]["text"] == " ".join(UTTERANCES["u002"]["words"])
        got = ws_sup.receive_json()["segment"]
        assert got["text"].split() == _masked_words("u002") == [w["word"] for w in got["words"]]
        # a partial with a number not finished yet is not sent to a masked viewer; the next message is
        publish(
            decode(
                {
                    "type": "transcript_partial",
                    "call_key": scene.key,
                    "call_id": scene.call_id,
                    "text": "мой иин девяносто девять ноль три",
                    "language": "ru",
                    "start": 0.0,
                }
            )
        )
        assert ws_op.receive_json()["type"] == "transcript_partial"
        publish(CallEndedMessage(call_key=scene.key, call_id=scene.call_id, ended_at=datetime.now(UTC)))
        assert ws_sup.receive_json()["type"] == "call_ended"
        assert ws_op.receive_json()["type"] == "call_ended"
        publish(_final(scene, "u019", 2))  # decoded after the hang-up
        for ws in (ws_op, ws_sup):
            got = ws.receive_json()["segment"]
            assert got["text"].split() == _masked_words("u019")


# --------------------------------------------------------------------------------- the access log


@BOTH
def test_unmasked_views_are_logged_and_refused_when_the_log_fails(
    client: Any, ctx: Any, make_user: Any, token_for: Any, api_engine: Any
) -> None:
    scene = _scene(ctx, make_user)
    before = datetime.now(UTC) - timedelta(seconds=1)
    for role in ("operator", "supervisor", "qa", "admin"):
        assert _get(client, token_for, scene.users[role], f"/api/calls/{scene.call_id}").status_code == 200
    _end(ctx, scene)
    assert _get(client, token_for, scene.users["operator"], f"/api/calls/{scene.call_id}").status_code == 200
    entries = _log(client, token_for, scene)
    assert sorted((e["actor"], e["kind"]) for e in entries) == sorted(
        (scene.users[r].username, "unmasked_transcript") for r in ("operator", "qa", "admin")
    ), "the holder while live, QA and the admin; not the supervisor, not the operator after the hang-up"
    assert all(e["call_id"] == scene.call_id and e["client"] for e in entries)
    assert [e["role"] for e in _log(client, token_for, scene, user_id=scene.users["qa"].id)] == ["qa"]
    assert _log(client, token_for, scene, since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
    assert len(_log(client, token_for, scene, since=before.isoformat())) == 3
    r = _get(client, token_for, scene.users["admin"], "/api/privacy/access-log", params={"since": "yesterday"})
    assert r.status_code == 422
    # the log cannot be written: the unmasked view is refused, the masked one still served
    with api_engine.begin() as conn:
        conn.execute(text("DROP TABLE access_log"))
    r = _get(client, token_for, scene.users["qa"], f"/api/calls/{scene.call_id}")
    assert r.status_code == 503 and "access log" in r.json()["detail"] and "девяносто" not in r.text
    r = _get(client, token_for, scene.users["supervisor"], f"/api/calls/{scene.call_id}")
    assert r.status_code == 200 and "<iin>" in r.text


# --------------------------------------------------------------------------------- recordings

TONE_PAD = 0.15


def _write_wav(path: Path, seconds: float) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(15)
    samples = (np.sin(2 * np.pi * 300 * t) * 8000 + rng.normal(0, 500, t.size)).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return samples.tobytes()


def _add_recording(ctx: Any, scene: Scene, kind: str) -> tuple[int, bytes]:
    path = ctx.settings.recordings_path / f"pd-{kind}.wav"
    frames = _write_wav(path, 10.0)
    with ctx.sessionmaker() as s:
        rec = Recording(call_id=scene.call_id, kind=kind, path=str(path), format="wav", sample_rate=RATE)
        s.add(rec)
        s.commit()
        return rec.id, frames


def _span_seconds(scene: Scene, uid: str) -> tuple[float, float]:
    ((_kind, first, last),) = UTTERANCES[uid]["spans"]
    start = scene.segment_starts[uid]
    return start + first * STEP_S - TONE_PAD, start + last * STEP_S + WORD_S + TONE_PAD


@BOTH
def test_every_playback_is_logged_once(client: Any, ctx: Any, make_user: Any, token_for: Any) -> None:
    scene = _scene(ctx, make_user)
    rec_id, _ = _add_recording(ctx, scene, "mixed")
    qa = scene.users["qa"]
    url = f"/api/calls/{scene.call_id}/audio?recording_id={rec_id}"
    listens = []
    for headers, status in (({}, 200), ({"Range": "bytes=0-1023"}, 206), ({"Range": "bytes=1024-"}, 206)):
        assert _get(client, token_for, qa, url, headers=headers).status_code == status
        listens.append(len([e for e in _log(client, token_for, scene) if e["kind"] == "listen"]))
    assert client.head(url, headers={"Authorization": f"Bearer {token_for(qa)}"}).status_code == 200
    assert listens == [1, 2, 2], "a playback from byte 0 is a new listen; its later ranges are not"
    (entry,) = _log(client, token_for, scene, user_id=qa.id)[:1]
    assert (entry["kind"], entry["detail"]) == ("listen", f"recording {rec_id}")
    assert len(_log(client, token_for, scene)) == 2, "HEAD is not a listen"


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / RATE)[int(np.argmax(spectrum))])


@BOTH
@pytest.mark.parametrize("kind", ["caller", "operator", "mixed"])
def test_the_masked_wav_tones_the_speakers_numbers(
    kind: str, client: Any, ctx: Any, make_user: Any, token_for: Any
) -> None:
    scene = _scene(ctx, make_user)
    rec_id, original = _add_recording(ctx, scene, kind)
    admin = scene.users["admin"]
    r = _get(client, token_for, admin, f"/api/calls/{scene.call_id}/recordings/{rec_id}/masked")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        out = w.readframes(w.getnframes())
    assert len(out) == len(original)
    got, was = np.frombuffer(out, np.int16), np.frombuffer(original, np.int16)
    speakers = {"caller": CALLER_SAYS, "operator": (OPERATOR_SAYS,), "mixed": (*CALLER_SAYS, OPERATOR_SAYS)}[kind]
    toned = np.zeros(got.size, dtype=bool)
    for uid in speakers:
        start, end = _span_seconds(scene, uid)
        first, last = int(np.floor(start * RATE)), int(np.ceil(end * RATE))
        toned[first:last] = True
        assert _dominant_hz(got[first:last]) == pytest.approx(1000, abs=10), uid
        assert _dominant_hz(was[first:last]) == pytest.approx(300, abs=10)
    assert np.array_equal(got[~toned], was[~toned]), "everything outside the spans is byte-identical"
    (entry,) = [e for e in _log(client, token_for, scene) if e["kind"] == "masked_audio_export"]
    assert entry["actor"] == admin.username and f"recording {rec_id}" in entry["detail"]
    # bad ids: 404 with a sentence, nothing logged
    for path in (
        f"/api/calls/{scene.call_id + 1000}/recordings/{rec_id}/masked",
        f"/api/calls/{scene.call_id}/recordings/{rec_id + 1000}/masked",
    ):
        r = _get(client, token_for, admin, path)
        assert r.status_code == 404 and r.json()["detail"].endswith(".")
    assert _get(client, token_for, admin, f"/api/calls/{scene.call_id}/recordings/0/masked").status_code == 422
    assert len([e for e in _log(client, token_for, scene) if e["kind"] == "masked_audio_export"]) == 1
