"""Server-side clustering of a big map layer, so a screen receives only what its viewport shows.

A grid in Web Mercator pixels: at zoom z the world is 256 * 2**z pixels wide and each
cell is `CELL_PX` pixels; the points of one cell become one cluster at their mean
position, carrying how many points it holds of each severity rank (0..4) so the screen
draws the same severity ring as its own clusters. A cell of one point is that point's
feature. From `points_zoom` on every point is sent as itself.

`LayerIndex` holds one layer version's projected points; its per-zoom grids are kept
beside it, so a zoom is computed once per version.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import orjson

CELL_PX = 64
TILE_PX = 256
MAX_ZOOM = 22
MAX_LAT = 85.05112878
RANKS = 5


@dataclass(frozen=True)
class Viewport:
    """A bounded request: zoom (whole level) and west, south, east, north in degrees."""

    zoom: int
    west: float
    south: float
    east: float
    north: float


def mercator_x(lon):
    return (np.asarray(lon, dtype=float) + 180.0) / 360.0


def mercator_y(lat):
    rad = np.radians(np.clip(np.asarray(lat, dtype=float), -MAX_LAT, MAX_LAT))
    return (1.0 - np.log(np.tan(rad) + 1.0 / np.cos(rad)) / math.pi) / 2.0


def viewport_pixels(view: Viewport) -> tuple[float, float]:
    """Width and height of a viewport in pixels at its zoom (what bounds a request's answer)."""
    scale = TILE_PX * 2 ** view.zoom
    width = float(mercator_x(view.east) - mercator_x(view.west)) * scale
    height = float(mercator_y(view.south) - mercator_y(view.north)) * scale
    return width, height


@dataclass
class Grid:
    """The clusters of one zoom: per cell its mean position, count, ranks and (for a
    single point) the index of its feature."""

    lon: np.ndarray
    lat: np.ndarray
    count: np.ndarray
    ranks: np.ndarray  # (cells, RANKS)
    first: np.ndarray  # index of a feature of the cell


Row = tuple[float, float, int]  # lon, lat, severity rank of one point
FeaturesOf = Callable[[list[str]], list[dict]]  # record ids -> their point features (gone ones left out)


@dataclass
class LayerIndex:
    """A layer's points as clustering needs them, one row per record: its id, position and
    severity rank, at the layer's `version`, holding every change of the live store's change
    stream up to `as_of`. A newer version is made from an older one and the records that
    changed in between (`updated`), so its cost follows the change, not the layer's size.
    Features are built only for what a view shows as single points (`features_of`)."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    rank: np.ndarray
    version: int = 0
    as_of: str = "0-0"
    grids: dict[int, Grid] = field(default_factory=dict)
    _rows: dict[str, int] | None = None

    def __post_init__(self):
        self.rank = np.clip(np.asarray(self.rank, dtype=np.int64), 0, RANKS - 1)
        self.x, self.y = mercator_x(self.lon), mercator_y(self.lat)

    @classmethod
    def of(cls, points: dict[str, Row], version: int = 0, as_of: str = "0-0") -> "LayerIndex":
        ids = list(points)
        cols = list(zip(*points.values())) or [(), (), ()]
        return cls(ids, np.asarray(cols[0], dtype=float), np.asarray(cols[1], dtype=float),
                   np.asarray(cols[2], dtype=np.int64), version, as_of)

    def to_bytes(self) -> bytes:
        return orjson.dumps({"ids": self.ids, "lon": self.lon, "lat": self.lat, "rank": self.rank,
                             "version": self.version, "as_of": self.as_of}, option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "LayerIndex":
        d = orjson.loads(raw)
        return cls(d["ids"], np.asarray(d["lon"], dtype=float), np.asarray(d["lat"], dtype=float),
                   np.asarray(d["rank"], dtype=np.int64), d["version"], d["as_of"])

    def updated(self, changed: dict[str, Row | None], version: int, as_of: str) -> "LayerIndex":
        """A new index: this one with `changed` rows set (None: the record is gone or has no
        point); this one is left as it is for the requests still reading it."""
        ids, lon, lat, rank, rows = list(self.ids), self.lon.copy(), self.lat.copy(), self.rank.copy(), dict(self.rows)
        size, added = len(ids), {}
        for rid, row in changed.items():
            at = rows.get(rid)
            if row is None:
                if at is None:
                    continue
                size -= 1  # the last row moves into the gone one's place
                del rows[rid]
                if at != size:
                    ids[at], lon[at], lat[at], rank[at] = ids[size], lon[size], lat[size], rank[size]
                    rows[ids[at]] = at
            elif at is None:
                added[rid] = row
            else:
                lon[at], lat[at], rank[at] = row
        new = LayerIndex.of(added)
        index = LayerIndex(ids[:size] + new.ids, np.concatenate([lon[:size], new.lon]), np.concatenate([lat[:size], new.lat]),
                           np.concatenate([rank[:size], new.rank]), version, as_of)
        index._rows = rows
        index._rows.update((rid, size + i) for i, rid in enumerate(new.ids))
        return index

    @property
    def rows(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {rid: i for i, rid in enumerate(self.ids)}
        return self._rows

    def grid(self, zoom: int) -> Grid:
        if zoom not in self.grids:
            self.grids[zoom] = self._build_grid(zoom)
        return self.grids[zoom]

    def _build_grid(self, zoom: int) -> Grid:
        cells_across = TILE_PX * 2 ** zoom / CELL_PX
        cx = np.floor(self.x * cells_across).astype(np.int64)
        cy = np.floor(self.y * cells_across).astype(np.int64)
        keys = cx * (int(cells_across) + 1) + cy
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        count = np.bincount(inverse)
        lon = np.bincount(inverse, weights=self.lon) / count
        lat = np.bincount(inverse, weights=self.lat) / count
        ranks = np.bincount(inverse * RANKS + self.rank, minlength=len(count) * RANKS).reshape(-1, RANKS)
        return Grid(lon, lat, count, ranks, first)

    def view(self, view: Viewport, points_zoom: int, features_of: FeaturesOf) -> dict:
        """A FeatureCollection of what `view` shows: clusters below `points_zoom`, else points."""
        if view.zoom >= points_zoom:
            inside = _inside(self.lon, self.lat, view)
            return _collection(features_of([self.ids[i] for i in np.flatnonzero(inside)]))
        g = self.grid(view.zoom)
        clusters, singles = [], []
        for i in np.flatnonzero(_inside(g.lon, g.lat, view)):
            if g.count[i] == 1:
                singles.append(self.ids[int(g.first[i])])
            else:
                clusters.append(cluster_feature(float(g.lon[i]), float(g.lat[i]), int(g.count[i]), g.ranks[i].tolist()))
        return _collection(clusters + features_of(singles))


def cluster_feature(lon: float, lat: float, count: int, ranks: list[int]) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {"cluster": True, "point_count": count, "ranks": ranks}}


def _inside(lon: np.ndarray, lat: np.ndarray, view: Viewport) -> np.ndarray:
    return (lon >= view.west) & (lon <= view.east) & (lat >= view.south) & (lat <= view.north)


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}
