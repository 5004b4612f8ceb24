"""GET /api/stats/asr-quality: WER and the low-confidence marks against QA's corrections, grouped, against numbers
worked out by hand, on SQLite and PostgreSQL; only corrected segments are references; bad input is a 422."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from models.quality import QaSample
from models.records import Call, TranscriptSegment

PERIOD = {"since": "2026-03-01", "until": "2026-03-31"}
SMALL_KK, BIG_KK, SMALL_RU = "vosk-model-small-kk-0.42", "vosk-model-kk-0.42", "vosk-model-small-ru-0.22"


def _call(s: Any, key: str, started: datetime) -> Call:
    call = Call(uniqueid=key, state="ended", started_at=started, ended_at=started, language="kk")
    s.add(call)
    s.flush()
    return call


def _seg(s: Any, call: Call, at: float, text: str, confs: list[float], **kw: Any) -> TranscriptSegment:
    words = [
        {"word": w, "start": at + i * 0.5, "end": at + i * 0.5 + 0.4, "conf": c}
        for i, (w, c) in enumerate(zip(text.split(), confs, strict=True))
    ]
    seg = TranscriptSegment(
        call_id=call.id, start_s=at, end_s=at + len(words) * 0.5, text=text, words=words,
        confidence=min(confs), **kw,
    )  # fmt: skip
    s.add(seg)
    s.flush()
    return seg


def _fix(s: Any, seg: TranscriptSegment, text: str) -> None:
    s.add(
        TranscriptSegment(
            call_id=seg.call_id, speaker=seg.speaker, language=seg.language, start_s=seg.start_s, end_s=seg.end_s,
            text=text, words=[], confidence=1.0, source="qa", engine="qa", corrects_id=seg.id,
        )
    )  # fmt: skip
    s.flush()


def _seed(ctx: Any, make_user: Any) -> None:
    qa = make_user("qa")
    operator = make_user("operator")
    with ctx.sessionmaker() as s:
        # call 1: Monday 2 March (2026-W10)
        c1 = _call(s, "asrq-1", datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        s1 = _seg(s, c1, 1.0, "жарық жок", [0.9, 0.3], speaker="caller", language="kk", model_version=SMALL_KK)
        _fix(s, s1, "жарық жоқ па")  # an older correction: the newest one below is the reference
        _fix(s, s1, "Жарық жоқ.")  # S=1; "жок" marked and wrong: a hit
        _seg(s, c1, 3.0, "сәлеметсіз бе", [0.95, 0.4], speaker="operator", language="kk", model_version=SMALL_KK)
        s3 = _seg(s, c1, 5.0, "здравствуйте слушаю вас", [0.9, 0.9, 0.5], speaker="operator", language="ru",
                  model_version=SMALL_RU)  # fmt: skip
        _fix(s, s3, "Здравствуйте, слушаю.")  # I=1: "вас" marked and removed: a hit
        # call 2: Sunday 8 March 21:30 UTC is Monday 9 March in Almaty (2026-W11, the city's week)
        c2 = _call(s, "asrq-2", datetime(2026, 3, 8, 21, 30, tzinfo=UTC))
        s4 = _seg(s, c2, 1.0, "су жоқ күн болды ғой", [0.9, 0.9, 0.5, 0.9, 0.9], speaker="caller", language="kk",
                  model_version=BIG_KK, source="redecode")  # fmt: skip
        _fix(s, s4, "су жоқ үш күн болды")  # D=1, I=1; "күн" marked but right; "ғой" wrong, not marked
        s5 = _seg(s, c2, 6.0, "лифт не работает", [0.9, 0.9, 0.9], speaker="caller", language="ru",
                  model_version=SMALL_RU, source="postcall")  # fmt: skip
        _fix(s, s5, "Лифт не работает")  # confirmed as heard: 0 errors, still a reference
        # call 3: reviewed as a sample, nothing corrected: not a reference, but counted as reviewed
        c3 = _call(s, "asrq-3", datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
        _seg(s, c3, 1.0, "қоқыс жатыр", [0.2, 0.2], speaker="caller", language="kk", model_version=SMALL_KK)
        s.add(QaSample(week="2026-W11", operator_id=operator.id, call_id=c3.id, reviewed_at=c3.started_at,
                       reviewed_by_id=qa.id))  # fmt: skip
        # call 4: outside the period; call 5: nobody looked at it
        c4 = _call(s, "asrq-4", datetime(2026, 4, 15, 9, 0, tzinfo=UTC))
        s6 = _seg(s, c4, 1.0, "бір екі", [0.1, 0.1], speaker="caller", language="kk", model_version=SMALL_KK)
        _fix(s, s6, "үш төрт")
        c5 = _call(s, "asrq-5", datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
        _seg(s, c5, 1.0, "алло алло", [0.9, 0.9], speaker="caller", language="ru", model_version=SMALL_RU)
        s.commit()


FIGURES = ("segments", "reference_words", "substitutions", "deletions", "insertions", "marked", "wrong", "hits")


def _figures(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[k] for k in FIGURES)


def _rows(data: dict[str, Any], *dims: str) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(r[d] for d in dims): r for r in data["rows"]}


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_grouped_numbers_are_exact(client: Any, ctx: Any, make_user: Any, auth_headers: Any) -> None:
    _seed(ctx, make_user)
    headers = auth_headers("supervisor")
    res = client.get("/api/stats/asr-quality", params={**PERIOD, "group_by": "language"}, headers=headers)
    assert res.status_code == 200, res.text
    data = res.json()
    assert data["low_confidence"] == 0.6 and data["group_by"] == ["language"]
    assert data["since"].startswith("2026-03-01T00:00:00") and data["until"].startswith("2026-04-01T00:00:00")
    # corrected vs reviewed: calls 1, 2 (corrections) and 3 (a reviewed sample); 6 machine segments, 4 corrected
    assert (data["reviewed_calls"], data["corrected_calls"]) == (3, 2)
    assert (data["reviewed_segments"], data["corrected_segments"]) == (6, 4)
    t = data["total"]
    assert _figures(t) == (4, 12, 1, 1, 2, 3, 3, 2)
    assert t["wer"] == pytest.approx(4 / 12)
    assert t["mark_precision"] == pytest.approx(2 / 3) and t["mark_recall"] == pytest.approx(2 / 3)
    rows = _rows(data, "language")
    assert list(rows) == [("kk",), ("ru",)]
    assert _figures(rows["kk",]) == (2, 7, 1, 1, 1, 2, 2, 1) and rows["kk",]["wer"] == pytest.approx(3 / 7)
    assert _figures(rows["ru",]) == (2, 5, 0, 0, 1, 1, 1, 1) and rows["ru",]["wer"] == pytest.approx(1 / 5)
    assert rows["ru",]["mark_precision"] == 1.0 and rows["kk",]["mark_precision"] == 0.5
    assert rows["kk",]["speaker"] is None and rows["kk",]["week"] is None

    by = client.get("/api/stats/asr-quality", params={**PERIOD, "group_by": "week"}, headers=headers).json()
    weeks = _rows(by, "week")
    assert list(weeks) == [("2026-W10",), ("2026-W11",)]  # call 2 is in the city's Monday
    assert weeks["2026-W10",]["wer"] == pytest.approx(2 / 4) and weeks["2026-W11",]["wer"] == pytest.approx(2 / 8)

    by = client.get("/api/stats/asr-quality", params={**PERIOD, "group_by": "model"}, headers=headers).json()
    models = _rows(by, "model")
    assert {k: v["segments"] for k, v in models.items()} == {(BIG_KK,): 1, (SMALL_KK,): 1, (SMALL_RU,): 2}
    assert models[BIG_KK,]["wer"] == pytest.approx(2 / 5) and models[SMALL_KK,]["wer"] == pytest.approx(1 / 2)

    by = client.get(
        "/api/stats/asr-quality", params={**PERIOD, "group_by": "language, speaker"}, headers=auth_headers("qa")
    ).json()
    pairs = _rows(by, "language", "speaker")
    assert list(pairs) == [("kk", "caller"), ("ru", "caller"), ("ru", "operator")]
    assert _figures(pairs["ru", "operator"]) == (1, 2, 0, 0, 1, 1, 1, 1)
    assert pairs["ru", "caller"]["wer"] == 0.0 and pairs["ru", "caller"]["mark_precision"] is None

    whole = client.get("/api/stats/asr-quality", params={"since": "2026-01-01"}, headers=headers).json()
    assert whole["rows"] == [] and whole["group_by"] == []
    assert whole["total"]["segments"] == 5  # call 4 too, now inside the period


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_an_empty_period_has_no_rates(client: Any, auth_headers: Any) -> None:
    res = client.get("/api/stats/asr-quality", params=PERIOD, headers=auth_headers("admin"))
    assert res.status_code == 200
    data = res.json()
    assert data["total"]["segments"] == 0 and data["total"]["wer"] is None
    assert data["total"]["mark_precision"] is None and data["reviewed_calls"] == 0


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"since": "2026-13-01"}, "since", "must be a date"),
        ({"until": "yesterday"}, "until", "must be a date"),
        ({"since": "2026-03-31", "until": "2026-03-01"}, "since", "since must be before until"),
        ({"group_by": "language,colour"}, "group_by", "Cannot group by 'colour'"),
        ({"since": "0001-01-01T00:00+05:00"}, "since", "edge of the calendar"),
    ],
)
def test_bad_input_is_a_clear_422(client: Any, auth_headers: Any, params: dict[str, str], field: str,
                                  words: str) -> None:  # fmt: skip
    res = client.get("/api/stats/asr-quality", params=params, headers=auth_headers("qa"))
    assert res.status_code == 422, res.text
    body = res.json()
    assert body["field"] == field and words in body["detail"]
