"""`callcard asr quality` (WER and the low-confidence marks against QA's corrections, for a date range) and
`callcard asr compare` (re-decode a sample of QA-corrected calls with a newly installed model: WER before and after).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the heavy imports wait until a command runs
    from sqlalchemy.orm import Session

    from asr.engine import VoskSpeechEngine
    from asr.quality import Counts
    from models.repo.asr_quality import CorrectedSegment, RecordingFile

DIMENSIONS = ("language", "model", "speaker", "week")
PAD_S = 0.2  # audio kept either side of a segment, so that the first and last word are heard whole
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _when(value: str | None, *, name: str, end: bool = False) -> datetime | None:
    """A date (as ``end``: through it) or an ISO date-time, in UTC (naive: UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC) + timedelta(days=1 if end else 0)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not a date (2026-12-01) or a date and time", param_hint=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _period(since: str | None, until: str | None, *, default_since: datetime | None) -> tuple[datetime, datetime]:
    end = _when(until, name="--until", end=True) or datetime.now(UTC)
    start = _when(since, name="--since") or default_since
    if start is None:
        raise click.UsageError("--since is required")
    if start >= end:
        raise click.BadParameter("must be before --until", param_hint="--since")
    return start, end


def _session(url: str | None) -> Session:
    from core.config import Settings
    from models.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(url or Settings().database_url))()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


@click.group()
def asr() -> None:
    """Speech recognition: quality against QA's corrections, comparing models."""


# ---------------------------------------------------------------------------------------------------- quality


@asr.command("quality")
@click.option("--since", required=True, help="Calls started on or after this date (2026-12-01) or date-time.")
@click.option("--until", default=None, help="Calls started up to this date (through it) or before this date-time.")
@click.option("--by", "by", default="language", show_default=True, help=f"Group by any of {', '.join(DIMENSIONS)}.")
@click.option("--json", "as_json", is_flag=True, help="The same report as GET /api/stats/asr-quality.")
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def quality(since: str, until: str | None, by: str, as_json: bool, url: str | None) -> None:
    """WER and the low-confidence marks' precision and recall against QA's corrections, per group."""
    from calls.asr_quality import build_report, local_zone, parse_group_by
    from core.config import Settings

    try:
        groups = parse_group_by(by)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--by") from exc
    start, end = _period(since, until, default_since=None)
    zone = local_zone(Settings().local_timezone)
    with _session(url) as session:
        report = build_report(session, since=start, until=end, group_by=groups, zone=zone)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    click.echo(
        f"Calls started {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC; a word is marked low below "
        f"confidence {report.low_confidence}."
    )
    click.echo(
        f"Reviewed calls {report.reviewed_calls}, corrected {report.corrected_calls}; machine segments of reviewed "
        f"calls {report.reviewed_segments}, corrected {report.corrected_segments} (only corrected ones are "
        "references, so the WER is biased upwards)."
    )
    head = [g.value for g in report.group_by]
    cols = ["segments", "ref words", "S", "D", "I", "WER", "marked", "wrong", "hits", "precision", "recall"]
    lines: list[list[str]] = []
    for row in report.rows:
        lines.append([str(getattr(row, g)) for g in head] + _figures(row))
    lines.append(["total"] + [""] * max(0, len(head) - 1) + _figures(report.total))
    _table([*head, *cols] if head else ["", *cols], lines)


def _figures(f: Any) -> list[str]:
    return [
        str(f.segments),
        str(f.reference_words),
        str(f.substitutions),
        str(f.deletions),
        str(f.insertions),
        _pct(f.wer),
        str(f.marked),
        str(f.wrong),
        str(f.hits),
        _pct(f.mark_precision),
        _pct(f.mark_recall),
    ]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        click.echo("  ".join(cells))


# ---------------------------------------------------------------------------------------------------- compare


@dataclass(frozen=True, slots=True)
class LanguageComparison:
    """One language's figures over the re-decoded segments: as stored, the current model, the new one."""

    language: str
    calls: int
    segments: int
    reference_words: int
    wer_stored: float | None
    wer_current: float | None
    wer_new: float | None
    errors_current: int
    errors_new: int
    heard_current: int  # words the current model wrote
    heard_new: int  # words the new model wrote


@dataclass(slots=True)
class Comparison:
    """What `callcard asr compare` found."""

    new_model: str
    current_models: dict[str, str]
    seed: int
    candidates: int  # QA-corrected calls with a recording in the period
    sampled: list[int]  # call ids
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> segments
    languages: list[LanguageComparison] = field(default_factory=list)


