"""The app's configuration: `engine.config` with each source block checked against its adapter's schema."""
from __future__ import annotations

from pathlib import Path

from data_sources import get_adapter
from engine.config import AppConfig, ConfigError
from engine.config import config_from_dict as _from_dict
from engine.config import load_config as _load
from engine.contract import Adapter, SourceConfig

__all__ = ["AppConfig", "ConfigError", "config_from_dict", "load_config", "make_adapters", "schema_of"]


def schema_of(adapter: str) -> type[SourceConfig]:
    return get_adapter(adapter).Config


def load_config(path: str | Path | None = None) -> AppConfig:
    return _load(schema_of, path)


def config_from_dict(data: dict, label: str = "config") -> AppConfig:
    return _from_dict(data, schema_of, label)


def make_adapters(config: AppConfig) -> list[Adapter]:
    """One adapter instance per enabled source, as the collector runs them."""
    return [get_adapter(cfg.adapter)(name, cfg) for name, cfg in config.enabled_sources().items()]
