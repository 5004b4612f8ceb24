"""Build the Kazakh and mixed corpus JSONL files from the hand-written sources in this folder.

Source format (one utterance per line, ``#`` lines are comments)::

    == train kk            (section header: split and language)
    text || em=104,103 t=topic || st=<street key> h=45 b=1 a=12 d=saryarka lm=мектеп_жаны

The first ``||`` part holds labels (``em`` primary code then emergency_also codes,
``t`` topic override; required on every line of a file whose name is not a topic id; ``lang`` language override,
ru/kk/mixed, for a line whose language differs from its section), the second the address; both are optional. ``st``
is a key resolved against classifier/data/streets.yaml (canonical name, ru or kk form).

A line's record goes to ``<topic>.<language>.jsonl`` of its split; a line labelled ``lang=ru`` stays in the file of its
section (``.mixed.jsonl``), because the ``.ru.jsonl`` files are written by ../src_ru/build.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
CORPUS = HERE.parent
TAXONOMY = yaml.safe_load((ROOT / "core/data/taxonomy.yaml").read_text(encoding="utf-8"))
TOPICS = set(TAXONOMY["topics"])
DISTRICTS = set(TAXONOMY["districts"])
CODES = {"none", "101", "102", "103", "104"}
PRECEDENCE = ["none", "101", "103", "104", "102"]


def door_ruling(codes: list[str]) -> bool:
    """The door ruling (conventions.md): a door nobody opens is 102 first, 103 (and any others) after it."""
    rest = codes[1:]
    return codes[:1] == ["102"] and "103" in rest and rest == sorted(rest, key=PRECEDENCE.index)
SPLITS = ("train", "heldout", "test")
LABEL_KEYS = ("t", "em", "lang")
LANGUAGES = ("ru", "kk", "mixed")  # test: the held-out set of session 3, by writers who saw no other split
TEXT_RE = re.compile(r"^[a-zа-яёәғқңөұүһі]+( [a-zа-яёәғқңөұүһі]+)*$")
KK_LETTERS = set("әғқңөұүһі")
# Kazakh words written without any Kazakh-only letter (a mixed line must hold one of these or a Kazakh letter).
KK_PLAIN_WORDS = set(
    "жатыр жерде аулада балалар ма ме бар керек алмайды ашпайды ашпаймыз шатыр жанып атыс терезе контейнерлер "
    "батырма жылап сары бу жерден подъездте подъездке лифтте саяжайлар басып басты жолды ашылады алды сатып алу "
    "аяз курткамен бала баламды балама отыз жыл мен бермей жатыр емханада ауруханада жанбайды жасыл жанады "
    "апат болады аялдамада автобуста зейнеткерге картам жолда тас акимат тазаламады шатырда машинаны сындырды "
    "оята алмаймыз басымыз ауырады ауа лас бос жер жерге жерлерде тастады тастайды мерекеде хат зират деп "
    "жазды бола бере кезек неге иттер жаса жол ортасында бойында келмей тергеп орынсыз арызымды картамнан "
    "аударылады мияулап ескертпей шулайды шу бастайды отыр ашып сасиды жастар оянды ойнайды ойнай суарылмайды "
    "ескертпей жуындыра тазаламады алмаймыз жас жасыл су астында жанында батареялар трассасы адам люкке мынау".split()
)


def load_streets() -> dict[str, str]:
    """Map every lower-cased spoken/canonical form of a street to its canonical name."""
    path = ROOT / "classifier/data/streets.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data.get("streets", data) if isinstance(data, dict) else data
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        if not name:
            continue
        forms = [name]
        for key, val in item.items():
            if key == "name":
                continue
            if isinstance(val, str):
                forms.append(val)
            elif isinstance(val, list):
                forms.extend(v for v in val if isinstance(v, str))
        for form in forms:
            out.setdefault(form.lower().strip(), name)
    return out


def parse_kv(part: str) -> dict[str, str]:
    """Parse ``k=v`` tokens (underscores in values stand for spaces)."""
    out = {}
    for tok in part.split():
        k, _, v = tok.partition("=")
        out[k] = v if k in LABEL_KEYS else v.replace("_", " ")
    return out


def build(topic_file: Path, streets: dict[str, str], errors: list[str]) -> dict[tuple[str, str], list[dict]]:  # noqa: C901
    """Parse one source file into records keyed by (split, output file language)."""
    topic = topic_file.stem if topic_file.stem in TOPICS else None
    out: dict[tuple[str, str], list[dict]] = {}
    key = None
    for n, raw in enumerate(topic_file.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=="):
            split, lang = line[2:].split()
            if split not in SPLITS or lang not in ("kk", "mixed"):
                errors.append(f"{topic_file.name}:{n}: bad section header {line!r}")
            key = (split, lang)
            out.setdefault(key, [])
            continue
        where = f"{topic_file.name}:{n}"
        parts = [p.strip() for p in line.split("||")]
        text = parts[0]
        # label (t=, em=) and address (st= h= ...) pairs may sit in any "||" part after the text
        pairs: dict[str, str] = {}
        for extra in parts[1:]:
            pairs.update(parse_kv(extra))
        labels = {k: v for k, v in pairs.items() if k in LABEL_KEYS}
        addr = {k: v for k, v in pairs.items() if k not in LABEL_KEYS}
        if not TEXT_RE.match(text):
            errors.append(f"{where}: bad text {text!r}")
        codes = labels.get("em", "none").split(",")
        if any(c not in CODES for c in codes) or ("none" in codes and len(codes) > 1):
            errors.append(f"{where}: bad codes {codes}")
        elif (codes != sorted(codes, key=PRECEDENCE.index) and not door_ruling(codes)) or len(set(codes)) != len(codes):
            errors.append(f"{where}: codes not in precedence order {codes}")
        t = labels.get("t", topic)
        if t is None or t not in TOPICS:
            errors.append(f"{where}: bad topic {t}")
        if key is None:
            errors.append(f"{where}: no section header")
            continue
        lang = labels.get("lang", key[1])
        if lang not in LANGUAGES:
            errors.append(f"{where}: bad language {lang!r}")
        # Kazakh written without its own letters is still Kazakh (conventions.md): a known plain Kazakh word will do.
        has_kazakh = bool(set(text) & KK_LETTERS) or bool(set(text.split()) & KK_PLAIN_WORDS)
        if lang in ("kk", "mixed") and not has_kazakh:
            errors.append(f"{where}: {lang} line without any Kazakh word")
        file_key = (key[0], lang if lang in ("kk", "mixed") else key[1])
        address = None
        if addr:
            street = None
            if "st" in addr:
                street = streets.get(addr["st"].lower())
                if street is None:
                    errors.append(f"{where}: street {addr['st']!r} not in streets.yaml")
            d = addr.get("d") or None
            if d is not None and d not in DISTRICTS:
                errors.append(f"{where}: bad district {d}")
            address = {"street": street, "house": addr.get("h") or None, "building": addr.get("b") or None,
                       "apartment": addr.get("a") or None, "district": d, "landmark": addr.get("lm") or None}
        out.setdefault(file_key, []).append({"text": text, "topic": t, "emergency": codes[0],
                                             "emergency_also": codes[1:], "language": lang, "address": address})
    return out


def main() -> int:
    """Build all files; exit non-zero on any validation error."""
    streets = load_streets()
    errors: list[str] = []
    seen: dict[str, str] = {}
    counts = []
    out: dict[tuple[str, str, str], list[dict]] = {}
    for src in sorted(HERE.glob("*.txt")):
        groups = build(src, streets, errors)
        for (split, lang), recs in groups.items():
            for r in recs:
                if r["text"] in seen:
                    errors.append(f"{src.name}: duplicate text {r['text']!r} (also {seen[r['text']]})")
                seen[r["text"]] = f"{src.stem}/{split}/{lang}"
                out.setdefault((r["topic"], split, lang), []).append(r)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print("not written: fix the errors above", file=sys.stderr)
        return 1
    for (topic, split, lang), recs in sorted(out.items()):
        path = CORPUS / split / f"{topic}.{lang}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
        n_addr = sum(r["address"] is not None for r in recs)
        n_em = sum(r["emergency"] != "none" for r in recs)
        counts.append(f"{topic:22s} {split:8s} {lang:6s} {len(recs):4d}  addr={n_addr:3d} em={n_em:3d}")
    print("\n".join(counts))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
