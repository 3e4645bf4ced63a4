"""Callbacks, one module per screen; `register_all` puts every one on the app.

A screen's callbacks module has `register(app)`; add it to SCREENS here."""
from __future__ import annotations

from callbacks import console, history, kpi, pages, publik, sources, wall, wall_scenes

SCREENS = (pages, wall, wall_scenes, sources, kpi, history, publik, console)


def register_all(app) -> None:
    for module in SCREENS:
        module.register(app)
