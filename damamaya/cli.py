"""`damamaya`: run, web, push, collect, adapters, parse, rebuild-live, seed-history."""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import orjson

from damamaya.config import AppConfig, ConfigError, load_config
from damamaya.redis_server import redacted
from engine.fetch import safe_url

log = logging.getLogger("damamaya")


def _config(args) -> AppConfig:
    if args.config:
        os.environ["DAMAMAYA_CONFIG"] = str(Path(args.config).resolve())
    return load_config(args.config)


def _stores(config: AppConfig, tolerant: bool = False):
    """The live store and history. `tolerant` (the collector): a Redis or database that
    does not answer yet is logged, not fatal; the collector works around it."""
    import redis

    from engine.history import History
    from engine.live import LiveStore

    if not config.redis.url:
        raise ConfigError("redis.url is not set: use `damamaya run`, which starts an embedded Redis, or set DAMAMAYA_REDIS_URL")
    try:
        client = redis.Redis.from_url(config.redis.url, socket_timeout=10, socket_connect_timeout=5)
    except ValueError as exc:
        raise ConfigError(f"redis.url: {exc}") from None
    try:
        client.ping()
    except redis.RedisError as exc:
        if not tolerant:
            raise ConfigError(f"redis.url: cannot reach {safe_url(config.redis.url)} ({exc})") from None
        log.error("Redis at %s does not answer (%s); polling goes on into history", safe_url(config.redis.url), exc)
    live = LiveStore(client, config.redis.prefix, config.collector.change_stream_length, config.collector.reject_list_length)
    history = History(config.database.url)
    try:
        history.create()
    except Exception as exc:  # noqa: BLE001 - any driver error: the database is not there
        if not tolerant:
            raise
        log.error("history database does not answer (%s); results wait in the spool", type(exc).__name__)
    return live, history


def source_descriptions(config: AppConfig) -> dict[str, dict]:
    from data_sources import get_adapter
    from engine.collector import describe

    return {name: describe(name, cfg, get_adapter(cfg.adapter)) for name, cfg in config.sources.items()}


# ---- commands -------------------------------------------------------------------------

def cmd_adapters(args) -> int:
    from data_sources import registry

    for name, cls in registry().items():
        print(f"{name:18} {','.join(cls.kinds):28} {cls.description}")
    return 0


def cmd_parse(args) -> int:
    from data_sources import get_adapter
    from engine.pipeline import parse_safely

    try:
        cls = get_adapter(args.adapter)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    config = None
    if args.config:
        block = _config(args).sources.get(args.source or "")
        config = block if block and block.adapter == args.adapter else None
    if args.received_at:
        config, problem = _with_received_at(cls, config, args.received_at)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    result = parse_safely(cls(args.source or args.adapter, config), raw)
    for record in result.records:
        sys.stdout.write(orjson.dumps(record.model_dump(mode="json")).decode() + "\n")
    for reject in result.rejects:
        where = f" [{reject.ref}]" if reject.ref else ""
        sys.stderr.write(f"reject{where}: {reject.reason} | {reject.item[:120]}\n")
    print(f"{len(result.records)} records, {len(result.rejects)} rejects", file=sys.stderr)
    return 0 if result.records else 1


def _with_received_at(cls, config, when: str):
    """The adapter's config with `received_at` set (a capture file replayed: its sentences carry no time)."""
    from pydantic import ValidationError

    if "received_at" not in cls.Config.model_fields:
        return None, f"adapter {cls.name!r} takes no --received-at (its records carry their own times)"
    keys = config.model_dump(exclude_unset=True) if config is not None else {}
    try:
        return cls.Config.model_validate({**keys, "adapter": cls.name, "received_at": when}), None
    except ValidationError as exc:
        return None, f"--received-at {when!r}: {exc.errors()[0]['msg']}"


