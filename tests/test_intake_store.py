"""The call-snapshot store's contract (``tickets.intake.save_action``) on real PostgreSQL: a
snapshot of another session never touches a stored call, the queue's view never overrides the
IVR's, and the IVR's snapshot replayed after a ticket was made from the queue merges into it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from db.errors import DataRefused
from db.intake import PostgresIntakeRepository
from tickets.errors import SnapshotRefused
from tickets.events import EventKind
from tickets.intake import (
    CallIntake,
    IntakeOrigin,
    SaveAction,
    StoredCall,
    save_action,
)
from tickets.model import CallDisposition, Category, Line

UNIQUEID = "1790000000.42"
START = datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(pool: asyncpg.Pool) -> PostgresIntakeRepository:
    return PostgresIntakeRepository(pool)


def ivr_call(started_at: datetime = START, caller: str = "0901234567") -> CallIntake:
    return CallIntake(
        uniqueid=UNIQUEID,
        linkedid=UNIQUEID,
        line=Line.CITIZEN,
        caller_raw=caller,
        channel="PJSIP/telco-00000001",
        started_at=started_at,
        category=Category.UNCLASSIFIED,
        queue="hotline-1022",
    ).step(EventKind.CALL_STARTED, {"caller": caller, "line": "1022"})


def finished(call: CallIntake) -> CallIntake:
    return (
        call.step(EventKind.MENU_CHOICE, {"digit": "2"}, category=Category.FIELD_REPORT)
        .step(EventKind.RECORDED, {"purpose": "description"}, description_recording="/rec/x.wav")
        .step(
            EventKind.TO_QUEUE,
            disposition=CallDisposition.QUEUED,
            ended_at=START + timedelta(seconds=40),
        )
    )


def queue_made(joined_at: datetime) -> CallIntake:
    """What agents/service.py makes from QueueCallerJoin for a call it finds no ticket for."""
    return CallIntake(
        uniqueid=UNIQUEID,
        linkedid=UNIQUEID,
        line=Line.CITIZEN,
        caller_raw="0901234567",
        channel="",
        started_at=joined_at,
        category=Category.UNCLASSIFIED,
        disposition=CallDisposition.FALLBACK,
        queue="hotline-1022",
        origin=IntakeOrigin.QUEUE,
    ).step(EventKind.SEEN_IN_QUEUE, {"queue": "hotline-1022"})


async def stored(db: asyncpg.Connection) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    row = await db.fetchrow(
        "SELECT c.*, t.created_at AS ticket_created, t.category, t.code,"
        " t.description_recording, t.id AS tid"
        " FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
        UNIQUEID,
    )
    assert row is not None
    events = await db.fetch(
        "SELECT kind, call_seq, at FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id",
        row["tid"],
    )
    return row, events


@pytest.mark.parametrize(
    ("stored_call", "incoming", "action"),
    [
        (None, ivr_call(), SaveAction.CREATE),
        (None, queue_made(START), SaveAction.CREATE),
        (StoredCall(IntakeOrigin.IVR, 1, START), finished(ivr_call()), SaveAction.UPDATE),
        (StoredCall(IntakeOrigin.IVR, 5, START), ivr_call(), SaveAction.KEEP),
        (StoredCall(IntakeOrigin.IVR, 1, START), queue_made(START), SaveAction.KEEP),
        (StoredCall(IntakeOrigin.QUEUE, 2, START), ivr_call(), SaveAction.MERGE),
        (StoredCall(IntakeOrigin.QUEUE, 2, START), queue_made(START), SaveAction.KEEP),
        (
            StoredCall(IntakeOrigin.IVR, 5, START),
            finished(ivr_call(START + timedelta(minutes=3))),
            SaveAction.REFUSE,
        ),
        (
            StoredCall(IntakeOrigin.IVR, 1, START),
            ivr_call(START + timedelta(microseconds=1)),
            SaveAction.REFUSE,
        ),
    ],
)
def test_given_what_is_stored_when_a_snapshot_arrives_then_the_rule_says_what_to_do(
    stored_call: StoredCall | None, incoming: CallIntake, action: SaveAction
) -> None:
    assert save_action(stored_call, incoming) is action


async def test_given_a_finished_call_when_a_snapshot_of_another_session_arrives_then_it_is_refused_and_nothing_changes(
    store: PostgresIntakeRepository, db: asyncpg.Connection
) -> None:
    code = await store.save(finished(ivr_call()))
    before = await stored(db)
    intruder = finished(ivr_call(START + timedelta(minutes=5), caller="0912345678"))
    longer = intruder.step(EventKind.NO_INPUT).step(EventKind.NO_INPUT).step(EventKind.NO_INPUT)

    for snapshot in (intruder, longer):
        with pytest.raises(SnapshotRefused):
            await store.save(snapshot)

    assert await stored(db) == before
    assert await store.save(finished(ivr_call())) == code  # the real session still reads it


async def test_given_a_running_call_when_a_snapshot_of_another_session_arrives_then_it_is_refused(
    store: PostgresIntakeRepository, db: asyncpg.Connection
) -> None:
    running = ivr_call()
    await store.save(running)
    before = await stored(db)

    with pytest.raises(SnapshotRefused):
        await store.save(finished(ivr_call(START + timedelta(seconds=1))))

    assert await stored(db) == before
    await store.save(finished(running))  # the call's own session goes on
    row, events = await stored(db)
    assert [e["kind"] for e in events] == ["call_started", "menu_choice", "recorded", "to_queue"]
    assert row["disposition"] == "queued"


def steps(first: CallIntake) -> tuple[CallIntake, CallIntake, CallIntake]:
    """The next three snapshots of a call still in the IVR (none ends it)."""
    chosen = first.step(EventKind.MENU_CHOICE, {"digit": "2"}, category=Category.FIELD_REPORT)
    recorded = chosen.step(
        EventKind.RECORDED, {"purpose": "description"}, description_recording="/rec/x.wav"
    )
    return chosen, recorded, recorded.step(EventKind.NO_INPUT, {"attempt": 1})


async def test_given_two_instances_saving_one_call_in_turn_when_each_remembers_it_then_the_newest_snapshot_wins_and_no_event_or_step_is_stored_twice(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    """Each instance remembers the calls it committed and stores their next snapshot in one
    call (migration 0022) that updates a call only at the version it remembers: the other
    instance's snapshot in between sends the next one the long way, over the newest. Either
    way only the steps after the last event stored are appended to the path (migration 0023),
    so the path is the newest snapshot's, each step once."""
    one, other = PostgresIntakeRepository(pool), PostgresIntakeRepository(pool)
    first = ivr_call()
    chosen, recorded, silent = steps(first)
    code = await one.save(first)
    assert await one.save(chosen) == code  # remembered: the short way

    assert await other.save(recorded) == code
    assert await one.save(chosen) == code  # not newer than what it remembers: kept
    assert await one.save(silent) == code  # remembers "chosen", the call is at "recorded"

    row, events = await stored(db)
    assert row["version"] == silent.version
    assert row["description_recording"] == "/rec/x.wav"
    assert [(e["kind"], e["call_seq"]) for e in events] == [
        ("call_started", 1),
        ("menu_choice", 2),
        ("recorded", 3),
        ("no_input", 4),
    ]
    assert json.loads(row["ivr_path"]) == silent.ivr_path


