"""config.yaml, validated. A wrong key or value stops start-up with one line naming it.

Each source block is validated against its adapter's own `Config` schema; the
engine knows no adapter, so whoever loads the config passes `schema_of`, the
lookup from an adapter name to that schema (`damamaya.config` passes the
registry of `data_sources`).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from engine.alerts.config import Agencies, AlertsConfig
from engine.analytics.config import KpiConfig
from engine.contract import SourceConfig
from engine.public import PublicConfig
from engine.wall.scenes import ScenesConfig

# adapter name -> its Config schema; raises KeyError with a readable message for an unknown name
SchemaLookup = Callable[[str], type[SourceConfig]]

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


class ConfigError(Exception):
    """One readable line: `config.yaml: sources.floods.interval: must be at least 1 second`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedisConfig(_Strict):
    url: str | None = Field(default=None, description="None starts an embedded server owned by `damamaya run`")
    prefix: str = Field(default="dmy", pattern=r"^[A-Za-z0-9_.-]+$")
    embedded_maxmemory: str = Field(default="256mb", pattern=r"^[0-9]+(kb|mb|gb)?$")


class DatabaseConfig(_Strict):
    url: str = "sqlite:///var/damamaya.sqlite"


class MapConfig(_Strict):
    tile_url: str | None = None
    tile_attribution: str = ""

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data):
        """`center` and `zoom` of older configs: the wall opens on its scene's bounds instead (the
        city, or the place a scene focuses on), so a screen's map has one view from the start."""
        if isinstance(data, dict) and {"center", "zoom"} & data.keys():
            log.warning("config.yaml: map.center and map.zoom are no longer used (the wall opens on its scene's "
                        "bounds, scenes.*.map.focus); remove them")
            data = {k: v for k, v in data.items() if k not in ("center", "zoom")}
        return data


class WallConfig(_Strict):
    title: str = "Damamaya Denpasar Cyber Monitor"
    poll_seconds: float = Field(default=1.0, ge=0.5, le=60)
    incident_list_size: int = Field(default=200, ge=10, le=2000)
    # map layers of more points than this are clustered by the server per viewport
    cluster_above: int = Field(default=5_000, ge=100, le=10_000_000)
    points_zoom: int = Field(default=17, ge=10, le=22)  # from this zoom on, clustered layers show every point


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    workers: int = Field(default=2, ge=1, le=64)
    threads: int = Field(default=4, ge=1, le=64)


