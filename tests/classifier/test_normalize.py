"""Normalisation is shared by training and serving and is token-local."""

from __future__ import annotations

from classifier.language import detect
from classifier.normalize import kk_fold, normalize


def test_case_yo_punctuation_and_kazakh_letters() -> None:
    assert normalize("Алло! Ёлки, ГАЗДЫҢ иісі шығып тұр...") == "алло елки газдың иісі шығып тұр"


def test_latin_lookalikes_folded_inside_cyrillic_words() -> None:
    # "пoжар" with a Latin "o", "кoмек" with Latin o
    assert normalize("пoжар") == "пожар"
    assert normalize("wifi не работает") == "wifi не работает"


def test_hesitations_and_asr_tags_removed() -> None:
    assert normalize("эээ ну ммм <unk> [noise] лифт тұрып қалды") == "ну лифт тұрып қалды"
    assert normalize("ааа лифт") == "лифт"
    assert normalize("а лифт") == "а лифт"


def test_slash_between_digits_kept() -> None:
    assert normalize("дом 12/1, кв. 5") == "дом 12/1 кв 5"


def test_token_local_so_segments_join() -> None:
    a, b = "Алло, эээ у нас", "газом пахнет!"
    assert normalize(a + " " + b) == normalize(a) + " " + normalize(b)


def test_kk_fold() -> None:
    assert kk_fold("қырық") == "кырык"


def test_language_detection() -> None:
    assert detect(normalize("у нас во дворе вода течет уже третий день").split()) == "ru"
    assert detect(normalize("сәлеметсіз бе біздің аулада су ағып жатыр").split()) == "kk"
    assert detect(normalize("алло девушка у нас во дворе вода течёт аулада су ағып жатыр").split()) == "mixed"
    assert detect([]) == "ru"


def test_language_refinement_and_lexicon() -> None:
    from classifier.language import build_lexicon, refine, vote

    lex = build_lexicon([("домофон сломан".split(), "ru")] * 3 + [("есік ашылмайды".split(), "kk")] * 3
                        + [("домофон жоқ".split(), "kk")])
    assert lex == {"ru": ["сломан"], "kk": ["ашылмайды", "есік"]}
    v = vote(normalize("домофон сломан есік ашылмайды").split())
    assert refine("kk", v.kk, v.ru, v.kk_content, ru_lex=1) == "mixed"
    # Kazakh courtesy words do not make Russian mixed; a real Kazakh word does
    v = vote(normalize("иә девушка рахмет подъезд не убирают").split())
    assert refine("ru", v.kk, v.ru, v.kk_content) == "ru"
    v = vote(normalize("подъезд не убирают қоқыс жатыр").split())
    assert refine("ru", v.kk, v.ru, v.kk_content) == "mixed"
    assert refine("mixed", 0, 3, 0) == "ru"
