"""Fetching a source's bytes: a local file or an HTTP GET, bounded in time and size.

Feed URLs may carry secrets (`?key=...`, `user:pass@`): every message made here
names a URL as `https://host/path` only (see `safe_url`), because errors go to
logs and to source health, which screens show.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import httpx

# httpx logs every request with its full URL at INFO; that URL may hold a key.
logging.getLogger("httpx").setLevel(logging.WARNING)


class FetchError(Exception):
    """A fetch that produced no usable bytes (network, HTTP status, size limit)."""


def safe_url(url: str | httpx.URL) -> str:
    """The URL without credentials, query or fragment: `https://host:port/path`."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that cannot be read)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


def scrub(message: str, url: str | None, headers: dict[str, str] | None = None) -> str:
    """`message` with the secret parts of `url` and the values of `headers` cut out."""
    if url:
        parts = urlsplit(url)
        message = message.replace(url, safe_url(url))
        secrets = [parts.query, parts.password or "", parts.username or "", parts.fragment]
        for secret in secrets:
            if len(secret) >= 3:
                message = message.replace(secret, "[hidden]")
    for value in (headers or {}).values():
        if len(value) >= 3:
            message = message.replace(value, "[hidden]")
    return message


def read_file(path: str, max_bytes: int) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise FetchError(f"{path} is {size} bytes, over the {max_bytes} byte limit")
        return p.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc


def http_get(url: str, timeout: float, max_bytes: int, headers: dict[str, str] | None = None) -> bytes:
    """GET with a whole-request timeout and a body size limit."""
    shown = safe_url(url)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
            with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    where = shown if resp.url == httpx.URL(url) else f"{safe_url(resp.url)} (redirected from {shown})"
                    raise FetchError(f"HTTP {resp.status_code} from {where}")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"body over the {max_bytes} byte limit from {shown}")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g} s: {shown}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # httpx's own messages may quote the request URL in full
        raise FetchError(scrub(f"{type(exc).__name__}: {exc}", url, headers) + f" ({shown})") from None
