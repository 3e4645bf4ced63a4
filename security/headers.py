"""Response headers: a Content-Security-Policy without inline script, and the usual hardening.

Dash writes a few inline scripts (the renderer's start, clientside callbacks);
`app.csp_hashes()` lists their hashes, so they run and nothing else inline does.
The hashes are taken once, after every callback is registered.
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Response, request

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def policy(script_hashes: list[str], tile_url: str | None, connect: tuple[str, ...] = ()) -> str:
    images = ["'self'", "data:", "blob:"] + _origins(tile_url)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"] + script_hashes,
        # Dash components and Leaflet position everything with style attributes.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", *connect],  # + the push stream's origin when it is another port
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _origins(url: str | None) -> list[str]:
    if not url:
        return []
    parts = urlsplit(url.replace("{s}", "a").replace("{z}", "0").replace("{x}", "0").replace("{y}", "0"))
    if not parts.scheme or not parts.hostname:
        return []
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    wildcard = "*." + host.split(".", 1)[1] if "{s}" in url and "." in host else host
    return [f"{parts.scheme}://{wildcard}"]


@lru_cache(maxsize=64)
def _policy_cached(hashes: tuple[str, ...], tile_url: str | None, connect: tuple[str, ...]) -> str:
    return policy(list(hashes), tile_url, connect)


def push_origin(config, host: str, scheme: str) -> tuple[str, ...]:
    """Where the wall opens its push stream (push/browser.py): the page's host on the push
    port, or `push.browser_url`'s origin; nothing extra when that is a same-origin path."""
    push = getattr(config, "push", None)
    if push is None or not push.enabled:
        return ()
    if push.browser_url:
        parts = urlsplit(push.browser_url)
        return (f"{parts.scheme}://{parts.netloc}",) if parts.scheme and parts.netloc else ()
    hostname = urlsplit(f"//{host}").hostname or "127.0.0.1"
    hostname = f"[{hostname}]" if ":" in hostname else hostname
    return (f"{scheme}://{hostname}:{config.push_port()}",)


def add_headers(response: Response, script_hashes: tuple[str, ...], config, secure: bool) -> Response:
    connect = push_origin(config, request.host, request.scheme)
    response.headers["Content-Security-Policy"] = _policy_cached(script_hashes, config.map.tile_url, connect)
    present = {name.lower() for name in response.headers.keys()}  # (one pass: Headers.setdefault scans each time)
    for name, value in STATIC_HEADERS.items():
        if name.lower() not in present:
            response.headers.add(name, value)
    if secure and request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
