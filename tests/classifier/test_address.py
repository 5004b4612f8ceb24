"""Address extraction from Russian, Kazakh and mixed speech against the shipped street list."""

from __future__ import annotations

import pytest

from classifier.address import AddressExtractor, StreetIndex
from classifier.normalize import tokens


@pytest.fixture(scope="module")
def extractor() -> AddressExtractor:
    return AddressExtractor(StreetIndex.load())


@pytest.mark.parametrize(
    ("text", "street", "house", "apartment"),
    [
        ("на кенесары сорок пять вода течет", "проспект Кенесары", "45", None),
        ("кенесары көшесінде су жоқ", "проспект Кенесары", None, None),
        ("на абая дом двенадцать дробь один квартира пять", "проспект Абая", "12/1", "5"),
        ("абай даңғылы он екінші үй", "проспект Абая", "12", None),
        ("абая двадцать три", "проспект Абая", "23", None),
        ("тұран даңғылы тоқсан бір үй қырық екінші пәтер суық су жоқ", "проспект Туран", "91", "42"),
        ("алло бізде су жоқ жұбанов көшесі он бір бөлшек екі", "улица Ахмета Жубанова", "11/2", None),
        ("сәлеметсіз бе мен бөгенбай батыр даңғылы елу алтыда тұрамын", "проспект Богенбай батыра", "56", None),
        ("на жеңіс пятьдесят один канализация течёт", "проспект Победы", "51", None),
        ("здравствуйте на республике шестьдесят восемь вода из земли", "проспект Республики", "68", None),
        ("в третьем микрорайоне возле школы", "микрорайон 3", None, None),
        ("бесінші шағын ауданда су құбыры жарылды", "микрорайон 5", None, None),
        ("тұранда кәріз құдығы толып жатыр", "проспект Туран", None, None),
        ("дом пять а квартира три", None, "5А", "3"),
        ("на кенес ары сорок пять", "проспект Кенесары", "45", None),  # an ASR split
        ("на кенесарры сорок пять", "проспект Кенесары", "45", None),  # a misheard letter
    ],
)
def test_street_house_apartment(extractor: AddressExtractor, text: str, street: str | None, house: str | None,
                                apartment: str | None) -> None:
    a = extractor.extract(tokens(text))
    assert (a.street, a.house, a.apartment) == (street, house, apartment)


def test_district_vs_avenue(extractor: AddressExtractor) -> None:
    assert extractor.extract(tokens("сарыарқа ауданы су жоқ")).district == "saryarka"
    assert extractor.extract(tokens("сарыарқа ауданы су жоқ")).street is None
    assert extractor.extract(tokens("на сарыарке во дворе вода течёт")).street == "проспект Сарыарка"
    assert extractor.extract(tokens("в байконуре у нас канализация")).district == "baikonur"
    assert extractor.extract(tokens("в есильском районе нет света")).district == "yesil"


def test_landmarks(extractor: AddressExtractor) -> None:
    assert extractor.extract(tokens("у остановки вода течёт")).landmark == "остановка"
    assert extractor.extract(tokens("мектептің жанында су ағып жатыр")).landmark == "мектептің жаны"
    assert extractor.extract(tokens("возле магазина яма")).landmark == "магазин"


def test_building(extractor: AddressExtractor) -> None:
    a = extractor.extract(tokens("кабанбай батыра сорок корпус два квартира семь"))
    assert (a.street, a.house, a.building, a.apartment) == ("проспект Кабанбай батыра", "40", "2", "7")
    assert extractor.extract(tokens("блок б пятый подъезд")).building == "Б"


def test_common_words_are_not_streets(extractor: AddressExtractor) -> None:
    # "мира", "желтоксан" are also ordinary words: without a street word or a number they stay unread
    assert extractor.extract(tokens("желтоқсан айында жылу болмады")).street is None
    assert extractor.extract(tokens("во всем мире так")).street is None
    assert extractor.extract(tokens("у нас три дня нет воды")).house is None


def test_scan_from_a_start_reads_only_the_tail(extractor: AddressExtractor) -> None:
    toks = tokens("ну вот значит у нас на кенесары сорок пять квартира двенадцать")
    full = extractor.mentions(toks)
    tail = extractor.mentions(toks, 5)
    assert [m for m in full if m.start >= 5] == tail
