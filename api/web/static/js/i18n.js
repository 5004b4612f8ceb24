// UI strings in Kazakh and Russian, the language switch, and applying strings to marked-up elements.

const STRINGS = {
  ru: {
    "app.name": "callcard 109",
    "skip": "Перейти к содержимому",
    "nav.desk": "Пульт",
    "nav.registry": "Реестр",
    "nav.dashboard": "Сводка",
    "nav.qa": "Контроль качества",
    "nav.main": "Основная навигация",
    "lang.label": "Язык интерфейса",
    "logout": "Выйти",
    "role.operator": "оператор",
    "role.qa": "контроль качества",
    "role.admin": "администратор",
    "conn.open": "на связи",
    "conn.closed": "нет связи",
    "conn.connecting": "подключение…",
    "loading": "Загрузка…",
    "error.generic": "Что-то пошло не так. Попробуйте ещё раз.",
    "error.network": "Сервер не отвечает. Проверьте соединение.",
    "error.forbidden": "Доступ запрещён",
    "error.forbidden.text": "У вашей роли нет доступа к этой странице.",
    "error.notfound": "Не найдено",
    "back.desk": "Вернуться на пульт",

    "login.title": "Вход",
    "login.lead": "Городская служба 109 — рабочее место оператора",
    "login.username": "Имя пользователя",
    "login.password": "Пароль",
    "login.submit": "Войти",
    "login.busy": "Вход…",
    "login.failed": "Неверное имя пользователя или пароль.",

    "desk.title": "Пульт оператора",
    "desk.queue": "Звонки",
    "desk.queue.empty": "Сейчас нет звонков. Новый звонок появится здесь сам.",
    "desk.history": "Прежние обращения",
    "desk.history.none": "Обращений с этого номера не было.",
    "desk.history.pick": "Выберите звонок.",
    "desk.transcript": "Расшифровка",
    "desk.transcript.empty": "Ждём речь абонента…",
    "desk.nocall": "Нет открытого звонка",
    "desk.nocall.text": "Когда звонок поступит, карточка откроется и начнёт заполняться сама.",
    "desk.card": "Карточка обращения",
    "desk.call.live": "идёт разговор",
    "desk.call.ended": "звонок завершён",
    "desk.call.unstored": "База данных ещё не приняла этот звонок; карточку можно сохранить через несколько секунд.",
    "desk.transcription.after_call": "расшифровка после звонка",
    "desk.transcription.after_call.hint": "Сервер сейчас не успевает расшифровывать этот звонок вживую: запись расшифруется сразу после завершения звонка.",
    "queue.live": "на линии",
    "queue.ended": "завершён",
    "desk.unknown.number": "номер скрыт",
    "desk.claimed.other": "Этот звонок уже принял другой оператор.",
    "desk.next": "Следующий звонок",
    "desk.newcard": "Новая карточка",

    "field.topic": "Тема",
    "field.service": "Служба",
    "field.emergency": "Экстренность",
    "field.emergency_also": "Ещё экстренные службы",
    "field.language": "Язык",
    "field.street": "Улица",
    "field.house": "Дом",
    "field.building": "Корпус",
    "field.apartment": "Кв.",
    "field.district": "Район",
    "field.landmark": "Ориентир",
    "field.summary": "Суть обращения",
    "field.address": "Адрес",
    "field.edited": "изменено",
    "prop.ai": "ИИ:",
    "prop.alt": "другие:",
    "prop.take": "Взять вариант «{v}»",
    "prop.none": "нет предложения",
    "combo.nomatch": "Нет совпадений",
    "combo.clear": "(пусто)",
    "lang.ru": "русский",
    "lang.kk": "казахский",
    "lang.mixed": "смешанный",

    "confirm": "Подтвердить",
    "confirm.busy": "Сохранение…",
    "confirm.hint": "↓ — варианты · Alt+K — к карточке",
    "confirm.done": "Обращение зарегистрировано",
    "confirm.reg": "Регистрационный номер",
    "confirm.due": "Срок исполнения",
    "confirm.need.topic": "Укажите тему обращения.",
    "saved": "Сохранено",

    "em.banner": "Экстренный вызов",
    "em.transfer": "Перевести на {code}",
    "em.transfer.busy": "Перевод…",
    "em.transfer.failed": "Перевод не состоялся — наберите {code} вручную",
    "em.transfer.retry": "Повторить перевод на {code}",
    "em.fail.caller_gone": "абонент положил трубку",
    "em.fail.dialplan_missing": "в диалплане Asterisk нет нужного контекста",
    "em.fail.refused": "Asterisk отказал в переводе",
    "em.fail.transfer_channel_failed": "канал перевода завершился, абонент остался на линии 109",
    "em.fail.asterisk_unreachable": "Asterisk недоступен",
    "em.fail.timeout": "Asterisk не подтвердил перевод вовремя",
    "em.transferred": "Абонент переведён на {code} · {time}",
    "em.dismiss": "Это не экстренно",
    "em.dismiss.reason": "Причина (обязательно)",
    "em.dismiss.submit": "Отклонить",
    "em.dismiss.cancel": "Отмена",
    "em.dismissed": "Экстренность отклонена: {reason}",
    "em.reason.required": "Напишите причину — она нужна для обучения модели.",
    "em.conf": "уверенность {p}",
    "em.also": "также: {codes}",
    "em.keys": "Alt+T — перевести · Alt+X — отклонить",

    "reg.title": "Реестр обращений",
    "reg.filters": "Фильтры",
    "reg.status": "Статус",
    "reg.topic": "Тема",
    "reg.service": "Служба",
    "reg.district": "Район",
    "reg.emergency": "Экстренность",
    "reg.date_from": "С даты",
    "reg.date_to": "По дату",
    "reg.q": "Поиск по тексту и адресу",
    "reg.caller": "Номер абонента",
    "reg.any": "Любой",
    "reg.apply": "Найти",
    "reg.reset": "Сбросить",
    "reg.export": "Выгрузить CSV",
    "reg.col.reg": "Рег. номер",
    "reg.col.created": "Создана",
    "reg.col.status": "Статус",
    "reg.col.topic": "Тема",
    "reg.col.service": "Служба",
    "reg.col.district": "Район",
    "reg.col.address": "Адрес",
    "reg.col.summary": "Суть",
    "reg.col.caller": "Абонент",
    "reg.col.due": "Срок",
    "reg.empty": "По этим условиям обращений нет.",
    "reg.range": "{from}–{to} из {total}",
    "reg.prev": "Назад",
    "reg.next": "Вперёд",
    "reg.pages": "Страницы",
    "reg.review": "Проверить",
    "status.draft": "черновик",
    "status.confirmed": "зарегистрировано",
    "status.routed": "передано",
    "status.resolved": "решено",
    "status.closed": "закрыто",

    "qa.title": "Проверка звонка",
    "qa.audio": "Запись разговора",
    "qa.speed": "Скорость воспроизведения",
    "qa.noaudio": "Записи этого звонка нет.",
    "qa.transcript": "Расшифровка, привязанная к записи",
    "qa.transcript.help": "Щелчок по слову — перейти к нему в записи. Подчёркнутые волной слова распознаны неуверенно.",
    "qa.edit": "Исправить",
    "qa.save": "Сохранить исправление",
    "qa.cancel": "Отмена",
    "qa.corrected": "исправлено",
    "qa.original": "Исходный текст",
    "qa.card": "Карточка: предложение и итог",
    "qa.col.field": "Поле",
    "qa.col.proposed": "ИИ",
    "qa.col.final": "Оператор",
    "qa.mark": "Отметить ошибку",
    "qa.mark.field": "Поле",
    "qa.mark.note": "Что не так",
    "qa.mark.save": "Сохранить отметку",
    "qa.marks": "Отметки контроля",
    "qa.nomarks": "Отметок нет.",
    "qa.nocard": "Карточки у этого звонка нет.",
    "qa.call": "Звонок №{id}",
    "qa.segments.none": "Расшифровки нет.",
    "qa.conf": "уверенность {p}",

    "dash.title": "Сводка",
    "dash.period": "Период",
    "dash.days": "{n} дн.",
    "dash.calls": "Звонков",
    "dash.cards": "Карточек",
    "dash.calls_today": "Звонков за сутки",
    "dash.cards_today": "Карточек за сутки",
    "dash.em_proposed": "Экстренных предложений",
    "dash.em_transferred": "Переводов на 101–104",
    "dash.em_dismissed": "Отклонено оператором",
    "dash.fcr": "Решено при первом звонке",
    "dash.per_hour": "По часам (последние 24 ч)",
    "dash.per_day": "По дням",
    "dash.top_topics": "Частые темы",
    "dash.accepted": "Предложение ИИ принято без изменений",
    "dash.accepted.help": "Доля подтверждённых карточек, где поле совпало с предложением модели.",
    "dash.nodata": "Данных пока нет.",
    "dash.updated": "Обновлено {time}",
  },

  kk: {
    "app.name": "callcard 109",
    "skip": "Мазмұнға өту",
    "nav.desk": "Пульт",
    "nav.registry": "Тізілім",
    "nav.dashboard": "Шолу",
    "nav.qa": "Сапа бақылауы",
    "nav.main": "Негізгі навигация",
    "lang.label": "Интерфейс тілі",
    "logout": "Шығу",
    "role.operator": "оператор",
    "role.qa": "сапа бақылауы",
    "role.admin": "әкімші",
    "conn.open": "байланыста",
    "conn.closed": "байланыс жоқ",
    "conn.connecting": "қосылуда…",
    "loading": "Жүктелуде…",
    "error.generic": "Бірдеңе дұрыс болмады. Қайталап көріңіз.",
    "error.network": "Сервер жауап бермейді. Байланысты тексеріңіз.",
    "error.forbidden": "Кіруге тыйым салынған",
    "error.forbidden.text": "Сіздің рөліңізге бұл бетке кіруге рұқсат жоқ.",
    "error.notfound": "Табылмады",
    "back.desk": "Пультқа оралу",

    "login.title": "Кіру",
    "login.lead": "109 қалалық қызметі — оператордың жұмыс орны",
    "login.username": "Пайдаланушы аты",
    "login.password": "Құпиясөз",
    "login.submit": "Кіру",
    "login.busy": "Кіруде…",
    "login.failed": "Пайдаланушы аты немесе құпиясөз қате.",

    "desk.title": "Оператор пульті",
    "desk.queue": "Қоңыраулар",
    "desk.queue.empty": "Қазір қоңырау жоқ. Жаңа қоңырау осында өзі пайда болады.",
    "desk.history": "Бұрынғы өтініштер",
    "desk.history.none": "Бұл нөмірден өтініш болған жоқ.",
    "desk.history.pick": "Қоңырауды таңдаңыз.",
    "desk.transcript": "Мәтінге түсіру",
    "desk.transcript.empty": "Қоңырау шалушының сөзін күтудеміз…",
    "desk.nocall": "Ашық қоңырау жоқ",
    "desk.nocall.text": "Қоңырау түскенде карточка ашылып, өзі толтырыла бастайды.",
    "desk.card": "Өтініш карточкасы",
    "desk.call.live": "сөйлесу жүріп жатыр",
    "desk.call.ended": "қоңырау аяқталды",
    "desk.call.unstored": "Дерекқор бұл қоңырауды әлі қабылдаған жоқ; карточканы бірнеше секундтан кейін сақтауға болады.",
    "desk.transcription.after_call": "мәтін қоңыраудан кейін",
    "desk.transcription.after_call.hint": "Сервер бұл қоңырауды қазір тікелей мәтінге айналдырып үлгермейді: жазба қоңырау аяқталған соң бірден мәтінге айналады.",
    "queue.live": "желіде",
    "queue.ended": "аяқталды",
    "desk.unknown.number": "нөмір жасырын",
    "desk.claimed.other": "Бұл қоңырауды басқа оператор қабылдап қойды.",
    "desk.next": "Келесі қоңырау",
    "desk.newcard": "Жаңа карточка",

    "field.topic": "Тақырып",
    "field.service": "Қызмет",
    "field.emergency": "Шұғылдық",
    "field.emergency_also": "Тағы шұғыл қызметтер",
    "field.language": "Тіл",
    "field.street": "Көше",
    "field.house": "Үй",
    "field.building": "Блок",
    "field.apartment": "Пәтер",
    "field.district": "Аудан",
    "field.landmark": "Бағдар",
    "field.summary": "Өтініштің мәні",
    "field.address": "Мекенжай",
    "field.edited": "өзгертілді",
    "prop.ai": "ЖИ:",
    "prop.alt": "басқалары:",
    "prop.take": "«{v}» нұсқасын алу",
    "prop.none": "ұсыныс жоқ",
    "combo.nomatch": "Сәйкестік жоқ",
    "combo.clear": "(бос)",
    "lang.ru": "орысша",
    "lang.kk": "қазақша",
    "lang.mixed": "аралас",

    "confirm": "Растау",
    "confirm.busy": "Сақталуда…",
    "confirm.hint": "↓ — нұсқалар · Alt+K — карточкаға",
    "confirm.done": "Өтініш тіркелді",
    "confirm.reg": "Тіркеу нөмірі",
    "confirm.due": "Орындау мерзімі",
    "confirm.need.topic": "Өтініштің тақырыбын көрсетіңіз.",
    "saved": "Сақталды",

    "em.banner": "Шұғыл шақыру",
    "em.transfer": "{code} нөміріне ауыстыру",
    "em.transfer.busy": "Ауыстырылуда…",
    "em.transfer.failed": "Ауыстыру болмады — {code} нөмірін қолмен теріңіз",
    "em.transfer.retry": "{code} нөміріне қайта ауыстыру",
    "em.fail.caller_gone": "қоңырау шалушы тұтқаны қойды",
    "em.fail.dialplan_missing": "Asterisk диалпланында қажетті контекст жоқ",
    "em.fail.refused": "Asterisk ауыстырудан бас тартты",
    "em.fail.transfer_channel_failed": "ауыстыру арнасы аяқталды, қоңырау шалушы 109 желісінде қалды",
    "em.fail.asterisk_unreachable": "Asterisk қолжетімсіз",
    "em.fail.timeout": "Asterisk ауыстыруды уақытында растамады",
    "em.transferred": "Қоңырау шалушы {code} нөміріне ауыстырылды · {time}",
    "em.dismiss": "Бұл шұғыл емес",
    "em.dismiss.reason": "Себебі (міндетті)",
    "em.dismiss.submit": "Қабылдамау",
    "em.dismiss.cancel": "Болдырмау",
    "em.dismissed": "Шұғылдық қабылданбады: {reason}",
    "em.reason.required": "Себебін жазыңыз — ол модельді оқытуға керек.",
    "em.conf": "сенімділік {p}",
    "em.also": "сондай-ақ: {codes}",
    "em.keys": "Alt+T — ауыстыру · Alt+X — қабылдамау",

    "reg.title": "Өтініштер тізілімі",
    "reg.filters": "Сүзгілер",
    "reg.status": "Мәртебе",
    "reg.topic": "Тақырып",
    "reg.service": "Қызмет",
    "reg.district": "Аудан",
    "reg.emergency": "Шұғылдық",
    "reg.date_from": "Күннен бастап",
    "reg.date_to": "Күнге дейін",
    "reg.q": "Мәтін мен мекенжай бойынша іздеу",
    "reg.caller": "Қоңырау шалушының нөмірі",
    "reg.any": "Кез келген",
    "reg.apply": "Іздеу",
    "reg.reset": "Тазалау",
    "reg.export": "CSV жүктеп алу",
    "reg.col.reg": "Тіркеу нөмірі",
    "reg.col.created": "Құрылды",
    "reg.col.status": "Мәртебе",
    "reg.col.topic": "Тақырып",
    "reg.col.service": "Қызмет",
    "reg.col.district": "Аудан",
    "reg.col.address": "Мекенжай",
    "reg.col.summary": "Мәні",
    "reg.col.caller": "Қоңырау шалушы",
    "reg.col.due": "Мерзімі",
    "reg.empty": "Бұл шарттар бойынша өтініш жоқ.",
    "reg.range": "{total} ішінен {from}–{to}",
    "reg.prev": "Артқа",
    "reg.next": "Алға",
    "reg.pages": "Беттер",
    "reg.review": "Тексеру",
    "status.draft": "жоба",
    "status.confirmed": "тіркелді",
    "status.routed": "жіберілді",
    "status.resolved": "шешілді",
    "status.closed": "жабылды",

    "qa.title": "Қоңырауды тексеру",
    "qa.audio": "Сөйлесу жазбасы",
    "qa.speed": "Ойнату жылдамдығы",
    "qa.noaudio": "Бұл қоңыраудың жазбасы жоқ.",
    "qa.transcript": "Жазбаға байланған мәтін",
    "qa.transcript.help": "Сөзді басу — жазбада соған өту. Толқынды сызылған сөздер сенімсіз танылған.",
    "qa.edit": "Түзету",
    "qa.save": "Түзетуді сақтау",
    "qa.cancel": "Болдырмау",
    "qa.corrected": "түзетілді",
    "qa.original": "Бастапқы мәтін",
    "qa.card": "Карточка: ұсыныс пен нәтиже",
    "qa.col.field": "Өріс",
    "qa.col.proposed": "ЖИ",
    "qa.col.final": "Оператор",
    "qa.mark": "Қатені белгілеу",
    "qa.mark.field": "Өріс",
    "qa.mark.note": "Не дұрыс емес",
    "qa.mark.save": "Белгіні сақтау",
    "qa.marks": "Бақылау белгілері",
    "qa.nomarks": "Белгілер жоқ.",
    "qa.nocard": "Бұл қоңыраудың карточкасы жоқ.",
    "qa.call": "№{id} қоңырау",
    "qa.segments.none": "Мәтін жоқ.",
    "qa.conf": "сенімділік {p}",

    "dash.title": "Шолу",
    "dash.period": "Кезең",
    "dash.days": "{n} күн",
    "dash.calls": "Қоңыраулар",
    "dash.cards": "Карточкалар",
    "dash.calls_today": "Тәуліктегі қоңыраулар",
    "dash.cards_today": "Тәуліктегі карточкалар",
    "dash.em_proposed": "Шұғыл ұсыныстар",
    "dash.em_transferred": "101–104-ке ауыстырулар",
    "dash.em_dismissed": "Оператор қабылдамаған",
    "dash.fcr": "Бірінші қоңырауда шешілді",
    "dash.per_hour": "Сағат бойынша (соңғы 24 сағ)",
    "dash.per_day": "Күн бойынша",
    "dash.top_topics": "Жиі тақырыптар",
    "dash.accepted": "ЖИ ұсынысы өзгеріссіз қабылданды",
    "dash.accepted.help": "Өрісі модель ұсынысымен сәйкес келген расталған карточкалардың үлесі.",
    "dash.nodata": "Әзірге деректер жоқ.",
    "dash.updated": "Жаңартылды: {time}",
  },
};

