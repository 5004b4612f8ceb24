"""Signing in and out in a real browser: ``next`` never leaves callcard's origin, logout ends the session on the
server, a password someone else chose must be replaced first, and the supervisor's pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import update

from api.web.pages import safe_next
from tests.web.conftest import NAMES, PASSWORDS, Web
from tests.web.harness import Line, shot, text_of, wait_for
from tests.web.test_next_path import HOSTILE

pytestmark = pytest.mark.browser

# Query strings as an attacker would send them; the first two are the issue's.
HOSTILE_QUERIES = (
    "next=/%5Cexample.org/phish",
    "next=/%09/example.org/phish",
    "next=//example.org/phish",
    "next=/%5C%5Cexample.org/phish",
    "next=/\\example.org/phish",
    "next=https://example.org/phish",
    "next=https:example.org",
    "next=%2F%2Fexample.org",
    "next=/%0A/example.org",
    "next=%20//example.org",
    "next=/%255Cexample.org",
    "next=/registry&next=//example.org",
)
# The same attacks straight at the page's script, as if the server had let them through.
SCRIPT_ONLY = ("/\\example.org/phish", "/\t/example.org/phish", "//example.org", " //example.org", "/%5Cexample.org")


def _sign_in(driver: WebDriver, web: Web, address: str, username: str, password: str, *, submit: bool = True) -> None:
    """A fresh browser session opens ``address`` (a login page), fills the form and submits it."""
    driver.get(f"{web.url}/static/favicon.svg")
    driver.execute_script("localStorage.clear(); sessionStorage.clear();")
    driver.delete_all_cookies()
    driver.get(f"{web.url}{address}")
    wait_for(driver, lambda d: d.find_element(By.ID, "username").is_displayed(), what="login form")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    if submit:
        driver.find_element(By.ID, "login-submit").click()


def _left_login(driver: WebDriver) -> bool:
    parts = urlsplit(driver.current_url)
    return parts.path != "/login" or parts.scheme not in ("http", "https")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _token(driver: WebDriver) -> str | None:
    value = driver.execute_script("return localStorage.getItem('callcard.token')")
    return str(value) if value else None


def _add_user(web: Web, username: str, role: str, password: str, *, must_change: bool = False) -> Any:
    from api.security import hash_password
    from models.repo import users

    with web.ctx.sessionmaker() as s:
        user = users.create_user(
            s, username=username, full_name=username.title(), role=role, password_hash=hash_password(password)
        )
    if must_change:
        _require_change(web, user.id)
    return user


def _require_change(web: Web, user_id: int) -> None:
    """What an admin's password reset leaves behind: the user must choose a new password."""
    from models.records import User

    with web.ctx.sessionmaker() as s:
        s.execute(update(User).where(User.id == user_id).values(must_change_password=True))
        s.commit()


def _must_change(web: Web, user_id: int) -> bool:
    from models.records import User

    with web.ctx.sessionmaker() as s:
        user = s.get(User, user_id)
        assert user is not None
        return bool(user.must_change_password)


def test_login_never_leaves_the_origin_whatever_next_says(web: Web, browser: WebDriver) -> None:
    username, password = NAMES["operator"][0], PASSWORDS["operator"]
    for query in HOSTILE_QUERIES:
        _sign_in(browser, web, f"/login?{query}", username, password)
        wait_for(browser, _left_login, what=f"login with {query}")
        assert _origin(browser.current_url) == web.url, (query, browser.current_url)
        assert urlsplit(browser.current_url).path == "/desk", (query, browser.current_url)
    # The page's own check, with the server's out of the way: the address is rewritten after it was served.
    for value in SCRIPT_ONLY:
        _sign_in(browser, web, "/login", username, password, submit=False)
        browser.execute_script("history.replaceState(null, '', arguments[0])", f"/login?next={quote(value, safe='')}")
        browser.find_element(By.ID, "login-submit").click()
        wait_for(browser, _left_login, what=f"login with next {value!r} past the server")
        assert _origin(browser.current_url) == web.url, (value, browser.current_url)
        assert urlsplit(browser.current_url).path == "/desk", (value, browser.current_url)
    # The script and safe_next agree on every case: both refuse (""/"/") or both keep the path.
    browser.get(f"{web.url}/login")
    wait_for(browser, lambda d: d.execute_script("return !!(window.__login && window.__login.ready)"), what="login")
    for value in (*HOSTILE, "/registry?q=%D0%BC%D1%83%D1%81%D0%BE%D1%80", "/qa/3", "/desk#card"):
        in_page = browser.execute_script("return window.__login.safeNext(arguments[0])", value)
        assert (in_page or "/") == safe_next(value), repr(value)
    # And a plain path is honoured, so the checks above cannot pass by ignoring next altogether.
    _sign_in(browser, web, "/login?next=%2Fregistry%3Fq%3Dx", username, password)
    wait_for(browser, _left_login, what="login with a plain next")
    assert browser.current_url == f"{web.url}/registry?q=x"


