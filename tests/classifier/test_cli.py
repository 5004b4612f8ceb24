"""`callcard classify` and `callcard classifier eval`: the stable JSON-lines contract, malformed lines, eval output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from core.taxonomy import Taxonomy

KEYS = {"id", "topic", "service", "emergency", "emergency_also", "language", "address", "summary", "confidence",
        "alternatives"}


def _run(args: list[str], stdin: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCARD_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "callcard.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


def test_classify_contract_and_malformed_lines(taxonomy: Taxonomy, tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a1", "text": "алло на кенесары сорок пять в подъезде пахнет газом"}, ensure_ascii=False),
        "{this is not json",
        json.dumps({"id": 7, "text": "сәлеметсіз бе абай даңғылы он екінші үй ыстық су жоқ"}, ensure_ascii=False),
        json.dumps({"id": "no-text"}),
        json.dumps(["a", "list"]),
        "",
        json.dumps({"id": "empty", "text": "   "}),
        json.dumps({"id": None, "text": "батареи еле теплые"}, ensure_ascii=False),
    ]
    proc = _run(["classify"], "\n".join(lines) + "\n", {"CALLCARD_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 7  # the blank line is skipped, every other line is answered in order
    first, bad_json, second, no_text, a_list, empty, third = out
    assert set(first) == KEYS
    assert first["id"] == "a1" and first["topic"] == "gas_supply" and first["emergency"] == "104"
    assert first["service"] == taxonomy.service_for(first["topic"])
    assert set(first["address"]) == {"street", "house", "apartment", "district", "landmark"}
    assert first["address"]["street"] == "проспект Кенесары" and first["address"]["house"] == "45"
    assert first["address"]["district"] is None
    assert set(first["confidence"]) == {"topic", "service", "emergency"}
    assert [a["id"] for a in first["alternatives"]["topic"]][0] == "gas_supply"
    assert all(set(a) == {"id", "confidence"} for a in first["alternatives"]["service"])
    assert first["emergency_also"] == [] or all(c in ("101", "102", "103", "104") for c in first["emergency_also"])
    assert bad_json["id"] is None and "not valid JSON" in bad_json["error"]
    assert second["id"] == 7 and second["language"] in ("kk", "mixed") and second["topic"] == "hot_water"
    assert second["address"]["street"] == "проспект Абая" and second["address"]["house"] == "12"
    assert no_text == {"id": "no-text", "error": no_text["error"]} and "text" in no_text["error"]
    assert a_list["id"] is None and "error" in a_list
    assert empty["id"] == "empty" and "empty" in empty["error"]
    assert third["id"] is None and third["topic"] == "heating" and third["emergency"] == "none"


def _invoke(args: list[str], stdin: str = "") -> Result:
    """The same click command in process (the subprocess test above covers the installed entry point)."""
    from callcard.cli import cli

    return CliRunner().invoke(cli, args, input=stdin)


def test_classify_with_missing_model_fails_clearly(tmp_path: Path) -> None:
    res = _invoke(["classify", "--model", str(tmp_path)], '{"id":1,"text":"лифт"}\n')
    assert res.exit_code != 0
    assert "no classifier model" in res.output


def test_eval_prints_metrics(tmp_path: Path) -> None:
    data = tmp_path / "few.jsonl"
    rows = [
        {"text": "в подъезде пахнет газом", "topic": "gas_supply", "emergency": "104", "language": "ru",
         "address": None},
        {"text": "на кенесары сорок пять батареи холодные", "topic": "heating", "emergency": "none",
         "language": "ru", "address": {"street": "проспект Кенесары", "house": "45"}},
        {"text": "көше шамдары жанбай тұр", "topic": "street_lighting", "emergency": "none", "language": "kk",
         "address": None},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8")
    res = _invoke(["classifier", "eval", str(data)])
    assert res.exit_code == 0, res.output
    for needle in ("topic accuracy", "any emergency vs none", "emergency per code", "street+house",
                   "language accuracy", "worst topic confusions", "topic per class"):
        assert needle in res.output
    res = _invoke(["classifier", "eval", str(data), "--json"])
    metrics = json.loads(res.output)
    assert metrics["n"] == 3 and 0.0 <= metrics["topic_accuracy"] <= 1.0
    assert metrics["address"]["calls_with_street_and_house"] == 1
