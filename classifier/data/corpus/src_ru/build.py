"""Build the Russian corpus JSONL files (train/heldout <topic>.ru.jsonl) from the hand-written sources here.

Source format (one utterance per line; ``#`` lines are comments)::

    @topic heating                  (default topic for the following lines)
    ## train                        (split: train or heldout)
    text | key=value;key=value;flag

Keys: ``t`` topic override, ``e`` primary emergency code, ``also`` comma-separated secondary codes,
``m`` flag = language "mixed" (default "ru"), and the address: ``s`` street (canonical name or any
ru/kk form from classifier/data/streets.yaml), ``h`` house, ``b`` building, ``ap`` apartment,
``d`` district id (only when the caller says it), ``l`` landmark. Lines without address keys get
``"address": null``. Every line is validated; any error stops the build and nothing is written.

Run: ``.venv/bin/python classifier/data/corpus/src_ru/build.py``
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent
ROOT = HERE.parents[3]
TAX = yaml.safe_load((ROOT / "core/data/taxonomy.yaml").read_text(encoding="utf-8"))
TOPICS = set(TAX["topics"])
DISTRICTS = set(TAX["districts"])
CODES = {"none", "101", "102", "103", "104"}
PRECEDENCE = ["101", "103", "104", "102"]
STREETS = yaml.safe_load((ROOT / "classifier/data/streets.yaml").read_text(encoding="utf-8"))
CANON = {s["name"]: s for s in STREETS}
FORM: dict[str, str] = {}
for _s in STREETS:
    for _f in _s["ru"] + _s["kk"] + [_s["name"].lower()]:
        FORM.setdefault(_f, _s["name"])
SPLITS = ("train", "heldout", "test")  # test: the held-out set of session 3, by writers who saw no other split
HOUSE = re.compile(r"^(\d+[А-Я]?(/\d+)?|[А-Я])$")


def parse(path: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """Parse one source file into (split, record) pairs and a list of errors."""
    topic = None
    split = None
    out: list[tuple[str, dict]] = []
    errs: list[str] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        where = f"{path.name}:{n}"
        if not line or line.startswith("#"):
            if line.startswith("## "):
                split = line[3:].strip()
            continue
        if line.startswith("@topic"):
            topic = line.split()[1]
            continue
        parts = [p.strip() for p in line.split("|")]
        text = re.sub(r"\s+", " ", parts[0]).strip()
        kv: dict[str, str] = {}
        for part in parts[1:]:
            for item in filter(None, (i.strip() for i in part.split(";"))):
                key, _, value = item.partition("=")
                kv[key.strip()] = value.strip() if _ else "1"
        t = kv.get("t", topic)
        e = kv.get("e", "none")
        also = [a for a in kv.get("also", "").split(",") if a]
        addr = None
        if any(k in kv for k in ("s", "h", "b", "ap", "d", "l")):
            street = None
            if "s" in kv:
                street = FORM.get(kv["s"]) or (kv["s"] if kv["s"] in CANON else None)
                if street is None:
                    errs.append(f"{where}: unknown street {kv['s']!r}")
                elif not any(f in text for f in CANON[street]["ru"] + CANON[street]["kk"]):
                    print(f"warning {where}: no spoken form of {street} in text", file=sys.stderr)
            addr = {"street": street, "house": kv.get("h"), "building": kv.get("b"),
                    "apartment": kv.get("ap"), "district": kv.get("d"), "landmark": kv.get("l")}
        rec = {"text": text, "topic": t, "emergency": e, "emergency_also": also,
               "language": "mixed" if "m" in kv else "ru", "address": addr}
        if t not in TOPICS:
            errs.append(f"{where}: bad topic {t}")
        if e not in CODES:
            errs.append(f"{where}: bad code {e}")
        if e == "none" and also:
            errs.append(f"{where}: emergency_also without a primary code")
        for a in also:
            # the door ruling (conventions.md): a door nobody opens is 102 first, with 103 beside it
            door_ruling = e == "102" and a == "103"
            if a not in PRECEDENCE or a == e or (PRECEDENCE.index(a) < PRECEDENCE.index(e) and not door_ruling):
                errs.append(f"{where}: bad or out-of-precedence secondary code {a}")
        if text != text.lower():
            errs.append(f"{where}: upper case")
        if re.search(r"[0-9a-z]", text):
            errs.append(f"{where}: digits or latin letters in text")
        bad = re.findall(r"[^\w\s]|_", text)
        if bad:
            errs.append(f"{where}: punctuation {bad}")
        if addr:
            if addr["district"] and addr["district"] not in DISTRICTS:
                errs.append(f"{where}: bad district {addr['district']}")
            for k in ("house", "building", "apartment"):
                if addr[k] and not HOUSE.match(addr[k]):
                    errs.append(f"{where}: bad {k} {addr[k]}")
        if split not in SPLITS:
            errs.append(f"{where}: no split header")
        out.append((split or "", rec))
    return out, errs


def main() -> int:
    """Validate every source, then (re)write all <topic>.ru.jsonl files and print counts."""
    recs: list[tuple[str, dict]] = []
    errs: list[str] = []
    for path in sorted(HERE.glob("*.txt")):
        r, e = parse(path)
        recs += r
        errs += e
    seen: dict[str, str] = {}
    for split, rec in recs:
        if rec["text"] in seen:
            errs.append(f"duplicate text ({seen[rec['text']]}/{split}): {rec['text']}")
        seen[rec["text"]] = split
    if errs:
        print("\n".join(errs), file=sys.stderr)
        return 1
    files: dict[tuple[str, str], list[dict]] = {}
    for split, rec in recs:
        files.setdefault((split, rec["topic"]), []).append(rec)
    for split in SPLITS:
        for old in (CORPUS / split).glob("*.ru.jsonl"):
            old.unlink()
    for (split, topic), rows in sorted(files.items()):
        (CORPUS / split).mkdir(parents=True, exist_ok=True)
        with open(CORPUS / split / f"{topic}.ru.jsonl", "w", encoding="utf-8") as fh:
            for rec in rows:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    counts = Counter((rec["topic"], split) for split, rec in recs)
    for topic in sorted({t for t, _ in counts}):
        print(f"{topic:22s} " + " ".join(f"{sp}={counts[(topic, sp)]:4d}" for sp in SPLITS))
    codes = Counter((split, rec["emergency"]) for split, rec in recs)
    with_addr = Counter(split for split, rec in recs if rec["address"])
    print("total", dict(Counter(s for s, _ in recs)), "with address", dict(with_addr))
    print("emergency", dict(sorted(codes.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
