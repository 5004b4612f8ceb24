"""The organisations file: every organisation and the routing table, as one YAML or CSV file.

YAML: a mapping with ``organisations`` and ``rules`` lists (and optional ``title``, ``sample``, ``version``)::

    organisations:
      - code: astana-su-arnasy            # stable slug: a-z, 0-9, "-", "_", "."
        name_kk: «Астана Су Арнасы» МКК
        name_ru: ГКП «Астана Су Арнасы»
        services: [water_utility]           # taxonomy service ids it serves
        phone: "+7 7172 000000"             # phone, email, address: optional contacts
        hours: "24/7"                       # or "mon-fri 08:00-18:00; sat 09:00-13:00" (or a day -> span mapping)
        receives: [inbox, webhook]          # inbox | open311 | webhook (default: inbox)
        deadlines: {urgent: 4, normal: 48}  # optional: hours to resolve by priority, over the topic's deadline
        active: true                        # default
    rules:                                  # tried in this order; the first that matches wins
      - code: heat-yesil                    # optional: derived from the rule's content when left out
        organisation: astana-teplotranzit
        services: [heating_utility]         # conditions, all optional, combined with AND:
        topics: [hot_water]                 #   taxonomy topic ids
        districts: [yesil]                  #   taxonomy district ids
        street: проспект Абая               #   a canonical street name of classifier/data/streets.yaml
        houses: ["1-99 odd", "2-40 even"]   #   needs a street; "10-20", "7", "odd", "even" too
        object: boiler-house-7              #   matched against the card's landmark, ignoring case
        note: why this rule exists          # for people
      - organisation: astana-teplotranzit   # a fallback: services only; at most one per service
        services: [heating_utility]
        fallback: true

CSV: ONE file, one row per organisation or rule, told apart by the first column ``kind`` (``organisation`` or
``rule``); the other columns are the keys above (``CSV_COLUMNS``), a cell left empty is the default, lists are
separated by ";" and booleans are true/false; ``deadlines`` is written ``urgent=4; normal=48``. Rules keep the
order of their rows.

``read_directory`` parses either format and checks everything (the taxonomy, the street list, references,
fallbacks) before anything is written, raising ``OrgFileError`` with every problem, each naming its entry. It
also refuses what no organisations file needs and a hostile one uses: YAML aliases (a few lines standing for
gigabytes), nesting too deep to parse, CSV cells over the csv module's limit, and text no database can store
(the NUL character, which a YAML escape can carry, and unpaired surrogates).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from core.taxonomy import Taxonomy
from handover.hours import HoursError, format_hours, parse_hours
from handover.routing import HouseRange, HouseRangeError, Rule, Target, normalise_name

RECEIVE_CHANNELS = ("inbox", "open311", "webhook")  # models.handover.RECEIVE_CHANNELS
ORG_KEYS = (
    "code",
    "name_kk",
    "name_ru",
    "services",
    "phone",
    "email",
    "address",
    "hours",
    "receives",
    "deadlines",
    "active",
)
PRIORITIES = ("normal", "urgent")  # models.records.PRIORITIES
MAX_DEADLINE_HOURS = 24 * 366
RULE_KEYS = (
    "code",
    "organisation",
    "services",
    "topics",
    "districts",
    "street",
    "houses",
    "object",
    "fallback",
    "active",
    "note",
)
CSV_COLUMNS = ("kind", *ORG_KEYS, *(k for k in RULE_KEYS if k not in ORG_KEYS))
LIST_KEYS = frozenset({"services", "topics", "districts", "houses", "receives", "deadlines"})
BOOL_KEYS = frozenset({"active", "fallback"})
TOP_KEYS = frozenset({"version", "title", "sample", "organisations", "rules"})
LIMITS = {"code": 64, "name_kk": 300, "name_ru": 300, "phone": 64, "email": 200, "address": 300}
LIMITS |= {"street": 200, "object": 200, "organisation": 64}

_CODE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TRUE = {"true", "yes", "1", "да", "иә"}
_FALSE = {"false", "no", "0", "нет", "жоқ"}


class OrgFileError(ValueError):
    """The file has problems; ``problems`` lists every one, each naming its line or entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the organisations file:\n" + "\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """One organisation as the file gives it (checked)."""

    code: str
    name_kk: str
    name_ru: str
    services: tuple[str, ...]
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    working_hours: Mapping[str, str] = field(default_factory=dict)
    receives: tuple[str, ...] = ("inbox",)
    active: bool = True
    deadline_hours: Mapping[str, int] = field(default_factory=dict)

    def as_record(self) -> dict[str, Any]:
        """Column values of models.handover.Organisation."""
        return {
            "code": self.code,
            "name_kk": self.name_kk,
            "name_ru": self.name_ru,
            "services": list(self.services),
            "phone": self.phone,
            "email": self.email,
            "address": self.address,
            "working_hours": dict(self.working_hours),
            "receives": list(self.receives),
            "deadline_hours": dict(self.deadline_hours),
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One routing rule as the file gives it (checked); ``organisation`` is the target's code."""

    code: str
    organisation: str
    services: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    street: str | None = None
    houses: tuple[str, ...] = ()
    named_object: str | None = None
    fallback: bool = False
    active: bool = True
    note: str | None = None

    def as_record(self) -> dict[str, Any]:
        """Column values of models.handover.RoutingRule, with ``organisation`` as a code (no position)."""
        return {
            "code": self.code,
            "organisation": self.organisation,
            "services": list(self.services),
            "topics": list(self.topics),
            "districts": list(self.districts),
            "street": self.street,
            "houses": list(self.houses),
            "named_object": self.named_object,
            "fallback": self.fallback,
            "active": self.active,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Directory:
    """Every organisation and the routing table in order: what a file holds and what the database stores."""

    organisations: tuple[OrgSpec, ...]
    rules: tuple[RuleSpec, ...]

    def routing_rules(self) -> list[Rule]:
        """The table as the routing engine reads it."""
        targets = {o.code: Target(o.code, frozenset(o.services), o.active) for o in self.organisations}
        return [engine_rule(r, targets[r.organisation]) for r in self.rules]


def engine_rule(spec: RuleSpec, target: Target) -> Rule:
    """The routing engine's rule for a checked rule."""
    return Rule(
        code=spec.code,
        organisation=target,
        services=frozenset(spec.services),
        topics=frozenset(spec.topics),
        districts=frozenset(spec.districts),
        street=spec.street,
        houses=tuple(HouseRange.parse(h) for h in spec.houses),
        named_object=spec.named_object,
        fallback=spec.fallback,
        active=spec.active,
        note=spec.note,
    )


def derived_rule_code(spec: RuleSpec) -> str:
    """A stable code for a rule given without one: from its target, conditions and flags (not its position)."""
    content = {k: v for k, v in spec.as_record().items() if k not in ("code", "note", "active")}
    digest = hashlib.sha1(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"rule-{digest[:10]}"


# ----------------------------------------------------------------------------------------------- reading


@dataclass(slots=True)
class _Entry:
    where: str
    values: dict[str, Any]


def _split_list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _yaml_entries(text: str, problems: list[str]) -> tuple[list[_Entry], list[_Entry]]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(f"the file is not valid YAML: {exc}")
        return [], []
    if not isinstance(raw, dict):
        problems.append("the file must be a YAML mapping with 'organisations' and 'rules' lists")
        return [], []
    unknown = sorted(str(k) for k in raw if k not in TOP_KEYS)
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(TOP_KEYS))}")
    out: list[list[_Entry]] = []
    for section in ("organisations", "rules"):
        items = raw.get(section) or []
        entries: list[_Entry] = []
        if not isinstance(items, list):
            problems.append(f"'{section}' must be a list")
        else:
            for number, item in enumerate(items, start=1):
                where = f"{section} #{number}"
                if not isinstance(item, dict):
                    problems.append(f"{where}: must be a mapping of keys to values")
                    continue
                if item.get("code"):
                    where += f" ({item['code']})"
                entries.append(_Entry(where, {str(k): v for k, v in item.items()}))
        out.append(entries)
    return out[0], out[1]


def _csv_entries(text: str, problems: list[str]) -> tuple[list[_Entry], list[_Entry]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = reader.fieldnames or []
    if "kind" not in columns:
        problems.append(f"the CSV needs a header row with a 'kind' column; columns: {', '.join(CSV_COLUMNS)}")
        return [], []
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(CSV_COLUMNS)}")
    orgs: list[_Entry] = []
    rules: list[_Entry] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"line {line}: more cells than columns")
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None and k in CSV_COLUMNS}
        kind = cells.pop("kind", "")
        if not any(cells.values()) and not kind:
            continue
        values: dict[str, Any] = {}
        for key, cell in cells.items():
            if not cell:
                continue
            values[key] = _split_list(cell) if key in LIST_KEYS else cell
        where = f"line {line}" + (f" ({values['code']})" if values.get("code") else "")
        if kind == "organisation":
            stray = sorted(k for k in values if k not in ORG_KEYS)
            orgs.append(_Entry(where, values))
        elif kind == "rule":
            stray = sorted(k for k in values if k not in RULE_KEYS)
            rules.append(_Entry(where, values))
        else:
            problems.append(f"{where}: kind must be 'organisation' or 'rule', not {kind!r}")
            continue
        if stray:
            problems.append(f"{where}: a {kind} has no {', '.join(stray)}")
            for key in stray:
                values.pop(key)
    return orgs, rules


