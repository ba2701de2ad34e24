"""``GET /metrics`` on an aiohttp app: on the web UI's port, or on a listener of its own (``--metrics-port``)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from rayflow.telemetry.prometheus import RayMetricsScraper

_SCRAPER_KEY: web.AppKey[RayMetricsScraper] = web.AppKey("rayflow_metrics_scraper", RayMetricsScraper)


def add_metrics_route(
    app: web.Application, *, scraper: RayMetricsScraper | None = None, path: str = "/metrics"
) -> RayMetricsScraper:
    """Mount ``GET path`` (default ``/metrics``) on ``app``: rayflow's metrics from the Ray cluster this process
    is attached to, in Prometheus text format. Returns the scraper it uses (a new one unless given)."""
    scraper = scraper or RayMetricsScraper()
    app[_SCRAPER_KEY] = scraper

    async def metrics(request: web.Request) -> web.Response:
        body = await request.app[_SCRAPER_KEY].render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get(path, metrics)
    return scraper


async def serve_metrics(bind: str, port: int, *, scraper: RayMetricsScraper | None = None) -> web.AppRunner:
    """Serve ``GET /metrics`` on ``bind:port`` (port 0: a free one; see :func:`bound_port`) until the returned
    runner is cleaned up (``await runner.cleanup()``)."""
    app = web.Application()
    add_metrics_route(app, scraper=scraper)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port the runner's first site listens on (what port 0 became)."""
    return int(runner.addresses[0][1])
