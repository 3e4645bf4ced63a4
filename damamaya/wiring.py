"""Process wiring for the fault-tolerant paths: a collector with a stable identity and
its spool, and the writers of pushed sources (shared by the ingest endpoint)."""
from __future__ import annotations

from pathlib import Path

from damamaya.config import AppConfig, make_adapters
from engine.history import History
from engine.live import LiveStore
from engine.pipeline import PartsReport, ResultWriter
from engine.spool import Spool

INGEST_SPOOL = "ingest.sqlite"  # one spool for every web worker of a host; SQLite serialises them


def spool_dir(config: AppConfig) -> Path:
    return Path(config.collector.spool_dir)


def ingest_writers(config: AppConfig, live: LiveStore, history: History, parts: PartsReport | None = None) -> dict[str, ResultWriter]:
    """A writer per enabled pushed source, spooling into the host's ingest spool."""
    from data_sources import get_adapter

    spool = Spool(spool_dir(config) / INGEST_SPOOL)
    parts = parts or PartsReport()
    return {name: ResultWriter(name, cfg, get_adapter(cfg.adapter).snapshot, live, history, spool, parts, config.kpi,
                               config.collector.history_wait)
            for name, cfg in config.enabled_sources().items() if cfg.ingest is not None}


def make_collector(config: AppConfig, live: LiveStore, history: History, descriptions: dict[str, dict], config_key: str,
                   listener=None):
    """A collector named stably for this host and configuration, with its own spool; its
    caretaker also replays the ingest spool of this host."""
    from engine.collector import Collector, file_safe, stable_identity

    key = "|".join([config_key, config.database.url, config.redis.prefix, *sorted(config.enabled_sources())])
    owner, identity_lock = stable_identity(spool_dir(config), key)
    spool = Spool(spool_dir(config) / f"{file_safe(owner)}.sqlite")
    collector = Collector(make_adapters(config), live, history, config.collector.max_backoff, config.collector.lock_seconds,
                          kpi=config.kpi, owner=owner, spool=spool, descriptions=descriptions,
                          history_wait=config.collector.history_wait, listener=listener)
    collector.writers.extend(ingest_writers(config, live, history, collector.parts).values())
    collector.identity_lock = identity_lock  # held for the life of the process
    return collector