export const LANGS = ["kk", "ru"];
const KEY = "callcard.lang";

/** The current UI language ("kk" or "ru"). */
export function lang() {
  const saved = localStorage.getItem(KEY);
  return LANGS.includes(saved) ? saved : "ru";
}

/** Switch the UI language, re-apply strings and tell the page (event "langchange" on window). */
export function setLang(value) {
  if (!LANGS.includes(value)) return;
  localStorage.setItem(KEY, value);
  document.documentElement.lang = value;
  applyI18n(document);
  window.dispatchEvent(new CustomEvent("langchange", { detail: value }));
}

/** A UI string in the current language with {name} placeholders filled in. */
export function t(key, vars = {}) {
  const table = STRINGS[lang()] || STRINGS.ru;
  let text = table[key] ?? STRINGS.ru[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

/** Fill elements marked data-i18n (text), data-i18n-placeholder, data-i18n-aria-label, data-i18n-title. */
export function applyI18n(root) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Every key of both languages (for the test that checks the dictionary is complete). */
export function keys() {
  return { ru: Object.keys(STRINGS.ru), kk: Object.keys(STRINGS.kk) };
}

/** A date-time shown the local way. */
export function fmtDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleString(lang() === "kk" ? "kk-KZ" : "ru-RU", {
    day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** A time of day (HH:MM). */
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString(lang() === "kk" ? "kk-KZ" : "ru-RU", { hour: "2-digit", minute: "2-digit" });
}

/** Seconds as m:ss. */
export function fmtOffset(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A 0..1 share as a whole percent. */
export function fmtPct(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return `${Math.round(Number(value) * 100)}%`;
}
