"""Callbacks, one module per screen, registered on the app at import of app.py."""
from __future__ import annotations


def register_all(app) -> None:
    from callbacks import history, kpi, publik, sources, wall

    for module in (wall, sources, kpi, history, publik):
        module.register(app)
