"""`callcard transcribe`: JSON output shape, the same words as the live session path, clear errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner

from asr.engine import VoskSpeechEngine
from asr.pool import WorkerPool
from callcard.cli import cli


async def test_json_output_shape_and_same_words_as_sessions(det_model: Path, sentence_wavs: dict[int, Path],
                                                             pool: WorkerPool) -> None:
    wav = sentence_wavs[8000]
    args = ["transcribe", str(wav), "--model", str(det_model), "--lang", "kk", "--json"]
    res = await asyncio.to_thread(CliRunner().invoke, cli, args)  # the command runs its own event loop
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"file", "duration", "sample_rate", "encoding", "segments"}
    assert out["sample_rate"] == 8000 and out["encoding"] == "pcm" and out["duration"] > 3
    assert out["segments"]
    for seg in out["segments"]:
        assert set(seg) == {"start", "end", "text", "language", "confidence", "words", "engine", "model_version"}
        assert seg["language"] == "kk" and seg["engine"] == "vosk"
        assert seg["model_version"] == det_model.name
        assert 0 <= seg["start"] <= seg["end"] <= out["duration"] + 0.03
        for w in seg["words"]:
            assert set(w) == {"word", "start", "end", "conf"} and 0 <= w["conf"] <= 1
        assert seg["text"] == " ".join(w["word"] for w in seg["words"])
    # the command goes through the same session code: same words as a live-call session on the same file
    live = await VoskSpeechEngine(pool).transcribe_file(wav, language="ko")
    assert [w["word"] for s in out["segments"] for w in s["words"]] == [w.text for s in live for w in s.words]


def test_clear_errors(tmp_path: Path, det_model: Path, sentence_wavs: dict[int, Path]) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("these are not samples")
    res = CliRunner().invoke(cli, ["transcribe", str(bad), "--model", str(det_model)])
    assert res.exit_code == 1 and "not a WAV file" in res.output
    res = CliRunner().invoke(cli, ["transcribe", str(sentence_wavs[8000]), "--model", str(tmp_path)])
    assert res.exit_code == 2 and "not a Vosk model directory" in res.output
