"""Scripted dialogues in ru, kk and mixed, written the way Vosk prints them (lower case, numbers as words), each
with the call's facts and what every check should find. Words are 0.4 s each, back to back."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.base import CallFacts, Turn

WORD_S = 0.4
P, F, NA = "passed", "failed", "not_applicable"


def say(speaker: str, start: float, text: str) -> Turn:
    """A turn with its words timed one after another from ``start``."""
    words = [
        {"word": w, "start": round(start + i * WORD_S, 3), "end": round(start + (i + 1) * WORD_S, 3), "conf": 0.9}
        for i, w in enumerate(text.split())
    ]
    return Turn.of(speaker=speaker, start=start, end=start + WORD_S * len(words), text=text, words=words)


def op(start: float, text: str) -> Turn:
    return say("operator", start, text)


def caller(start: float, text: str) -> Turn:
    return say("caller", start, text)


@dataclass(frozen=True)
class Dialogue:
    name: str
    language: str
    turns: list[Turn]
    facts: CallFacts
    expected: dict[str, str] = field(default_factory=dict)


DIALOGUES = [
    Dialogue(
        "ru_fire_handled_well",
        "ru",
        [
            op(0.5, "служба сто девять здравствуйте меня зовут айгуль слушаю вас"),
            caller(4.5, "здравствуйте у нас в подъезде запах дыма и горит проводка"),
            op(9.0, "назовите адрес пожалуйста"),
            caller(10.5, "улица абая дом двенадцать квартира пять"),
            caller(13.5, "когда приедут пожарные"),
            op(15.0, "соединяю вас с пожарной службой оставайтесь на линии"),
            caller(17.0, "ага"),
            op(19.0, "ваше обращение зарегистрировано номер сто двадцать три"),
            caller(22.0, "спасибо"),
        ],
        CallFacts(
            ended_s=23.0,
            caller_language="ru",
            reg_number="109-2026-000123",
            emergency_code="101",
            emergency_s=12.0,
            transfer_s=16.0,
            transfer_code="101",
        ),
        {
            "greeting": P,
            "readback": P,
            "emergency_transfer": P,
            "silence": P,
            "talk_over": P,
            "repeated_question": P,
            "forbidden_phrase": P,
        },
    ),
    Dialogue(
        "ru_ambulance_handled_badly",
        "ru",
        [
            op(0.5, "алло"),
            caller(1.0, "у меня отец упал и не встает"),
            op(4.0, "адрес говорите"),
            caller(5.0, "улица кенесары дом сорок пять"),
            op(8.0, "записываю дом сорок пять квартира четыреста пятьдесят семь"),
            caller(9.0, "когда приедет скорая помощь"),
            op(30.0, "не знаю ждите"),
            caller(31.5, "еще раз спрашиваю когда приедет скорая помощь"),
            op(34.5, "до свидания"),
        ],
        CallFacts(
            ended_s=36.0, caller_language="ru", reg_number="109-2026-000457", emergency_code="103", emergency_s=10.0
        ),
        {
            "greeting": F,
            "readback": F,
            "emergency_transfer": F,
            "silence": F,
            "talk_over": F,
            "repeated_question": F,
            "forbidden_phrase": F,
        },
    ),
    Dialogue(
        "ru_greeting_late_and_in_kazakh",
        "ru",
        [
            op(0.5, "сәлеметсіз бе"),
            caller(1.5, "алло у нас нет света"),
            op(7.0, "здравствуйте какой адрес"),
            caller(9.0, "улица сейфуллина семь"),
        ],
        CallFacts(ended_s=11.0, caller_language="ru"),
        {"greeting": F, "readback": NA, "emergency_transfer": NA, "silence": P, "repeated_question": NA},
    ),
    Dialogue(
        "kk_heating_handled_well",
        "kk",
        [
            op(0.8, "сәлеметсіз бе бір жүз тоғыз қызметі тыңдап тұрмын"),
            caller(4.0, "сәлеметсіз бе біздің үйде жылу жоқ"),
            op(7.0, "мекенжайыңызды айтыңызшы"),
            caller(8.5, "абай көшесі он екі үй"),
            caller(11.0, "жылу қашан беріледі"),
            op(13.0, "бүгін кешке дейін береміз деп уәде берді"),
            op(17.0, "өтінішіңіз тіркелді нөміріңіз сексен сегіз"),
            caller(20.0, "рахмет сау болыңыз"),
        ],
        CallFacts(ended_s=22.5, caller_language="kk", reg_number="109-2026-000088"),
        {
            "greeting": P,
            "readback": P,
            "emergency_transfer": NA,
            "silence": P,
            "talk_over": P,
            "repeated_question": P,
            "forbidden_phrase": P,
        },
    ),
    Dialogue(
        "kk_gas_handled_badly",
        "kk",
        [
            op(0.5, "здравствуйте слушаю"),
            caller(2.0, "газ иісі шығып тұр үйде"),
            op(4.0, "мекенжайыңыз қандай"),
            caller(5.5, "сарыарқа көшесі он бес үй"),
            caller(8.0, "газшылар қашан келеді"),
            op(8.5, "күте тұрыңыз мен қазір тексеріп көремін бізге қатысы жоқ сияқты"),
            caller(10.0, "газ иісі өте қатты балалар бар үйде тез келіңіздер"),
            caller(30.0, "тағы да сұраймын газшылар қашан келеді"),
            op(33.0, "білмеймін күтіңіз"),
            op(50.0, "сізді газ қызметіне қосып жатырмын"),
        ],
        CallFacts(
            ended_s=53.0,
            caller_language="kk",
            reg_number="109-2026-000231",
            emergency_code="104",
            emergency_s=5.0,
            transfer_s=50.0,
            transfer_code="104",
        ),
        {
            "greeting": F,
            "readback": F,
            "emergency_transfer": F,
            "silence": F,
            "talk_over": F,
            "repeated_question": F,
            "forbidden_phrase": F,
        },
    ),
    Dialogue(
        "kk_gas_transferred_in_time",
        "kk",
        [
            op(0.5, "қайырлы күн бір жүз тоғыз"),
            caller(2.0, "газ иісі шығып тұр"),
            op(4.5, "қазір газ қызметіне қосамын күте тұрыңыз"),
            op(9.0, "өтініш нөмірі екі жүз отыз бір"),
        ],
        CallFacts(
            ended_s=12.0,
            caller_language="kk",
            reg_number="109-2026-000231",
            emergency_code="104",
            emergency_s=3.0,
            transfer_s=7.5,
            transfer_code="104",
        ),
        {"greeting": P, "readback": P, "emergency_transfer": P, "silence": P, "repeated_question": NA},
    ),
    Dialogue(
        "mixed_noise_handled_well",
        "mixed",
        [
            op(0.6, "здравствуйте сәлеметсіз бе сто девятая служба"),
            caller(3.0, "сәлеметсіз бе у нас во дворе біреулер айқайлап жатыр"),
            op(7.0, "полиция керек пе"),
            caller(8.5, "жоқ просто шумно музыка қатты когда это закончится"),
            op(12.0, "жарайды записала ваше обращение номер четыре тысячи пятьсот двенадцать"),
            caller(16.0, "рахмет спасибо"),
        ],
        CallFacts(
            ended_s=17.5,
            caller_language="mixed",
            reg_number="109-2026-004512",
            emergency_code="102",
            emergency_s=6.0,
            emergency_dismissed_s=9.0,
        ),
        {
            "greeting": P,
            "readback": P,
            "emergency_transfer": NA,
            "silence": P,
            "talk_over": P,
            "repeated_question": P,
            "forbidden_phrase": P,
        },
    ),
    Dialogue(
        "mixed_fire_handled_badly",
        "mixed",
        [
            op(0.5, "алло да"),
            caller(1.5, "пожар үйде өрт горит квартира"),
            op(4.0, "адрес айтыңыз"),
            caller(5.0, "достық көшесі пять"),
            caller(7.0, "когда приедут пожарные"),
            op(7.5, "ничем не могу помочь подождите минуточку сейчас узнаю"),
            caller(8.8, "өрт сөндірушілер қашан келеді тез"),
            caller(25.0, "еще раз когда приедут пожарные"),
            op(28.0, "ваш номер семьсот семьдесят"),
            op(40.0, "переключаю на пожарных"),
        ],
        CallFacts(
            ended_s=42.0,
            caller_language="mixed",
            reg_number="109-2026-000777",
            emergency_code="101",
            emergency_s=3.0,
            transfer_s=40.0,
            transfer_code="101",
        ),
        {
            "greeting": F,
            "readback": F,
            "emergency_transfer": F,
            "silence": F,
            "talk_over": F,
            "repeated_question": F,
            "forbidden_phrase": F,
        },
    ),
    Dialogue(
        "mixed_readback_in_kazakh_after_russian",
        "mixed",
        [
            op(0.5, "добрый день служба сто девять"),
            caller(2.5, "лифт не работает қашан жөндейді"),
            op(6.0, "өтінішіңіз тіркелді нөмірі бір жүз тоғыз екі мың жиырма алты нөл нөл нөл жүз жиырма үш"),
        ],
        CallFacts(ended_s=14.0, caller_language="mixed", reg_number="109-2026-000123"),
        {"greeting": P, "readback": P, "repeated_question": P, "forbidden_phrase": P},
    ),
    Dialogue(
        "mixed_ambulance_transferred_in_time",
        "mixed",
        [
            op(0.5, "сәлеметсіз бе здравствуйте"),
            caller(2.0, "анама жаман болып қалды ей плохо"),
            op(5.0, "соединяю со скорой жедел жәрдемге қосамын"),
            caller(8.5, "тез болыңызшы"),
        ],
        CallFacts(
            ended_s=11.0,
            caller_language="mixed",
            emergency_code="103",
            emergency_s=4.0,
            transfer_s=9.0,
            transfer_code="103",
        ),
        {"greeting": P, "emergency_transfer": P, "readback": NA, "silence": P, "talk_over": P},
    ),
    Dialogue(
        "ru_caller_only_transcript",
        "ru",
        [caller(1.0, "у нас прорвало трубу в подвале"), caller(20.0, "алло вы меня слышите")],
        CallFacts(ended_s=25.0, caller_language="ru", reg_number="109-2026-000321"),
        {
            "greeting": NA,
            "readback": NA,
            "silence": NA,
            "talk_over": NA,
            "forbidden_phrase": NA,
            "repeated_question": NA,
        },
    ),
]
