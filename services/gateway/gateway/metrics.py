"""``GET /metrics``: the platform's backlog and what it set aside, in Prometheus' text format, and the webhooks this
gateway process answered, by outcome (counted, not logged, per webhook).

Read at scrape time from the broker (queue depths, consumers) and the database (parked webhook parts by reason,
dead letters are in the broker), so any gateway replica answers for the whole platform; the workers stay free
of an HTTP port. Scrape it from inside the network only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiohttp import web
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from gateway.group_commit import GroupCommit
from gateway.keys import CONNECTION, POOL, PUBLISHER
from gateway.webhooks import WEBHOOK_COUNTS, WEBHOOK_GROUPS, WebhookCounts
from shared.messaging import topology

routes = web.RouteTableDef()


class KeptChannel:
    """The one broker channel every scrape reads the queues on, opened on the first and again only once closed.

    A channel per scrape would leak: aio-pika (10.2) keeps ~4 KiB of callbacks on the connection for every channel
    opened and closed on it — megabytes a day at a 15 s scrape interval."""

    def __init__(self) -> None:
        self.channel: AbstractChannel | None = None

    async def get(self, connection: AbstractRobustConnection) -> AbstractChannel:
        if self.channel is None or self.channel.is_closed:
            self.channel = await connection.channel()
        return self.channel


METRICS_CHANNEL = web.AppKey("metrics_channel", KeptChannel)


class _Snapshot:
    """A collector over values already gathered (prometheus_client collects synchronously)."""

    def __init__(self, metrics: Iterable[Metric]):
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


async def _queues(channel: AbstractChannel, names: topology.Topology) -> list[Metric]:
    ready = GaugeMetricFamily("wamux_queue_messages", "Messages waiting in a queue", labels=["role", "queue"])
    consumers = GaugeMetricFamily("wamux_queue_consumers", "Consumers on a role's work queue", labels=["role"])
    for role in topology.ROLES:
        for kind, name in (
            ("work", names.queue(role)),
            ("dead", names.dead_queue(role)),
            *((f"retry_{d}s", names.retry_queue(role, d)) for d in topology.RETRY_TIERS_S),
        ):
            declared = (await channel.declare_queue(name, passive=True)).declaration_result
            ready.add_metric([role, kind], float(declared.message_count or 0))
            if kind == "work":
                consumers.add_metric([role], float(declared.consumer_count or 0))
    return [ready, consumers]


async def _parked(pool: asyncpg.Pool) -> Metric:
    parked = GaugeMetricFamily("wamux_parked_total", "Webhook parts kept aside, by reason", labels=["reason"])
    rows = await pool.fetch(
        "SELECT split_part(reason, ':', 1) AS reason, count(*) AS n FROM router_read.parked GROUP BY 1 ORDER BY 1"
    )
    for row in rows:
        parked.add_metric([row["reason"][:80]], float(row["n"]))
    return parked


def _webhooks(counts: WebhookCounts) -> Metric:
    answered = CounterMetricFamily(
        "wamux_gateway_webhooks", "Meta's webhooks this gateway process answered, by outcome", labels=["outcome"]
    )
    for outcome, n in vars(counts).items():
        answered.add_metric([outcome], float(n))
    return answered


def _publishes(groups: GroupCommit) -> Metric:
    published = CounterMetricFamily(
        "wamux_gateway_webhook_publishes",
        "Confirmed publishes of accepted webhooks (group commit: several webhooks may share one)",
    )
    published.add_metric([], float(groups.groups_published))
    return published


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    names = request.app[PUBLISHER].names  # the one Topology the gateway built at start-up
    registry = CollectorRegistry(auto_describe=False)
    channel = await request.app[METRICS_CHANNEL].get(request.app[CONNECTION])
    gathered = [*await _queues(channel, names), await _parked(request.app[POOL])]
    gathered.append(_webhooks(request.app[WEBHOOK_COUNTS]))
    gathered.append(_publishes(request.app[WEBHOOK_GROUPS]))
    registry.register(_Snapshot(gathered))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
