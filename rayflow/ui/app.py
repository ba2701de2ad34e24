"""The web UI's aiohttp application (internal): the JSON API, the static page, and its listener.

aiohttp is already in every rayflow install (Ray's dashboard is built on it), serves HTTP/1.1 and TLS from
asyncio, so it runs on the frontend's own event loop next to grpc.aio: no thread, no second server stack.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from rayflow.service.frontend.remote import TLSConfig
from rayflow.ui import api

STATIC = Path(__file__).with_name("static")
#: The page loads only its own files: no inline script, nothing from elsewhere.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Actions must be same-origin JSON posts: another site's page cannot make a browser signal or
    terminate workflows (a cross-site form cannot send JSON, and a script's Origin is checked)."""
    if request.method == "POST":
        if request.content_type != "application/json":
            return web.json_response({"error": "actions take a JSON body (Content-Type: application/json)"},
                                     status=415)
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return web.json_response({"error": f"cross-origin request from {origin} refused"}, status=403)
    response = await handler(request)
    response.headers.update(_SECURITY_HEADERS)
    return response


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def build_app(frontend: str, tls: TLSConfig | None = None) -> web.Application:
    """The UI application: ``/`` (the page), ``/static/...`` and ``/api/...``, calling the frontend at
    ``frontend`` (``host:port``; ``tls`` as a client would connect to it)."""
    app = web.Application(middlewares=[_guard, api.errors_as_json])
    connections = api.Connections(frontend, tls)
    app[api.CONNECTIONS] = connections
    api.add_routes(app)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC, append_version=False)

    async def close(_: web.Application) -> None:
        await connections.close()

    app.on_cleanup.append(close)
    return app


async def serve(app: web.Application, bind: str, port: int,
                ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Listen on ``bind:port`` (0: a free port); the runner (``await runner.cleanup()`` stops it) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind, port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]
