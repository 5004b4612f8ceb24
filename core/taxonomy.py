"""Load and validate taxonomy.yaml (topics, services, emergency codes, districts) into frozen objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from core.errors import TaxonomyError
from core.types import NO_EMERGENCY

EMERGENCY_CODES = ("101", "102", "103", "104")


@dataclass(frozen=True, slots=True)
class Entry:
    """One vocabulary item: a stable id and its display names."""

    id: str
    ru: str
    kk: str
    service: str | None = None  # topics only: the default service
    means: str | None = None  # emergency codes only

    def name(self, lang: str) -> str:
        """Display name in ``lang`` ("kk" or "ru"), Russian as the fallback."""
        return self.kk if lang == "kk" else self.ru


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """The card vocabulary. Ids are API values; names are for people."""

    version: int
    emergency: dict[str, Entry]
    services: dict[str, Entry]
    topics: dict[str, Entry]
    districts: dict[str, Entry]
    deadlines_hours: dict[str, int] = field(default_factory=dict)
    source: str = ""

    def service_for(self, topic: str) -> str:
        """The default service that owns ``topic``."""
        try:
            service = self.topics[topic].service
        except KeyError as exc:
            raise TaxonomyError(f"unknown topic id {topic!r}") from exc
        assert service is not None
        return service

    def deadline_hours(self, topic: str) -> int:
        """Hours a card of ``topic`` has before it is due (per-topic, with a default)."""
        return self.deadlines_hours.get(topic, self.deadlines_hours.get("default", 72))

    def check(self, kind: str, value: str | None) -> None:
        """Raise TaxonomyError unless ``value`` is an id of ``kind`` (topic/service/emergency/district)."""
        if value is None:
            return
        table = {
            "topic": self.topics,
            "service": self.services,
            "emergency": self.emergency,
            "district": self.districts,
        }[kind]
        if value not in table:
            raise TaxonomyError(f"unknown {kind} id {value!r}; allowed: {', '.join(sorted(table))}")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (for the API and the browser)."""

        def dump(entries: dict[str, Entry]) -> list[dict[str, Any]]:
            out = []
            for e in entries.values():
                item: dict[str, Any] = {"id": e.id, "ru": e.ru, "kk": e.kk}
                if e.service:
                    item["service"] = e.service
                if e.means:
                    item["means"] = e.means
                out.append(item)
            return out

        return {
            "version": self.version,
            "emergency": dump(self.emergency),
            "services": dump(self.services),
            "topics": dump(self.topics),
            "districts": dump(self.districts),
        }


def _entries(raw: Any, section: str) -> dict[str, Entry]:
    if not isinstance(raw, dict) or not raw:
        raise TaxonomyError(f"taxonomy section {section!r} must be a non-empty mapping")
    out: dict[str, Entry] = {}
    for key, value in raw.items():
        ident = str(key)
        if not isinstance(value, dict) or not value.get("ru") or not value.get("kk"):
            raise TaxonomyError(f"{section}.{ident}: needs 'ru' and 'kk' names")
        out[ident] = Entry(
            id=ident,
            ru=str(value["ru"]),
            kk=str(value["kk"]),
            service=str(value["service"]) if value.get("service") else None,
            means=str(value["means"]) if value.get("means") else None,
        )
    return out


def parse_taxonomy(text: str, *, deadlines_text: str | None = None, source: str = "") -> Taxonomy:
    """Parse and validate taxonomy YAML text (and optional deadlines YAML)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"taxonomy {source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TaxonomyError(f"taxonomy {source}: top level must be a mapping")
    emergency = _entries(raw.get("emergency"), "emergency")
    services = _entries(raw.get("services"), "services")
    topics = _entries(raw.get("topics"), "topics")
    districts = _entries(raw.get("districts"), "districts")
    missing = {NO_EMERGENCY, *EMERGENCY_CODES} - set(emergency)
    if missing:
        raise TaxonomyError(f"taxonomy {source}: emergency codes missing: {sorted(missing)}")
    for topic in topics.values():
        if topic.service is None:
            raise TaxonomyError(f"topics.{topic.id}: needs a 'service'")
        if topic.service not in services:
            raise TaxonomyError(f"topics.{topic.id}: service {topic.service!r} is not in services")
    deadlines: dict[str, int] = {}
    if deadlines_text:
        raw_d = yaml.safe_load(deadlines_text) or {}
        for key, hours in (raw_d.get("hours") or {}).items():
            if key != "default" and key not in topics:
                raise TaxonomyError(f"deadlines: {key!r} is not a topic id")
            if not isinstance(hours, int) or hours <= 0:
                raise TaxonomyError(f"deadlines: {key}: hours must be a positive integer")
            deadlines[str(key)] = hours
    return Taxonomy(
        version=int(raw.get("version", 1)),
        emergency=emergency,
        services=services,
        topics=topics,
        districts=districts,
        deadlines_hours=deadlines,
        source=source,
    )


def bundled_path(name: str = "taxonomy.yaml") -> Path:
    """Path of a data file shipped inside the package (core/data)."""
    return Path(str(resources.files("core") / "data" / name))


def load_taxonomy(path: Path | None = None, deadlines_path: Path | None = None) -> Taxonomy:
    """Load the site's taxonomy (or the bundled one) and per-topic deadlines."""
    tax_path = path or bundled_path("taxonomy.yaml")
    dl_path = deadlines_path or bundled_path("deadlines.yaml")
    try:
        text = tax_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy {tax_path}: {exc}") from exc
    deadlines_text = dl_path.read_text(encoding="utf-8") if dl_path.exists() else None
    return parse_taxonomy(text, deadlines_text=deadlines_text, source=str(tax_path))