def pick_recording(speaker: str, recordings: Sequence[RecordingFile]) -> RecordingFile | None:
    """The caller's leg for the caller's words, the operator's leg for the operator's, else the mixed recording."""
    by_kind: dict[str, RecordingFile] = {}
    for rec in recordings:
        by_kind.setdefault(rec.kind, rec)
    own = "operator" if speaker == "operator" else "caller"
    return by_kind.get(own) or by_kind.get("mixed")


def _model_language(model: Path) -> str | None:
    from asr.models import CATALOGUE, model_version

    name = model_version(model)
    return next((lang for (lang, _), spec in CATALOGUE.items() if spec.name == name), None)


async def _decode(engine: VoskSpeechEngine, path: Path, language: str, start: float, end: float) -> list[Any]:
    from asr.base import Span
    from asr.engine import transcribe_with

    segs = await transcribe_with(engine, path, language=language, spans=[Span(max(0.0, start - PAD_S), end + PAD_S)])
    return [w for s in segs for w in s.words]


async def _compare(
    work: list[tuple[CorrectedSegment, Path]], current: VoskSpeechEngine, new: VoskSpeechEngine
) -> list[tuple[CorrectedSegment, Counts, Counts, Counts]]:
    from asr.quality import HeardWord, score

    out = []
    for seg, path in work:
        before = await _decode(current, path, seg.language, seg.start_s, seg.end_s)
        after = await _decode(new, path, seg.language, seg.start_s, seg.end_s)
        stored = score([HeardWord(w, c) for w, c in seg.words], seg.reference).counts
        cur = score([HeardWord(w.text, w.conf) for w in before], seg.reference).counts
        nxt = score([HeardWord(w.text, w.conf) for w in after], seg.reference).counts
        out.append((seg, stored, cur, nxt))
    return out


async def _run_compare(
    work: list[tuple[CorrectedSegment, Path]], current_dirs: dict[str, Path], new_dirs: dict[str, Path]
) -> list[tuple[CorrectedSegment, Counts, Counts, Counts]]:
    from asr.decoder import LanguageModel
    from asr.engine import VoskSpeechEngine
    from asr.pool import WorkerPool

    pools = [
        WorkerPool({lang: LanguageModel(str(p)) for lang, p in dirs.items()}, workers=1, threads=1)
        for dirs in (current_dirs, new_dirs)
    ]
    engines = []
    try:
        for pool in pools:
            await asyncio.to_thread(pool.start)
            engines.append(VoskSpeechEngine(pool, batch_s=0.5))
        return await _compare(work, engines[0], engines[1])
    finally:
        for pool in pools:
            await asyncio.to_thread(pool.close)


def compare_models(
    session: Session,
    *,
    model: Path,
    language: str,
    current_dirs: dict[str, Path],
    recordings_dir: Path,
    since: datetime,
    until: datetime,
    sample: int,
    seed: int,
) -> Comparison:
    """Draw ``sample`` QA-corrected calls with a recording, decode their corrected ``language`` segments' audio
    with the current model and with ``model``, and score both (and the stored transcript) against QA's text."""
    from asr.models import model_version
    from asr.quality import Counts, aggregate
    from models.repo.asr_quality import corrected_calls_with_recording, corrected_segments, recordings_of

    candidates = corrected_calls_with_recording(session, since=since, until=until)
    sampled = sorted(random.Random(seed).sample(candidates, min(sample, len(candidates))))
    result = Comparison(
        new_model=model_version(model),
        current_models={lang: model_version(p) for lang, p in current_dirs.items()},
        seed=seed,
        candidates=len(candidates),
        sampled=sampled,
    )
    skipped: Counter[str] = Counter()
    work: list[tuple[CorrectedSegment, Path]] = []
    recordings = {call_id: recordings_of(session, call_id) for call_id in sampled}
    for seg in corrected_segments(session, since=since, until=until, call_ids=sampled):
        if seg.language != language:
            skipped[f"language {seg.language}, not {language}"] += 1
            continue
        if seg.language not in current_dirs:
            skipped[f"no current {seg.language} model"] += 1
            continue
        rec = pick_recording(seg.speaker, recordings[seg.call_id])
        path = Path(rec.path) if rec is not None else None
        if path is not None and not path.is_absolute():
            path = recordings_dir / path
        if path is None or not path.is_file():
            skipped["no recording of that voice, or its file is missing"] += 1
            continue
        work.append((seg, path))
    session.rollback()  # end the reads before decoding: SQLite would hold its write lock meanwhile
    scored = asyncio.run(_run_compare(work, current_dirs, {language: model})) if work else []
    calls: dict[str, set[int]] = {}
    for seg, *_ in scored:
        calls.setdefault(seg.language, set()).add(seg.call_id)
    stored = aggregate((seg.language, c) for seg, c, _, _ in scored)
    current = aggregate((seg.language, c) for seg, _, c, _ in scored)
    new = aggregate((seg.language, c) for seg, _, _, c in scored)
    for lang in sorted(stored):
        s, c, n = stored[lang], current.get(lang, Counts()), new.get(lang, Counts())
        result.languages.append(
            LanguageComparison(
                language=lang,
                calls=len(calls[lang]),
                segments=s.segments,
                reference_words=s.reference_words,
                wer_stored=s.wer,
                wer_current=c.wer,
                wer_new=n.wer,
                errors_current=c.errors,
                errors_new=n.errors,
                heard_current=c.hypothesis_words,
                heard_new=n.hypothesis_words,
            )
        )
    result.skipped = dict(skipped)
    return result


