"""The taxonomy's services as Open311 services, and the topic a request of a service gets.

``service_code`` is the taxonomy's service id; ``service_name`` its name in the asked locale; ``description`` the
names of its topics; ``keywords`` its topic ids; ``group`` one of a few groups (GROUPS; a service the city adds
later falls in "other"). Every service is ``realtime`` (a request gets its registration number at once) with
``metadata`` false (no attributes).
"""

from __future__ import annotations

from api.open311.schemas import Service
from core.taxonomy import Entry, Taxonomy

# group id -> (ru, kk), and the taxonomy services in it.
GROUP_NAMES: dict[str, tuple[str, str]] = {
    "utilities": ("Коммунальные услуги", "Коммуналдық қызметтер"),
    "housing": ("Жилищный фонд", "Тұрғын үй қоры"),
    "city": ("Городское хозяйство", "Қала шаруашылығы"),
    "social": ("Социальная сфера", "Әлеуметтік сала"),
    "hotline": ("Служба 109 и экстренные службы", "109 қызметі және шұғыл қызметтер"),
    "other": ("Другое", "Басқа"),
}
GROUPS: dict[str, str] = {
    "water_utility": "utilities",
    "heating_utility": "utilities",
    "power_utility": "utilities",
    "gas_utility": "utilities",
    "housing_inspection": "housing",
    "monitoring_coordination": "city",
    "roads": "city",
    "public_transport": "city",
    "city_cleaning": "city",
    "ecology": "city",
    "landscaping": "city",
    "animal_control": "city",
    "district_akimat": "social",
    "health": "social",
    "education": "social",
    "social_protection": "social",
    "contact_center": "hotline",
    "emergency_services": "hotline",
}


def topics_of(taxonomy: Taxonomy, service: str) -> list[Entry]:
    """The topics whose default service is ``service``, in the taxonomy's order."""
    return [topic for topic in taxonomy.topics.values() if topic.service == service]


def topic_for_request(taxonomy: Taxonomy, service: str) -> str | None:
    """The topic a request of ``service`` is registered under: the service's first topic in the taxonomy (its
    deadline is that topic's). None when the service has no topic: such a service takes no requests (a card needs a
    topic)."""
    topics = topics_of(taxonomy, service)
    return topics[0].id if topics else None


def group_name(service: str, locale: str) -> str:
    ru, kk = GROUP_NAMES[GROUPS.get(service, "other")]
    return kk if locale == "kk" else ru


def as_service(taxonomy: Taxonomy, entry: Entry, locale: str) -> Service:
    topics = topics_of(taxonomy, entry.id)
    return Service(
        service_code=entry.id,
        service_name=entry.name(locale),
        description="; ".join(topic.name(locale) for topic in topics) or entry.name(locale),
        keywords=",".join(topic.id for topic in topics),
        group=group_name(entry.id, locale),
    )


def service_list(taxonomy: Taxonomy, locale: str) -> list[Service]:
    """Every taxonomy service, in the taxonomy's order."""
    return [as_service(taxonomy, entry, locale) for entry in taxonomy.services.values()]