def cmd_collect(args) -> int:
    from damamaya.wiring import make_collector

    config = _config(args)
    live, history = _stores(config, tolerant=True)
    # The collector describes the sources and fills a new or emptied live store from
    # history at start and whenever Redis comes back empty (its sentinel is gone).
    alarms = _alarm_monitor(config, live, history)  # alert rules, evaluated on each change the collector applies
    collector = make_collector(config, live, history, source_descriptions(config), os.environ.get("DAMAMAYA_CONFIG", ""),
                               listener=alarms)
    stop = _stop_on_signals()
    collector.start()
    if alarms is not None:
        alarms.start(stop)
    log.info("collector %s polling %d sources", collector.owner, len(collector.runners))
    stop.wait()
    collector.close()
    return 0


def cmd_web(args) -> int:
    from gunicorn.app.base import BaseApplication

    config = _config(args)
    if not config.redis.url:
        raise ConfigError("redis.url is not set: web workers read the live store; set DAMAMAYA_REDIS_URL or use `damamaya run`")
    workers = args.workers or config.web.workers
    bind = f"{args.host or config.web.host}:{args.port or config.web.port}"

    class WebApp(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", config.web.threads)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", None)
            # gunicorn 27 puts a control socket in ~/.gunicorn by default; two
            # servers on one machine would collide there.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            from gunicorn.util import import_app

            return import_app("app:server")  # by name: the wiring never imports the screens

    log.info("web on http://%s with %d workers", bind, workers)
    WebApp().run()
    return 0


def _alarm_monitor(config: AppConfig, live, history):
    """The alert rules' listener; None (logged) when Redis or the database cannot be
    reached at start: polling goes on, and a restarted collector evaluates again."""
    from engine.alerts import collector_monitor

    try:
        return collector_monitor(config, live, history)
    except Exception as exc:  # noqa: BLE001 - a part being down must not stop collection
        log.error("alert rules not evaluated by this collector: %s", exc)
        return None


def cmd_push(args) -> int:
    from push.server import serve

    config = _config(args)
    if not config.redis.url:
        raise ConfigError("redis.url is not set: push listens to the live store; set DAMAMAYA_REDIS_URL or use `damamaya run`")
    host, port = args.host or config.web.host, args.port or config.push_port()
    log.info("push on http://%s:%d%s/events", host, port, config.push.path)
    serve(config.redis.url, config.redis.prefix, host, port, config.push.path, config.push.heartbeat_seconds,
          fanout=_wall_fanout(config) if config.push.fan_out else None)
    return 0


def _wall_fanout(config: AppConfig):
    """A factory of the push process's fan-out: the wall's read model on the live store."""
    import redis

    from engine.cache import RedisCache
    from engine.live import LiveStore
    from engine.wall.model import WallModel
    from push.fanout import Fanout

    def make():
        client = redis.Redis.from_url(config.redis.url, socket_timeout=10, socket_connect_timeout=5)
        live = LiveStore(client, config.redis.prefix)
        cache = RedisCache(client, config.redis.prefix)
        return Fanout(lambda: WallModel(live, cache, config.language, config.wall.incident_list_size, config.kpi),
                      config.language)

    return make


def rebuild_live(config: AppConfig, live, history) -> int:
    """Fill the live store with what history says is live now; returns the record count."""
    from engine.pipeline import keep_live
    from engine.records import utcnow

    now = utcnow()
    total = 0
    for name, cfg in config.sources.items():
        kept = [r for r in history.live_records(name, now - timedelta(hours=cfg.live_hours)) if keep_live(r, now, cfg.live_hours)]
        live.apply(name, kept)
        total += len(kept)
        log.info("%s: %d live records from history", name, len(kept))
    from engine.alerts import alerts_of
    from engine.alerts import rebuild_live as rebuild_alarms

    active, overlays = rebuild_alarms(alerts_of(config, live, history), config.alerts)
    log.info("alarms: %d active, %d incident overlays from history", active, overlays)
    return total


