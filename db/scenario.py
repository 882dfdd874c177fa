"""Loads a generated scenario (tickets/scenario.py) in one transaction with COPY: ids and codes
are allocated after what is already in the database, so a scenario can be loaded next to real
data; loading the same seed twice is refused."""

from __future__ import annotations

import json
import logging
from collections import defaultdict

from db.migrations import Connection
from tickets.codes import code_year, format_code
from tickets.scenario import Scenario

logger = logging.getLogger(__name__)


class ScenarioAlreadyLoaded(Exception):
    error_id = "scenario-already-loaded"


_TICKET_COLUMNS = (
    "id", "code", "line", "category", "subcategory", "status", "source", "caller_phone",
    "caller_raw", "description", "location", "locality", "lat", "long", "agency_code",
    "created_at", "updated_at", "deadline_at", "classified_at", "forwarded_at", "accepted_at",
    "responded_at", "response", "closed_at", "closure", "escalated_at", "answered_at",
    "dispatched_at", "on_scene_at", "completed_at", "facility_code", "outcome",
)  # fmt: skip
_CALL_COLUMNS = (
    "id", "uniqueid", "linkedid", "line", "channel", "caller_raw", "caller_phone", "started_at",
    "ended_at", "disposition", "queue", "version", "ticket_id", "queue_joined_at", "answered_at",
    "abandoned_at", "queue_wait_seconds", "answered_by",
)  # fmt: skip
_EVENT_COLUMNS = ("ticket_id", "at", "actor", "kind", "data")
_DISPATCH_COLUMNS = (
    "ticket_id", "seq", "facility_code", "sent_at", "due_at", "answered_at", "result", "reason",
)  # fmt: skip


async def load_scenario(conn: Connection, scenario: Scenario) -> int:
    """Insert the scenario; returns the number of tickets."""
    async with conn.transaction():
        await conn.execute("LOCK TABLE tickets, calls, ticket_counters IN EXCLUSIVE MODE")
        marker = f"scn{scenario.seed}.1"
        if await conn.fetchval("SELECT 1 FROM calls WHERE uniqueid = $1", marker):
            raise ScenarioAlreadyLoaded(f"the scenario with seed {scenario.seed} is already loaded")
        ticket_base = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM tickets"))
        call_base = int(await conn.fetchval("SELECT coalesce(max(id), 0) FROM calls"))
        counters: dict[tuple[str, int], int] = defaultdict(int)
        for row in await conn.fetch("SELECT line, year, last FROM ticket_counters"):
            counters[(row["line"], row["year"])] = row["last"]

        ticket_rows = []
        ids: dict[int, int] = {}
        for ticket in scenario.tickets:
            ticket_id = ticket_base + ticket.key
            ids[ticket.key] = ticket_id
            year = code_year(ticket.created_at)
            counters[(ticket.line.value, year)] += 1
            code = format_code(ticket.line, year, counters[(ticket.line.value, year)])
            ticket_rows.append(
                (
                    ticket_id, code, ticket.line.value, ticket.category.value, ticket.subcategory,
                    ticket.status.value, "scenario", ticket.caller_phone, ticket.caller_raw,
                    ticket.description, ticket.location, ticket.locality, ticket.lat, ticket.long,
                    ticket.agency_code, ticket.created_at, ticket.updated_at, ticket.deadline_at,
                    ticket.classified_at, ticket.forwarded_at, ticket.accepted_at,
                    ticket.responded_at, ticket.response, ticket.closed_at, ticket.closure,
                    ticket.escalated_at, ticket.answered_at, ticket.dispatched_at,
                    ticket.on_scene_at, ticket.completed_at, ticket.facility_code, ticket.outcome,
                )
            )  # fmt: skip
        await conn.copy_records_to_table("tickets", records=ticket_rows, columns=_TICKET_COLUMNS)

        call_rows = [
            (
                call_base + n, call.uniqueid, call.uniqueid, call.line.value, call.channel,
                call.caller_raw, call.caller_phone, call.started_at, call.ended_at, "queued",
                call.queue, 1, ids[call.ticket_key], call.queue_joined_at, call.answered_at,
                call.abandoned_at, call.queue_wait_seconds, call.answered_by,
            )
            for n, call in enumerate(scenario.calls, start=1)
        ]  # fmt: skip
        await conn.copy_records_to_table("calls", records=call_rows, columns=_CALL_COLUMNS)
        await conn.copy_records_to_table(
            "ticket_events",
            records=[
                (ids[e.ticket_key], e.at, e.actor, e.kind, json.dumps(e.data, ensure_ascii=False))
                for e in scenario.events
            ],
            columns=_EVENT_COLUMNS,
        )
        await conn.copy_records_to_table(
            "dispatch_requests",
            records=[
                (
                    ids[d.ticket_key],
                    d.seq,
                    d.facility_code,
                    d.sent_at,
                    d.due_at,
                    d.answered_at,
                    d.result,
                    d.reason,
                )
                for d in scenario.dispatches
            ],
            columns=_DISPATCH_COLUMNS,
        )
        await conn.executemany(
            "INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, $3)"
            " ON CONFLICT (line, year) DO UPDATE SET last = excluded.last",
            [(line, year, last) for (line, year), last in counters.items()],
        )
        for table in ("tickets", "calls"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
    logger.info(
        "scenario %d loaded: %d tickets, %d calls, %d events",
        scenario.seed,
        len(scenario.tickets),
        len(scenario.calls),
        len(scenario.events),
    )
    return len(scenario.tickets)
