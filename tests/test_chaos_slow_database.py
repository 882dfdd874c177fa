"""Chaos: the database is slow (another session holds a lock every intake save waits for). The
IVR must keep talking to Asterisk: every AGI turn, measured from the channel's side, takes less
than a second with ``db_timeout`` at its default, and every call still reaches its queue and
leaves a ticket once the lock is gone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from hotline.settings import Settings
from switchboard.fastagi import CallerScript, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.service import running_service, service_settings
from tests.support.timed_channel import TimedChannel

TURN_LIMIT = 1.0  # seconds: the spec's bound for one AGI turn


def callers() -> list[TimedChannel]:
    scripts = [CallerScript(keys=[k]) for k in ("1", "2", "3", "0", None)]
    return [TimedChannel(script=s, sounds_dir=SOUNDS) for s in scripts] + [
        TimedChannel(extension="115", callerid="0912000115", sounds_dir=SOUNDS)
    ]


async def test_given_a_lock_blocking_every_intake_save_when_calls_run_the_ivr_then_each_agi_turn_takes_under_a_second(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path)
    assert settings.db_timeout == Settings.model_fields["db_timeout"].default
    async with running_service(settings) as service:
        blocker = await asyncpg.connect(database_url)
        try:
            await blocker.execute("BEGIN")
            await blocker.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
            first, second = callers(), callers()
            # a burst of simultaneous calls, then more while the first saves are still stuck
            burst = [
                run_hotline_call(
                    c,
                    "127.0.0.1",
                    service.agi_port,
                    default_queue="emergency-115" if c.extension == "115" else "hotline-1022",
                )
                for c in first
            ]
            async with asyncio.timeout(30):
                results = await asyncio.gather(*burst)
                for channel in second:
                    results.append(
                        await run_hotline_call(
                            channel,
                            "127.0.0.1",
                            service.agi_port,
                            default_queue="emergency-115"
                            if channel.extension == "115"
                            else "hotline-1022",
                        )
                    )
            assert await blocker.fetchval("SELECT count(*) FROM calls") == 0  # nothing got through
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()

        channels = first + second
        slow = [
            (c.uniqueid, cmd, round(s, 3))
            for c in channels
            for cmd, s in c.turns
            if s >= TURN_LIMIT
        ]
        assert slow == []
        assert all(len(c.turns) >= 5 for c in channels)  # each call went through the IVR
        assert [r.queue for r in results] == [
            "emergency-115" if c.extension == "115" else "hotline-1022" for c in channels
        ]
        assert all(r.agi.agistatus == "SUCCESS" for r in results)

        async with asyncio.timeout(30):  # the lock is gone: every final snapshot gets stored
            while await db.fetchval(
                "SELECT count(*) FROM calls WHERE disposition = 'queued'"
            ) < len(channels) or list(settings.spool_dir.glob("*.json")):
                await asyncio.sleep(0.05)
    rows = await db.fetch(
        "SELECT c.uniqueid, c.disposition, t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id"
    )
    assert {r["uniqueid"] for r in rows} == {c.uniqueid for c in channels}
    assert {r["disposition"] for r in rows} == {"queued"}
