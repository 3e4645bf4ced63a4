"""/console callbacks: the alarm queue by row transactions, the incident list, the selection,
and the operators' actions through engine.alerts (which writes each one's audit row).

Every action is checked twice on the server: the guard lets only the console's roles run
these callbacks, and each action asks `security.roles` for its own right. The acting user
is the signed-in principal of the request, never a name the browser sends.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import quote

from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from redis.exceptions import RedisError
from werkzeug.exceptions import Forbidden

from callbacks.inputs import parsed
from callbacks.refusal import refuse
from damamaya import runtime
from engine.alerts import AlarmConflict, AlarmError, OperationError, alarm_queue, alerts_of, effective_status, merge_overlay
from engine.alerts.config import AgencyId
from engine.alerts.console import (IncidentFilter, PAGE_SIZE, alarm_rows, forward_statuses, incident_page, incident_row,
                                   incident_sources, row_changes)
from engine.records import SEVERITIES, STATUSES, WITA
from engine.taxonomy import DOMAINS
from layouts.parts.console import ACTION_RIGHT, ACTIONS, NOTE_MAX, REASON_MAX, TEXT_MAX, ops_live
from layouts.messages import t
from security import may, resolve

PAGE = "console"  # security.guard: this module's callbacks are the console page's

Short = Annotated[str, StringConstraints(max_length=120)]
Uid = Annotated[str, StringConstraints(min_length=3, max_length=400, pattern=r"^[^:]+:.+$")]
AlarmId = Annotated[int, Field(ge=1, le=2**62)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlarmHeld(_Input):
    v: Annotated[int, Field(ge=0)] | None = None
    rows: Annotated[dict[Annotated[str, StringConstraints(pattern=r"^\d{1,19}$")], int], Field(max_length=1000)] = {}


class IncidentHeld(_Input):
    v: Annotated[str, StringConstraints(max_length=64)] = ""
    page: Annotated[int, Field(ge=1, le=100_000)] = 1


class Filters(_Input):
    source: Annotated[list[Short], Field(max_length=200)] = []
    domain: list[Literal[tuple(DOMAINS)]] = []  # type: ignore[valid-type]
    status: list[Literal[tuple(STATUSES)]] = []  # type: ignore[valid-type]
    severity: list[Literal[tuple(SEVERITIES)]] = []  # type: ignore[valid-type]
    kecamatan: Annotated[list[Short], Field(max_length=50)] = []
    agency: Annotated[list[AgencyId], Field(max_length=100)] = []
    unassigned: list[Literal["yes"]] = []
    text: Annotated[str, StringConstraints(max_length=TEXT_MAX)] = ""

    def incident_filter(self) -> IncidentFilter:
        return IncidentFilter(source=tuple(self.source), domain=tuple(self.domain), status=tuple(self.status),
                              severity=tuple(self.severity), kecamatan=tuple(self.kecamatan), agency=tuple(self.agency),
                              unassigned=bool(self.unassigned), text=self.text.strip())


class Selected(_Input):
    alarm: AlarmId | None = None
    incident: Uid | None = None


class AlarmPick(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the grid sends the whole row back; only its key is read
    key: Annotated[str, StringConstraints(pattern=r"^\d{1,19}$")]


class IncidentPick(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uid: Uid


class ActionInput(_Input):
    selected: Selected = Selected()
    agency: AgencyId | None = None
    unit: Short | None = None
    status: Literal[tuple(STATUSES)] | None = None  # type: ignore[valid-type]
    reason: Annotated[str, StringConstraints(max_length=REASON_MAX)] | None = None
    note: Annotated[str, StringConstraints(max_length=NOTE_MAX)] | None = None


def _lang() -> str:
    return runtime.config().language


def _alerts():
    return alerts_of(runtime.config(), runtime.live(), runtime.history())


def _outage(exc: Exception) -> str:
    lang = _lang()
    return f"{t('page.unavailable', lang)} (Redis: {exc}). {t('page.retrying', lang)}"


# ---- the alarm queue ---------------------------------------------------------------------------

def poll_alarms(held_data) -> tuple:
    """Only the rows that changed since what the screen holds; nothing at all while the
    alarms' version in `{p}:opversions` stands still."""
    held = parsed(AlarmHeld, held_data or {}, "alarm queue state")
    try:
        ops = ops_live()
        version = ops.versions().get("alarms", 0)
        if held.v == version:
            raise PreventUpdate
        changes = row_changes(held.rows, alarm_rows(alarm_queue(ops), _lang()))
    except RedisError as exc:  # forget the version held, so the first poll after the outage clears this
        return no_update, {"v": None, "rows": held.rows}, _outage(exc)
    return (changes.transaction() if changes else no_update), {"v": version, "rows": changes.held}, ""


