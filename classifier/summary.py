"""A one-line card summary a person can read: topic name, address and the caller's key phrase, in their language."""

from __future__ import annotations

from classifier.base import Address
from core.taxonomy import Taxonomy

MAX_PHRASE_WORDS = 12


def format_address(address: Address, language: str, taxonomy: Taxonomy) -> str:
    """"проспект Абая 12/1, кв. 5" (or the Kazakh wording); empty when nothing is known."""
    kk = language == "kk"
    parts: list[str] = []
    place = " ".join(p for p in (address.street, address.house) if p)
    if address.house and not address.street:
        place = f"{address.house} үй" if kk else f"дом {address.house}"
    if place:
        parts.append(place)
    if address.building:
        parts.append(f"{address.building} блок" if kk else f"корп. {address.building}")
    if address.apartment:
        parts.append(f"{address.apartment} пәтер" if kk else f"кв. {address.apartment}")
    if address.district and address.district in taxonomy.districts:
        name = taxonomy.districts[address.district].name("kk" if kk else "ru")
        parts.append(f"{name} ауданы" if kk else f"район {name}")
    if address.landmark:
        parts.append(address.landmark if kk else f"ориентир: {address.landmark}")
    return ", ".join(parts)


def make_summary(topic: str, address: Address, phrase: str, language: str, taxonomy: Taxonomy) -> str:
    """Topic name + address + key phrase, e.g. "Нет горячей воды — проспект Абая 12: «с утра нет горячей воды»"."""
    lang = "kk" if language == "kk" else "ru"
    name = taxonomy.topics[topic].name(lang) if topic in taxonomy.topics else topic
    text = name.split(";")[0].strip()  # the display name's first clause ("Нет газа, давление, газовый счётчик")
    where = format_address(address, lang, taxonomy)
    if where:
        text += f" — {where}"
    words = phrase.split()
    if words:
        snippet = " ".join(words[:MAX_PHRASE_WORDS])
        if len(words) > MAX_PHRASE_WORDS:
            snippet += " …"
        text += f": «{snippet}»"
    return text
