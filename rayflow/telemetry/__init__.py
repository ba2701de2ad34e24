"""Metrics under Temporal's names (internal): definitions and a per-process recorder over ``ray.util.metrics``
(:mod:`.metrics`), and ``/metrics`` for Prometheus outside Ray (:mod:`.prometheus`, :mod:`.http`).

The aiohttp/prometheus_client half is imported only by the frontend process (``rayflow.telemetry.http``);
recording needs only Ray.
"""

from rayflow.telemetry.metrics import DEFINITIONS, MetricDef, Metrics, process_metrics

__all__ = ["DEFINITIONS", "MetricDef", "Metrics", "process_metrics"]
