"""The UI's static side, without a browser: both languages have every string, pages load only our assets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

WEB = Path(__file__).resolve().parents[2] / "api" / "web"
I18N = (WEB / "static" / "js" / "i18n.js").read_text(encoding="utf-8")


def _table(lang: str) -> dict[str, str]:
    start = I18N.index(f"  {lang}: {{")
    end = I18N.index("\n  },", start)
    return dict(re.findall(r'^\s+"([\w.]+)": "((?:[^"\\]|\\.)*)",$', I18N[start:end], re.M))


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "pages").glob("*.html"):
        keys |= set(re.findall(r'data-i18n(?:-[\w-]+)?="([\w.]+)"', path.read_text(encoding="utf-8")))
    for path in (WEB / "static" / "js").glob("*.js"):
        keys |= set(re.findall(r'\bt\("([\w.]+)"', path.read_text(encoding="utf-8")))
    return keys


def test_kazakh_and_russian_have_the_same_strings_and_every_used_one() -> None:
    ru, kk = _table("ru"), _table("kk")
    assert len(ru) > 150
    assert set(ru) == set(kk), sorted(set(ru) ^ set(kk))
    missing = _used_keys() - set(ru)
    assert not missing, f"used but not in the dictionary: {sorted(missing)}"
    assert all(v.strip() for v in [*ru.values(), *kk.values()])
    # Kazakh strings are Kazakh: its own letters appear throughout the table.
    assert sum(bool(re.search("[әғқңөұүһі]", v)) for v in kk.values()) > 60


def test_pages_reference_only_local_assets_and_send_a_strict_csp(client: Any) -> None:
    for path in ("/", "/login", "/desk", "/registry", "/dashboard", "/qa/1"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert not re.search(r'(?:src|href)="(?:https?:)?//', r.text), f"{path} references an outside asset"
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
            assert client.get(asset).status_code == 200, asset
    for path in (WEB / "static").rglob("*"):
        if path.suffix in (".js", ".css"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{path.name} fetches from outside"
            for module in re.findall(r'from "\./([\w-]+\.js)"', text):
                assert client.get(f"/static/js/{module}").status_code == 200
