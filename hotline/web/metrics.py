"""``GET /metrics``: the service's figures in Prometheus' text format (``prometheus-client``).

Readable without logging in only from ``HOTLINE_METRICS_ALLOW`` (CIDR list, loopback by
default; behind a trusted proxy the client's address counts, as for rate limits); from anywhere
else only with a supervisor's or administrator's login, otherwise 403. The figures that are read
rather than counted (spool, backlogs, queues, pool, sockets, disk) are read here, at each
scrape, each within a bound so that a scrape answers even while the database hangs.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from hotline.keys import AGENTS, HEALTH, METRICS, SETTINGS, STAFFING
from hotline.web.errors import ApiError
from hotline.web.http import USER, client_address, identify, within
from hotline.web.live import SOCKETS
from hotline.web.openapi import ROLES_ATTRIBUTE, describe
from ivr.spool import waiting
from notify.service import CHANNELS
from runtime.metrics import Metrics
from tickets.model import Role

READERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # from outside the allowed networks
DATABASE_WAIT = 1.0  # seconds a scrape waits for the database's counts


def _files(metrics: Metrics, spool: Path, recordings: Path) -> None:
    """The spool's waiting snapshots and the recordings' disk. Blocking (a folder listing,
    statvfs): run in a worker thread."""
    files = waiting(spool)
    metrics.spool_files.set(len(files))
    metrics.spool_oldest_seconds.set(max(0.0, time.time() - files[0][0]) if files else 0.0)
    try:
        usage = shutil.disk_usage(recordings)
    except OSError:
        return  # not there (yet): the figures stay absent or as last read
    metrics.recordings_free_bytes.set(usage.free)
    metrics.recordings_size_bytes.set(usage.total)


async def _database(app: web.Application, metrics: Metrics) -> None:
    health = app[HEALTH]
    in_use, size = health.connections()
    metrics.db_pool_in_use.set(in_use)
    metrics.db_pool_size.set(size)
    backlogs = await health.backlogs(DATABASE_WAIT)
    metrics.database_up.set(0 if backlogs is None else 1)
    metrics.outbox_pending.clear()
    metrics.transcription_jobs.clear()
    if backlogs is None:
        return  # absent rather than stale: an alert on them waits for the database
    for channel in CHANNELS:
        metrics.outbox_pending.labels(channel).set(backlogs.outbox.get(channel, 0))
    metrics.outbox_oldest_due_seconds.set(backlogs.outbox_oldest_due)
    metrics.queue_log_rows_behind.set(backlogs.queue_log_behind)
    for state in ("pending", "running"):
        metrics.transcription_jobs.labels(state).set(backlogs.transcription.get(state, 0))


def _queues(app: web.Application, metrics: Metrics) -> None:
    """The live model's queues (absent when AMI is not configured)."""
    agents = app.get(AGENTS)
    if agents is None:
        return
    staffing = app[STAFFING]
    now = datetime.now(UTC)
    for name in agents.queues:
        if name not in agents.model.queues:
            continue
        view = agents.model.queue_view(name, now)
        labels = (name, staffing.line_of(name).value)
        metrics.queue_waiting.labels(*labels).set(len(view["waiting"]))
        metrics.queue_longest_wait_seconds.labels(*labels).set(view["longest_wait_seconds"])
        metrics.queue_operators_available.labels(*labels).set(view["operators_available"])
        metrics.queue_operators_logged_in.labels(*labels).set(view["operators_logged_in"])


async def _allowed(request: web.Request) -> None:
    if within(client_address(request), request.app[SETTINGS].metrics_networks):
        return
    user = await identify(request)
    if user is None or user.role not in READERS:
        raise ApiError(
            403,
            "metrics-forbidden",
            "metrics are read from HOTLINE_METRICS_ALLOW's networks, or with a supervisor's "
            "or administrator's login",
        )
    request[USER] = user


@describe(
    produces="text/plain; version=0.0.4",
    responses={
        403: "outside HOTLINE_METRICS_ALLOW without a supervisor's or administrator's login"
    },
    tag="health",
)
async def metrics(request: web.Request) -> web.Response:
    """The service's figures for Prometheus (without login only from HOTLINE_METRICS_ALLOW).

    OpenMetrics when the scraper asks for it (``Accept``), else the classic text format."""
    await _allowed(request)
    app = request.app
    figures = app[METRICS]
    settings = app[SETTINGS]
    await asyncio.to_thread(_files, figures, settings.spool_dir, settings.recordings)
    await _database(app, figures)
    _queues(app, figures)
    figures.websocket_clients.set(len(app[SOCKETS]))
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encoder(figures.registry), headers={"Content-Type": content_type})


setattr(metrics, ROLES_ATTRIBUTE, READERS)  # the roles admitted from outside the networks


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
