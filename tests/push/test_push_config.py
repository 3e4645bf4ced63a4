"""The push block of config.yaml, and what the wall page is told about the stream."""
from __future__ import annotations

import pytest

from damamaya.config import ConfigError, config_from_dict
from push import tokens
from push.browser import stream_url, wall_push


def test_defaults_put_push_beside_the_web_port():
    config = config_from_dict({"web": {"port": 9000}})
    assert config.push.enabled and config.push_port() == 9001 and config.push.heartbeat_seconds == 15
    assert config_from_dict({"web": {"port": 9000}, "push": {"port": 7000}}).push_port() == 7000


@pytest.mark.parametrize("block, key", [
    ({"heartbeat_seconds": 0}, "push.heartbeat_seconds"),
    ({"port": 70000}, "push.port"),
    ({"path": "no-slash"}, "push.path"),
    ({"token_seconds": 5}, "push.token_seconds"),
    ({"colour": "red"}, "push.colour"),
])
def test_a_wrong_push_key_stops_start_up_naming_it(block, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict({"push": block})


def test_run_tells_its_children_the_push_port(monkeypatch):
    monkeypatch.setenv("DAMAMAYA_PUSH_PORT", "8123")
    assert config_from_dict({}).push_port() == 8123


def test_without_a_proxy_the_stream_is_on_the_page_host_at_the_push_port():
    config = config_from_dict({"web": {"port": 8050}})
    assert stream_url(config, "http://wall-3.local:8050/wall") == "http://wall-3.local:8051/push/events"
    assert stream_url(config, "https://[::1]:8050/wall") == "https://[::1]:8051/push/events"


def test_behind_a_proxy_the_stream_is_on_the_same_origin():
    config = config_from_dict({"push": {"browser_url": "/push/"}})
    assert stream_url(config, "https://ops.denpasarkota.go.id/wall") == "/push/events"


def test_the_wall_gets_a_token_for_its_own_screen_and_nothing_when_push_is_off(redis_client, monkeypatch):
    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    config = config_from_dict({"wall": {"poll_seconds": 2}, "push": {"safety_poll_seconds": 45}})
    store = wall_push(config, redis_client, "a" * 32, "http://127.0.0.1:8050/wall", "wall", "wall-poll", "wall-wake")
    secret = tokens.shared_secret(redis_client, config.redis.prefix)
    assert tokens.verify(secret, store["token"]) == "a" * 32
    assert store["poll_ms"] == 2000 and store["safety_ms"] == 45_000 and store["url"].endswith(":8051/push/events")
    off = config_from_dict({"push": {"enabled": False}})
    assert wall_push(off, redis_client, "a" * 32, "http://x/wall", "wall", "wall-poll", "wall-wake") is None
