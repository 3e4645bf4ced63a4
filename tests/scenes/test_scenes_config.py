"""The `scenes:` block of config.yaml: built-in scenes, playlists, and alert rules naming
scenes are checked at start-up, each mistake one line naming where it is."""
from __future__ import annotations

from pathlib import Path

import pytest

from damamaya.config import config_from_dict, load_config
from engine.config import ConfigError
from engine.wall.scenes import BUILTIN_SCENES

RULE = {"match": {"category": ["flood"]}, "level": "critical", "message": {"id": "a", "en": "b"}}


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data)
    return str(exc.value)


def test_the_shipped_config_has_the_built_in_scenes_and_its_playlist():
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml")
    assert set(BUILTIN_SCENES) <= set(config.scenes.scenes)
    assert [s.scene for s in config.scenes.playlists["rotation"]][:2] == ["overview", "kpi"]


def test_without_a_scenes_block_the_built_in_scenes_are_there():
    config = config_from_dict({})
    assert config.scenes.scenes["overview"].panels == ["map", "tiles", "incidents"]
    assert config.scenes.scenes["flood"].map.focus == "subject"


def test_a_scene_given_in_config_is_added_and_may_replace_a_built_in_one():
    config = config_from_dict({"scenes": {"scenes": {"night": {"panels": ["map"]}, "kpi": {"panels": ["tiles", "prices"]}}}})
    assert config.scenes.scenes["night"].panels == ["map"]
    assert config.scenes.scenes["kpi"].panels == ["tiles", "prices"]
    assert "overview" in config.scenes.scenes


def test_an_unknown_panel_is_named():
    assert error_of({"scenes": {"scenes": {"x": {"panels": ["radar"]}}}}).startswith("config: scenes.scenes.x.panels.0:")


def test_a_panel_listed_twice_is_refused():
    assert "listed twice" in error_of({"scenes": {"scenes": {"x": {"panels": ["map", "map"]}}}})


def test_a_scene_without_panels_is_refused():
    assert error_of({"scenes": {"scenes": {"x": {"panels": []}}}}).startswith("config: scenes.scenes.x.panels:")


def test_a_focus_outside_denpasar_is_named():
    message = error_of({"scenes": {"scenes": {"x": {"panels": ["map"], "map": {"focus": "Atlantis"}}}}})
    assert message.startswith("config: scenes.scenes.x.map:") and "Atlantis" in message


def test_a_kecamatan_or_desa_is_a_focus():
    config = config_from_dict({"scenes": {"scenes": {"x": {"panels": ["map"], "map": {"focus": "Denpasar Selatan"}},
                                                     "y": {"panels": ["map"], "map": {"focus": "sumerta kelod"}}}}})
    assert config.scenes.scenes["y"].map.focus == "sumerta kelod"


def test_an_unknown_category_is_named():
    assert "unknown category 'floods'" in error_of({"scenes": {"scenes": {"x": {"panels": ["incidents"], "categories": ["floods"]}}}})


def test_a_bad_scene_name_is_refused():
    assert error_of({"scenes": {"scenes": {"a b": {"panels": ["map"]}}}}).startswith("config: scenes.scenes.a b")


def test_a_playlist_naming_an_unknown_scene_is_one_line_naming_it():
    message = error_of({"scenes": {"playlists": {"p": [{"scene": "overview", "seconds": 30}, {"scene": "radar", "seconds": 30}]}}})
    assert message.startswith("config: scenes.playlists.p.1.scene: unknown scene 'radar' (known: ")
    assert "\n" not in message


def test_a_playlist_step_shorter_than_five_seconds_is_refused():
    assert error_of({"scenes": {"playlists": {"p": [{"scene": "kpi", "seconds": 1}]}}}).startswith("config: scenes.playlists.p.0.seconds:")


def test_an_empty_playlist_is_refused():
    assert "lists no scene" in error_of({"scenes": {"playlists": {"p": []}}})


def test_an_alert_rule_naming_an_unknown_scene_stops_start_up():
    message = error_of({"alerts": {"rules": {"deep-flood": {**RULE, "scene": "floods"}}}})
    assert message.startswith("config: alerts.rules.deep-flood.scene: unknown scene 'floods' (known: ")


def test_an_alert_rule_may_name_a_scene_given_in_config():
    config = config_from_dict({"scenes": {"scenes": {"banjir": {"panels": ["map"]}}},
                               "alerts": {"rules": {"deep-flood": {**RULE, "scene": "banjir"}}}})
    assert config.alerts.rules["deep-flood"].scene == "banjir"
