"""asr/ stays fully typed: mypy --strict over the package, and its engines and sessions meet the protocols
in asr.base that the rest of callcard is written against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFORMANCE = '''
from asr.base import SpeechEngine, SpeechSession
from asr.engine import UnavailableSpeechEngine, VoskSpeechEngine
from asr.pool import WorkerPool
from asr.session import NullSpeechSession, VoskSpeechSession


def engines(pool: WorkerPool) -> list[SpeechEngine]:
    return [VoskSpeechEngine(pool), UnavailableSpeechEngine(["ru"])]


def sessions(pool: WorkerPool) -> list[SpeechSession]:
    return [VoskSpeechSession(pool, call_id="a", start_s=17.9), NullSpeechSession("b", start_s=17.9)]
'''


def test_asr_passes_mypy_strict_and_meets_its_protocols(tmp_path: Path) -> None:
    check = tmp_path / "asr_conformance.py"
    check.write_text(CONFORMANCE)
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy-cache"), "asr", str(check)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert res.returncode == 0, res.stdout + res.stderr
