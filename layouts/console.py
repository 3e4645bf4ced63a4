"""/console, the operator console: the alarm queue, the incident list with filters, and
the actions on the selected alarm or incident (callbacks/console.py), for operators and
dispatchers at their desks. Buttons a role may not use are not shown; the server refuses
them anyway (security/roles.py ACTIONS)."""
from __future__ import annotations

import dash
import dash_ag_grid as dag
from dash import dcc, html

from damamaya import runtime
from engine.alerts import alarm_queue
from engine.alerts.console import alarm_rows, incident_sources
from engine.geo import boundaries
from engine.records import SEVERITIES, STATUSES
from engine.taxonomy import DOMAINS
from layouts.messages import client_messages, t
from layouts.pages import nav, needs_live_store
from layouts.parts.console import ACTION_RIGHT, NOTE_MAX, POLL_MS, REASON_MAX, TEXT_MAX, ops_live


def _title(**_query) -> str:
    return f"{t('console.title', runtime.config().language)} · Damamaya"


dash.register_page(__name__, path="/console", name="console", nav="nav.console", order=1.5, title=_title)


def _grid(grid_id: str, columns: list[dict], row_id: str, rows: list[dict], **options):
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=columns, getRowId=f"params.data.{row_id}",
        defaultColDef={"resizable": True, "sortable": False},
        dashGridOptions={"suppressCellFocus": True, "rowHeight": 34, "animateRows": False,
                         "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
                         **options},
        className="ag-theme-alpine-dark dmy-grid console-grid", style={"height": "100%", "width": "100%"},
    )


def _alarm_columns(lang: str) -> list[dict]:
    c = lambda field, key, **kw: {"field": field, "headerName": t(key, lang), **kw}  # noqa: E731
    return [
        {"field": "order", "hide": True, "sort": "asc"},  # the queue's order, kept as rows change one by one
        c("level", "console.col.level", width=110, cellClass={"function": "'console-level console-level-' + params.value"},
          valueFormatter={"function": "dmyLabel('console.level.' + params.value)"}),
        c("message", "console.col.message", flex=1, minWidth=260, tooltipField="message"),
        c("count", "console.col.count", width=80, type="rightAligned"),
        c("state", "console.col.state", width=130, cellClass={"function": "'console-state console-state-' + params.value"},
          valueFormatter={"function": "dmyLabel('console.state.' + params.value)"}),
        c("first_fired", "console.col.first_fired", width=140, colId="age",
          valueFormatter={"function": "dmyAgeIso(params.value)"}),
        c("acknowledged_by", "console.col.acknowledged_by", width=150),
    ]


def _incident_columns(lang: str) -> list[dict]:
    c = lambda field, key, **kw: {"field": field, "headerName": t(key, lang), **kw}  # noqa: E731
    return [
        c("severity", "console.col.severity", width=110, cellClass={"function": "'console-sev console-sev-' + params.value"},
          valueFormatter={"function": "dmyLabel('severity.' + params.value)"}),
        c("title", "console.col.title", flex=2, minWidth=220, tooltipField="title"),
        c("status", "console.col.status", width=120, valueFormatter={"function": "dmyLabel('status.' + params.value)"}),
        c("kecamatan", "console.col.kecamatan", width=150),
        c("agency", "console.col.agency", width=190, tooltipField="agency"),
        c("unit", "console.col.unit", width=170),
        c("owner", "console.col.owner", width=120),
        c("source", "console.col.source", width=130),
        c("reported_at", "console.col.reported", width=130, colId="age", valueFormatter={"function": "dmyAgeIso(params.value)"}),
    ]


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label, className="an-label"), control], className="console-filter")


def _dropdown(id_: str, options: list[dict], **kw) -> dcc.Dropdown:
    return dcc.Dropdown(id=id_, options=options, multi=True, className="an-dropdown", **kw)


def _filters(lang: str, sources: list[str], agencies: dict) -> html.Div:
    kecamatan = sorted(boundaries().kecamatan_names().values())
    return html.Div([
        _filter(t("console.f.source", lang), _dropdown("console-f-source", [{"label": s, "value": s} for s in sources])),
        _filter(t("console.f.domain", lang), _dropdown("console-f-domain", [
            {"label": labels[0 if lang == "id" else 1], "value": d} for d, labels in DOMAINS.items()])),
        _filter(t("console.f.status", lang), _dropdown("console-f-status", [
            {"label": t(f"status.{s}", lang), "value": s} for s in STATUSES])),
        _filter(t("console.f.severity", lang), _dropdown("console-f-severity", [
            {"label": t(f"severity.{s}", lang), "value": s} for s in SEVERITIES])),
        _filter(t("console.f.kecamatan", lang), _dropdown("console-f-kecamatan", [{"label": k, "value": k} for k in kecamatan])),
        _filter(t("console.f.agency", lang), _dropdown("console-f-agency", [
            {"label": a.name, "value": key} for key, a in agencies.items()])),
        _filter("\u00a0", dcc.Checklist(id="console-f-unassigned", options=[{"label": t("console.f.unassigned", lang),
                                                                              "value": "yes"}], value=[],
                                        className="console-check")),
        _filter("\u00a0", dcc.Input(id="console-f-text", type="search", debounce=True, maxLength=TEXT_MAX,
                                    placeholder=t("console.f.text", lang), className="an-input")),
    ], className="console-filters")


