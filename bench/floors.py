"""The floors the issue's table divides by, served the way the real thing is served:

- `floor_dash:server`: a Dash app with one empty callback (Input -> Output, returns its
  input), for gunicorn with the same workers and threads as the wall;
- `SseEcho`: a bare Server-Sent Events echo on uvicorn: `POST /say` is written at once
  to every open `GET /events`; `GET /` is a page that records when each line arrives;
- `map_floor_server()`: the least a Dash page with a map of many points can do, the
  issue's "10,000 clustered points in the same stack": one dash-leaflet map at the
  wall's size, one GeoJSON layer fetched from a URL and clustered in the browser
  (`cluster=True`), `DMY_FLOOR_POINTS` points (default 10,000) spread over Denpasar's desa
  as the wall bench spreads its incidents.

    gunicorn -w 2 --threads 4 --chdir bench floors:floor_server
    DMY_FLOOR_POINTS=10000 gunicorn -w 2 --threads 4 --chdir bench 'floors:map_floor_server()'
"""
from __future__ import annotations

import asyncio
import gzip
import os
import random

import orjson
from dash import Dash, Input, Output, dcc, html
from flask import Response, request

floor_app = Dash(__name__)
floor_app.layout = html.Div([dcc.Store(id="in"), dcc.Store(id="out")])


@floor_app.callback(Output("out", "data"), Input("in", "data"), prevent_initial_call=True)
def _empty(value):
    return value


floor_server = floor_app.server

EMPTY_CALLBACK = {"output": "out.data", "outputs": {"id": "out", "property": "data"},
                  "inputs": [{"id": "in", "property": "data", "value": 1}], "changedPropIds": ["in.data"]}

_PAGE = b"""<!doctype html><html><body><script>
window.arrivals = [];
const es = new EventSource('/events');
es.onmessage = (e) => { window.arrivals.push([e.data, Date.now()]); };
es.onopen = () => { window.opened = true; };
</script></body></html>"""


class SseEcho:
    """ASGI: the least an SSE push can do (no Redis, no work)."""

    def __init__(self):
        self.queues: set[asyncio.Queue] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/events":
            queue: asyncio.Queue = asyncio.Queue()
            self.queues.add(queue)
            try:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
                await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
                while True:
                    line = await queue.get()
                    await send({"type": "http.response.body", "body": b"data: " + line + b"\n\n", "more_body": True})
            finally:
                self.queues.discard(queue)
        elif scope["path"] == "/say":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            for queue in self.queues:
                queue.put_nowait(body)
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": _PAGE})


sse_echo = SseEcho()


# markers and clusters drawn by dash-leaflet's own clustering, holding at least n points (its
# cluster icons abbreviate counts of 1,000 and more: "1.5k", "12k")
MAP_FLOOR_DRAWN = ("(n) => Array.from(document.querySelectorAll('.leaflet-container .marker-cluster span'))"
                   ".reduce((a, s) => a + (parseFloat(s.innerText) || 0) * (s.innerText.endsWith('k') ? 1000 : 1), 0)"
                   " + document.querySelectorAll('.leaflet-marker-icon:not(.marker-cluster)').length >= n")


def floor_points(count: int) -> list[list[float]]:
    """[lon, lat] of `count` points inside Denpasar's desa (the wall bench's spread, seed 7)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from data_sources.demo import random_point

    rng = random.Random(7)
    return [[lon, lat] for lat, lon in (random_point(rng) for _ in range(count))]


def map_floor_server():
    """gunicorn factory: the map floor's Flask server (see the module doc)."""
    import dash_leaflet as dl

    count = int(os.environ.get("DMY_FLOOR_POINTS", "10000"))
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": p}, "properties": {}}
                for p in floor_points(count)]
    body = gzip.compress(orjson.dumps({"type": "FeatureCollection", "features": features}), 6, mtime=0)
    app = Dash(__name__)
    app.layout = html.Div(dl.Map([dl.GeoJSON(url="/floor/points.json", cluster=True)], center=[-8.6705, 115.2126],
                                 zoom=13, style={"height": "calc(100vh - 4rem)", "width": "60%"}))

    @app.server.get("/floor/points.json")
    def _points():
        gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
        response = Response(body if gzipped else gzip.decompress(body), mimetype="application/json")
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        return response

    with app.server.test_client() as warmup:  # Dash's lazy set-up races threaded first requests (as app.py says)
        warmup.get("/")
    return app.server
