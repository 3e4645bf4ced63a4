"""Bapanas Panel Harga: daily consumer prices as CSV, one row per commodity per day.

The CSV is the daily flattening of the Panel Harga v2 API
(`harga-pangan-informasi`, level_harga_id=3) with the header
`Timestamp,ID,Komoditas,Satuan,Harga,Harga Kemarin,Tanggal Kemarin,Gap,Gap Persen,Gap Perubahan`.
The file holds one city (its market is config `market`, e.g. "Kota Denpasar").
Column names are config (`columns`). `Harga` 0, "-" or empty means not
reported and is a reject. Dates are market days (midnight WITA of the day).
Day-on-day, week and month changes are computed from the stored series by `engine.prices`.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from data_sources._prices import canonical_commodity, market_day, price_id, rupiah, unit_of
from data_sources.readers.documents import read_csv
from engine.contract import Adapter, SourceConfig
from engine.records import ParseResult, Price, Reject

DEFAULT_COLUMNS = {"date": "Timestamp", "commodity": "Komoditas", "commodity_id": "ID", "unit": "Satuan",
                   "value": "Harga", "market": "Pasar"}


class PanelHargaConfig(SourceConfig):
    adapter: str = "panel-harga"
    interval: float = 3600
    market: str = Field(default="Kota Denpasar", description="market/city of the file, when rows do not name one")
    columns: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_COLUMNS),
                                    description="CSV header for date, commodity, commodity_id, unit, value, market")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    commodity_map: dict[str, str] = Field(default_factory=dict, description="extra source name -> canonical name")
    ceilings: dict[str, float] = Field(default_factory=dict, description="canonical commodity -> HET/HAP ceiling, Rp per unit")


def _as_dict(header: list[str], row: list[str]) -> dict:
    """A row by column name; cells missing from a short row are None, the surplus of a long one is `_extra`."""
    item: dict = {name: (row[i] if i < len(row) else None) for i, name in enumerate(header)}
    if len(row) > len(header):
        item["_extra"] = row[len(header):]
    return item


class PanelHarga(Adapter):
    name = "panel-harga"
    Config = PanelHargaConfig
    kinds = ("price",)
    description = "Bapanas Panel Harga daily consumer prices (CSV)"

    def read(self, rows: list[tuple[int, dict | Reject]]) -> ParseResult:
        built = [(row if isinstance(row, Reject) else self._price(row, line), line, row) for line, row in rows]
        return self.dedupe(entry if isinstance(entry[0], Price) else entry[0] for entry in built)


    def load(self, raw: bytes) -> tuple[list[tuple[int, dict | Reject]], Reject | None]:
        """(line number, row as a dict) for each data row, with the configured delimiter and columns;
        a last line caught mid-write is a Reject in its place."""
        records, problem, unfinished = read_csv(raw, delimiter=self.config.delimiter, latin1=False)
        if problem:
            return [], problem
        lines = [(n, r) for n, r in enumerate(records, start=1) if r]  # line numbers count the header as line 1
        header = lines[0][1] if lines else []
        cols = {**DEFAULT_COLUMNS, **self.config.columns}
        missing = [cols[k] for k in ("date", "commodity", "value") if cols[k] not in header]
        if missing:
            return [], Reject.of(f"not a Panel Harga CSV: no column {', '.join(map(repr, missing))}", raw[:120])
        rows: list[tuple[int, dict | Reject]] = [(n, _as_dict(header, row)) for n, row in lines[1:]]
        return [*rows, *([(len(records) + 1, unfinished)] if unfinished else [])], None

    def _price(self, row: dict, line: int):
        cfg = self.config
        cols = {**DEFAULT_COLUMNS, **cfg.columns}
        expected = len(row) - ("_extra" in row)
        present = sum(1 for k, v in row.items() if k != "_extra" and v is not None)
        if present < expected:
            return Reject.of(f"row is cut short: {present} of {expected} columns", row, line)
        source_name = " ".join(str(row.get(cols["commodity"]) or "").split())
        if not source_name:
            return Reject.of("no commodity name", row, line)
        raw_value = row.get(cols["value"])
        value = rupiah(raw_value)
        if value is None or value == 0:
            return Reject.of(f"not reported ({cols['value']} = {raw_value!r})", row, line)
        try:
            day = market_day(row.get(cols["date"]))
        except ValueError as exc:
            return Reject.of(f"date: {exc}", row, line)
        market = " ".join(str(row.get(cols["market"]) or cfg.market).split())
        commodity, mapped = canonical_commodity(source_name, cfg.commodity_map)
        details: dict[str, Any] = {
            "source_commodity": source_name,
            "commodity_mapped": mapped,
            "commodity_id": row.get(cols["commodity_id"]),
            "source_unit": row.get(cols["unit"]),
            "previous_value": rupiah(row.get("Harga Kemarin")) or None,
            "previous_date": row.get("Tanggal Kemarin"),
        }
        details = {k: v for k, v in details.items() if v not in (None, "")}
        if commodity in cfg.ceilings:
            details["ceiling"] = cfg.ceilings[commodity]
            details["above_ceiling"] = value > cfg.ceilings[commodity]
        return self.build(
            Price, line, row,
            id=price_id(commodity, market, day),
            commodity=commodity, market=market, unit=unit_of(commodity, row.get(cols["unit"])),
            value=value, date=day, details=details,
        )
