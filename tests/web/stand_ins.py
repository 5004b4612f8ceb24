"""Stand-ins used by the browser tests only while the real part is not in the tree yet (the tests say which
they used): a keyword card proposer and a transfer that records what it was asked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from classifier.base import Address, CardProposal, EmergencyHint, HeardWord, HouseStatus, Scored
from core.taxonomy import Taxonomy

# (words in the text, topic, emergency)
RULES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("запах газа", "пахнет газом", "газ иісі"), "gas_supply", "104"),
    (("горячей воды", "горячая вода", "ыстық су"), "hot_water", "none"),
    (("батаре", "отоплен", "жылу"), "heating", "none"),
    (("лифт",), "elevator", "none"),
)
# A house said in digits is heard; a house said in any other word ("дом двенацать") is one it could not read.
ADDRESS = re.compile(
    r"улица\s+(?P<street>[\w-]+)\s+дом\s+(?:(?P<house>\d+)|(?P<unread>[^\W\d]+))(?:\s+квартира\s+(?P<apt>\d+))?",
    re.I,
)


class _Scorer:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.texts: list[str] = []
        self.last: CardProposal | None = None

    def _match(self, text: str) -> tuple[str, str] | None:
        low = text.lower()
        for words, topic, emergency in RULES:
            if any(w in low for w in words):
                return topic, emergency
        return None

    def add_final(self, text: str, words: Sequence[HeardWord] = ()) -> CardProposal:
        self.texts.append(text)
        whole = " ".join(self.texts)
        topic, emergency = self._match(whole) or ("information", "none")
        m = ADDRESS.search(whole)
        address = Address(street=m["street"], house=m["house"], apartment=m["apt"]) if m else Address()
        house_status = HouseStatus.ABSENT
        if m:
            house_status = HouseStatus.HEARD if m["house"] else HouseStatus.UNCERTAIN
        others = [t for t in ("heating", "hot_water", "water_supply") if t != topic][:2]
        self.last = CardProposal(
            topic=topic,
            service=self.taxonomy.service_for(topic),
            emergency=emergency,
            language="ru",
            address=address,
            summary=self.texts[0][:200],
            confidence={"topic": 0.86, "service": 0.86, "emergency": 0.97 if emergency != "none" else 0.9},
            alternatives={
                "topic": (Scored(topic, 0.86), *(Scored(t, 0.05) for t in others)),
                "service": (Scored(self.taxonomy.service_for(topic), 0.86),),
            },
            model_version="keyword-stand-in",
            house_status=house_status,
        )
        return self.last

    def check_partial(self, text: str) -> EmergencyHint:
        found = self._match(text)
        if found and found[1] != "none":
            return EmergencyHint(emergency=found[1], confidence=0.95, evidence=text)
        return EmergencyHint(emergency="none")

    def proposal(self) -> CardProposal | None:
        return self.last


class KeywordProposer:
    """A CardProposer that reads a few keywords (only while the trained classifier is not shipped)."""

    version = "keyword-stand-in"

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def propose(self, text: str) -> CardProposal:
        return self.open_call().add_final(text)

    def open_call(self) -> _Scorer:
        return _Scorer(self.taxonomy)


@dataclass
class RecordingTransfer:
    """A CallTransfer that records each transfer (only while telephony's AriTransfer is not in the tree)."""

    done: list[tuple[str, str]] = field(default_factory=list)

    async def transfer(self, *, uniqueid: str, code: str) -> str:
        self.done.append((uniqueid, code))
        return f"emergency,{code},1"
