"""`callcard models`: download Vosk's official Kazakh and Russian models, list what is installed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from asr.models import (
    LANGUAGES,
    DownloadError,
    download_model,
    is_model_dir,
    list_installed,
    spec_for,
    with_pins,
)
from core.config import Settings


def _models_dir(option: Path | None) -> Path:
    return option if option is not None else Settings().models_path


class _Progress:
    """A one-line progress display on stderr, redrawn at most a few times a second."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.25 and (total is None or done < total):
            return
        self.last = now
        mib = done / 2**20
        if total:
            click.echo(
                f"\r{self.name}: {mib:7.1f} / {total / 2**20:.1f} MiB ({100 * done / total:3.0f}%)", nl=False, err=True
            )
        else:
            click.echo(f"\r{self.name}: {mib:7.1f} MiB", nl=False, err=True)


@click.group()
def models() -> None:
    """Vosk speech models for Kazakh (kk) and Russian (ru)."""


@models.command("download")
@click.argument("languages", nargs=-1)
@click.option("--size", type=click.Choice(["small", "big"]), default="small", show_default=True)
@click.option(
    "--dir",
    "models_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to install (default: CALLCARD_MODELS_DIR, else data_dir/models).",
)
@click.option("--url", default=None, help="Fetch from this address instead (a site mirror; one language only).")
@click.option("--sha256", default=None, help="Pin the archive's sha256 (one language only).")
@click.option("--force", is_flag=True, help="Download again even if installed.")
def download(
    languages: tuple[str, ...], size: str, models_dir: Path | None, url: str | None, sha256: str | None, force: bool
) -> None:
    """Fetch, verify and unpack the models for LANGUAGES (default: ru kk)."""
    langs = languages or LANGUAGES
    if (url or sha256) and len(langs) != 1:
        raise click.UsageError("--url and --sha256 apply to one language at a time")
    target = _models_dir(models_dir)
    failed = 0
    for lang in langs:
        try:
            spec = with_pins(spec_for(lang, size), url=url, sha256=sha256)
        except Exception as exc:
            raise click.UsageError(str(exc)) from exc
        if is_model_dir(target / spec.name) and not force:
            click.echo(f"{spec.name}: already installed in {target}")
            continue
        click.echo(f"{spec.name}: downloading {spec.url}", err=True)
        try:
            path = download_model(spec, target, progress=_Progress(spec.name), force=force)
        except DownloadError as exc:
            click.echo("", err=True)
            click.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        click.echo("", err=True)
        click.echo(f"{spec.name}: installed in {path}")
    if failed:
        sys.exit(1)


@models.command("list")
@click.option("--dir", "models_dir", type=click.Path(path_type=Path), default=None)
def list_command(models_dir: Path | None) -> None:
    """Show the models installed in the models directory."""
    target = _models_dir(models_dir)
    found = list_installed(target)
    if not found:
        click.echo(f"no models installed in {target}; run `callcard models download ru kk`")
        return
    for m in found:
        lang = m.language or "?"
        kind = m.kind or "?"
        click.echo(f"{m.name}\t{lang}\t{kind}\t{m.bytes / 2**20:.0f} MiB\t{m.path}")
