"""The folder layout tells the architecture: who may import whom (STYLE.md, section 5), and lint is clean."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = {"core", "models", "telephony", "asr", "classifier", "calls", "api", "callcard", "handover", "privacy", "qa"}

# package -> what of ours (and which outside libraries) it must never import
FORBIDDEN: dict[str, set[str]] = {
    "core": OURS - {"core"},
    "models": OURS - {"models"},
    "asr": (OURS - {"asr", "core"}) | {"fastapi", "starlette", "sqlalchemy", "uvicorn"},
    "classifier": (OURS - {"classifier", "core"}) | {"fastapi", "starlette", "sqlalchemy", "uvicorn"},
    "privacy": (OURS - {"privacy", "core", "classifier"}) | {"fastapi", "starlette", "sqlalchemy", "uvicorn"},
    # the automatic QA checks: pure functions over typed turns and facts (models/repo/qa_scoring.py feeds them)
    "qa": (OURS - {"qa", "core", "classifier"}) | {"fastapi", "starlette", "sqlalchemy", "uvicorn"},
    "telephony": (OURS - {"telephony", "core"}) | {"fastapi", "sqlalchemy"},
    "calls": {"api", "callcard"},
    "api": {"telephony", "asr", "classifier", "callcard"},
    # the second line: routing and hand-over, over core and models; no HTTP, no Asterisk, no speech
    "handover": {"api", "callcard", "telephony", "asr", "classifier", "calls", "fastapi", "starlette", "uvicorn"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_dependency_direction(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "data" in path.relative_to(ROOT / package).parts:
            continue  # corpus build scripts are tools, not the package
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offences.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offences, "\n".join(offences)


def test_calls_uses_telephony_only_for_its_events() -> None:
    for path in sorted((ROOT / "calls").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("telephony"):
                assert node.module == "telephony.events", f"{path.name} imports {node.module}"


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    result = subprocess.run([ruff, "check", "--output-format", "concise", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


PACKAGES = ["core", "models", "telephony", "asr", "classifier", "calls", "api", "callcard", "handover", "privacy", "qa"]


def test_mypy_finds_nothing() -> None:
    """Types are checked in the suite: every package, and calls/ and telephony/ as strictly as --strict
    (pyproject.toml's per-module overrides)."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *PACKAGES], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