class OidcConfig(_Strict):
    metadata_url: str = Field(description="the issuer's /.well-known/openid-configuration")
    client_id: str
    client_secret_env: str = Field(default="DAMAMAYA_OIDC_CLIENT_SECRET", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    roles_claim: str = "roles"
    role_map: dict[str, str] = Field(default_factory=dict, description="claim value -> Damamaya role")
    username_claim: str = "preferred_username"
    label: str = "SSO"
    scope: str = "openid profile email"


class AuthConfig(_Strict):
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    login_rate: str = Field(default="10/minute", description="sign-in attempts per client address")
    proxy_hops: int = Field(default=0, ge=0, le=5, description="reverse proxies whose X-Forwarded-* headers are trusted")
    max_request_kb: int = Field(default=1024, ge=16, le=65536)
    oidc: OidcConfig | None = None

    @field_validator("login_rate")
    @classmethod
    def _rate(cls, v):
        from limits import parse

        try:
            parse(v)
        except ValueError:
            raise ValueError("must read like '10/minute' or '5 per 30 seconds'") from None
        return v


class PushConfig(_Strict):
    enabled: bool = True
    port: int | None = Field(default=None, ge=1, le=65535, description="None: the web port + 1")
    heartbeat_seconds: float = Field(default=15, ge=1, le=300)
    path: str = Field(default="/push", pattern=r"^/[A-Za-z0-9_/-]*$")
    browser_url: str | None = Field(default=None, description="None: the page's host on `port`; behind a proxy e.g. /push")
    token_seconds: int = Field(default=900, ge=60, le=86400)
    safety_poll_seconds: float = Field(default=30, ge=5, le=600)
    fan_out: bool = Field(default=True, description="send each change's answer to the screens, computed once")


class CollectorConfig(_Strict):
    max_backoff: float = Field(default=300, ge=1, description="seconds, the ceiling of the retry delay")
    lock_seconds: float = Field(default=60, ge=5, description="lease of a source's poll lock between collectors")
    change_stream_length: int = Field(default=10_000, ge=100)
    reject_list_length: int = Field(default=50, ge=1)
    spool_dir: str = Field(default="var/spool", description="local directory of the spools: results history could not take yet")
    history_wait: float = Field(default=5, gt=0, le=60, description="seconds a poll waits for history before spooling")


class AppConfig(_Strict):
    language: Literal["id", "en"] = "id"
    redis: RedisConfig = RedisConfig()
    database: DatabaseConfig = DatabaseConfig()
    map: MapConfig = MapConfig()
    wall: WallConfig = WallConfig()
    scenes: ScenesConfig = ScenesConfig()
    web: WebConfig = WebConfig()
    push: PushConfig = PushConfig()
    collector: CollectorConfig = CollectorConfig()
    auth: AuthConfig = AuthConfig()
    kpi: KpiConfig = KpiConfig()
    public: PublicConfig = PublicConfig()
    alerts: AlertsConfig = AlertsConfig()
    agencies: Agencies = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)

    @field_validator("sources", mode="before")
    @classmethod
    def _adapter_schemas(cls, raw: Any, info: ValidationInfo) -> dict[str, SourceConfig]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise ValueError("must be a mapping of source name to its block")
        schema_of: SchemaLookup | None = (info.context or {}).get("schema_of")
        built: dict[str, SourceConfig] = {}
        for name, block in raw.items():
            if not isinstance(name, str):
                raise ValueError(f"source name {name!r} is not text (YAML reads off/on/yes/no/null and numbers "
                                 "as other types): put it in quotes")
            if isinstance(block, SourceConfig):
                built[name] = block
                continue
            if not isinstance(block, dict) or "adapter" not in block:
                raise ValueError(f"{name}: needs an `adapter:` key")
            if schema_of is None:
                raise ValueError(f"{name}: no adapter registry was given to validate it")
            try:
                schema = schema_of(block["adapter"])
            except KeyError as exc:
                raise ValueError(f"{name}.adapter: {exc.args[0]}") from None
            try:
                built[name] = schema(**block)
            except ValidationError as exc:
                raise ValueError(_first_error(exc, prefix=name)) from None
        return built

    @model_validator(mode="after")
    def _rule_scenes(self):
        self.scenes.check_rules(self.alerts.rules)  # a rule calling up an unknown scene stops start-up
        return self

    def push_port(self) -> int:
        return self.push.port or self.web.port + 1

    def enabled_sources(self) -> dict[str, SourceConfig]:
        return {k: v for k, v in self.sources.items() if v.enabled}


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    head, sep, rest = msg.partition(": ")
    if sep and loc in ("sources", "scenes") and " " not in head:  # raised inside the sources or scenes validator
        loc, msg = f"{loc}.{head}", rest
    where = ".".join(p for p in (prefix, loc) if p)
    return f"{where}: {msg}" if where else msg


def load_config(schema_of: SchemaLookup, path: str | Path | None = None) -> AppConfig:
    """Read, apply environment overrides, validate. Raises ConfigError with one line."""
    path = Path(path or os.environ.get("DAMAMAYA_CONFIG") or DEFAULT_CONFIG)
    label = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{label}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: must be a mapping of keys")
    return config_from_dict(data, schema_of, label)


def config_from_dict(data: dict, schema_of: SchemaLookup, label: str = "config") -> AppConfig:
    data = dict(data)
    if os.environ.get("DAMAMAYA_REDIS_URL"):
        data["redis"] = {**(data.get("redis") or {}), "url": os.environ["DAMAMAYA_REDIS_URL"]}
    if os.environ.get("DAMAMAYA_DATABASE_URL"):
        data["database"] = {**(data.get("database") or {}), "url": os.environ["DAMAMAYA_DATABASE_URL"]}
    if os.environ.get("DAMAMAYA_PUSH_PORT"):  # set by `damamaya run` for its web and push children
        data["push"] = {**(data.get("push") or {}), "port": os.environ["DAMAMAYA_PUSH_PORT"]}
    try:
        return AppConfig.model_validate(data, context={"schema_of": schema_of})
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_first_error(exc)}") from None
