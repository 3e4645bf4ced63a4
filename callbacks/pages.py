"""What every screen shares: the "cannot reach the live store" view reloads itself."""
from __future__ import annotations

from dash import Input, Output


def register(app) -> None:
    app.clientside_callback(
        "function(n) { if (n) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("retry-page", "id"),
        Input("retry-page", "n_intervals"),
        prevent_initial_call=True,
    )
