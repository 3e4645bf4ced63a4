"""The scene panels' data (engine/wall/panels.py): camera cards without secret links,
latest prices with their change, gauge lines from history and the live value."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.wall.panels import camera_cards, gauge_history, gauge_series, price_rows, shown_url

T = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)


def camera(rid, online, link=None):
    return {"kind": "reading", "source": "cams", "id": rid, "station": rid, "station_name": rid.upper(),
            "quantity": "camera_online", "value": 1.0 if online else 0.0, "observed_at": T.isoformat(),
            "details": {"stream_url": link, "online_known": True}}


@pytest.mark.parametrize("url", ["https://u:p@cam.example/a.m3u8", "https://cam.example/a.m3u8?token=x",
                                 "https://cam.example/a#k=1", "rtsp://cam.example/live", "javascript:alert(1)", None, 5])
def test_a_link_that_could_carry_a_secret_or_is_no_web_address_is_not_shown(url):
    assert shown_url(url) is None


def test_a_plain_web_link_is_shown():
    assert shown_url("https://cam.example/a.m3u8") == "https://cam.example/a.m3u8"


def test_camera_cards_put_offline_cameras_first_and_drop_unsafe_links():
    cards = camera_cards([camera("a", True, "https://cam.example/a"), camera("b", False, "https://x:y@cam.example/b"),
                          {"kind": "reading", "quantity": "water_level", "source": "g", "id": "g"}])
    assert [(c["name"], c["online"], c["link"]) for c in cards] == [("B", False, None), ("A", True, "https://cam.example/a")]
    assert cards[0]["ts"] == T.timestamp()


def test_price_rows_give_the_latest_price_and_the_change_from_the_previous_day():
    prices = [{"kind": "price", "source": "p", "id": str(d), "commodity": "beras_medium", "market": "Pasar Badung",
               "unit": "kg", "value": v, "date": (T - timedelta(days=2 - d)).isoformat()} for d, v in ((0, 13000), (1, 13000), (2, 13650))]
    [row] = price_rows(prices)
    assert (row["commodity"], row["value"], row["pct"]) == ("beras medium", 13650, 5.0)


def test_gauge_series_ends_with_the_live_value():
    live = {"kind": "reading", "source": "g", "id": "g1", "station_name": "Pos A", "quantity": "water_level", "value": 190.0,
            "unit": "cm", "alert_level": 2, "observed_at": T.isoformat()}
    [line] = gauge_series([live], {"g1": [(T.timestamp() - 3600, 120.0), (T.timestamp() - 7200, 80.0)]})
    assert line["points"] == [[round(T.timestamp()) - 7200, 80.0], [round(T.timestamp()) - 3600, 120.0], [round(T.timestamp()), 190.0]]
    assert line["level"] == 2


def test_gauge_history_reads_the_stored_levels_of_the_last_hours(history):
    from engine.records import Reading

    levels = [Reading(id="g1", source="g", station="g1", quantity="water_level", value=v, observed_at=T - timedelta(hours=h))
              for h, v in ((3, 80.0), (2, 95.0), (1, 130.0))]
    for reading in levels:
        history.apply("g", [reading], now=T)
    found = gauge_history(history.engine, "g", ["g1"], T - timedelta(hours=6))
    assert sorted(v for _, v in found["g1"]) == [80.0, 95.0, 130.0]
    assert gauge_history(history.engine, "g", ["g1"], T + timedelta(hours=1)) == {}


def test_the_demo_cameras_make_a_card_each():
    import orjson

    from data_sources.demo import CAMERAS, Demo, DemoConfig

    demo = Demo("demo-cctv", DemoConfig(feed="cameras", seed=1))
    parsed = demo.read(orjson.loads(demo.fetch()))
    cards = camera_cards([r.model_dump(mode="json") for r in parsed.records])
    assert not parsed.rejects
    assert sorted(c["name"] for c in cards) == sorted(name for _, name, _, _ in CAMERAS)