# ---- the incident list -------------------------------------------------------------------------

def _digest(*parts) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def poll_incidents(values: dict, held_data) -> tuple:
    held = parsed(IncidentHeld, held_data or {}, "incident list state")
    wanted = parsed(Filters, {k: v for k, v in values.items() if v is not None}, "incident filter").incident_filter()
    page = held.page
    if ctx.triggered_id == "console-prev":
        page = max(1, page - 1)
    elif ctx.triggered_id == "console-next":
        page += 1
    elif ctx.triggered_id not in (None, "console-poll", "console-bump"):
        page = 1  # a filter changed
    try:
        live, ops = runtime.live(), ops_live()
        sources = incident_sources(live)
        versions = live.versions()
        digest = _digest([(s, versions.get(s)) for s in sources], ops.versions().get("ops", 0), wanted, page)
        if digest == held.v:
            raise PreventUpdate
        agencies = runtime.config().agencies
        rows, total = incident_page(live, ops, agencies, wanted, page, sources=sources)
        pages = max(1, -(-total // PAGE_SIZE))
        if page > pages:
            page = pages
            rows, total = incident_page(live, ops, agencies, wanted, page, sources=sources)
    except RedisError as exc:
        return no_update, {"v": "", "page": page}, no_update, no_update, _outage(exc)
    lang = _lang()
    return (rows, {"v": digest, "page": page}, t("console.count", lang, total=total),
            t("console.page", lang, page=page, pages=pages), "")


# ---- the selection -----------------------------------------------------------------------------

def _first(rows) -> Any:
    """The one selected row of a grid, None when none (the grids select one row at most)."""
    if rows is None or rows == []:
        return None
    if not isinstance(rows, list) or len(rows) > 1:
        refuse("selection", ValueError("one selected row at most"))
    return rows[0]


def select(alarm_rows_picked, incident_rows_picked, current) -> dict:
    current = parsed(Selected, current or {}, "selection")
    if ctx.triggered_id == "console-alarms":
        row = _first(alarm_rows_picked)
        if row is None:
            raise PreventUpdate
        alarm_id = int(parsed(AlarmPick, row, "alarm selection").key)
        alarm = ops_live().alarm(alarm_id)  # the incident is the server's, not what the row says
        subject_uid = alarm["uid"] if alarm and alarm["subject"] else None
        return {"alarm": alarm_id, "incident": subject_uid}
    row = _first(incident_rows_picked)
    if row is None:
        raise PreventUpdate
    uid = parsed(IncidentPick, row, "incident selection").uid
    keep_alarm = current.alarm if current.alarm and (ops_live().alarm(current.alarm) or {}).get("uid") == uid else None
    return {"alarm": keep_alarm, "incident": uid}


# ---- the detail panel --------------------------------------------------------------------------

def _wita(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(WITA).strftime("%d/%m %H:%M:%S WITA") if iso else "?"


def _incident(uid: str) -> dict | None:
    """The live record with the operators' overlay merged, or None when it is gone."""
    source, _, record_id = uid.partition(":")
    [rec] = runtime.live().get_many([(source, record_id)])
    if rec is None or rec.get("kind") != "incident":
        return None
    [overlay] = ops_live().overlay_many([uid])
    return merge_overlay(rec, overlay, runtime.config().agencies)


def _action_line(action: dict, agencies: dict, lang: str) -> html.Li:
    after = action["after"]
    if action["action"] == "assign":
        agency = agencies[after["agency"]].name if after.get("agency") in agencies else after.get("agency")
        what = " / ".join(x for x in (agency, after.get("unit")) if x)
    elif action["action"] in ("status", "reopen"):
        what = t(f"status.{after.get('op_status')}", lang)
    else:
        what = ""
    note = action.get("note") or ""
    return html.Li([html.Span(f"{_at(action['at'])}", className="console-h-at"),
                    html.Span(action["who"], className="console-h-who"),
                    html.Span(t(f"console.action.{action['action']}", lang), className="console-h-action"),
                    html.Span(what, className="console-h-what"),
                    html.Span(note, className="console-h-note")], className=f"console-h console-h-{action['action']}")


def _at(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
    return when.astimezone(WITA).strftime("%d/%m %H:%M WITA")


def history_of(uid: str, lang: str) -> list:
    source, _, record_id = uid.partition(":")
    actions = _alerts().operations.actions(source, record_id)[-100:]
    if not actions:
        return [html.Li(t("console.history.empty", lang), className="console-h-empty")]
    agencies = runtime.config().agencies
    return [_action_line(a, agencies, lang) for a in reversed(actions)]


def _alarm_summary(alarm_id: int, lang: str) -> list:
    alarm = ops_live().alarm(alarm_id)
    if alarm is None:
        return []
    message = alarm["message"].get(lang) or alarm["message"].get("id")
    lines = [html.Strong(t("console.selected.alarm", lang, id=alarm_id, message=message)),
             html.Div(t("console.selected.alarm_state", lang, state=t(f"console.state.{alarm['state']}", lang),
                        count=alarm["count"]))]
    if alarm["acknowledged_by"]:
        lines.append(html.Div(f"{t('console.col.acknowledged_by', lang)}: {alarm['acknowledged_by']} "
                              f"({_wita(alarm['acknowledged_at'])})"))
    return lines


def _incident_summary(record: dict | None, uid: str, lang: str) -> list:
    lines = [html.Strong(t("console.selected.incident", lang, uid=uid))]
    if record is None:
        return lines + [html.Div(t("console.selected.gone", lang))]
    row = incident_row(record)
    ops = record.get("ops") or {}
    lines.append(html.Div(row["title"], className="console-title"))
    lines.append(html.Div(t("console.detail.status", lang, status=t(f"status.{row['status']}", lang),
                            feed=t(f"status.{row['feed_status']}", lang))))
    agency = " / ".join(x for x in (row["agency"], ops.get("unit")) if x)
    lines.append(html.Div(t("console.detail.assigned", lang, agency=agency) if agency else t("console.detail.unassigned", lang)))
    if row["owner"]:
        lines.append(html.Div(t("console.detail.owner", lang, owner=row["owner"])))
    if may(resolve().role, "incident.private"):  # dispatchers: the caller's details, on an audited page
        lines.append(html.A(t("console.detail.private", lang), href=f"/insiden?uid={quote(uid, safe=':')}", target="_blank",
                            className="console-private"))
    return lines


def detail(selected_data, _bump, _n, held):
    """The selection's summary, the statuses it may move to, and its history of actions.
    On a poll only when an alarm or an overlay changed."""
    selected = parsed(Selected, selected_data or {}, "selection")
    lang = _lang()
    try:
        opversions = ops_live().versions()
        stamp = f"{opversions.get('alarms', 0)}:{opversions.get('ops', 0)}"
        if ctx.triggered_id == "console-poll" and held == stamp:
            raise PreventUpdate
        if selected.alarm is None and selected.incident is None:
            return t("console.selected.none", lang), [], [], stamp
        summary = _alarm_summary(selected.alarm, lang) if selected.alarm else []
        statuses, history = [], []
        if selected.incident:
            record = _incident(selected.incident)
            summary += _incident_summary(record, selected.incident, lang)
            if record is not None:
                statuses = [{"label": t(f"status.{s}", lang), "value": s}
                            for s in forward_statuses(record["effective_status"])]
            history = history_of(selected.incident, lang)
    except RedisError as exc:
        return _outage(exc), [], [], None
    return summary, statuses, history, stamp


def units(agency):
    """The chosen agency's units and how to reach it (config.yaml `agencies:`)."""
    if agency is None:
        return [], ""
    key = parsed(ActionInput, {"agency": agency}, "agency").agency
    found = runtime.config().agencies.get(key)
    if found is None:
        return [], ""
    contact = t("console.contact", _lang(), contact=found.contact) if found.contact else ""
    return [{"label": u, "value": u} for u in found.units], contact


# ---- actions -----------------------------------------------------------------------------------

def _who() -> tuple[str, str]:
    principal = resolve()
    return principal.name, principal.role


def _conflict(action: str, exc: AlarmConflict, lang: str) -> str:
    alarm = exc.alarm
    if alarm["state"] == "resolved":
        action = "resolve"
    who = {"acknowledge": alarm["acknowledged_by"], "resolve": alarm["resolved_by"], "release": alarm["released_by"]}[action]
    at = {"acknowledge": alarm["acknowledged_at"], "resolve": alarm["resolved_at"], "release": alarm["released_at"]}[action]
    return t(f"console.conflict.{action}", lang, id=alarm["id"], who=who, at=_wita(at))


def _need(what: str) -> NoReturn:
    raise _Refusal(t(f"console.need.{what}", _lang()))


class _Refusal(Exception):
    """A sentence for the operator: the action was not done."""


def _alarm_action(action: str, given: ActionInput, user: str, lang: str) -> str:
    if given.selected.alarm is None:
        _need("alarm")
    alarms = _alerts().alarms
    do = {"acknowledge": alarms.acknowledge, "resolve": alarms.resolve, "release": alarms.release}[action]
    alarm = do(given.selected.alarm, user, given.note or "")
    return t(f"console.done.{action}", lang, id=alarm["id"], who=user)


def _incident_action(action: str, given: ActionInput, user: str, lang: str) -> str:
    uid = given.selected.incident
    if uid is None:
        _need("incident")
    source, _, record_id = uid.partition(":")
    ops = _alerts().operations
    if action == "assign":
        if not given.agency:
            _need("agency")
        ops.assign(source, record_id, given.agency, user, unit=given.unit)
        name = runtime.config().agencies[given.agency].name
        return t("console.done.assign", lang, uid=uid, agency=" / ".join(x for x in (name, given.unit) if x))
    if action == "status":
        if not given.status:
            _need("status")
        record = _incident(uid)
        shown = effective_status(record.get("status"), record.get("ops")) if record else None
        if shown and given.status not in forward_statuses(shown):
            raise _Refusal(t("console.refused.forward", lang, status=t(f"status.{shown}", lang)))
        ops.set_status(source, record_id, given.status, user)
        return t("console.done.status", lang, uid=uid, status=t(f"status.{given.status}", lang))
    if action == "reopen":
        reason = (given.reason or "").strip()
        if not reason:
            _need("reason")
        overlay = ops.reopen(source, record_id, user, reason)  # back to the engine's first open status
        return t("console.done.reopen", lang, uid=uid, status=t(f"status.{overlay['op_status']}", lang))
    note = (given.note or "").strip()
    if not note:
        _need("note")
    ops.add_note(source, record_id, user, note)
    return t("console.done.note", lang, uid=uid)


def act(selected, agency, unit, status, reason, note, bump) -> tuple:
    """Runs the action whose button was clicked: (message, its class, bump, note box, reason box)."""
    action = ctx.triggered_id.removeprefix("console-") if isinstance(ctx.triggered_id, str) else None
    if action not in ACTIONS or not (ctx.triggered and ctx.triggered[0].get("value")):
        raise PreventUpdate  # a button rendered, not clicked
    user, role = _who()
    if not may(role, ACTION_RIGHT[action]):
        raise Forbidden(t("console.refused.role", _lang(), role=role))
    given = parsed(ActionInput, {"selected": selected or {}, "agency": agency, "unit": unit, "status": status,
                                 "reason": reason, "note": note}, f"console {action}")
    lang = _lang()
    bumped = (bump if isinstance(bump, int) else 0) + 1
    try:
        if action in ("acknowledge", "resolve", "release"):
            done = _alarm_action(action, given, user, lang)
        else:
            done = _incident_action(action, given, user, lang)
    except AlarmConflict as exc:
        return _conflict(action, exc, lang), "console-feedback console-conflict", bumped, no_update, no_update
    except _Refusal as exc:
        return str(exc), "console-feedback console-refused", no_update, no_update, no_update
    except (AlarmError, OperationError) as exc:
        return t("console.refused.engine", lang, why=str(exc)), "console-feedback console-refused", bumped, no_update, no_update
    clear_note = "" if action == "note" else no_update
    clear_reason = "" if action == "reopen" else no_update
    return done, "console-feedback console-done", bumped, clear_note, clear_reason


# ---- wiring ------------------------------------------------------------------------------------

FILTERS = ("source", "domain", "status", "severity", "kecamatan", "agency", "unassigned", "text")


def register(app) -> None:
    app.callback(
        Output("console-alarms", "rowTransaction"),
        Output("console-alarm-held", "data"),
        Output("console-outage", "children"),
        Input("console-poll", "n_intervals"),
        Input("console-bump", "data"),
        State("console-alarm-held", "data"),
        prevent_initial_call=True,
    )(lambda _n, _bump, held: poll_alarms(held))

    app.callback(
        Output("console-incidents", "rowData"),
        Output("console-incident-held", "data"),
        Output("console-count", "children"),
        Output("console-page", "children"),
        Output("console-list-outage", "children"),
        Input("console-poll", "n_intervals"),
        Input("console-bump", "data"),
        *(Input(f"console-f-{name}", "value") for name in FILTERS),
        Input("console-prev", "n_clicks"),
        Input("console-next", "n_clicks"),
        State("console-incident-held", "data"),
    )(lambda _n, _bump, *rest: poll_incidents(dict(zip(FILTERS, rest[:len(FILTERS)])), rest[-1]))

    app.callback(
        Output("console-selected", "data"),
        Input("console-alarms", "selectedRows"),
        Input("console-incidents", "selectedRows"),
        State("console-selected", "data"),
        prevent_initial_call=True,
    )(select)

    app.callback(
        Output("console-selection", "children"),
        Output("console-status", "options"),
        Output("console-history", "children"),
        Output("console-detail-held", "data"),
        Input("console-selected", "data"),
        Input("console-bump", "data"),
        Input("console-poll", "n_intervals"),
        State("console-detail-held", "data"),
        prevent_initial_call=True,
    )(detail)

    app.callback(
        Output("console-unit", "options"),
        Output("console-contact", "children"),
        Input("console-agency", "value"),
        prevent_initial_call=True,
    )(units)

    app.callback(
        Output("console-feedback", "children"),
        Output("console-feedback", "className"),
        Output("console-bump", "data"),
        Output("console-note", "value"),
        Output("console-reason", "value"),
        *(Input(f"console-{action}", "n_clicks") for action in ACTIONS),
        State("console-selected", "data"),
        State("console-agency", "value"),
        State("console-unit", "value"),
        State("console-status", "value"),
        State("console-reason", "value"),
        State("console-note", "value"),
        State("console-bump", "data"),
        prevent_initial_call=True,
    )(lambda *args: act(*args[len(ACTIONS):]))

    app.clientside_callback(
        """function(n, msgs) {
            window.dmy = window.dmy || {};
            window.dmy.messages = Object.assign(window.dmy.messages || {}, (msgs && msgs.m) || {});
            ['console-alarms', 'console-incidents'].forEach(function (id) {
                try { window.dash_ag_grid.getApi(id).refreshCells({columns: ['age'], force: true}); } catch (e) {}
            });
            return window.dash_clientside.no_update;
        }""",
        Output("console-tick", "id"),
        Input("console-tick", "n_intervals"),
        State("console-messages", "data"),
    )
