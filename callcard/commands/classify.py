"""`callcard classify`: JSON lines {"id", "text"} on stdin → one card proposal per line on stdout, in order."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from classifier.base import CardProposal, CardProposer


def proposal_json(item_id: Any, p: CardProposal) -> dict[str, Any]:
    """The stable output object of `callcard classify` (taxonomy ids; absent address parts are null)."""
    a = p.address
    return {
        "id": item_id,
        "topic": p.topic,
        "service": p.service,
        "emergency": p.emergency,
        "emergency_also": list(p.emergency_also),
        "language": p.language,
        "address": {
            "street": a.street,
            "house": a.house,
            "apartment": a.apartment,
            "district": a.district,
            "landmark": a.landmark,
        },
        "summary": p.summary,
        "confidence": {k: p.confidence.get(k) for k in ("topic", "service", "emergency")},
        "alternatives": {
            field: [{"id": s.id, "confidence": s.confidence} for s in p.alternatives.get(field, ())]
            for field in ("topic", "service")
        },
    }


def classify_line(proposer: CardProposer, line: str) -> dict[str, Any]:
    """One output object for one input line: a proposal, or {"id", "error"} for a line that cannot be used."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"id": None, "error": f"the line is not valid JSON ({exc.msg} at column {exc.colno})"}
    if not isinstance(obj, dict):
        return {"id": None, "error": 'each line must be a JSON object with "id" and "text"'}
    item_id = obj.get("id")
    if isinstance(item_id, (dict, list)):
        return {"id": None, "error": '"id" must be a string, a number or null'}
    text = obj.get("text")
    if not isinstance(text, str):
        return {"id": item_id, "error": '"text" is missing or is not a string'}
    if not text.strip():
        return {"id": item_id, "error": '"text" is empty'}
    try:
        return proposal_json(item_id, proposer.propose(text))
    except Exception as exc:  # noqa: BLE001 - one bad line must not stop the rest
        return {"id": item_id, "error": f"classification failed: {exc}"}


def run(proposer: CardProposer, stdin: TextIO, stdout: TextIO) -> int:
    """Classify every line of ``stdin``; returns the number of lines answered with an error."""
    errors = 0
    for raw in stdin:
        line = raw.strip()
        if not line:
            continue
        out = classify_line(proposer, line)
        errors += "error" in out
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        stdout.flush()
    return errors


@click.command()
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Model store or artifact directory (default: CALLCARD_CLASSIFIER_DIR, else the shipped model).",
)
@click.option(
    "--backend",
    type=click.Choice(["sklearn", "transformers"]),
    default=None,
    help="Backend (default: CALLCARD_CLASSIFIER_BACKEND).",
)
def classify(model_dir: Path | None, backend: str | None) -> None:
    """Read JSON lines {"id": ..., "text": ...} on stdin; write one JSON proposal line per input line.

    A malformed line is answered with {"id": <its id or null>, "error": "<reason>"} and the rest go on.
    """
    from classifier.loader import load_proposer
    from core.config import Settings
    from core.errors import CallcardError
    from core.taxonomy import load_taxonomy

    settings = Settings()
    try:
        taxonomy = load_taxonomy(settings.taxonomy_path, settings.deadlines_path)
        proposer = load_proposer(backend or settings.classifier_backend, model_dir or settings.classifier_dir, taxonomy)
    except CallcardError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        run(proposer, sys.stdin, sys.stdout)
    finally:
        close = getattr(proposer, "close", None)
        if callable(close):
            close()