@asr.command("compare")
@click.option(
    "--model",
    "model",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The newly installed Vosk model directory (e.g. from `callcard models download kk --size big`).",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(["ru", "kk"]),
    default=None,
    help="The new model's language (default: from its catalogue name).",
)
@click.option("--sample", default=50, show_default=True, type=click.IntRange(min=1), help="Calls to draw.")
@click.option("--since", default=None, help="Calls started on or after this date (default: all).")
@click.option("--until", default=None, help="Calls started up to this date (through it).")
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of the draw (the same seed, the same calls)."
)
@click.option("--json", "as_json", is_flag=True, help="The figures as JSON.")
@click.option("--url", default=None, help="Database URL (default: CALLCARD_DATABASE_URL or the SQLite file).")
def compare(
    model: Path,
    language: str | None,
    sample: int,
    since: str | None,
    until: str | None,
    seed: int,
    as_json: bool,
    url: str | None,
) -> None:
    """Re-decode a sample of QA-corrected calls with the site's current model and with MODEL; WER before/after."""
    from asr.models import is_model_dir, resolve_model_dirs
    from core.config import Settings

    if not is_model_dir(model):
        raise click.BadParameter(
            f"{model} is not a Vosk model directory (no am/final.mdl, conf/model.conf)", param_hint="--model"
        )
    language = language or _model_language(model)
    if language is None:
        raise click.UsageError(f"cannot tell the language of {model.name}; say it with --lang ru|kk")
    start, end = _period(since, until, default_since=EPOCH)
    settings = Settings()
    found = resolve_model_dirs(
        models_dir=settings.models_path,
        explicit={"ru": settings.asr_model_ru, "kk": settings.asr_model_kk},
        size=settings.asr_model_size,
    )
    current = {lang: p for lang, p in found.items() if p is not None}
    if language not in current:
        raise click.ClickException(
            f"the site has no current {language} model to compare with; see `callcard models list`"
        )
    with _session(url) as session:
        result = compare_models(
            session,
            model=model,
            language=language,
            current_dirs=current,
            recordings_dir=settings.recordings_path,
            since=start,
            until=end,
            sample=sample,
            seed=seed,
        )
    if as_json:
        json.dump(asdict(result), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    click.echo(
        f"Drew {len(result.sampled)} of {result.candidates} QA-corrected calls with a recording (seed {seed}); "
        f"current {language} model {result.current_models[language]}, new {result.new_model}."
    )
    for reason, n in sorted(result.skipped.items()):
        click.echo(f"skipped {n} segment(s): {reason}")
    rows = [
        [
            c.language,
            str(c.calls),
            str(c.segments),
            str(c.reference_words),
            _pct(c.wer_stored),
            _pct(c.wer_current),
            _pct(c.wer_new),
            _change(c.wer_current, c.wer_new),
        ]
        for c in result.languages
    ]
    if not rows:
        click.echo("nothing to compare: no corrected segment with its recording in the sample")
        return
    _table(["language", "calls", "segments", "ref words", "WER stored", "WER before", "WER after", "change"], rows)


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "—"
    return f"{100 * (after - before):+.1f} pp"
