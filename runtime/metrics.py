"""The service's own figures for Prometheus, in one registry per application (several apps in
one process — the tests, ``hotline simulate`` — never share a figure).

Every figure is declared here, so this module is the list of what ``GET /metrics`` shows. Two
kinds: figures the code moves as things happen (calls, AGI turns, saves, AMI events, outbox
sends, decodes), passed to the services that move them; and figures read when Prometheus
scrapes (spool, backlogs, queues, pool, sockets, disk), set by ``hotline.web.metrics``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

# AGI turns and saves: the caller hears silence while they last (bench/agi_turns.py)
TURN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
DECODE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # -- moved as things happen ---------------------------------------------------------
        self.ivr_calls = Gauge("hotline_ivr_calls", "Calls in the IVR now", ["line"], registry=r)
        self.calls = Counter(
            "hotline_calls",
            "Calls that left the IVR, by line and outcome (the ticket's call disposition: "
            "queued, abandoned_in_ivr, fallback; in_ivr when Asterisk fell silent)",
            ["line", "outcome"],
            registry=r,
        )
        self.agi_turn_seconds = Histogram(
            "hotline_agi_turn_seconds",
            "From Asterisk's reply to an AGI command to our next command: our time per step",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.save_batch_size = Histogram(
            "hotline_save_batch_size",
            "Call snapshots stored in one database transaction",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.save_seconds = Histogram(
            "hotline_save_seconds",
            "Time one transaction of call snapshots took",
            buckets=TURN_BUCKETS,
            registry=r,
        )
        self.ami_up = Gauge(
            "hotline_ami_up", "1 while logged in to the PBX's AMI", ["pbx"], registry=r
        )
        self.ami_events = Counter(
            "hotline_ami_events", "AMI events received (rate: events/s)", ["pbx"], registry=r
        )
        self.outbox_sent = Counter(
            "hotline_outbox_sent", "Citizen messages a gateway accepted", ["channel"], registry=r
        )
        self.outbox_failures = Counter(
            "hotline_outbox_failures",
            "Sending attempts that failed, by channel and what follows (retry, give_up, "
            "fallback to SMS)",
            ["channel", "verdict"],
            registry=r,
        )
        self.decode_seconds = Histogram(
            "hotline_transcription_decode_seconds",
            "Time Vosk took to decode one recording",
            buckets=DECODE_BUCKETS,
            registry=r,
        )
        # -- read at each scrape --------------------------------------------------------------
        self.spool_files = Gauge(
            "hotline_spool_files",
            "Call snapshots waiting in the spool for the database",
            registry=r,
        )
        self.spool_oldest_seconds = Gauge(
            "hotline_spool_oldest_seconds",
            "Age of the oldest snapshot waiting in the spool (0 when empty)",
            registry=r,
        )
        self.database_up = Gauge(
            "hotline_database_up", "1 when the database answered this scrape's queries", registry=r
        )
        self.db_pool_in_use = Gauge(
            "hotline_db_pool_in_use", "Database connections in use", registry=r
        )
        self.db_pool_size = Gauge(
            "hotline_db_pool_size", "Database connections open (in use or idle)", registry=r
        )
        self.outbox_pending = Gauge(
            "hotline_outbox_pending", "Citizen messages waiting to be sent", ["channel"], registry=r
        )
        self.outbox_oldest_due_seconds = Gauge(
            "hotline_outbox_oldest_due_seconds",
            "How long the longest-due pending message has been due (0 when none is)",
            registry=r,
        )
        self.queue_log_rows_behind = Gauge(
            "hotline_queue_log_rows_behind",
            "Rows of Asterisk's queue_log not yet applied to the statistics and call-backs",
            registry=r,
        )
        self.transcription_jobs = Gauge(
            "hotline_transcription_jobs",
            "Transcription jobs not finished, by state (pending, running)",
            ["state"],
            registry=r,
        )
        self.queue_waiting = Gauge(
            "hotline_queue_waiting", "Callers waiting in the queue", ["queue", "line"], registry=r
        )
        self.queue_longest_wait_seconds = Gauge(
            "hotline_queue_longest_wait_seconds",
            "How long the caller waiting longest has waited",
            ["queue", "line"],
            registry=r,
        )
        self.queue_operators_available = Gauge(
            "hotline_queue_operators_available",
            "Operators of the queue free to take a call (logged in, not paused, not on a call)",
            ["queue", "line"],
            registry=r,
        )
        self.queue_operators_logged_in = Gauge(
            "hotline_queue_operators_logged_in",
            "Operators logged in to the queue",
            ["queue", "line"],
            registry=r,
        )
        self.websocket_clients = Gauge(
            "hotline_websocket_clients", "Consoles connected to the live events", registry=r
        )
        self.recordings_free_bytes = Gauge(
            "hotline_recordings_free_bytes",
            "Free space on the recordings spool's file system",
            registry=r,
        )
        self.recordings_size_bytes = Gauge(
            "hotline_recordings_size_bytes",
            "Size of the recordings spool's file system",
            registry=r,
        )
        ProcessCollector(registry=r)

    def saved(self, batch: int, seconds: float) -> None:
        """One transaction stored ``batch`` call snapshots in ``seconds`` (the group-commit
        writer, ``ivr/writer.py``)."""
        self.save_batch_size.observe(batch)
        self.save_seconds.observe(seconds)
