"""Callers' recordings: stored relative to the recordings spool (and older absolute paths
migrated so), and played in the operator's browser — the 1022 description on the call panel,
the 115 caller's address on the call panel and on the ambulance dispatch panel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path, PurePath

import asyncpg
import pytest
from playwright.async_api import expect

from db.migrations import known_migrations, migrate
from db.province import load_province
from switchboard import CallerScript, Softphone
from tests.support.browser import (
    add_user,
    chromium,
    operator_page,
    played_seconds,
    screenshot,
    script_errors,
)
from tests.support.live import Live, live_hotline
from tickets.agencies import load_province as read_province
from tickets.model import Role
from tickets.recordings import spool_relative

SPEECH = Path(__file__).parent / "fixtures" / "speech" / "ambulance_8k.wav"
SPOOL = PurePath("/srv/hotline/recordings")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("/srv/hotline/recordings/20261126/17.3-description.wav", "20261126/17.3-description.wav"),
        # Asterisk's MixMonitor file, as Asterisk sees the shared spool
        ("/var/spool/asterisk/hotline/20261126/17.3-call.wav", "20261126/17.3-call.wav"),
        ("var/recordings/20261126/17.3-location.wav", "20261126/17.3-location.wav"),
        ("20261126/17.3-location.wav", "20261126/17.3-location.wav"),
        ("/somewhere/else/recording.wav", "/somewhere/else/recording.wav"),
    ],
)
def test_given_a_recording_path_when_stored_then_it_is_the_path_inside_the_spool(
    stored: str, expected: str
) -> None:
    assert spool_relative(stored, SPOOL) == expected


async def test_given_absolute_paths_stored_before_when_migrated_then_they_are_relative_and_nothing_is_transcribed_again(
    db: asyncpg.Connection,
) -> None:
    await db.execute("CREATE SCHEMA old; SET search_path TO old")
    migrations = known_migrations()
    relative = next(m for m in migrations if m.name == "recordings_relative")
    await migrate(db, migrations[: relative.version - 1])
    old = "/srv/hotline/var/recordings/20261126/1764.7-description.wav"
    ticket = await db.fetchval(
        "INSERT INTO tickets (code, line, category, caller_raw, description_recording,"
        " transcript_archive, created_at, updated_at)"
        " VALUES ('1022-26-000001', '1022', 'field_report', '0901234567', $1, $2, now(), now())"
        " RETURNING id",
        old,
        old.replace(".wav", ".mp3"),
    )
    await db.execute(
        "UPDATE transcription_jobs SET status = 'done', attempts = 1, archive_path = $2"
        " WHERE ticket_id = $1",
        ticket,
        old.replace(".wav", ".mp3"),
    )
    path = [{"step": "recorded", "file": old, "purpose": "description"}, {"step": "to_queue"}]
    await db.execute(
        "INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, started_at, ivr_path,"
        " disposition, recording, version, ticket_id) VALUES ('1764.7', '1764.7', '1022',"
        " 'PJSIP/t-1', '0901234567', now(), $1::jsonb, 'queued', $2, 3, $3)",
        json.dumps(path),
        "/var/spool/asterisk/hotline/20261126/1764.7-call.wav",
        ticket,
    )
    await db.execute(
        "INSERT INTO ticket_events (ticket_id, actor, kind, data)"
        " VALUES ($1, 'ivr', 'recorded', $2::jsonb)",
        ticket,
        json.dumps({"file": old, "purpose": "description"}),
    )

    await migrate(db, migrations)

    row = await db.fetchrow(
        "SELECT description_recording, transcript_archive FROM tickets WHERE id = $1", ticket
    )
    assert row is not None
    assert tuple(row) == ("20261126/1764.7-description.wav", "20261126/1764.7-description.mp3")
    job = await db.fetchrow(
        "SELECT status, attempts, audio_path, archive_path FROM transcription_jobs"
        " WHERE ticket_id = $1",
        ticket,
    )
    assert job is not None
    assert tuple(job) == (
        "done",
        1,
        "20261126/1764.7-description.wav",
        "20261126/1764.7-description.mp3",
    )
    call = await db.fetchrow("SELECT recording, ivr_path FROM calls WHERE ticket_id = $1", ticket)
    assert call is not None
    assert call["recording"] == "20261126/1764.7-call.wav"
    assert json.loads(call["ivr_path"]) == [
        {"step": "recorded", "file": "20261126/1764.7-description.wav", "purpose": "description"},
        {"step": "to_queue"},
    ]
    event = await db.fetchval("SELECT data FROM ticket_events WHERE ticket_id = $1", ticket)
    assert json.loads(event)["file"] == "20261126/1764.7-description.wav"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=17, users={}) as state:
        async with state.service.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield state


async def test_given_a_field_report_connected_to_the_operator_without_a_speech_model_when_the_recording_is_played_then_it_plays_and_no_transcript_is_promised(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op111", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "lan", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "lan", "op111")
        script = CallerScript(keys=["2"], record_wav=SPEECH, record_seconds=4.0)
        call = await live.board.place_call("1022", "0901234567", script=script)
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        code = await page.text_content("#ticket-code")
        player = "#recordings figure[data-kind=description] audio"
        await page.wait_for_selector(player)

        # the service has no speech model: it says so, it does not promise a transcript
        await expect(page.locator("#transcript-status")).to_have_text(
            "không có bản chuyển (chưa cài mô hình giọng nói)"
        )
        duration = await played_seconds(page, player)

        assert duration > 1.0
        await screenshot(page, "operator-recording-played")
        assert script_errors(page) == []
        call.hangup()

    stored = await db.fetchval("SELECT description_recording FROM tickets WHERE code = $1", code)
    assert not Path(stored).is_absolute()
    assert (live.service.settings.recordings / stored).is_file()


async def test_given_a_115_caller_when_an_ambulance_is_dispatched_then_the_recorded_address_plays_on_the_call_and_dispatch_panels(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op112", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "thu", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "thu", "op112")
        script = CallerScript(record_wav=SPEECH, record_seconds=4.0)
        call = await live.board.place_call("115", "0977777777", script=script)
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        on_call = "#recordings figure[data-kind=location] audio"
        await page.wait_for_selector(on_call)
        assert await played_seconds(page, on_call) > 1.0

        await page.select_option("#f-locality", "DN-HC-TT")
        await page.click("#submit-ticket")
        await page.wait_for_selector("[data-testid=pending-facility]")
        on_dispatch = "#dispatch-address figure[data-kind=location] audio"
        await page.wait_for_selector(on_dispatch)
        assert await played_seconds(page, on_dispatch) > 1.0
        await screenshot(page, "operator-dispatch-address-played")
        assert script_errors(page) == []
        call.hangup()
