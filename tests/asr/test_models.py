"""Model download against a real HTTP server on 127.0.0.1: good and bad checksums, a cut connection; lookup."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from asr.models import (
    DOWNLOAD_COMMAND,
    DownloadError,
    ModelSpec,
    download_model,
    is_model_dir,
    list_installed,
    resolve_model_dir,
    resolve_model_dirs,
    spec_for,
)
from callcard.cli import cli
from core.errors import ModelMissingError

NAME = "vosk-model-small-ru-0.22"


def model_zip(name: str = NAME) -> bytes:
    """A small archive laid out like a Vosk model."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{name}/am/final.mdl", b"\0" * 50_000)
        zf.writestr(f"{name}/conf/model.conf", "--beam=10\n")
        zf.writestr(f"{name}/conf/mfcc.conf", "--sample-frequency=16000\n")
        zf.writestr(f"{name}/README", "test model\n")
    return buf.getvalue()


class Server:
    """Serves /good.zip, /cut.zip (connection dropped halfway) and /evil.zip (path traversal)."""

    def __init__(self) -> None:
        self.archive = model_zip()
        evil = io.BytesIO()
        with zipfile.ZipFile(evil, "w") as zf:
            zf.writestr("../escape.txt", "x")
        self.evil = evil.getvalue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = {"/good.zip": outer.archive, "/cut.zip": outer.archive, "/evil.zip": outer.evil,
                        "/notzip.zip": b"<html>not found page</html>"}.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path == "/cut.zip":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def spec(server: Server, path: str = "/good.zip", **pins: object) -> ModelSpec:
    return ModelSpec("ru", "small", NAME, server.url + path, **pins)  # type: ignore[arg-type]


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_good_checksum_installs(server: Server, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    sha = hashlib.sha256(server.archive).hexdigest()
    path = download_model(spec(server, size=len(server.archive), sha256=sha), tmp_path,
                          progress=lambda d, t: seen.append((d, t)), chunk_bytes=4096)
    assert path == tmp_path / NAME and is_model_dir(path)
    assert leftovers(tmp_path) == [NAME], "no temporary files left"
    assert seen and seen[-1] == (len(server.archive), len(server.archive))
    assert [m.name for m in list_installed(tmp_path)] == [NAME]
    assert list_installed(tmp_path)[0].language == "ru"


def test_bad_checksum_installs_nothing(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="sha256"):
        download_model(spec(server, sha256="0" * 64), tmp_path)
    assert leftovers(tmp_path) == []


def test_bad_md5_or_size_installs_nothing(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="md5"):
        download_model(spec(server, md5="0" * 32), tmp_path)
    with pytest.raises(DownloadError, match="expected"):
        download_model(spec(server, size=123), tmp_path)
    assert leftovers(tmp_path) == []


def test_cut_connection_installs_nothing(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError):
        download_model(spec(server, "/cut.zip"), tmp_path)
    assert leftovers(tmp_path) == []


def test_cut_download_keeps_the_installed_model(server: Server, tmp_path: Path) -> None:
    download_model(spec(server), tmp_path)
    with pytest.raises(DownloadError):
        download_model(spec(server, "/cut.zip"), tmp_path, force=True)
    assert is_model_dir(tmp_path / NAME) and leftovers(tmp_path) == [NAME]


@pytest.mark.parametrize("path", ["/evil.zip", "/notzip.zip", "/missing.zip"])
def test_broken_archives_install_nothing(server: Server, tmp_path: Path, path: str) -> None:
    with pytest.raises(DownloadError):
        download_model(spec(server, path), tmp_path)
    assert leftovers(tmp_path) == []
    assert not (tmp_path.parent / "escape.txt").exists()


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    bad = ModelSpec("ru", "small", NAME, "http://127.0.0.1:9/none.zip")
    with pytest.raises(DownloadError, match="failed"):
        download_model(bad, tmp_path, timeout=2)


def test_cli_download_and_list(server: Server, tmp_path: Path) -> None:
    runner = CliRunner()
    sha = hashlib.sha256(server.archive).hexdigest()
    res = runner.invoke(cli, ["models", "download", "ru", "--dir", str(tmp_path), "--url",
                              server.url + "/good.zip", "--sha256", sha])
    assert res.exit_code == 0, res.output
    assert "installed" in res.output and is_model_dir(tmp_path / NAME)
    res = runner.invoke(cli, ["models", "list", "--dir", str(tmp_path)])
    assert res.exit_code == 0 and NAME in res.output and "ru" in res.output
    res = runner.invoke(cli, ["models", "download", "ru", "--dir", str(tmp_path / "other"), "--url",
                              server.url + "/good.zip", "--sha256", "1" * 64])
    assert res.exit_code == 1 and "sha256" in res.output
    assert leftovers(tmp_path / "other") == []


def test_catalogue_names_vosks_official_models() -> None:
    assert spec_for("ru").name == "vosk-model-small-ru-0.22"
    assert spec_for("kk").name == spec_for("kz").name == "vosk-model-small-kz-0.15"
    assert spec_for("ru", "big").name == "vosk-model-ru-0.42"
    assert spec_for("kk", "big").name == "vosk-model-kz-0.15"
    assert spec_for("kk").url.endswith("/vosk-model-small-kz-0.15.zip") and spec_for("kk").size == 43739114


def test_missing_model_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match=DOWNLOAD_COMMAND):
        resolve_model_dir("kk", explicit=None, models_dir=tmp_path)
    with pytest.raises(ModelMissingError, match=DOWNLOAD_COMMAND):
        resolve_model_dir("ru", explicit=tmp_path / "nowhere", models_dir=tmp_path)
    assert resolve_model_dirs(models_dir=tmp_path) == {"ru": None, "kk": None}


def test_explicit_dir_wins(korean_model: Path, tmp_path: Path) -> None:
    dirs = resolve_model_dirs(models_dir=tmp_path, explicit={"kk": korean_model})
    assert dirs == {"ru": None, "kk": korean_model}
