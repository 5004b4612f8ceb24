"""A call's recording honours Range as RFC 9110 says (a range that starts at or past the end is 416, never the
whole file), and HEAD works on the audio route and on every page: the headers of GET, without a body."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.repo import calls

PAGES = ("/", "/login", "/desk", "/registry", "/dashboard", "/qa/1")


def _wav(frames: int = 4000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(range(256)) * (frames * 2 // 256) + bytes(frames * 2 % 256))
    return out.getvalue()


@pytest.fixture
def recording(ctx: Any, tmp_path: Path) -> tuple[str, bytes]:
    """An ended call with a WAV recording: its audio URL and the file's bytes."""
    data = _wav()
    path = tmp_path / "rec" / "range.wav"
    path.parent.mkdir()
    path.write_bytes(data)
    with ctx.sessionmaker() as s:
        call, _ = calls.get_or_create_call(s, uniqueid="range.1", caller_number="+77010000042")
        calls.add_recording(s, uniqueid="range.1", path=str(path), duration_s=0.5, size_bytes=len(data))
        calls.end_call(s, uniqueid="range.1", at=datetime.now(UTC))
        return f"/api/calls/{call.id}/audio", data


@pytest.mark.parametrize("api_db", ["sqlite", "postgres"], indirect=True)
def test_a_range_starting_at_or_past_the_end_is_416(
    client: Any, admin_headers: dict[str, str], recording: tuple[str, bytes]
) -> None:
    url, data = recording
    size = len(data)
    for spec in (f"bytes={size}-", f"bytes={size + 1}-", f"bytes={size * 10}-", f"bytes={size}-{size + 9}"):
        reply = client.get(url, headers={**admin_headers, "Range": spec})
        assert reply.status_code == 416, (spec, reply.status_code)
        assert reply.headers["content-range"] == f"bytes */{size}"
        assert "outside the recording" in reply.json()["detail"]
    last = client.get(url, headers={**admin_headers, "Range": f"bytes={size - 1}-"})
    assert last.status_code == 206 and last.content == data[-1:]
    assert last.headers["content-range"] == f"bytes {size - 1}-{size - 1}/{size}"
    backwards = client.get(url, headers={**admin_headers, "Range": "bytes=9-3"})
    assert backwards.status_code == 200 and backwards.content == data, "an invalid range is ignored"


def test_head_on_the_audio_gives_the_headers_of_get_without_a_body(
    client: Any, admin_headers: dict[str, str], recording: tuple[str, bytes]
) -> None:
    url, data = recording
    whole = client.head(url, headers=admin_headers)
    assert whole.status_code == 200 and whole.content == b""
    assert whole.headers["content-length"] == str(len(data)) and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    part = client.head(url, headers={**admin_headers, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert client.head(url, headers={**admin_headers, "Range": f"bytes={len(data)}-"}).status_code == 416
    assert client.head(url).status_code == 401
    assert "head" not in client.get("/api/openapi.json").json()["paths"]["/api/calls/{call_id}/audio"]


def test_head_on_every_page_gives_its_headers(client: Any) -> None:
    for path in PAGES:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-security-policy"] == got.headers["content-security-policy"]
        assert head.headers["content-type"].startswith("text/html")
    assert client.head("/favicon.ico", follow_redirects=False).status_code == 308


def test_head_over_a_real_server_sends_no_body(
    ctx: Any, admin_headers: dict[str, str], recording: tuple[str, bytes]
) -> None:
    from api.app import create_app
    from tests.web.harness import LiveServer

    url, data = recording
    server = LiveServer(create_app(ctx))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as http:
            audio = http.head(url, headers=admin_headers)
            assert audio.status_code == 200 and audio.headers["content-length"] == str(len(data))
            assert audio.content == b""
            login = http.head("/login")
            assert login.status_code == 200 and login.content == b"" and int(login.headers["content-length"]) > 0
            # the connection is still in step: a GET after the HEADs gets its own whole answer
            assert http.get(url, headers=admin_headers).content == data
    finally:
        server.stop()
