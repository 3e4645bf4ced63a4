"""Parse guarded and located: the one path from raw bytes to canonical records."""
from __future__ import annotations

import logging
import traceback

from engine.contract import Adapter
from engine.geo import locate_record
from engine.records import ParseResult, Reject

log = logging.getLogger(__name__)


def parse_safely(adapter: Adapter, raw: bytes) -> ParseResult:
    """Run the adapter's parse; a bug in it becomes one reject, never a crash."""
    try:
        result = adapter.parse(raw)
    except Exception as exc:  # noqa: BLE001 - the collector must survive any adapter bug
        log.warning("adapter %s raised on parse: %s", adapter.name, traceback.format_exc(limit=3))
        return ParseResult(rejects=[Reject.of(f"parser error ({type(exc).__name__}: {exc})", raw[:120].decode("utf-8", "replace"))])
    for record in result.records:
        locate_record(record)
    return result