def _button(action: str, lang: str, allowed: set[str], extra: str = "") -> html.Button:
    return html.Button(t(f"console.act.{action}", lang), id=f"console-{action}", n_clicks=0,
                       hidden=ACTION_RIGHT[action] not in allowed, className=f"an-button console-act {extra}".strip())


def _actions(lang: str, agencies: dict, allowed: set[str]) -> html.Div:
    return html.Div([
        html.Div([_button("acknowledge", lang, allowed, "console-primary"), _button("resolve", lang, allowed),
                  _button("release", lang, allowed)], className="console-row"),
        html.Div([
            dcc.Dropdown(id="console-agency", options=[{"label": a.name, "value": key} for key, a in agencies.items()],
                         placeholder=t("console.in.agency", lang), className="an-dropdown console-wide"),
            dcc.Dropdown(id="console-unit", options=[], placeholder=t("console.in.unit", lang),
                         className="an-dropdown console-wide"),
            html.Div(id="console-contact", className="console-contact"),
            _button("assign", lang, allowed),
        ], className="console-row", hidden="incident.assign" not in allowed),
        html.Div([
            dcc.Dropdown(id="console-status", options=[], placeholder=t("console.in.status", lang),
                         className="an-dropdown console-wide"),
            _button("status", lang, allowed),
        ], className="console-row", hidden="incident.status" not in allowed),
        html.Div([
            dcc.Input(id="console-reason", type="text", maxLength=REASON_MAX, placeholder=t("console.in.reason", lang),
                      className="an-input console-wide"),
            _button("reopen", lang, allowed),
        ], className="console-row", hidden="incident.reopen" not in allowed),
        html.Div([
            dcc.Textarea(id="console-note", maxLength=NOTE_MAX, placeholder=t("console.in.note", lang),
                         className="an-input console-note"),
            _button("note", lang, allowed),
        ], className="console-row", hidden="incident.note" not in allowed),
    ], className="console-actions")


def _allowed_actions() -> set[str]:
    from security import may, resolve

    role = resolve().role
    return {right for right in ACTION_RIGHT.values() if may(role, right)}


@needs_live_store
def layout(**_query):
    config = runtime.config()
    lang = config.language
    ops = ops_live()
    version = ops.versions().get("alarms", 0)  # first, so a change while reading shows at the next poll
    rows = alarm_rows(alarm_queue(ops), lang)
    sources = incident_sources(runtime.live())
    messages = client_messages(lang, ("age.", "console.level.", "console.state.", "severity.", "status."))
    return html.Div([
        nav("/console"),
        dcc.Interval(id="console-poll", interval=POLL_MS),
        dcc.Interval(id="console-tick", interval=5000),
        dcc.Store(id="console-alarm-held", data={"v": version, "rows": {r["key"]: r["version"] for r in rows}}),
        dcc.Store(id="console-incident-held", data={"v": "", "page": 1}),
        dcc.Store(id="console-selected", data={"alarm": None, "incident": None}),
        dcc.Store(id="console-detail-held"),
        dcc.Store(id="console-bump", data=0),
        dcc.Store(id="console-messages", data={"m": messages}),
        html.Div([
            html.Div(id="console-outage", className="an-error"),
            html.H1(t("console.title", lang)),
            html.Div([
                html.Section([html.H2(t("console.alarms.title", lang)),
                              html.Div(_grid("console-alarms", _alarm_columns(lang), "key", rows), className="console-queue")],
                             className="console-panel"),
                html.Aside([
                    html.Div(t("console.selected.none", lang), id="console-selection", className="console-selection"),
                    html.Div(id="console-feedback", role="status", **{"aria-live": "polite"}, className="console-feedback"),
                    _actions(lang, config.agencies, _allowed_actions()),
                    html.H3(t("console.history.title", lang)),
                    html.Ol(id="console-history", className="console-history"),
                ], className="console-panel console-side"),
            ], className="console-top"),
            html.Section([
                html.Div([html.H2(t("console.incidents.title", lang)), html.Span(id="console-count", className="console-count")],
                         className="console-head"),
                _filters(lang, sources, config.agencies),
                html.Div(id="console-list-outage", className="an-error"),
                html.Div(_grid("console-incidents", _incident_columns(lang), "uid", []), className="console-list"),
                html.Div([html.Button(t("console.prev", lang), id="console-prev", n_clicks=0, className="an-button"),
                          html.Span(id="console-page", className="console-pager-text"),
                          html.Button(t("console.next", lang), id="console-next", n_clicks=0, className="an-button")],
                         className="console-pager"),
            ], className="console-panel"),
        ], className="page analytics console-page"),
    ])
