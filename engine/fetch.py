"""Fetching a source's bytes: a local file or an HTTP GET, bounded in time and size."""
from __future__ import annotations

from pathlib import Path

import httpx


class FetchError(Exception):
    """A fetch that produced no usable bytes (network, HTTP status, size limit)."""


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
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as client:
            with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code} from {url}")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"body over the {max_bytes} byte limit from {url}")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g} s: {url}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc
