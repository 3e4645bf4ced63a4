"""Server-side clustering of a big map layer, so a screen receives only what its viewport shows.

A grid in Web Mercator pixels: at zoom z the world is 256 * 2**z pixels wide and each
cell is `CELL_PX` pixels; the points of one cell become one cluster at their mean
position, carrying how many points it holds of each severity rank (0..4) so the screen
draws the same severity ring as its own clusters. A cell of one point is that point's
feature. From `points_zoom` on every point is sent as itself.

`LayerIndex` holds one layer version's projected points (built once per version);
its per-zoom grids are kept beside it, so a zoom is computed once per version.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

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


def point_table(features: list[dict]) -> dict:
    """What clustering needs of a layer's points, compact (a few bytes a point): kept beside the
    layer so an index is built without reading the whole layer."""
    return {"lon": [f["geometry"]["coordinates"][0] for f in features],
            "lat": [f["geometry"]["coordinates"][1] for f in features],
            "rank": [min(RANKS - 1, max(0, int(f["properties"].get("rank") or 0))) for f in features]}


@dataclass
class LayerIndex:
    """`features` (in the table's order) is called only when a view shows single points."""

    load_features: Callable[[], list[dict]]
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    rank: np.ndarray
    grids: dict[int, Grid] = field(default_factory=dict)
    _features: list[dict] | None = None

    @classmethod
    def of(cls, features: list[dict]) -> "LayerIndex":
        return cls.of_table(point_table(features), lambda: features)

    @classmethod
    def of_table(cls, table: dict, load_features: Callable[[], list[dict]]) -> "LayerIndex":
        lon, lat = np.asarray(table["lon"], dtype=float), np.asarray(table["lat"], dtype=float)
        ranks = np.asarray(table["rank"], dtype=np.int64)
        return cls(load_features, mercator_x(lon), mercator_y(lat), lon, lat, ranks)

    @property
    def features(self) -> list[dict]:
        if self._features is None:
            self._features = self.load_features()
        return self._features

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

    def view(self, view: Viewport, points_zoom: int) -> dict:
        """A FeatureCollection of what `view` shows: clusters below `points_zoom`, else points."""
        if view.zoom >= points_zoom:
            inside = _inside(self.lon, self.lat, view)
            return _collection([self.features[i] for i in np.flatnonzero(inside)])
        g = self.grid(view.zoom)
        out = []
        for i in np.flatnonzero(_inside(g.lon, g.lat, view)):
            if g.count[i] == 1:
                out.append(self.features[int(g.first[i])])
            else:
                out.append(cluster_feature(float(g.lon[i]), float(g.lat[i]), int(g.count[i]), g.ranks[i].tolist()))
        return _collection(out)


def cluster_feature(lon: float, lat: float, count: int, ranks: list[int]) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {"cluster": True, "point_count": count, "ranks": ranks}}


def _inside(lon: np.ndarray, lat: np.ndarray, view: Viewport) -> np.ndarray:
    return (lon >= view.west) & (lon <= view.east) & (lat >= view.south) & (lat <= view.north)


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}
