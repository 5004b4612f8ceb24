"""`callcard asr compare` and `callcard asr quality` with real Vosk (the Korean model standing in for kk): a small
call with a WAV recording and a QA correction; the model compared with itself gives the same WER before and after."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from asr.audio import open_wav
from callcard.cli import cli
from callcard.commands.asr_quality import pick_recording
from models.db import make_engine
from models.records import Call, Recording, TranscriptSegment
from models.repo.asr_quality import RecordingFile

SPOKEN = "서울 시청 앞에서 버스를 기다리고 있습니다 오늘 날씨가 좋네요 감사합니다"
STARTED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _seed(url: str, wav: Path, duration: float) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        call = Call(uniqueid="cmp-1", state="ended", started_at=STARTED, ended_at=STARTED)
        s.add(call)
        s.flush()
        s.add(Recording(call_id=call.id, kind="caller", path=str(wav), complete=True, sample_rate=8000))
        words = [
            {"word": w, "start": 0.1 * i, "end": 0.1 * i + 0.1, "conf": 0.5} for i, w in enumerate(["서울", "버스"])
        ]
        caller = TranscriptSegment(
            call_id=call.id, speaker="caller", language="kk", start_s=0.0, end_s=duration, text="서울 버스",
            words=words, confidence=0.5, source="live", model_version="stored-model",
        )  # fmt: skip
        # an operator line: the call has no operator leg and no mixed recording, so it cannot be re-decoded
        operator = TranscriptSegment(
            call_id=call.id, speaker="operator", language="kk", start_s=0.0, end_s=1.0, text="네", words=[],
            source="live",
        )  # fmt: skip
        s.add_all([caller, operator])
        s.flush()
        for seg, text in ((caller, SPOKEN), (operator, "네 네")):
            s.add(
                TranscriptSegment(
                    call_id=call.id, speaker=seg.speaker, language="kk", start_s=seg.start_s, end_s=seg.end_s,
                    text=text, words=[], source="qa", engine="qa", corrects_id=seg.id,
                )
            )  # fmt: skip
        s.commit()
    engine.dispose()


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str, det_model: Path, sentence_wavs: dict[int, Path]) -> dict[str, str]:
    wav = sentence_wavs[8000]
    _seed(sqlite_url, wav, open_wav(wav).duration_s)
    return {
        "CALLCARD_DATABASE_URL": sqlite_url,
        "CALLCARD_DATA_DIR": str(tmp_path / "var"),
        "CALLCARD_ASR_MODEL_KK": str(det_model),  # the site's current kk model
        "CALLCARD_ASR_MODEL_RU": "",
    }


async def test_compare_a_model_with_itself(site: dict[str, str], det_model: Path) -> None:
    args = ["asr", "compare", "--model", str(det_model), "--lang", "kk", "--sample", "5", "--seed", "3", "--json"]
    res = await asyncio.to_thread(CliRunner().invoke, cli, args, env=site)  # the command runs its own event loop
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["candidates"] == 1 and len(out["sampled"]) == 1
    assert out["skipped"] == {"no recording of that voice, or its file is missing": 1}
    [kk] = out["languages"]
    assert (kk["language"], kk["calls"], kk["segments"], kk["reference_words"]) == ("kk", 1, 1, 10)
    assert kk["wer_stored"] == pytest.approx(9 / 10)  # "서울 버스": 1 right, 1 substituted, 8 missed
    assert kk["heard_current"] > 0 and kk["wer_current"] is not None  # Vosk decoded the caller's leg
    assert kk["wer_current"] != kk["wer_stored"]  # (a Korean model on espeak-ng speech: not a good one)
    assert kk["wer_new"] == kk["wer_current"] and kk["errors_new"] == kk["errors_current"]
    assert kk["heard_new"] == kk["heard_current"]

    text = await asyncio.to_thread(
        CliRunner().invoke, cli, ["asr", "compare", "--model", str(det_model), "--lang", "kk"], env=site
    )
    assert text.exit_code == 0, text.output
    assert "WER before" in text.output and "+0.0 pp" in text.output


def test_quality_command(site: dict[str, str]) -> None:
    res = CliRunner().invoke(cli, ["asr", "quality", "--since", "2026-03-01", "--by", "speaker", "--json"], env=site)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows = {r["speaker"]: r for r in out["rows"]}
    assert rows["caller"]["wer"] == pytest.approx(9 / 10) and rows["operator"]["wer"] == pytest.approx(1 / 2)
    assert rows["caller"]["marked"] == 2 and rows["caller"]["hits"] == 1  # "버스" marked and wrong, "서울" right
    assert (out["reviewed_calls"], out["corrected_segments"]) == (1, 2)
    text = CliRunner().invoke(cli, ["asr", "quality", "--since", "2026-03-01", "--by", "language,speaker"], env=site)
    assert text.exit_code == 0 and "total" in text.output and "90.0%" in text.output
    bad = CliRunner().invoke(cli, ["asr", "quality", "--since", "March", "--by", "colour"], env=site)
    assert bad.exit_code == 2 and "cannot group by 'colour'" in bad.output
    bad = CliRunner().invoke(cli, ["asr", "quality", "--since", "2026-03-01", "--until", "2026-02-01"], env=site)
    assert bad.exit_code == 2 and "must be before --until" in bad.output


def test_compare_refuses_what_is_not_a_model(site: dict[str, str], tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["asr", "compare", "--model", str(tmp_path)], env=site)
    assert res.exit_code == 2 and "not a Vosk model directory" in res.output


def test_the_voice_picks_its_recording() -> None:
    mixed, caller, operator = (RecordingFile(k, f"{k}.wav") for k in ("mixed", "caller", "operator"))
    assert pick_recording("caller", [mixed, caller, operator]) == caller
    assert pick_recording("operator", [mixed, caller, operator]) == operator
    assert pick_recording("operator", [caller, mixed]) == mixed
    assert pick_recording("operator", [caller]) is None