async def test_given_an_instance_remembering_an_old_version_when_an_older_snapshot_than_stored_arrives_then_nothing_changes(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    """The spool's replay on one instance of a snapshot older than what another instance
    stored since: newer than what the first remembers, older than what is stored."""
    one, other = PostgresIntakeRepository(pool), PostgresIntakeRepository(pool)
    first = ivr_call()
    chosen, recorded, _ = steps(first)
    code = await one.save(first)
    await other.save(recorded)
    before = await stored(db)

    assert await one.save(chosen) == code

    assert await stored(db) == before
    row, _ = before
    assert (row["version"], row["description_recording"]) == (recorded.version, "/rec/x.wav")


async def test_given_an_ivr_call_when_the_queue_makes_its_snapshot_then_the_call_is_unchanged(
    store: PostgresIntakeRepository, db: asyncpg.Connection
) -> None:
    code = await store.save(ivr_call())
    before = await stored(db)

    assert await store.save(queue_made(START + timedelta(seconds=30))) == code

    assert await stored(db) == before


async def test_given_a_ticket_made_from_the_queue_when_the_ivr_snapshot_is_replayed_then_it_merges_keeping_the_ivr_start_and_path(
    store: PostgresIntakeRepository, db: asyncpg.Connection
) -> None:
    joined = START + timedelta(seconds=45)
    code = await store.save(queue_made(joined))
    await db.execute(
        "UPDATE calls SET queue_joined_at = $2, answered_at = $3, answered_by = 'PJSIP/op101'"
        " WHERE uniqueid = $1",
        UNIQUEID,
        joined,
        joined + timedelta(seconds=12),
    )

    assert await store.save(finished(ivr_call())) == code  # the same ticket

    row, events = await stored(db)
    assert row["started_at"] == START
    assert row["ticket_created"] == START
    assert row["origin"] == "ivr"
    assert row["channel"] == "PJSIP/telco-00000001"
    assert row["disposition"] == "queued"
    assert row["category"] == "field_report"
    assert row["description_recording"] == "/rec/x.wav"
    assert [s["step"] for s in json.loads(row["ivr_path"])] == [
        "call_started",
        "menu_choice",
        "recorded",
        "to_queue",
    ]
    path = [(e["kind"], e["call_seq"]) for e in events if e["call_seq"] is not None]
    assert path == [("call_started", 1), ("menu_choice", 2), ("recorded", 3), ("to_queue", 4)]
    assert [e["kind"] for e in events if e["call_seq"] is None] == ["seen_in_queue"]
    assert (row["queue_joined_at"], row["answered_by"]) == (joined, "PJSIP/op101")
    assert await db.fetchval("SELECT count(*) FROM tickets") == 1

    # later snapshots of the same IVR session (another spooled version) still apply
    later = finished(ivr_call()).step(EventKind.CALLER_HUNG_UP, disposition=CallDisposition.QUEUED)
    await store.save(later)
    row, events = await stored(db)
    assert [e["kind"] for e in events if e["call_seq"] is not None][-1] == "caller_hung_up"
    with pytest.raises(SnapshotRefused):  # and a second "IVR session" is refused, as always
        await store.save(ivr_call(START + timedelta(minutes=1)))


async def test_given_a_nul_in_a_field_when_stored_then_the_refusal_says_it_is_for_good(
    store: PostgresIntakeRepository,
) -> None:
    with pytest.raises(DataRefused):
        await store.save(ivr_call(caller="0901\x00234567"))