def cmd_rebuild_live(args) -> int:
    config = _config(args)
    live, history = _stores(config)
    live.clear()  # data only: the running collectors keep their poll locks
    live.describe_sources(source_descriptions(config))
    print(f"rebuilt the live store with {rebuild_live(config, live, history)} records")
    return 0


def cmd_rebuild_analytics(args) -> int:
    """Rebuild the /kpi and /history projection from the records in history (after a
    change of deadlines or holidays, or for a database filled before analytics)."""
    from engine.analytics import backfill
    from engine.history import History

    config = _config(args)
    history = History(config.database.url)
    history.create()
    done = backfill(history, config.kpi, progress=lambda n, total: print(f"\r{n:,}/{total:,} records", end="", file=sys.stderr))
    print(f"\nrebuilt the analytics rows of {done:,} records", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    """Everything in one: embedded Redis when none is configured, collector, web."""
    config = _config(args)
    env = dict(os.environ)
    embedded = None
    if not config.redis.url:
        from damamaya.redis_server import EmbeddedRedis

        embedded = EmbeddedRedis(config.redis.embedded_maxmemory)
        env["DAMAMAYA_REDIS_URL"] = embedded.start()
    env.setdefault("DAMAMAYA_PUSH_SECRET", secrets.token_urlsafe(32))  # web mints push tokens, push checks them
    if config.database.url.startswith("sqlite:///"):
        Path(config.database.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if args.demo_history:
        _seed_if_empty(config, args.demo_history)
    first_start = _first_accounts(config)
    base = [sys.executable, "-m", "damamaya.cli"] + (["--config", args.config] if args.config else [])
    web_args = (["--port", str(args.port)] if args.port else []) + (["--host", args.host] if args.host else [])
    def start_collector():
        return subprocess.Popen(base + ["collect"], env=env, preexec_fn=_die_with_parent)

    children = [start_collector(),
                subprocess.Popen(base + ["web", "--workers", str(args.workers or config.web.workers)] + web_args, env=env,
                                 preexec_fn=_die_with_parent)]
    push_cmd = None
    if config.push.enabled:
        env["DAMAMAYA_PUSH_PORT"] = str(config.push.port or (args.port or config.web.port) + 1)
        push_cmd = base + ["push"] + (["--host", args.host] if args.host else [])
        children.append(subprocess.Popen(push_cmd, env=env, preexec_fn=_die_with_parent))
    host, port = args.host or config.web.host, args.port or config.web.port
    print(f"Damamaya control room: http://{host}:{port}/wall  (Ctrl+C stops it)", flush=True)
    if first_start:
        password, token = first_start
        print(f"First start: sign in at http://{host}:{port}/login as admin with the password {password}\n"
              f"  (shown this once; `damamaya users add NAME --role ROLE` adds people)\n"
              f"  wall screen 'demo-wall': http://{host}:{port}/screen/{token}\n"
              f"  (open it once in the wall's browser; `damamaya screens revoke demo-wall` ends it)", flush=True)
    stop = _stop_on_signals()
    code = 0
    while not stop.is_set():
        collector, web = children[0], children[1]
        if collector.poll() is not None and not stop.is_set():
            # Polling must go on without a person: a collector that died is started again;
            # it takes its own poll leases and spool back at once (same identity).
            print(f"the collector exited with {collector.returncode}; starting it again", file=sys.stderr)
            if not stop.wait(2):
                children[0] = start_collector()
        if push_cmd and children[2].poll() is not None and not stop.is_set():  # walls poll meanwhile; bring push back
            print(f"the push process exited with {children[2].returncode}; restarting it", file=sys.stderr)
            if not stop.wait(2):
                children[2] = subprocess.Popen(push_cmd, env=env, preexec_fn=_die_with_parent)
        if web.poll() is not None:
            print(f"the web server exited with {web.returncode}; stopping", file=sys.stderr)
            code = web.returncode or 1
            stop.set()
        stop.wait(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    if embedded:
        embedded.stop()
    return code


def _first_accounts(config: AppConfig) -> tuple[str, str] | None:
    """A history store with no users gets an `admin` with a random password and a demo wall
    screen, so that the demo is two commands; returns (password, screen token) that once."""
    import secrets

    from engine.accounts import Accounts

    accounts = Accounts(config.database.url)
    try:
        accounts.create()
        if accounts.user_count():
            return None
        password = secrets.token_urlsafe(12)
        accounts.add_user("admin", "admin", password)
        screens = {s.name for s in accounts.screens()}
        token = accounts.add_screen("demo-wall" if "demo-wall" not in screens else f"demo-wall-{secrets.token_hex(2)}")
        return password, token
    finally:
        accounts.dispose()


def _accounts(args):
    from engine.accounts import Accounts

    accounts = Accounts(_config(args).database.url)
    accounts.create()
    return accounts


def _read_password(name: str) -> str:
    """From a prompt (twice) at a terminal, else the first line of stdin."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if first != getpass.getpass("again: "):
            raise ConfigError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users(args) -> int:
    accounts = _accounts(args)
    try:
        if args.users_command == "add":
            from engine.accounts import check_name, check_role

            check_name(args.name)
            check_role(args.role)
            user = accounts.add_user(args.name, args.role, _read_password(args.name))
            print(f"added {user.name} ({user.role})")
        elif args.users_command == "disable":
            accounts.disable_user(args.name)
            print(f"disabled {args.name}: their sessions end at their next request")
        else:
            for user in accounts.users():
                seen = user.last_login.strftime("%Y-%m-%d %H:%M UTC") if user.last_login else "never"
                state = "disabled" if user.disabled else "active"
                print(f"{user.name:24} {user.role:11} {user.origin:5} {state:8} last sign-in {seen}")
    finally:
        accounts.dispose()
    return 0


def cmd_screens(args) -> int:
    accounts = _accounts(args)
    try:
        if args.screens_command == "add":
            token = accounts.add_screen(args.name)
            config = _config(args)
            base = (args.base_url or f"http://{config.web.host}:{config.web.port}").rstrip("/")
            print(f"{base}/screen/{token}")
            print("open it once in the wall's browser (the token then lives in a cookie); it is not shown again",
                  file=sys.stderr)
        elif args.screens_command == "revoke":
            accounts.revoke_screen(args.name)
            print(f"revoked {args.name}: the wall says so at its next poll")
        else:
            for screen in accounts.screens():
                state = f"revoked {screen.revoked_at:%Y-%m-%d %H:%M} UTC" if screen.revoked_at else "active"
                print(f"{screen.name:24} added {screen.created_at:%Y-%m-%d %H:%M} UTC  {state}")
    finally:
        accounts.dispose()
    return 0


def _seed_if_empty(config: AppConfig, records: int) -> None:
    """The demo's /kpi and /history need a past: seed one into an empty history store."""
    from engine.history import History
    from damamaya.seed import Progress, seed

    history = History(config.database.url)
    history.create()
    try:
        if history.count() == 0:
            print(f"seeding {records:,} historical records (90 days) for /kpi and /history...", flush=True)
            seed(history, records, days=90, kcfg=config.kpi, progress=Progress(records, enabled=sys.stderr.isatty()))
    finally:
        history.dispose()


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to a child whose `damamaya run` died,
    so that no orphaned collector or web server outlives it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def cmd_seed_history(args) -> int:
    from damamaya import seed

    return seed.run(args)


def _stop_on_signals():
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="damamaya", description="Damamaya, the Denpasar control room dashboard")
    p.add_argument("--config", help="config file (default: $DAMAMAYA_CONFIG or ./config.yaml)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="embedded Redis (if none configured), collector, web and push servers in one")
    web = sub.add_parser("web", help="serve app.py through gunicorn with several workers")
    push = sub.add_parser("push", help="serve the wall's push stream (SSE) through uvicorn; port: push.port")
    for sp in (run, web, push):
        sp.add_argument("--host")
        sp.add_argument("--port", type=int)
    for sp in (run, web):
        sp.add_argument("--workers", type=int)
    push.set_defaults(func=cmd_push)
    run.add_argument("--demo-history", type=int, default=0, metavar="N",
                     help="seed N historical records first when the history store is empty")
    run.set_defaults(func=cmd_run)
    web.set_defaults(func=cmd_web)
    sub.add_parser("collect", help="poll every enabled source into history and the live store").set_defaults(func=cmd_collect)
    sub.add_parser("adapters", help="list the registered adapters").set_defaults(func=cmd_adapters)
    parse = sub.add_parser("parse", help="parse a file: records as JSON lines on stdout, rejects on stderr")
    parse.add_argument("adapter")
    parse.add_argument("file")
    parse.add_argument("--source", help="take the adapter's settings from this source's block in the config")
    parse.add_argument("--received-at", metavar="ISO", help="when the file was received, for sentences without their own time "
                       "(AIS receiver logs): e.g. 2024-12-09T22:07:14Z")
    parse.set_defaults(func=cmd_parse)
    sub.add_parser("rebuild-live", help="rebuild the Redis live store from the history store").set_defaults(func=cmd_rebuild_live)
    sub.add_parser("rebuild-analytics", help="rebuild the /kpi and /history tables from history").set_defaults(
        func=cmd_rebuild_analytics)
    users = sub.add_parser("users", help="people who may sign in (local accounts in the history database)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user; the password is asked for (or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="admin, supervisor, operator, dispatcher, pimpinan or analyst")
    users_sub.add_parser("list", help="every user with role and last sign-in")
    users_sub.add_parser("disable", help="a user who may no longer sign in").add_argument("name")
    users.set_defaults(func=cmd_users)
    screens = sub.add_parser("screens", help="unattended wall screens signed in by a token link")
    screens_sub = screens.add_subparsers(dest="screens_command", required=True)
    add_screen = screens_sub.add_parser("add", help="register a wall screen and print its link (shown once)")
    add_screen.add_argument("name")
    add_screen.add_argument("--base-url", help="the address walls reach Damamaya at (default: web.host and web.port)")
    screens_sub.add_parser("list", help="every wall screen, active or revoked")
    screens_sub.add_parser("revoke", help="end a wall screen's access").add_argument("name")
    screens.set_defaults(func=cmd_screens)
    seed_p = sub.add_parser("seed-history", help="write realistic historical records")
    try:
        from damamaya import seed

        seed.add_arguments(seed_p)
    except ImportError:  # the seeder is optional for every other command
        pass
    seed_p.set_defaults(func=cmd_seed_history)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack: where a process hangs
    try:
        return args.func(args)
    except Exception as exc:  # noqa: BLE001 - one line for the operator, the traceback only with -v
        if args.verbose:
            log.exception("failed")
        print(redacted(one_line_error(exc, args.command)), file=sys.stderr)
        return 2


def one_line_error(exc: BaseException, command: str = "") -> str:
    """What went wrong, in one line: a config or account error as it reads, anything else
    after `damamaya <command>:` (the caller takes passwords out of URLs)."""
    from engine.accounts import AccountError

    if isinstance(exc, (ConfigError, AccountError)):
        return str(exc)
    return f"damamaya {command}: {_reason(exc)}" if command else _reason(exc)


def _reason(exc: BaseException) -> str:
    import redis
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"the database cannot be used: {reason}"
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return f"database.url is not a database URL ({str(exc).splitlines()[0][:200]})"
    if isinstance(exc, redis.RedisError):
        return f"Redis cannot be used: {redacted(str(exc))}"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