class _Checker:
    """Turns raw entries into checked specs, collecting every problem."""

    def __init__(self, taxonomy: Taxonomy, streets: Collection[str]) -> None:
        self.taxonomy = taxonomy
        self.streets = {normalise_name(s): s for s in streets}
        self.problems: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def text(self, entry: _Entry, key: str, *, required: bool = False) -> str | None:
        value = entry.values.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(entry.where, f"'{key}' is required")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problem(entry.where, f"'{key}' must be text")
            return None
        text = " ".join(str(value).split())
        limit = LIMITS.get(key)
        if limit is not None and len(text) > limit:
            self.problem(entry.where, f"'{key}' is longer than {limit} characters")
        return text

    def flag(self, entry: _Entry, key: str, default: bool) -> bool:
        value = entry.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        self.problem(entry.where, f"'{key}' must be true or false, not {value!r}")
        return default

    def ids(self, entry: _Entry, key: str, allowed: Mapping[str, Any] | Collection[str], kind: str) -> tuple[str, ...]:
        value = entry.values.get(key)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.problem(entry.where, f"'{key}' must be a list of {kind} ids")
            return ()
        out: list[str] = []
        for item in items:
            if item not in allowed:
                self.problem(entry.where, f"unknown {kind} {item!r}; allowed: {', '.join(sorted(allowed))}")
            elif item not in out:
                out.append(item)
        return tuple(out)

    def unknown_keys(self, entry: _Entry, allowed: tuple[str, ...]) -> None:
        unknown = sorted(k for k in entry.values if k not in allowed)
        if unknown:
            self.problem(entry.where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")

    def code(self, entry: _Entry, seen: set[str], what: str) -> str:
        code = self.text(entry, "code", required=True) or ""
        if code and not _CODE.match(code):
            self.problem(entry.where, f"code {code!r} must be lower-case latin letters, digits, '-', '_' or '.'")
        if code in seen:
            self.problem(entry.where, f"code {code!r} is used by another {what}")
        seen.add(code)
        return code

    def organisation(self, entry: _Entry, seen: set[str]) -> OrgSpec:
        self.unknown_keys(entry, ORG_KEYS)
        code = self.code(entry, seen, "organisation")
        services = self.ids(entry, "services", self.taxonomy.services, "service")
        if not entry.values.get("services"):
            self.problem(entry.where, "'services' must list the taxonomy services it serves")
        receives = self.ids(entry, "receives", RECEIVE_CHANNELS, "channel") or ("inbox",)
        email = self.text(entry, "email")
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            self.problem(entry.where, f"email {email!r} is not an e-mail address")
        try:
            hours = parse_hours(entry.values.get("hours"))
        except HoursError as exc:
            self.problem(entry.where, f"hours: {exc}")
            hours = {}
        return OrgSpec(
            code=code,
            name_kk=self.text(entry, "name_kk", required=True) or "",
            name_ru=self.text(entry, "name_ru", required=True) or "",
            services=services,
            phone=self.text(entry, "phone"),
            email=email,
            address=self.text(entry, "address"),
            working_hours=hours,
            receives=receives,
            active=self.flag(entry, "active", True),
            deadline_hours=self.deadlines(entry),
        )

    def deadlines(self, entry: _Entry) -> dict[str, int]:
        """``deadlines``: hours by priority, as a mapping (YAML) or "priority=hours" items (CSV)."""
        raw = entry.values.get("deadlines")
        if raw in (None, "", [], {}):
            return {}
        pairs: list[tuple[Any, Any]] = []
        if isinstance(raw, Mapping):
            pairs = list(raw.items())
        elif isinstance(raw, list) and all(isinstance(item, str) and "=" in item for item in raw):
            pairs = [tuple(item.split("=", 1)) for item in raw]  # type: ignore[misc]
        else:
            self.problem(entry.where, "deadlines: hours by priority, e.g. {urgent: 4, normal: 48}")
            return {}
        out: dict[str, int] = {}
        for key, value in pairs:
            name = str(key).strip()
            if name not in PRIORITIES:
                self.problem(entry.where, f"deadlines: {name!r} is not a priority; one of {', '.join(PRIORITIES)}")
                continue
            try:
                hours = int(str(value).strip())
            except ValueError:
                hours = 0
            if not 1 <= hours <= MAX_DEADLINE_HOURS or isinstance(value, bool | float):
                self.problem(entry.where, f"deadlines: {name} must be whole hours from 1 to {MAX_DEADLINE_HOURS}")
                continue
            out[name] = hours
        return out

    def rule(self, entry: _Entry, seen: set[str], orgs: Mapping[str, OrgSpec]) -> RuleSpec:
        self.unknown_keys(entry, RULE_KEYS)
        target_code = self.text(entry, "organisation", required=True)
        target = orgs.get(target_code or "")
        if target_code and target is None:
            self.problem(entry.where, f"organisation {target_code!r} is not in the file")
        services = self.ids(entry, "services", self.taxonomy.services, "service")
        topics = self.ids(entry, "topics", self.taxonomy.topics, "topic")
        districts = self.ids(entry, "districts", self.taxonomy.districts, "district")
        street = self.text(entry, "street")
        if street is not None:
            canonical = self.streets.get(normalise_name(street))
            if canonical is None:
                self.problem(entry.where, f"street {street!r} is not in the street list (use its canonical name)")
            street = canonical or street
        houses: list[str] = []
        raw_houses = entry.values.get("houses") or []
        for text in raw_houses if isinstance(raw_houses, list) else [raw_houses]:
            try:
                houses.append(str(HouseRange.parse(str(text))))
            except HouseRangeError as exc:
                self.problem(entry.where, str(exc))
        if raw_houses and street is None:
            self.problem(entry.where, "house ranges need a street")
        named_object = self.text(entry, "object")
        fallback = self.flag(entry, "fallback", False)
        if fallback and (topics or districts or street or houses or named_object or not services):
            self.problem(entry.where, "a fallback rule names services and nothing else")
        if not fallback and not (services or topics or districts or street or named_object):
            self.problem(entry.where, "a rule needs at least one condition (or 'fallback: true' with services)")
        if target is not None:
            for service in services:
                if service not in target.services:
                    self.problem(entry.where, f"{target.code} does not serve {service} (add it to its services)")
            if not services:
                for topic in topics:
                    owner = self.taxonomy.topics[topic].service
                    if owner and owner not in target.services:
                        self.problem(
                            entry.where, f"topic {topic} belongs to {owner}, which {target.code} does not serve"
                        )
        spec = RuleSpec(
            code="",
            organisation=target_code or "",
            services=services,
            topics=topics,
            districts=districts,
            street=street,
            houses=tuple(houses),
            named_object=named_object,
            fallback=fallback,
            active=self.flag(entry, "active", True),
            note=self.text(entry, "note"),
        )
        if not entry.values.get("code"):
            entry.values["code"] = derived_rule_code(spec)
        return replace(spec, code=self.code(entry, seen, "rule"))

    def fallbacks(self, rules: Iterable[tuple[str, RuleSpec]]) -> None:
        owner: dict[str, str] = {}
        for where, rule in rules:
            if not (rule.fallback and rule.active):
                continue
            for service in rule.services:
                if service in owner:
                    self.problem(where, f"service {service} already has a fallback ({owner[service]}); one at most")
                owner.setdefault(service, rule.code)


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "contains the NUL character, which cannot be stored"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains an unpaired surrogate, which is not text"
    return None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _unstorable_values(entries: Iterable[_Entry]) -> list[str]:
    problems = []
    for entry in entries:
        for key, value in entry.values.items():
            why = next((w for w in map(_unstorable, _strings(value)) if w), None)
            if why:
                problems.append(f"{entry.where}: '{key}' {why}")
    return problems


def _yaml_aliases(text: str) -> list[str]:
    """YAML aliases ("*name") let a few lines stand for gigabytes: the organisations file may not use them."""
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark is not None else 0
                return [f"line {line}: YAML aliases (*{event.anchor}) are not allowed; write the value out"]
    except (yaml.YAMLError, RecursionError):
        return []  # the parse below names the YAML error
    return []


def _entries(text: str, fmt: str, problems: list[str]) -> tuple[list[_Entry], list[_Entry]]:
    if fmt == "yaml":
        aliases = _yaml_aliases(text)
        if aliases:
            problems.extend(aliases)
            return [], []
        return _yaml_entries(text, problems)
    return _csv_entries(text, problems)


def read_directory(text: str, *, fmt: str, taxonomy: Taxonomy, streets: Collection[str]) -> Directory:
    """Parse a ``fmt`` ("yaml" or "csv") organisations file and check it all; raises OrgFileError."""
    if fmt not in ("yaml", "csv"):
        raise ValueError(f"unknown format {fmt!r}; yaml or csv")
    problems: list[str] = []
    try:
        org_entries, rule_entries = _entries(text, fmt, problems)
    except RecursionError:
        raise OrgFileError(["the file nests too deeply to be an organisations file"]) from None
    except csv.Error as exc:
        raise OrgFileError([f"the file is not valid CSV: {exc}"]) from None
    unstorable = _unstorable_values([*org_entries, *rule_entries])
    if unstorable:
        raise OrgFileError(unstorable)
    checker = _Checker(taxonomy, streets)
    checker.problems = problems
    org_codes: set[str] = set()
    orgs = [checker.organisation(e, org_codes) for e in org_entries]
    by_code = {o.code: o for o in orgs if o.code}
    rule_codes: set[str] = set()
    checked = [(e.where, checker.rule(e, rule_codes, by_code)) for e in rule_entries]
    checker.fallbacks(checked)
    if not orgs and not problems:
        problems.append("the file has no organisations")
    if problems:
        raise OrgFileError(problems)
    return Directory(tuple(orgs), tuple(rule for _, rule in checked))


def format_of(filename: str) -> str:
    """The file format by its name: "csv" for .csv, else "yaml"."""
    return "csv" if filename.lower().endswith(".csv") else "yaml"


# ----------------------------------------------------------------------------------------------- writing


def _org_fields(org: OrgSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"code": org.code, "name_kk": org.name_kk, "name_ru": org.name_ru}
    out["services"] = list(org.services)
    for key in ("phone", "email", "address"):
        if getattr(org, key):
            out[key] = getattr(org, key)
    if org.working_hours:
        out["hours"] = format_hours(org.working_hours)
    out["receives"] = list(org.receives)
    if org.deadline_hours:
        out["deadlines"] = {p: org.deadline_hours[p] for p in PRIORITIES if p in org.deadline_hours}
    if not org.active:
        out["active"] = False
    return out


def _rule_fields(rule: RuleSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"code": rule.code, "organisation": rule.organisation}
    for key in ("services", "topics", "districts"):
        if getattr(rule, key):
            out[key] = list(getattr(rule, key))
    if rule.street:
        out["street"] = rule.street
    if rule.houses:
        out["houses"] = list(rule.houses)
    if rule.named_object:
        out["object"] = rule.named_object
    if rule.fallback:
        out["fallback"] = True
    if not rule.active:
        out["active"] = False
    if rule.note:
        out["note"] = rule.note
    return out


def write_yaml(directory: Directory, *, title: str | None = None) -> str:
    """The directory as the YAML organisations file."""
    data: dict[str, Any] = {"version": 1}
    if title:
        data["title"] = title
    data["organisations"] = [_org_fields(o) for o in directory.organisations]
    data["rules"] = [_rule_fields(r) for r in directory.rules]
    text: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    return text


def write_csv(directory: Directory) -> str:
    """The directory as the CSV organisations file (one ``kind`` column, lists joined with "; ")."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = [("organisation", _org_fields(o)) for o in directory.organisations]
    rows += [("rule", _rule_fields(r)) for r in directory.rules]
    for kind, fields in rows:
        row = {"kind": kind}
        for key, value in fields.items():
            if isinstance(value, list):
                row[key] = "; ".join(value)
            elif isinstance(value, dict):
                row[key] = "; ".join(f"{k}={v}" for k, v in value.items())
            elif isinstance(value, bool):
                row[key] = "true" if value else "false"
            else:
                row[key] = str(value)
        writer.writerow(row)
    return buffer.getvalue()
