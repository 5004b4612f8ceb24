"""`callcard transcribe FILE.wav`: the transcript of a recording, through the same session code as live calls."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from asr.audio import AudioFormatError, open_wav
from asr.base import FinalSegment
from asr.decoder import UNDETERMINED, LanguageModel
from asr.engine import VoskSpeechEngine
from asr.models import is_model_dir, resolve_model_dirs
from asr.pool import WorkerPool
from calls.session import segment_dict
from core.config import Settings
from core.errors import AsrError

logger = logging.getLogger(__name__)


def segment_json(seg: FinalSegment) -> dict[str, Any]:
    """The stable output object of one segment: the live segment object without its id, with the engine."""
    out = segment_dict(seg, None)
    del out["id"]
    return {**out, "engine": seg.engine, "model_version": seg.model_version}


def _languages(lang: str, model: Path | None) -> dict[str, LanguageModel]:
    if model is not None:
        if not is_model_dir(model):
            raise click.UsageError(f"{model} is not a Vosk model directory (no am/final.mdl, conf/model.conf)")
        label = lang if lang in ("ru", "kk") else UNDETERMINED
        return {label: LanguageModel(str(model))}
    settings = Settings()
    dirs = resolve_model_dirs(
        models_dir=settings.models_path,
        explicit={"ru": settings.asr_model_ru, "kk": settings.asr_model_kk},
        size=settings.asr_model_size,
    )
    wanted = ("ru", "kk") if lang == "auto" else (lang,)
    found = {k: LanguageModel(str(dirs[k])) for k in wanted if dirs.get(k) is not None}
    if not found:
        raise click.ClickException(
            f"no Vosk model installed for {' or '.join(wanted)}; run `callcard models download ru kk` "
            "or pass --model DIR"
        )
    return found


async def _run(path: Path, languages: dict[str, LanguageModel], lang: str) -> list[FinalSegment]:
    pool = WorkerPool(languages, workers=1, threads=1)
    await asyncio.to_thread(pool.start)
    engine = VoskSpeechEngine(pool, batch_s=0.5)
    try:
        language = lang if lang in languages else "auto"
        return await engine.transcribe_file(path, language=language)
    finally:
        await engine.aclose()


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["auto", "ru", "kk"]), default="auto", show_default=True)
@click.option(
    "--model",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Decode with this Vosk model directory, whatever its language.",
)
@click.option("--json", "as_json", is_flag=True, help="Segments with words, timings, confidences and language.")
def transcribe(file: Path, lang: str, model: Path | None, as_json: bool) -> None:
    """Print the transcript of FILE (WAV: PCM, mu-law or a-law, any rate, mono or stereo)."""
    try:
        info = open_wav(file)
    except AudioFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    languages = _languages(lang, model)
    try:
        segments = asyncio.run(_run(file, languages, lang))
    except AsrError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        out = {
            "file": str(file),
            "duration": round(info.duration_s, 3),
            "sample_rate": info.sample_rate,
            "encoding": info.encoding,
            "segments": [segment_json(s) for s in segments],
        }
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    for s in segments:
        click.echo(f"[{s.start:8.2f} - {s.end:8.2f}] ({s.language}) {s.text}")
