"""/sources: every source's health, data age against its promised interval, record and
reject counts, last error, and the latest rejects with their reasons."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import dcc, html

from damamaya import runtime
from engine.records import utcnow
from engine.source_health import sources_view
from layouts.messages import client_messages, t
from layouts.pages import nav, needs_live_store

dash.register_page(__name__, path="/sources", name="sources", nav="nav.sources", order=1)

POLL_MS = 3000


def _grid(grid_id: str, columns: list[dict], row_id: str, height: str, rows: list[dict]):
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=columns, getRowId=f"params.data.{row_id}",
        defaultColDef={"resizable": True, "sortable": True, "wrapText": False},
        dashGridOptions={"suppressCellFocus": True, "rowHeight": 34, "tooltipShowDelay": 200},
        className="ag-theme-alpine-dark dmy-grid", style={"height": height, "width": "100%"},
    )


@needs_live_store
def layout(**_query):
    config = runtime.config()
    lang = config.language
    view = sources_view(runtime.live(), utcnow(), config.wall.poll_seconds)  # Redis down: the outage view
    c = lambda field, key, **kw: {"field": field, "headerName": t(key, lang), **kw}  # noqa: E731
    source_cols = [
        c("title", "sources.col.source", pinned="left", width=200),
        c("status", "sources.col.status", width=120, cellClass={"function": "'src-status src-' + params.value"},
          valueFormatter={"function": "dmyLabel('sources.status.' + params.value)"}),
        c("last_success", "sources.col.age", width=130, valueFormatter={"function": "dmyAgeIso(params.value)"}, colId="age"),
        c("interval", "sources.col.promise", width=230,
          valueFormatter={"function": f"'{t('sources.every', lang)}'.replace('{{n}}', params.value).replace('{{s}}', Math.round(params.data.stale_after))"}),
        c("records", "sources.col.records", width=120, type="rightAligned"),
        c("rejects_last", "sources.col.rejects_last", width=150, type="rightAligned"),
        c("rejects_total", "sources.col.rejects_total", width=130, type="rightAligned"),
        c("polls", "sources.col.polls", width=90, type="rightAligned"),
        c("duration_ms", "sources.col.duration", width=110, type="rightAligned"),
        c("last_error", "sources.col.last_error", flex=1, minWidth=260, tooltipField="last_error"),
        c("last_error_at", "sources.col.error_at", width=150),
        c("adapter", "sources.col.adapter", width=130),
    ]
    reject_cols = [
        c("time", "sources.col.time", width=150),
        c("source", "sources.col.source", width=160),
        c("reason", "sources.col.reason", flex=2, minWidth=300, tooltipField="reason"),
        c("item", "sources.col.item", flex=2, minWidth=260, tooltipField="item"),
        c("ref", "sources.col.ref", width=110),
        c("times", "sources.col.times", width=90, type="rightAligned"),
    ]
    screen_cols = [
        c("screen", "sources.col.screen", width=200),
        c("status", "sources.col.status", width=140, cellClass={"function": "'src-status src-' + (params.value === 'alive' ? 'ok' : 'failing')"},
          valueFormatter={"function": "dmyLabel('sources.screen.' + params.value)"}),
        c("last_seen", "sources.col.last_seen", flex=1),
    ]
    return html.Div([
        nav("/sources"),
        dcc.Interval(id="sources-poll", interval=POLL_MS),
        dcc.Interval(id="sources-tick", interval=5000),
        dcc.Store(id="sources-state", data={"digest": view["digest"]}),
        dcc.Store(id="sources-messages", data={"m": client_messages(lang, ("age.", "sources.status.", "sources.screen."))}),
        html.Div([
            html.Div(id="sources-outage", className="an-error"),
            html.H1(t("sources.title", lang)),
            _grid("sources-grid", source_cols, "source", "420px", view["sources"]),
            html.H2(t("sources.rejects.title", lang)),
            _grid("rejects-grid", reject_cols, "rid", "420px", view["rejects"]),
            html.H2(t("sources.screens.title", lang)),
            _grid("screens-grid", screen_cols, "screen", "220px", view["screens"]),
        ], className="page sources-page"),
    ])
