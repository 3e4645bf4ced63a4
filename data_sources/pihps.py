"""PIHPS Bank Indonesia (hargapangan.id): staple prices per province or market.

Reads the JSON list the PIHPS site returns (e.g. `GetHistogramData`: one object
per province with `Provinsi`, `Komoditas`, `Tanggal` "20 Jul 20", `Nilai`),
bare or wrapped in `{"data": [...]}`. Field names are config (`fields`).
Each item with a price is one Price record; `Nilai` "-", empty or 0 means not
reported and is a reject. Dates are market days (midnight WITA of the day).

The commodity tree (`TreeID`, `TreeName`, `ParentID`) is reference data, not
prices: given to `parse` it is one reject.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field

from data_sources._prices import canonical_commodity, market_day, normalise_name, price_id, rupiah, unit_of
from data_sources.readers.documents import load_json
from data_sources.readers.values import parse_number
from engine.contract import Adapter, SourceConfig
from engine.records import ParseResult, Price, Reject

DEFAULT_FIELDS = {"commodity": "Komoditas", "market": "Provinsi", "date": "Tanggal", "value": "Nilai"}


class PihpsConfig(SourceConfig):
    adapter: str = "pihps"
    interval: float = 3600
    region: str | None = Field(default=None, description="keep only this province/market (case-blind); others are rejects")
    commodity: str | None = Field(default=None, description="commodity name for responses that do not carry one")
    fields: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_FIELDS),
                                   description="source keys for commodity, market, date, value")
    commodity_map: dict[str, str] = Field(default_factory=dict, description="extra source name -> canonical name")
    ceilings: dict[str, float] = Field(default_factory=dict, description="canonical commodity -> HET/HAP ceiling, Rp per unit")


def _items(data: Any) -> list | None:
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return data["data"]
    return data if isinstance(data, list) else None


def _is_tree(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "TreeID" in i and "TreeName" in i for i in items)


class Pihps(Adapter):
    name = "pihps"
    Config = PihpsConfig
    kinds = ("price",)
    description = "PIHPS Bank Indonesia staple prices per province/market"

    document = staticmethod(load_json)

    def read(self, data: Any) -> ParseResult:
        result = ParseResult()
        items = _items(data)
        if items is None:
            result.rejects.append(Reject.of("not a PIHPS price list (expected a JSON list or {\"data\": [...]})", data))
            return result
        if _is_tree(items):
            result.rejects.append(Reject.of(
                f"this is the PIHPS commodity tree ({len(items)} entries), not prices",
                items[:2]))
            return result
        built = [self._price(item, i) for i, item in enumerate(items)]
        return self.dedupe((b, i, items[i]) if isinstance(b, Price) else b for i, b in enumerate(built))


    def _price(self, item: Any, index: int):
        cfg = self.config
        f = {**DEFAULT_FIELDS, **cfg.fields}
        if not isinstance(item, dict):
            return Reject.of("price entry is not an object", item, index)
        market = " ".join(str(item.get(f["market"]) or "").split())
        if not market:
            return Reject.of(f"no market/province ({f['market']!r} is empty)", item, index)
        if cfg.region and normalise_name(market) != normalise_name(cfg.region):
            return Reject.of(f"outside the configured region {cfg.region!r} ({market})", item, index)
        source_name = " ".join(str(item.get(f["commodity"]) or cfg.commodity or "").split())
        if not source_name:
            return Reject.of(f"no commodity ({f['commodity']!r} is empty and no `commodity` configured)", item, index)
        value = rupiah(item.get(f["value"]))
        if value is None or value == 0:
            return Reject.of(f"not reported ({f['value']} = {item.get(f['value'])!r})", item, index)
        try:
            day = market_day(item.get(f["date"]))
        except ValueError as exc:
            return Reject.of(f"date: {exc}", item, index)
        commodity, mapped = canonical_commodity(source_name, cfg.commodity_map)
        details = {
            "source_commodity": source_name,
            "commodity_mapped": mapped,
            "province_id": item.get("ProvID"),
            "change_rp": rupiah(item.get("NilaiDiff")),
            "change_pct": parse_number(item.get("Percentage")),
            "previous_date": item.get("TanggalLast"),
            "national_average": parse_number(item.get("SemuaProvinsi")),
        }
        details = {k: v for k, v in details.items() if v is not None}
        if commodity in cfg.ceilings:
            details["ceiling"] = cfg.ceilings[commodity]
            details["above_ceiling"] = value > cfg.ceilings[commodity]
        return self.build(
            Price, index, item,
            id=price_id(commodity, market, day),
            commodity=commodity, market=market, unit=unit_of(commodity), value=value, date=day, details=details,
        )
