"""Addresses read from damaged transcripts: glued and split words, misheard letters, fillers, unsure house numbers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from classifier.address import CORRECTED_STRENGTH, AddressExtractor, HouseStatus, StreetIndex, heard_tokens
from classifier.base import HeardWord
from classifier.corpus import default_corpus_dir, load_split
from classifier.normalize import tokens
from classifier.token_repair import common_words, common_words_path, write_vocabulary
from core.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def extractor() -> AddressExtractor:
    return AddressExtractor(StreetIndex.load())


@pytest.mark.parametrize(
    ("heard", "street", "house"),
    [
        # glued words
        ("кенесарықырық бес су жоқ", "проспект Кенесары", "45"),
        ("на кошкарбаевадвенадцать квартира пять", "проспект Рахымжана Кошкарбаева", "12"),
        ("қабанбай батыр елуүш диспетчер жауап бермейді", "проспект Кабанбай батыра", "53"),
        ("балам бесіншіүй бараев көшесі", "улица Бараева", "5"),
        # split words
        ("на мангилик ел двад цать контейнеры", "проспект Мангилик Ел", "20"),
        ("на кенес ары сорок пять", "проспект Кенесары", "45"),
        # letters: voicing, vowels, Kazakh letters written as Russian ones
        ("кинисары кошесинде он екі су жоқ", "проспект Кенесары", "12"),
        ("бөгенбай батыр даңғылы жиырма без", "проспект Богенбай батыра", "25"),
        ("кенесары көшесі ан бір үй", "проспект Кенесары", "11"),
        ("на абая двинадцать вода течет", "проспект Абая", "12"),
        ("абая сорак пять", "проспект Абая", "45"),
        ("на кабанбай батира сорок", "проспект Кабанбай батыра", "40"),
        ("жубанов кошеси он бир бөлшек еки", "улица Ахмета Жубанова", "11/2"),
        ("сейфуллин көшесі жиырма жетинин алдында", "улица Сейфуллина", "27"),
        ("на сыганак сигизинши уй", "улица Сыганак", "8"),
        # fillers between the street and the number
        ("на кенесары ээ ну әлгі сорок пять", "проспект Кенесары", "45"),
        ("иә тұран даңғылы мм тоқсан бір үй", "проспект Туран", "91"),
        ("әуезов он эм екі жертөледе түтін", "улица Ауэзова", "12"),  # a filler inside the number
        # a number word glued to an ordinary word of the vocabulary
        ("әуезов он екіжертөледе бірдеңе жанып жатыр", "улица Ауэзова", "12"),
        ("сығанақ он сегізгеқашан орнатады", "улица Сыганак", "18"),
        ("на сыганак у дома пятьлюк открыт", "улица Сыганак", "5"),
        ("на жубанова дом девятьотопление не дали", "улица Ахмета Жубанова", "9"),
        # a street word glued to an ordinary word, a street glued to its (misspelt) keyword
        ("көп балалы анамынжангелдин үш пәтер жиырма бір", "улица Жангельдина", "3"),
        ("тұрандангылы отыз алтыншы үй", "проспект Туран", "36"),
        # the second word of a name heard by sound, a short first word when the rest of the name follows
        ("дом семь по хусейн пен талал", "улица Хусейн бен Талал", "7"),
        ("возле дома сорок на күйші тина контейнеры", "улица Куйши Дина", "40"),
        ("лифт герей жанибек хандар двадцать восемь", "улица Керей, Жанибек хандар", "28"),
        # a long name with its ending cut
        ("сейфулли отыз аулада контейнер жоқ", "улица Сейфуллина", "30"),
        ("на сейфулли тридцать", "улица Сейфуллина", "30"),
        ("соседка на бигяльдино тридцать", "улица Бигельдинова", "30"),  # cut and misheard
        ("мирзоян ан пір машина соғып кетті", "улица Мирзояна", "11"),  # он бір, both words misheard
        # short number words misheard where a keyword or a street asks for a number
        ("жұбанов отіз үй подвал", "улица Ахмета Жубанова", "30"),
        ("мұхамедханов олты үйдің ауласы", "улица Кайыма Мухамедханова", "6"),
        ("жангелдин үж пәтер жиырма бір", "улица Жангельдина", "3"),
        ("на майлина сямь горячая вода", "улица Бейимбета Майлина", "7"),
        ("рысқұлов алды подъездте", "улица Рыскулова", "6"),
        ("жеңіс даңғылы жүз быр үйінде", "проспект Победы", "101"),
    ],
)
def test_street_and_house_survive_recognition_errors(
    extractor: AddressExtractor, heard: str, street: str, house: str
) -> None:
    reading = extractor.read(tokens(heard))
    assert (reading.address.street, reading.address.house, reading.house_status) == (street, house, HouseStatus.HEARD)


def test_microdistricts_with_russian_letters_and_misheard_keywords(extractor: AddressExtractor) -> None:
    assert extractor.extract(tokens("бесинши шагын ауданда су жоқ")).street == "микрорайон 5"
    assert extractor.extract(tokens("жасдар шағін ауданы подъезд лас")).street == "микрорайон Молодежный"
    a = extractor.extract(tokens("жетінші шагын он төртінші үй су жоқ"))  # "аудан" dropped: "он" stays the house's
    assert (a.street, a.house) == ("микрорайон 7", "14")


def test_a_house_number_heard_only_approximately_is_uncertain(extractor: AddressExtractor) -> None:
    reading = extractor.read(tokens("на абая дом двенацать"))  # one letter lost: 12? 13?
    assert (reading.address.street, reading.address.house, reading.house_status) == (
        "проспект Абая",
        None,
        HouseStatus.UNCERTAIN,
    )


def test_a_house_number_said_with_low_confidence_is_uncertain(extractor: AddressExtractor) -> None:
    toks = tokens("на абая двенадцать квартира пять")
    sure = extractor.read(toks, [0.9, 0.9, 0.9, 0.9, 0.9])
    unsure = extractor.read(toks, [0.9, 0.9, 0.3, 0.9, 0.9])
    assert (sure.address.house, sure.house_status) == ("12", HouseStatus.HEARD)
    assert (unsure.address.street, unsure.address.house, unsure.house_status) == (
        "проспект Абая",
        None,
        HouseStatus.UNCERTAIN,
    )
    assert unsure.address.apartment == "5"


def test_heard_words_give_tokens_with_their_confidences(extractor: AddressExtractor) -> None:
    words = [
        HeardWord("На", 0.9),
        HeardWord("Кенесары,", 0.8),
        HeardWord("эээ", 0.4),
        HeardWord("сорок", 0.3),
        HeardWord("пять", 0.9),
    ]
    toks, conf = heard_tokens(words)
    assert (toks, conf) == (["на", "кенесары", "сорок", "пять"], [0.9, 0.8, 0.3, 0.9])
    assert extractor.read(toks, conf).house_status is HouseStatus.UNCERTAIN


def test_no_house_said_is_absent_not_uncertain(extractor: AddressExtractor) -> None:
    for text in ("на абая без воды", "на абая он сказал что придет", "в третьем микрорайоне возле школы"):
        reading = extractor.read(tokens(text))
        assert reading.address.street is not None
        assert (reading.address.house, reading.house_status) == (None, HouseStatus.ABSENT), text


def test_ordinary_words_are_not_misheard_as_keywords_or_numbers(extractor: AddressExtractor) -> None:
    # "батыр" sounds like "пәтер", "возле дома" like a number before "дома", "керек" like "қырық"
    assert extractor.extract(tokens("қабанбай батыр елу үш")).house == "53"
    assert extractor.extract(tokens("на бараева возле дома сорок восемь")).house == "48"
    assert extractor.extract(tokens("газ жүргізу керек қосшыда қайда")).house is None


def test_common_words_of_the_corpus_do_not_become_streets(extractor: AddressExtractor, taxonomy: Taxonomy) -> None:
    counts: Counter[str] = Counter()
    for example in load_split(default_corpus_dir(), "train", taxonomy):
        counts.update(tokens(example.text))
    words = [w for w, n in counts.items() if n >= 3 and not extractor.streets.is_street_word(w)]
    assert len(words) > 2000
    # beside a house number, the strongest cue a street may come without a street word
    invented = {w: extractor.extract([w, "сорок", "пять"]).street for w in words}
    assert {w: s for w, s in invented.items() if s is not None} == {}


def test_rescanning_a_tail_finds_what_the_whole_scan_finds(extractor: AddressExtractor) -> None:
    toks = tokens("ну вот значит у нас ээ на кенесарықырық бес квартира двенадцать и ещё двад цать")
    full = extractor.mentions(toks)
    for start in range(len(toks)):
        assert [m for m in full if m.start >= start] == extractor.mentions(toks, start)


@pytest.mark.parametrize(
    "heard",
    [
        "бірақ үшін онда ешкім келмеді",  # ordinary words that start with a number word are not split
        "мен үшін бірақ сегодня никто",
        "сегодня онда опять не работает",
        "мектептің алды лас",  # "алды" is алты only right after a street
        "кирпич сорок пять",  # a word is not a long name cut short
        "сами не достанем",  # "достанем" is not a street word glued to a word
    ],
)
def test_repairs_invent_no_street_and_no_number(extractor: AddressExtractor, heard: str) -> None:
    address = extractor.extract(tokens(heard))
    assert (address.street, address.house) == (None, None)


def test_only_unknown_words_are_split_at_a_number(extractor: AddressExtractor) -> None:
    split = extractor.repair.split
    assert split("екіжертөледе") == ["екі", "жертөледе"]
    assert split("девятьотопление") == ["девять", "отопление"]
    assert split("бірақ") == ["бірақ"]  # a common word
    assert split("онсыз") == ["онсыз"]  # "он" beside an ordinary word is too often a word's start


def test_the_shipped_common_words_are_the_training_words_seen_three_times(tmp_path: Path) -> None:
    out = tmp_path / "common_words.txt"
    count = write_vocabulary(out)
    assert count > 2000
    assert out.read_text(encoding="utf-8") == common_words_path().read_text(encoding="utf-8")
    assert {"бірақ", "үшін", "онда", "сегодня", "жертөледе", "отопление"} <= common_words()


@pytest.mark.parametrize(
    ("heard", "street", "house"),
    [
        ("сейфуллина тридцать один нет не тридцать один а тридцать три", "улица Сейфуллина", "33"),
        ("на абая двадцать ой нет двадцать пять", "проспект Абая", "25"),
        ("улица сейфуллина дом семь простите точнее девять", "улица Сейфуллина", "9"),
        ("қонаев көшесі он төрт үй жоқ кешіріңіз он бес үй", "улица Кунаева", "15"),
        ("бөгенбай батыр даңғылы жиырма жоқ жиырма үш", "проспект Богенбай батыра", "23"),
        ("сейфуллин он екі дұрысы он үш үй", "улица Сейфуллина", "13"),
        ("мәскеу көшесі он төрт үй ой извините не он төрт а қырық үй", "улица Московская", "40"),  # mixed
        ("на абая жиырма жоқ двадцать пять", "проспект Абая", "25"),  # mixed
        ("на абая дом двадцать ой извините двадцать пять квартира сорок", "проспект Абая", "25"),
        ("на абая двадцать нет двадцать пять нет двадцать шесть", "проспект Абая", "26"),  # corrected twice
    ],
)
def test_a_corrected_house_number_wins(extractor: AddressExtractor, heard: str, street: str, house: str) -> None:
    reading = extractor.read(tokens(heard))
    assert (reading.address.street, reading.address.house, reading.house_status) == (street, house, HouseStatus.HEARD)


@pytest.mark.parametrize(
    ("heard", "house", "apartment"),
    [
        ("на абая двадцать квартира пять", "20", "5"),  # no correction word: as before
        ("на абая двадцать двадцать пять", "20", None),
        ("на абая двадцать нет квартира пять", "20", "5"),  # a correction word, but an apartment follows
        ("на абая двадцать ой пять квартира", "20", "5"),
        ("на абая двадцать нет двадцать пять квартира", "20", "25"),
        ("қонаев көшесі он төрт үй жоқ он бес пәтер", "14", "15"),
        ("на абая двадцать нет воды сорок минут", "20", None),
        ("на абая двадцать нет света пять дней", "20", None),
        ("абай даңғылы жиырма үй жоқ бес жаста бала", "20", None),
    ],
)
def test_numbers_that_are_no_correction_keep_their_reading(
    extractor: AddressExtractor, heard: str, house: str | None, apartment: str | None
) -> None:
    address = extractor.extract(tokens(heard))
    assert (address.house, address.apartment) == (house, apartment)


@pytest.mark.parametrize(
    ("heard", "street", "house", "apartment"),
    [
        ("дом шесть на акжол", "улица Акжол", "6", None),
        ("квартира пятнадцать дом шесть на акжол", "улица Акжол", "6", "15"),
        ("дом сорок три на габдуллина", "улица Габдуллина", "43", None),
        ("дом сорок три улица габдуллина", "улица Габдуллина", "43", None),
        ("дом семнадцать по карасай батыра", "улица Карасай батыра", "17", None),
        ("он алтыншы үй бейбітшілік көшесінде", "улица Бейбитшилик", "16", None),
        ("үй нөмірі жеті абай даңғылы", "проспект Абая", "7", None),
        ("үй нөмірі жеті на абая", "проспект Абая", "7", None),  # mixed
    ],
)
def test_a_house_number_said_before_the_street(
    extractor: AddressExtractor, heard: str, street: str, house: str, apartment: str | None
) -> None:
    address = extractor.extract(tokens(heard))
    assert (address.street, address.house, address.apartment) == (street, house, apartment)


@pytest.mark.parametrize(
    "heard",
    [
        "нет воды сорок минут",
        "я дома один с ребенком на абая",
        "мы дома два дня на абая",
        "я дома пять часов на абая",
        "домой пришел в семь на абая",
        "дом пять этажей на абая",
        "мне сорок лет живу на абая",
        "үйде отырмын жеті күн абай даңғылы",
        "мен үйде бес күн отырмын абай даңғылы",
    ],
)
def test_home_floors_times_and_ages_are_no_house(extractor: AddressExtractor, heard: str) -> None:
    assert extractor.extract(tokens(heard)).house is None


@pytest.mark.parametrize(
    "heard",
    [
        "ну вот на абая двадцать ой нет двадцать пять квартира сорок и ещё",
        "мәскеу көшесі он төрт үй ой извините не он төрт а қырық үй су жоқ",
        "квартира пятнадцать дом шесть нет не шесть а семь на акжол",
    ],
)
def test_rescanning_a_tail_finds_the_corrections_of_the_whole_scan(extractor: AddressExtractor, heard: str) -> None:
    toks = tokens(heard)
    full = extractor.mentions(toks)
    assert any(m.strength == CORRECTED_STRENGTH for m in full)
    for start in range(len(toks)):
        assert [m for m in full if m.start >= start] == extractor.mentions(toks, start)


def test_a_measured_number_before_a_house_word_is_no_house() -> None:
    from classifier.normalize import normalize

    extractor = AddressExtractor(StreetIndex.load())
    text = "вызвать врача на дом бабушке температура тридцать восемь үйге дәрігер шақыру керек акмешит семнадцать"
    address = extractor.read(normalize(text).split()).address
    assert (address.street, address.house) == ("улица Акмешит", "17")
