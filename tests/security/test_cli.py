"""`damamaya users` and `damamaya screens`, the embedded Redis's password, and CLI errors as one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def damamaya(*args: str, config: Path | None = None, stdin: str = "", env: dict | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("DAMAMAYA_")}
    command = [sys.executable, "-m", "damamaya.cli"] + (["--config", str(config)] if config else []) + list(args)
    return subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120,
                          env={**base, **(env or {})})


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"database:\n  url: sqlite:///{tmp_path}/h.sqlite\n")
    return path


def test_users_add_list_disable(config):
    added = damamaya("users", "add", "dewi", "--role", "dispatcher", config=config, stdin="a long password 1\n")
    assert added.returncode == 0 and "added dewi (dispatcher)" in added.stdout
    listed = damamaya("users", "list", config=config)
    assert "dewi" in listed.stdout and "dispatcher" in listed.stdout and "active" in listed.stdout
    assert damamaya("users", "disable", "dewi", config=config).returncode == 0
    assert "disabled" in damamaya("users", "list", config=config).stdout
    from engine.accounts import Accounts

    store = Accounts(f"sqlite:///{config.parent}/h.sqlite")
    assert store.authenticate("dewi", "a long password 1") is None  # disabled
    store.dispose()


def test_users_add_refusals_are_one_line(config):
    for args, stdin, text in ((("users", "add", "x", "--role", "mayor"), "a long password 1\n", "unknown role"),
                              (("users", "add", "y", "--role", "analyst"), "short\n", "at least 10"),
                              (("users", "disable", "ghost"), "", "no user")):
        result = damamaya(*args, config=config, stdin=stdin)
        assert result.returncode == 2 and text in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_screens_add_list_revoke(config):
    added = damamaya("screens", "add", "lobby", "--base-url", "https://damamaya.denpasar.test", config=config)
    assert added.returncode == 0
    url = added.stdout.strip()
    assert url.startswith("https://damamaya.denpasar.test/screen/") and len(url.rsplit("/", 1)[1]) >= 43
    assert "lobby" in damamaya("screens", "list", config=config).stdout
    revoked = damamaya("screens", "revoke", "lobby", config=config)
    assert revoked.returncode == 0 and "revoked" in damamaya("screens", "list", config=config).stdout


@pytest.mark.parametrize("case", ["database unreachable", "redis unreachable", "config not utf-8", "bad database url",
                                  "bad redis url"])
def test_cli_errors_are_one_line(tmp_path, case):
    config = tmp_path / "config.yaml"
    command = ("rebuild-live",)
    if case == "database unreachable":
        config.write_text("database:\n  url: postgresql://nobody:sekret@127.0.0.1:1/none\n")
        command = ("users", "list")
    elif case == "redis unreachable":
        config.write_text(f"redis:\n  url: redis://:sekret@127.0.0.1:1/0\ndatabase:\n  url: sqlite:///{tmp_path}/h.sqlite\n")
    elif case == "config not utf-8":
        config.write_bytes("language: id\nwall:\n  title: Dinding Kota \xe9\n".encode("latin-1"))
    elif case == "bad database url":
        config.write_text("database:\n  url: not-a-url\n")
        command = ("users", "list")
    else:
        config.write_text(f"redis:\n  url: htp://what\ndatabase:\n  url: sqlite:///{tmp_path}/h.sqlite\n")
    result = damamaya(*command, config=config)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "sekret" not in result.stderr  # a password in a URL never reaches the screen
    expected = {"database unreachable": "the database cannot be used", "redis unreachable": "cannot reach redis://:***@",
                "config not utf-8": "not UTF-8", "bad database url": "is not a database URL", "bad redis url": "redis.url"}
    assert expected[case] in lines[0], lines[0]


def test_embedded_redis_refuses_a_client_without_the_password():
    import redis

    from damamaya.redis_server import EmbeddedRedis, redacted

    server = EmbeddedRedis("32mb")
    url = server.start()
    try:
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.server.port).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.server.port, password="guess").ping()
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert client.config_get("maxmemory")["maxmemory"] == str(32 * 1024 * 1024)
        assert server.password not in redacted(url)
    finally:
        server.stop()