def test_logout_from_every_page_ends_the_session_on_the_server(web: Web, browser: WebDriver) -> None:
    for page in ("/desk", "/registry", "/dashboard", "/qa/1"):
        web.login(browser, "operator", "/desk")
        token = _token(browser)
        assert token
        me = httpx.get(f"{web.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        browser.get(f"{web.url}{page}")  # /qa/1 is refused to an operator: the refusal page has the control too
        button = wait_for(browser, lambda d: d.find_element(By.ID, "logout"), what=f"logout control on {page}")
        assert button.text == "Выйти"
        browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
        wait_for(browser, lambda d: d.find_element(By.ID, "logout").text == "Шығу", what="Kazakh label")
        browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
        browser.find_element(By.ID, "logout").click()
        wait_for(browser, lambda d: urlsplit(d.current_url).path == "/login", what=f"logged out of {page}")
        assert _token(browser) is None
        assert browser.execute_script("return localStorage.getItem('callcard.user')") is None
        assert browser.get_cookie("callcard_token") is None
        after = httpx.get(f"{web.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert after.status_code == 401, f"the token still works after logging out of {page}: {after.text}"
        cookie = httpx.get(f"{web.url}/api/auth/me", cookies={"callcard_token": token})
        assert cookie.status_code == 401
    shot(browser, "logged-out")


def test_a_password_someone_else_chose_must_be_replaced_first(web: Web, browser: WebDriver) -> None:
    first = "temp-pass-109-marat"
    user = _add_user(web, "marat", "operator", first, must_change=True)
    _sign_in(browser, web, "/login?next=%2Fregistry", "marat", first)
    wait_for(browser, lambda d: d.find_element(By.ID, "change-form").is_displayed(), what="password change form")
    assert not browser.find_element(By.ID, "login-form").is_displayed()
    assert text_of(browser, "#change-form h1") == "Смена пароля"
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="new-password2"]').text == "Новый пароль ещё раз"
    # The API refuses everything else until then.
    token = _token(browser)
    refused = httpx.get(f"{web.url}/api/cards", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json().get("code") == "password_change_required", refused.text
    new = "Жаңа-құпиясөз-109-marat"
    # Two different new passwords: a sentence in the page's language, nothing sent.
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
    wait_for(browser, lambda d: text_of(d, "#change-form h1") == "Құпиясөзді ауыстыру", what="Kazakh form")
    browser.find_element(By.ID, "new-password").send_keys(new)
    browser.find_element(By.ID, "new-password2").send_keys(new + "x")
    browser.find_element(By.ID, "change-submit").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "change-error").is_displayed(), what="mismatch error")
    assert text_of(browser, "#change-error") == "Жаңа құпиясөздер сәйкес келмейді. Жаңа құпиясөзді қайта енгізіңіз."
    shot(browser, "password-change-kazakh")
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
    # A wrong current password: the API's sentence is shown.
    current = browser.find_element(By.ID, "current-password")
    current.clear()
    current.send_keys("not-the-password")
    repeat = browser.find_element(By.ID, "new-password2")
    repeat.clear()
    repeat.send_keys(new)
    browser.find_element(By.ID, "change-submit").click()
    wait_for(
        browser,
        lambda d: (
            d.find_element(By.ID, "change-error").is_displayed()
            and text_of(d, "#change-error") not in ("", "Новые пароли не совпадают. Введите новый пароль ещё раз.")
        ),
        what="the API's refusal",
    )
    sentence = text_of(browser, "#change-error")
    assert sentence[0].isupper() and sentence.endswith("."), sentence
    assert _must_change(web, user.id)
    current = browser.find_element(By.ID, "current-password")
    current.clear()
    current.send_keys(first)
    browser.find_element(By.ID, "change-submit").click()
    wait_for(browser, _left_login, what="on to next after the change")
    assert browser.current_url == f"{web.url}/registry"
    wait_for(browser, lambda d: d.find_element(By.ID, "logout"), what="the registry, signed in")
    assert not _must_change(web, user.id)
    login = httpx.post(f"{web.url}/api/auth/login", json={"username": "marat", "password": new})
    assert login.status_code == 200 and login.json()["user"]["must_change_password"] is False
    assert httpx.post(f"{web.url}/api/auth/login", json={"username": "marat", "password": first}).status_code == 401
    shot(browser, "password-changed")


