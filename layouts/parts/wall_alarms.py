"""The wall's alarm parts: stores, the banner (an ARIA live region), the "sound blocked"
notice, the layer of pulsing markers and the incident list's owner and acknowledgement
columns. callbacks/wall_alarms.py feeds them; assets/alarms.js draws them."""
from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from layouts.messages import client_messages, t

PULSE_PANE = "alarm-pulse"  # above the markers and clusters (Leaflet's marker pane is 600)
WORD_PREFIXES = ("wall.alarm.", "alarm.level.")

alarm_js = Namespace("dmy", "alarms")


def stores(lang: str) -> list:
    return [
        dcc.Store(id="wall-alarms"),
        dcc.Store(id="wall-alarms-seen"),  # the operator-data versions the screen holds
        dcc.Store(id="wall-alarm-words", data=client_messages(lang, WORD_PREFIXES)),
    ]


def banner() -> html.Div:
    """Empty until an alarm fires; role=alert announces what is put in it."""
    return html.Div(id="wall-alarm-banner", role="alert", className="alarm-banner quiet",
                    **{"aria-live": "assertive", "aria-atomic": "true"})


def sound_notice() -> html.Div:
    return html.Div(id="wall-sound-notice", className="sound-notice quiet")


def pulse_layer() -> dl.Pane:
    """Pulsing rings at the subjects of firing alarms: a layer of its own, never clustered,
    so a subject inside a cluster still shows where it is."""
    return dl.Pane(dl.GeoJSON(id="wall-alarm-pulse", data={"type": "FeatureCollection", "features": []},
                              pointToLayer=alarm_js("pulseMarker"), hideout={"pane": PULSE_PANE}, interactive=False),
                   name=PULSE_PANE, style={"zIndex": 650, "pointerEvents": "none"})


def grid_columns(lang: str) -> list[dict]:
    """Owner (agency) and acknowledgement of an incident, read from the wall-alarms store."""
    return [
        {"field": "uid", "colId": "owner", "headerName": t("wall.col.owner", lang), "flex": 1.3,
         "valueGetter": {"function": "dmyOwner(params.data)"}, "tooltipValueGetter": {"function": "dmyOwnerFull(params.data)"}},
        {"field": "uid", "colId": "ack", "headerName": t("wall.col.ack", lang), "flex": 0.9,
         "valueGetter": {"function": "dmyAck(params.data)"}},
    ]
