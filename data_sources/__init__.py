"""Adapters, one module each. The registry finds them by their `name`.

Adding a source means adding one module here and one block in config.yaml.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache

from engine.contract import Adapter, SourceConfig
from engine.fetch import FetchError

__all__ = ["Adapter", "FetchError", "SourceConfig", "registry", "get_adapter", "broken_modules"]

log = logging.getLogger(__name__)
_BROKEN: dict[str, str] = {}


def broken_modules() -> dict[str, str]:
    """Adapter modules that failed to import, with the error: one broken module
    costs its own sources, never the whole control room."""
    registry()
    return dict(_BROKEN)


@cache
def registry() -> dict[str, type[Adapter]]:
    found: dict[str, type[Adapter]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.ispkg:  # helpers and the shared readers
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # noqa: BLE001 - reported, and tested to be empty
            _BROKEN[info.name] = f"{type(exc).__name__}: {exc}"
            log.error("adapter module %s failed to import: %s", info.name, exc)
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Adapter) and obj.name and obj.__module__ == module.__name__:
                if obj.name in found:
                    raise RuntimeError(f"two adapters are named {obj.name!r}")
                found[obj.name] = obj
    return dict(sorted(found.items()))


def get_adapter(name: str) -> type[Adapter]:
    adapters = registry()
    if name not in adapters:
        module = name.replace("-", "_")
        if module in _BROKEN:
            raise KeyError(f"adapter {name!r} failed to import: {_BROKEN[module]}")
        raise KeyError(f"no adapter named {name!r}; known: {', '.join(adapters)}")
    return adapters[name]
