"""Adapters, one module each. The registry finds them by their `name`.

Adding a source means adding one module here and one block in config.yaml.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from data_sources.base import Adapter, FetchError, SourceConfig

__all__ = ["Adapter", "FetchError", "SourceConfig", "registry", "get_adapter"]


@cache
def registry() -> dict[str, type[Adapter]]:
    found: dict[str, type[Adapter]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Adapter) and obj.name and obj.__module__ == module.__name__:
                if obj.name in found:
                    raise RuntimeError(f"two adapters are named {obj.name!r}")
                found[obj.name] = obj
    return dict(sorted(found.items()))


def get_adapter(name: str) -> type[Adapter]:
    adapters = registry()
    if name not in adapters:
        raise KeyError(f"no adapter named {name!r}; known: {', '.join(adapters)}")
    return adapters[name]
