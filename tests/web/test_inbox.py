"""An organisation's inbox in a real browser, in Russian and Kazakh: an executor logs in and lands on /inbox, sees
its organisation's cards (the caller's words, the due date, overdue marked), accepts one, starts it, reports it
done with a photo; an empty comment is refused in the page, a stale step gets the 409 sentence; another
organisation's executor sees none of these cards."""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from models.handover import CardPhoto, Organisation
from models.records import Call, Card, TranscriptSegment
from tests.web.conftest import Web
from tests.web.harness import external_requests, shot, text_of, wait_for

pytestmark = pytest.mark.browser

SECOND_LINE_PASSWORD = "second-line-pass-109"
KAZAKH_WORDS = "Сәлеметсіз бе, үйде ыстық су жоқ, үшінші күн қатарынан"
_seq = itertools.count(1)


@dataclass(frozen=True)
class Orgs:
    """Two organisations serving heating_utility."""

    heat: int
    water: int


def make_orgs(web: Web, suffix: str) -> Orgs:
    with web.ctx.sessionmaker() as s:
        heat = Organisation(
            code=f"heat-{suffix}",
            name_kk=f"Қалалық жылу жүйесі {suffix}",
            name_ru=f"Городские тепловые сети {suffix}",
            services=["heating_utility"],
            receives=["inbox"],
            deadline_hours={},
        )
        water = Organisation(
            code=f"water-{suffix}",
            name_kk=f"Астана су арнасы {suffix}",
            name_ru=f"Астана Водоканал {suffix}",
            services=["heating_utility"],
            receives=["inbox"],
            deadline_hours={},
        )
        s.add_all([heat, water])
        s.commit()
        return Orgs(heat=heat.id, water=water.id)


def make_user(web: Web, username: str, role: str, organisation_id: int | None = None) -> None:
    from api.security import hash_password
    from models.repo import users

    with web.ctx.sessionmaker() as s:
        users.create_user(
            s,
            username=username,
            role=role,
            full_name=f"{username} Әбілқайырұлы",
            password_hash=hash_password(SECOND_LINE_PASSWORD),
            organisation_id=organisation_id,
        )


def make_card(
    web: Web,
    organisation_id: int | None,
    *,
    status: str = "routed",
    due_in: timedelta = timedelta(hours=40),
    stage: str = "on_time",
    words: str | None = None,
    summary: str = "Нет горячей воды в доме",
    return_note: str | None = None,
) -> Card:
    """A registered card in ``status`` with ``organisation_id``, handed over an hour ago (and a caller's call)."""
    now = datetime.now(UTC)
    n = next(_seq)
    with web.ctx.sessionmaker() as s:
        call = None
        if words is not None:
            call = Call(uniqueid=f"second-line-{n}-{now.timestamp()}", caller_number="+77015550000", state="ended")
            s.add(call)
            s.flush()
            s.add(TranscriptSegment(call_id=call.id, speaker="caller", start_s=0.0, end_s=3.0, text=words))
        seq = 900000 + int(now.timestamp()) % 1000 * 100 + n
        card = Card(
            call_id=call.id if call is not None else None,
            status=status,
            topic="hot_water",
            service="heating_utility",
            summary=summary,
            street="Кенесары",
            house="12",
            apartment="45",
            district="yesil",
            language="kk",
            reg_year=2026,
            reg_seq=seq,
            reg_number=f"109-2026-{seq:06d}",
            confirmed_at=now - timedelta(hours=1),
            routed_at=now - timedelta(hours=1) if organisation_id is not None else None,
            due_at=now + due_in,
            deadline_stage=stage,
            organisation_id=organisation_id,
            priority="normal",
            status_notes=return_note,
            return_count=1 if status == "returned" else 0,
        )
        s.add(card)
        s.commit()
        s.refresh(card)
        s.expunge(card)
        return card


def stored(web: Web, card_id: int) -> Card:
    with web.ctx.sessionmaker() as s:
        card = s.get(Card, card_id)
        assert card is not None
        s.expunge(card)
        return card


