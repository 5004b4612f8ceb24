"""Where models live: the shipped default, a versioned store with a CURRENT pointer, and resolving either."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from core.errors import ClassifierError

METADATA_FILE = "metadata.json"
CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"


def shipped_model_dir() -> Path:
    """The default model that ships inside the package (classifier/data/model)."""
    return Path(str(resources.files("classifier") / "data" / "model"))


# --- versioned model store -------------------------------------------------------------------------------------
class ModelStore:
    """A directory of model versions (versions/<version>/) with a CURRENT pointer; old versions are kept."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def current_version(self) -> str | None:
        """The version CURRENT points at, or None."""
        p = self.root / CURRENT_FILE
        if not p.exists():
            return None
        value = p.read_text(encoding="utf-8").strip()
        return value or None

    def versions(self) -> list[str]:
        """All stored versions, oldest first."""
        d = self.root / VERSIONS_DIR
        if not d.exists():
            return []
        return sorted((p.name for p in d.iterdir() if (p / METADATA_FILE).exists()),
                      key=lambda v: (d / v / METADATA_FILE).stat().st_mtime)

    def path(self, version: str) -> Path:
        """Directory of one version."""
        return self.root / VERSIONS_DIR / version

    def publish(self, model_dir: Path, version: str) -> Path:
        """Copy a written artifact in as ``version`` and point CURRENT at it (atomically)."""
        dest = self.path(version)
        if dest.resolve() != model_dir.resolve():
            if dest.exists():
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(model_dir, dest)
        tmp = self.root / (CURRENT_FILE + ".tmp")
        tmp.write_text(version + "\n", encoding="utf-8")
        tmp.replace(self.root / CURRENT_FILE)
        return dest


def resolve_model_dir(path: Path | None) -> Path:
    """An artifact directory from a store root (its CURRENT version), an artifact dir, or None (the shipped one)."""
    if path is None:
        return shipped_model_dir()
    store = ModelStore(path)
    version = store.current_version()
    if version is not None:
        target = store.path(version)
        if not (target / METADATA_FILE).exists():
            raise ClassifierError(f"{path}/CURRENT points at {version!r}, which is not in {path / VERSIONS_DIR}")
        return target
    if (path / METADATA_FILE).exists():
        return path
    raise ClassifierError(f"no classifier model in {path}: neither a CURRENT pointer nor {METADATA_FILE}")


__all__ = ["CURRENT_FILE", "VERSIONS_DIR", "ModelStore", "resolve_model_dir", "shipped_model_dir"]
