"""Fetching a source's bytes: a local file or an HTTP GET, bounded in time and size.

A fetch given `Validators` is conditional: an HTTP GET sends `If-None-Match` /
`If-Modified-Since` from the last stored response's `ETag` / `Last-Modified`, a file
is not read when its stamp (mtime, size, inode) is the one last stored; either raises
`Unchanged` instead of returning the same bytes again. New validators are only
`pending` until the caller stored what the bytes held and calls `commit`: a body that
could not be parsed or stored is fetched in full again next time.

Feed URLs may carry secrets (`?key=...`, `user:pass@`): every message made here
names a URL as `https://host/path` only (see `safe_url`), because errors go to
logs and to source health, which screens show.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

# httpx logs every request with its full URL at INFO; that URL may hold a key.
logging.getLogger("httpx").setLevel(logging.WARNING)


class FetchError(Exception):
    """A fetch that produced no usable bytes (network, HTTP status, size limit)."""


class Unchanged(Exception):
    """The origin says nothing changed since the bytes last stored (HTTP 304, the same file stamp):
    a successful fetch with nothing to parse."""


# A file modified this recently may change again within the clock's resolution without
# its stamp changing; its stamp is not trusted (the bytes are read and hashed instead).
RACY_SECONDS = 2.0


@dataclass
class Validators:
    """What an origin said of the bytes last stored: HTTP `ETag`/`Last-Modified`, or a file's stamp.

    Kept in the collector's memory with the adapter, on purpose: a process that starts
    (or takes over a source's lease) knows nothing yet and parses its first fetch in
    full, so a changed config or adapter never meets a stale "nothing changed"."""

    etag: str | None = None
    last_modified: str | None = None
    stamp: tuple[int, int, int] | None = None
    pending: dict = field(default_factory=dict)

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def note_response(self, headers: httpx.Headers) -> None:
        modified = headers.get("last-modified")
        if modified and not _http_date(modified):
            modified = None  # an unreadable date is no validator
        self.pending = {"etag": headers.get("etag"), "last_modified": modified, "stamp": None}

    def note_file(self, stamp: tuple[int, int, int], mtime: float) -> None:
        trusted = time.time() - mtime >= RACY_SECONDS
        self.pending = {"etag": None, "last_modified": None, "stamp": stamp if trusted else None}

    def commit(self) -> None:
        """The bytes of the last fetch are stored: later fetches may be answered by `Unchanged`."""
        if self.pending:
            self.etag, self.last_modified, self.stamp = (self.pending[k] for k in ("etag", "last_modified", "stamp"))
            self.pending = {}


def _http_date(value: str) -> bool:
    try:
        return parsedate_to_datetime(value) is not None
    except (TypeError, ValueError, IndexError):
        return False


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


def read_file(path: str, max_bytes: int, validators: Validators | None = None) -> bytes:
    """The file's bytes; raises Unchanged, before reading, when its stamp is the one `validators` stored."""
    p = Path(path)
    try:
        st = p.stat()
        if st.st_size > max_bytes:
            raise FetchError(f"{path} is {st.st_size} bytes, over the {max_bytes} byte limit")
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if validators is not None:
            if validators.stamp == stamp:
                raise Unchanged(path)
            validators.note_file(stamp, st.st_mtime)
        return p.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from exc


_tls: list = []


def _tls_context():
    """One TLS context for every fetch: httpx builds a new one per client otherwise, loading
    the CA bundle each time (about 35 ms of CPU per poll, most of what a 304 costs)."""
    if not _tls:
        _tls.append(httpx.create_ssl_context())
    return _tls[0]


def http_get(url: str, timeout: float, max_bytes: int, headers: dict[str, str] | None = None,
             validators: Validators | None = None) -> bytes:
    """GET with a whole-request timeout and a body size limit; conditional when given
    `validators` (raises Unchanged on 304 Not Modified)."""
    shown = safe_url(url)
    conditions = validators.request_headers() if validators is not None else {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers, verify=_tls_context()) as client:
            with client.stream("GET", url, headers=conditions) as resp:
                if resp.status_code == 304 and conditions:
                    raise Unchanged(shown)
                if resp.status_code >= 400:
                    where = shown if resp.url == httpx.URL(url) else f"{safe_url(resp.url)} (redirected from {shown})"
                    raise FetchError(f"HTTP {resp.status_code} from {where}")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"body over the {max_bytes} byte limit from {shown}")
                    chunks.append(chunk)
                if validators is not None:
                    validators.note_response(resp.headers)
                return b"".join(chunks)
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {timeout:g} s: {shown}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # httpx's own messages may quote the request URL in full
        raise FetchError(scrub(f"{type(exc).__name__}: {exc}", url, headers) + f" ({shown})") from None