def login(web: Web, driver: WebDriver, username: str, lands_on: str, path: str | None = None) -> None:
    """Log in through the login page (a fresh session); without ``path`` the role's start page opens."""
    driver.get(f"{web.url}/login")
    driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.delete_all_cookies()
    driver.get(f"{web.url}/login" + (f"?next={path}" if path else ""))
    wait_for(driver, lambda d: d.find_element(By.ID, "username"), what="login form").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(SECOND_LINE_PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(driver, lambda d: urlsplit(d.current_url).path == lands_on, what=f"{username} lands on {lands_on}")


def set_lang(driver: WebDriver, code: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'.lang-switch button[lang="{code}"]').click()
    wait_for(driver, lambda d: d.execute_script("return document.documentElement.lang") == code, what=code)


def api_token(web: Web, username: str) -> dict[str, str]:
    r = httpx.post(f"{web.url}/api/auth/login", json={"username": username, "password": SECOND_LINE_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def png(path: Path, width: int = 8, height: int = 6) -> Path:
    """A real (decodable) PNG image: a red rectangle."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def card_el(driver: WebDriver, card: Card) -> Any:
    return driver.find_element(By.ID, f"card-{card.id}")


def shown_regs(driver: WebDriver) -> set[str | None]:
    return {el.get_attribute("data-reg") for el in driver.find_elements(By.CSS_SELECTOR, "#cards article")}


def click_step(driver: WebDriver, card: Card, step: str) -> None:
    wait_for(
        driver,
        lambda d: card_el(d, card).find_element(By.CSS_SELECTOR, f'button[data-step="{step}"]').is_enabled(),
        what=f"the {step} button",
    )
    card_el(driver, card).find_element(By.CSS_SELECTOR, f'button[data-step="{step}"]').click()


def test_an_executor_accepts_starts_and_reports_done_with_a_photo(web: Web, browser: WebDriver, tmp_path: Path) -> None:
    orgs = make_orgs(web, "in1")
    make_user(web, "zhylu-1", "executor", orgs.heat)
    mine = make_card(web, orgs.heat, words=KAZAKH_WORDS)
    late = make_card(web, orgs.heat, due_in=timedelta(hours=-3), stage="overdue", summary="Второй день без воды")
    soon = make_card(web, orgs.heat, due_in=timedelta(hours=2), stage="due_soon")
    theirs = make_card(web, orgs.water, summary="Чужая карточка")

    # The login page sends an executor to its inbox, not the desk.
    login(web, browser, "zhylu-1", "/inbox")
    wait_for(browser, lambda d: d.execute_script("return window.__inbox && window.__inbox.ready"), what="inbox ready")
    wait_for(browser, lambda d: {mine.reg_number, late.reg_number, soon.reg_number} <= shown_regs(d), what="cards")
    assert theirs.reg_number not in shown_regs(browser)
    assert [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".topnav a")] == ["Входящие"]

    # In Russian: topic and service names, the address, the due date.
    el = card_el(browser, mine)
    assert el.find_element(By.CSS_SELECTOR, ".topic").text == "Нет горячей воды"
    assert el.find_element(By.CSS_SELECTOR, ".service").text == "Теплоснабжение и горячая вода"
    assert el.find_element(By.CSS_SELECTOR, ".addr").text == "Есиль, Кенесары, 12, кв. 45"
    # The caller's own words are not shown to an organisation (docs/access.md, personal data: no transcript).
    assert not el.find_elements(By.CSS_SELECTOR, ".excerpt")
    assert el.find_element(By.CSS_SELECTOR, ".badge").text == "передано"
    assert el.find_element(By.CSS_SELECTOR, ".due").text.startswith("Срок: ")
    assert not el.find_elements(By.CSS_SELECTOR, ".deadline")
    assert card_el(browser, late).find_element(By.CSS_SELECTOR, ".deadline").text == "просрочено"
    assert "late" in card_el(browser, late).get_attribute("class")
    assert card_el(browser, soon).find_element(By.CSS_SELECTOR, ".deadline").text == "срок скоро"

    click_step(browser, mine, "accept")
    wait_for(browser, lambda d: stored(web, mine.id).status == "accepted", what="accepted in the database")
    wait_for(browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, ".badge").text == "принято", what="ru")

    # In Kazakh.
    set_lang(browser, "kk")
    wait_for(
        browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, ".topic").text == "Ыстық су жоқ", what="kk"
    )
    el = card_el(browser, mine)
    assert el.find_element(By.CSS_SELECTOR, ".service").text == "Жылумен жабдықтау және ыстық су"
    assert el.find_element(By.CSS_SELECTOR, ".badge").text == "қабылданды"
    assert el.find_element(By.CSS_SELECTOR, 'button[data-step="start"]').text == "Жұмысқа алу"
    assert card_el(browser, late).find_element(By.CSS_SELECTOR, ".deadline").text == "мерзімі өтті"
    assert text_of(browser, "h1") == "Кіріс карточкалар"
    click_step(browser, mine, "start")
    wait_for(browser, lambda d: stored(web, mine.id).status == "in_progress", what="in progress in the database")
    wait_for(
        browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, ".badge").text == "орындалуда", what="kk"
    )

    # Done: an empty comment is refused in the page and nothing is sent.
    click_step(browser, mine, "done")
    form = wait_for(browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, "form.step"), what="form")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    problem = wait_for(browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, ".problem"), what="problem")
    wait_for(browser, lambda d: problem.is_displayed(), what="the problem shown")
    assert problem.text == "Не істелгенін жазыңыз."
    assert stored(web, mine.id).status == "in_progress"
    comment = "Құбыр ауыстырылды, ыстық су берілді"
    browser.find_element(By.ID, f"c-{mine.id}").send_keys(comment)
    browser.find_element(By.ID, f"p-{mine.id}").send_keys(str(png(tmp_path / "жөндеу.png")))
    shot(browser, "inbox-done-kk")
    form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    wait_for(browser, lambda d: stored(web, mine.id).status == "resolved", what="resolved in the database")
    done = stored(web, mine.id)
    assert done.resolution == comment and done.status_notes == comment and done.resolved_at is not None
    with web.ctx.sessionmaker() as s:
        photos = s.query(CardPhoto).filter_by(card_id=mine.id).all()
        assert [(p.content_type, p.uploaded_by) for p in photos] == [("image/png", "zhylu-1")]
    img = wait_for(browser, lambda d: card_el(d, mine).find_element(By.CSS_SELECTOR, ".photos img"), what="photo")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", img) == 8, what="photo loaded")
    el = card_el(browser, mine)
    assert el.find_element(By.CSS_SELECTOR, ".badge").text == "шешілді"
    assert el.find_element(By.CSS_SELECTOR, ".notes").text == comment
    assert {b.get_attribute("data-step") for b in el.find_elements(By.CSS_SELECTOR, ".acts button")} == {"note"}

    # The overdue filter shows only the late card.
    browser.find_element(By.ID, "f-overdue").click()
    wait_for(browser, lambda d: shown_regs(d) == {late.reg_number}, what="only the overdue card")
    browser.find_element(By.ID, "f-overdue").click()
    wait_for(browser, lambda d: mine.reg_number in shown_regs(d), what="every card again")

    # A stale page: someone accepted the late card meanwhile; the page says so in Kazakh and reloads.
    r = httpx.post(f"{web.url}/api/inbox/{late.id}/accept", json={}, headers=api_token(web, "zhylu-1"))
    assert r.status_code == 200, r.text
    click_step(browser, late, "accept")
    wait_for(browser, lambda d: "Карточка өзгеріп кетті" in text_of(d, "#toast"), what="the 409 sentence in Kazakh")
    wait_for(
        browser, lambda d: card_el(d, late).find_element(By.CSS_SELECTOR, ".badge").text == "қабылданды", what="reload"
    )
    assert external_requests(browser, web.url) == []
    set_lang(browser, "ru")


def test_another_organisations_executor_does_not_see_the_card(web: Web, browser: WebDriver) -> None:
    orgs = make_orgs(web, "in2")
    make_user(web, "zhylu-2", "executor", orgs.heat)
    make_user(web, "su-2", "executor", orgs.water)
    heat_card = make_card(web, orgs.heat, words=KAZAKH_WORDS)
    water_card = make_card(web, orgs.water, summary="Протечка в подвале")

    login(web, browser, "su-2", "/inbox")
    wait_for(browser, lambda d: water_card.reg_number in shown_regs(d), what="its own card")
    assert heat_card.reg_number not in shown_regs(browser)
    assert KAZAKH_WORDS not in browser.find_element(By.ID, "cards").text
    # Nor through the API: the same 404 as a card that does not exist.
    headers = api_token(web, "su-2")
    assert httpx.get(f"{web.url}/api/inbox/{heat_card.id}", headers=headers).status_code == 404
    r = httpx.post(f"{web.url}/api/inbox/{heat_card.id}/accept", json={}, headers=headers)
    assert r.status_code == 404 and stored(web, heat_card.id).status == "routed"
    # ... and the monitoring page and the desk refuse an executor.
    browser.get(f"{web.url}/monitoring")
    wait_for(browser, lambda d: d.find_elements(By.ID, "forbidden"), what="monitoring refused")
