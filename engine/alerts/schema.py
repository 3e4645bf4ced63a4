"""Tables of alarms and operator actions, in the history store's database.

Own MetaData, created on first use by `ensure_schema` (the history store's own
tables are untouched). What feeds say stays in `records`; what operators and
rules do lives here, so the next poll of a feed never undoes it.

- `alarms`: one row per alarm (rule x source x subject while it is active), its
  current state, count and last firing. `version` is bumped on every change so
  that a state change is a compare-and-set. A partial unique index allows one
  active (not resolved) alarm per rule, source and subject.
- `alarm_events`: append-only, one row per transition (fire, acknowledge, resolve,
  release), with who, when, the states before and after, the note or reason.
- `incident_ops`: the operators' overlay on one incident (owner, agency, unit,
  operational status, acknowledgement, last note), with a `version` for
  compare-and-set.
- `incident_actions`: append-only audit of every operator action on an incident,
  with what the overlay was before and after.
"""
from __future__ import annotations


from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text

from engine.history import SchemaOnce, UtcDateTime

metadata = MetaData()

ACTIVE_STATES = ("firing", "acknowledged")

alarms = Table(
    "alarms", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("subject", String(300), nullable=False, doc="record id; '' for a source's NoData alarm"),
    Column("level", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("count", Integer, nullable=False, default=1),
    Column("first_fired", UtcDateTime(), nullable=False),
    Column("last_fired", UtcDateTime(), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("message_en", Text, nullable=False),
    Column("silent", Boolean, nullable=False, default=False),
    Column("scene", String(80)),
    Column("acknowledged_by", String(120)),
    Column("acknowledged_at", UtcDateTime()),
    Column("resolved_by", String(120)),
    Column("resolved_at", UtcDateTime()),
    Column("released_by", String(120)),
    Column("released_at", UtcDateTime()),
    Column("version", Integer, nullable=False, default=1),
)
Index("uq_alarms_active_subject", alarms.c.rule, alarms.c.source, alarms.c.subject, unique=True,
      sqlite_where=alarms.c.state != "resolved", postgresql_where=alarms.c.state != "resolved")
Index("ix_alarms_state", alarms.c.state)
Index("ix_alarms_source_subject", alarms.c.source, alarms.c.subject)

alarm_events = Table(
    "alarm_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", Integer, nullable=False, index=True),
    Column("rule", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_state", String(16)),
    Column("to_state", String(16), nullable=False),
    Column("who", String(120), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("level", String(16), nullable=False),
    Column("message", Text, nullable=False),
)

incident_ops = Table(
    "incident_ops", metadata,
    Column("source", String(64), primary_key=True),
    Column("record_id", String(300), primary_key=True),
    Column("owner", String(120)),
    Column("agency", String(40)),
    Column("unit", String(120)),
    Column("op_status", String(16)),
    Column("reopened", Boolean, nullable=False, default=False),
    Column("acknowledged_by", String(120)),
    Column("acknowledged_at", UtcDateTime()),
    Column("last_note", Text),
    Column("last_note_by", String(120)),
    Column("last_note_at", UtcDateTime()),
    Column("updated_by", String(120), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_incident_ops_updated", incident_ops.c.updated_at)

incident_actions = Table(
    "incident_actions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("record_id", String(300), nullable=False),
    Column("action", String(16), nullable=False),
    Column("who", String(120), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Column("note", Text, nullable=False, default=""),
)
Index("ix_incident_actions_record", incident_actions.c.source, incident_actions.c.record_id, incident_actions.c.id)

_schema = SchemaOnce(metadata)
ensure_schema = _schema.ensure
