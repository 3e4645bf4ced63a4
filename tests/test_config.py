import subprocess
import sys
from pathlib import Path

import pytest

from damamaya.config import ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_config_is_valid_and_enables_the_demo():
    config = load_config(ROOT / "config.yaml")
    assert config.redis.url is None
    assert config.database.url.startswith("sqlite:///")
    assert any(s.adapter == "demo" for s in config.enabled_sources().values())


@pytest.mark.parametrize("data,message", [
    ({"sources": {"floods": {"adapter": "demo", "interval": 0.5}}}, "config.yaml: sources.floods.interval: must be at least 1 second"),
    ({"sources": {"x": {"adapter": "nope"}}}, "config.yaml: sources.x.adapter: no adapter named 'nope'"),
    ({"sources": {"q": {"adapter": "bmkg-quake", "colour": 1}}}, "config.yaml: sources.q.colour: unknown key"),
    ({"sources": {"q": {"interval": 5}}}, "config.yaml: sources.q: needs an `adapter:` key"),
    ({"wall": {"poll_seconds": 0}}, "config.yaml: wall.poll_seconds:"),
    ({"languag": "en"}, "config.yaml: languag: unknown key"),
    ({"sources": {False: {"adapter": "demo"}}}, "config.yaml: sources: source name False is not text"),
    ({"map": {"tile_url": 3}}, "config.yaml: map.tile_url:"),
])
def test_errors_name_the_key_in_one_line(data, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, "config.yaml")
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_retired_map_view_keys_are_dropped_with_a_warning(caplog):
    """map.center and map.zoom of an older config.yaml: start-up goes on and says they are unused."""
    with caplog.at_level("WARNING", logger="engine.config"):
        config = config_from_dict({"map": {"center": [-8.6, 115.2], "zoom": 12, "tile_url": None}})
    assert "map.center and map.zoom are no longer used" in caplog.text
    assert not hasattr(config.map, "center") and config.map.tile_url is None


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("DAMAMAYA_REDIS_URL", "redis://example:6379/3")
    monkeypatch.setenv("DAMAMAYA_DATABASE_URL", "postgresql://u@h/db")
    config = config_from_dict({})
    assert config.redis.url == "redis://example:6379/3" and config.database.url == "postgresql://u@h/db"


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("sources: [\n")
    with pytest.raises(ConfigError, match="config.yaml: not valid YAML at line"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_cli_prints_one_line_not_a_traceback(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("sources:\n  floods:\n    adapter: demo\n    interval: 0\n")
    proc = subprocess.run([sys.executable, "-m", "damamaya.cli", "--config", str(cfg), "collect"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "config.yaml: sources.floods.interval: must be at least 1 second"
