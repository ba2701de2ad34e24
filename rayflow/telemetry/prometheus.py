"""Serve rayflow's metrics under Temporal's names, from Ray's per-node Prometheus endpoints.

Every process records into ``ray.util.metrics``; the metrics agent of each Ray node aggregates them and serves
them on ``http://<NodeManagerAddress>:<MetricsExportPort>/metrics`` with a ``ray_`` prefix and labels that name
the process (``WorkerId``, ``Component``, ...). :class:`RayMetricsScraper` reads those endpoints, keeps the
families rayflow defines (:data:`rayflow.telemetry.metrics.DEFINITIONS`), drops the prefix and the per-process
labels, combines the processes and nodes (sum; ``max`` for gauges defined so) and renders them with
prometheus_client. So ``/metrics`` answers with what the whole cluster recorded, as it was at Ray's last report
(``metrics_report_interval_ms``, 10 s by default).

The metrics agent ships with ``ray[default]``; where a node's endpoint does not answer, the page says so in a
comment line that names the fix instead of silently serving nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from rayflow.telemetry.metrics import COUNTER, DEFINITIONS, GAUGE, MetricDef

logger = logging.getLogger(__name__)

#: The prefix Ray's exporter puts before every ``ray.util.metrics`` name.
RAY_PREFIX = "ray_"
#: Labels Ray's exporter adds to name the recording process; dropped so that processes add up.
PER_PROCESS_LABELS = frozenset(
    {
        "WorkerId", "Component", "SessionName", "Version", "NodeAddress", "JobId", "instance", "job",
        "otel_scope_name", "otel_scope_version", "otel_scope_schema_url",
    }
)
NO_AGENT_HINT = (
    "Ray's metrics agent did not answer; it ships with ray[default] (pip install 'ray[default]'), "
    "and a node started with a minimal Ray exports no metrics"
)


class _Snapshot:
    """A prometheus_client collector over families already built."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


class RayMetricsScraper:
    """Reads the Ray nodes' metrics endpoints and renders rayflow's families.

    Args:
        definitions: the metrics to keep, by name (default: all rayflow defines).
        timeout_s: how long one node may take to answer (default 3 s).
        nodes_ttl_s: how long the list of nodes is reused before ``ray.nodes()`` is asked again (default 10 s).
    """

    def __init__(
        self,
        definitions: Mapping[str, MetricDef] | None = None,
        *,
        timeout_s: float = 3.0,
        nodes_ttl_s: float = 10.0,
    ) -> None:
        self._definitions = dict(DEFINITIONS if definitions is None else definitions)
        self._timeout_s = timeout_s
        self._nodes_ttl_s = nodes_ttl_s
        self._nodes: list[tuple[str, str]] = []
        self._nodes_at = 0.0

    async def endpoints(self) -> list[tuple[str, str]]:
        """``(node id, http://host:port/metrics)`` of each live Ray node; empty where Ray is not initialized."""
        import ray

        if not ray.is_initialized():
            return []
        if time.monotonic() - self._nodes_at > self._nodes_ttl_s:
            nodes = await asyncio.to_thread(ray.nodes)
            self._nodes = [
                (n.get("NodeID", "?"), f"http://{n['NodeManagerAddress']}:{n.get('MetricsExportPort') or 0}/metrics")
                for n in nodes
                if n.get("Alive")
            ]
            self._nodes_at = time.monotonic()
        return self._nodes

    async def _fetch(self, session: Any, url: str) -> str:
        async with session.get(url) as response:
            response.raise_for_status()
            return await response.text()

    async def scrape(self) -> tuple[list[Metric], list[str]]:
        """Fetch every node and combine; (families, comment lines about nodes that did not answer)."""
        import aiohttp
        import ray

        comments: list[str] = []
        if not ray.is_initialized():
            return self.combine([]), ["Ray is not initialized in this process: no metrics to read"]
        endpoints = await self.endpoints()
        texts: list[str] = []
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            results = await asyncio.gather(
                *(self._fetch(session, url) for _, url in endpoints), return_exceptions=True
            )
        for (node_id, url), result in zip(endpoints, results, strict=True):
            if isinstance(result, BaseException):
                comments.append(f"node {node_id[:12]} ({url}): {type(result).__name__} {result}".strip())
            else:
                texts.append(result)
        if comments:
            comments.append(NO_AGENT_HINT)
            self._nodes_at = 0.0  # a node may have gone: list them again next time
            logger.warning("metrics: %s", "; ".join(comments))
        return self.combine(texts), comments

    def combine(self, texts: Iterable[str]) -> list[Metric]:
        """Keep rayflow's families of Ray's exposition texts, strip the prefix and per-process labels, add up."""
        samples: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {
            name: {} for name in self._definitions
        }
        for text in texts:
            for family in text_string_to_metric_families(text):
                name = family.name[len(RAY_PREFIX):] if family.name.startswith(RAY_PREFIX) else family.name
                definition = self._definitions.get(name)
                if definition is None:
                    continue
                use_max = definition.kind == GAUGE and definition.aggregate == "max"
                merged = samples[name]
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue
                    sample_name = sample.name[len(RAY_PREFIX):] if sample.name.startswith(RAY_PREFIX) else sample.name
                    labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in PER_PROCESS_LABELS))
                    key = (sample_name, labels)
                    if key in merged:
                        merged[key] = max(merged[key], sample.value) if use_max else merged[key] + sample.value
                    else:
                        merged[key] = sample.value
        families = []
        for name, definition in self._definitions.items():
            family = Metric(name, definition.description, definition.kind)
            for (sample_name, labels), value in sorted(samples[name].items()):
                if definition.kind == COUNTER and not sample_name.endswith("_total"):
                    sample_name += "_total"
                family.add_sample(sample_name, dict(labels), value)
            families.append(family)
        return families

    async def render(self) -> bytes:
        """The Prometheus text exposition of rayflow's metrics (with ``#`` comments about nodes not read)."""
        families, comments = await self.scrape()
        return render(families, comments)


def render(families: list[Metric], comments: Iterable[str] = ()) -> bytes:
    """Prometheus text exposition of ``families``, preceded by ``# rayflow: ...`` comment lines."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))  # type: ignore[arg-type]
    head = "".join(f"# rayflow: {' '.join(line.split())}\n" for line in comments).encode()
    return head + generate_latest(registry)