def test_a_page_that_meets_password_change_required_sends_the_person_to_the_form(web: Web, browser: WebDriver) -> None:
    password = "aliya-pass-109-x"
    user = _add_user(web, "aliya", "qa", password)
    _sign_in(browser, web, "/login?next=%2Fregistry", "aliya", password)
    wait_for(browser, lambda d: urlsplit(d.current_url).path == "/registry", what="registry")
    wait_for(browser, lambda d: d.find_element(By.ID, "logout"), what="registry ready")
    _require_change(web, user.id)  # e.g. an admin reset the password while the page was open
    try:  # the registry asks the API again (unless a request of its own already met the 403 and left the page)
        browser.find_element(By.ID, "r-q").send_keys("лифт")
    except (StaleElementReferenceException, NoSuchElementException):
        pass
    wait_for(browser, lambda d: d.find_element(By.ID, "change-form").is_displayed(), what="sent to the form")
    assert urlsplit(browser.current_url).path == "/login"
    assert "next=%2Fregistry" in browser.current_url
    # Opening any other page meanwhile leads to the form too.
    browser.get(f"{web.url}/dashboard")
    wait_for(browser, lambda d: d.find_element(By.ID, "change-form").is_displayed(), what="dashboard to the form")
    new = "Новый-пароль-109-aliya"
    browser.find_element(By.ID, "current-password").send_keys(password)
    browser.find_element(By.ID, "new-password").send_keys(new)
    browser.find_element(By.ID, "new-password2").send_keys(new)
    browser.find_element(By.ID, "change-submit").click()
    wait_for(browser, lambda d: urlsplit(d.current_url).path == "/dashboard", what="back to the dashboard")
    wait_for(browser, lambda d: d.execute_script("return !!(window.__dash && window.__dash.ready)"), what="dashboard")
    assert not _must_change(web, user.id)


def test_a_supervisor_starts_on_the_registry_and_does_not_correct(web: Web, browser: WebDriver) -> None:
    uid = web.start_call("+77015550900", [Line("в подъезде не работает лифт третий день", seconds=1.5)])
    web.say(uid, 1.6)
    web.end_call(uid)
    password = "zhanna-pass-109-x"
    _add_user(web, "zhanna", "supervisor", password)
    _sign_in(browser, web, "/login", "zhanna", password)
    wait_for(browser, lambda d: urlsplit(d.current_url).path == "/registry", what="the supervisor's start page")
    wait_for(browser, lambda d: "старший смены" in text_of(d, "#topbar .user"), what="role label")
    nav = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#topbar .topnav a")]
    assert [urlsplit(str(h)).path for h in nav] == ["/desk", "/registry", "/dashboard", "/inbox", "/monitoring"]
    wait_for(
        browser,
        lambda d: "+77015550900" in text_of(d, "#cards tbody"),
        what="the supervisor reads every card",
    )
    assert not browser.find_elements(By.CSS_SELECTOR, '#cards a[href^="/qa/"]')  # no QA corrections
    assert browser.find_element(By.ID, "export").is_displayed()
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="kk"]').click()
    wait_for(browser, lambda d: "ауысым жетекшісі" in text_of(d, "#topbar .user"), what="Kazakh role label")
    browser.find_element(By.CSS_SELECTOR, '.lang-switch button[lang="ru"]').click()
    shot(browser, "supervisor-registry")
    token = _token(browser)
    assert httpx.get(f"{web.url}/qa/{web.call_id(uid)}", cookies={"callcard_token": token or ""}).status_code == 403
    browser.get(f"{web.url}/qa/{web.call_id(uid)}")
    wait_for(browser, lambda d: d.find_element(By.ID, "forbidden").is_displayed(), what="QA page refused")
    # An operator has no CSV export (api/policy.py), so the registry does not offer one.
    web.login(browser, "operator", "/registry")
    wait_for(browser, lambda d: d.find_element(By.ID, "logout"), what="operator's registry")
    wait_for(browser, lambda d: not d.find_element(By.ID, "export").is_displayed(), what="no export for operators")
