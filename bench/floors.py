"""The floors the issue's table divides by, served the way the real thing is served:

- `floor_dash:server`: a Dash app with one empty callback (Input -> Output, returns its
  input), for gunicorn with the same workers and threads as the wall;
- `SseEcho`: a bare Server-Sent Events echo on uvicorn: `POST /say` is written at once
  to every open `GET /events`; `GET /` is a page that records when each line arrives.

    gunicorn -w 2 --threads 4 --chdir bench floors:floor_server
"""
from __future__ import annotations

import asyncio

from dash import Dash, Input, Output, dcc, html

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
