"""The real app (app.server) on a throwaway SQLite history and the session's embedded Redis."""
from __future__ import annotations

import os

import pytest
from secure_client import PASSWORD, ROLE_USERS, point_runtime_at, write_config


@pytest.fixture(scope="module")
def secured(tmp_path_factory, embedded_redis_url):
    """The app module, configured on a fresh history; yields (app_module, accounts)."""
    from security.principal import accounts

    tmp = tmp_path_factory.mktemp("secured")
    config = write_config(tmp / "config.yaml", embedded_redis_url, f"sqlite:///{tmp}/history.sqlite",
                          auth="  login_rate: 1000/minute")
    point_runtime_at(config)
    import app as app_module
    from layouts.cache import init_cache

    init_cache(app_module.server)  # another test module may have imported app with another Redis
    store = accounts()
    for role, name in ROLE_USERS.items():
        if store.user(name) is None:
            store.add_user(name, role, PASSWORD)
    yield app_module, store
    os.environ.pop("DAMAMAYA_CONFIG", None)
