"""Calls through the real FastAGI server, Asterisk's bytes from the switchboard channel, and
real PostgreSQL: every call leaves a ticket, whatever the caller does."""

from __future__ import annotations

import asyncio
import json
import shutil
import wave
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.service import RunningService, running_service, service_settings
from tickets.codes import HOTLINE_TZ

QUEUE_1022 = "hotline-1022"
QUEUE_115 = "emergency-115"


async def call(
    service: RunningService, script: CallerScript, *, extension: str = "1022", **kw: Any
) -> Any:
    channel = SimulatedChannel(extension=extension, script=script, sounds_dir=SOUNDS, **kw)
    queue = QUEUE_115 if extension == "115" else QUEUE_1022
    return channel, await run_hotline_call(
        channel, "127.0.0.1", service.agi_port, default_queue=queue
    )


async def ticket_of(db: asyncpg.Connection, uniqueid: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT t.*, c.disposition, c.ivr_path, c.queue AS call_queue, c.recording"
        " FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
        uniqueid,
    )
    assert row is not None, f"no ticket for call {uniqueid}"
    return row


def steps(row: asyncpg.Record) -> list[str]:
    return [s["step"] for s in json.loads(row["ivr_path"])]


@pytest.mark.parametrize(
    ("digit", "category"),
    [("1", "admin_procedure"), ("3", "information"), ("0", "unclassified")],
)
async def test_given_a_1022_caller_when_they_choose_a_menu_option_then_the_ticket_has_its_category(
    service: RunningService, db: asyncpg.Connection, digit: str, category: str
) -> None:
    channel, result = await call(service, CallerScript(keys=[digit]))

    assert result.agi.agistatus == "SUCCESS"
    assert result.queue == QUEUE_1022
    row = await ticket_of(db, channel.uniqueid)
    assert row["category"] == category
    assert row["disposition"] == "queued"
    assert row["caller_phone"] == "+84901234567"
    assert row["code"].startswith("1022-")
    assert result.agi.variables["HOTLINE_TICKET"] == row["code"]
    assert result.agi.variables["HOTLINE_CATEGORY"] == category
    assert result.agi.variables["HOTLINE_QUEUE"] == QUEUE_1022
    assert steps(row)[-1] == "to_queue"


async def test_given_a_field_report_when_the_caller_describes_it_then_the_recording_is_on_the_ticket(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(service, CallerScript(keys=["2"], record_seconds=1.5))

    row = await ticket_of(db, channel.uniqueid)
    assert row["category"] == "field_report"
    assert not Path(row["description_recording"]).is_absolute()  # inside the spool
    recording = service.settings.recordings / row["description_recording"]
    with wave.open(str(recording)) as audio:
        assert audio.getframerate() == 8000
        assert audio.getnframes() == 12000
    assert row["transcript_status"] == "no_model"  # this service has no speech model
    record_cmd = next(c for c in result.agi.commands if c.startswith("RECORD FILE"))
    assert record_cmd.endswith(" wav # 60000 0 BEEP s=3")
    assert "STREAM FILE hotline/thanks_recorded" in " ".join(result.agi.commands)


async def test_given_a_115_caller_when_they_say_the_address_then_the_medical_ticket_has_the_location_recording(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(
        service, CallerScript(record_ends_with="timeout"), extension="115", callerid="84912345678"
    )

    assert result.queue == QUEUE_115
    assert not any(c.startswith("GET DATA") for c in result.agi.commands)
    row = await ticket_of(db, channel.uniqueid)
    assert row["line"] == "115"
    assert row["code"].startswith("115-")
    assert row["category"] == "medical"
    assert row["caller_phone"] == "+84912345678"
    assert (service.settings.recordings / row["location_recording"]).exists()
    assert result.agi.variables["HOTLINE_CATEGORY"] == "medical"


async def test_given_three_invalid_keys_when_the_menu_gives_up_then_the_caller_goes_to_an_operator(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(service, CallerScript(keys=["7", "9", "*"]))

    row = await ticket_of(db, channel.uniqueid)
    assert steps(row).count("invalid_choice") == 3
    assert row["category"] == "unclassified"
    assert result.queue == QUEUE_1022
    played = [c for c in result.agi.commands if "invalid_choice" in c]
    assert len(played) == 2  # after the first two mistakes; the third goes to the operator
    assert "STREAM FILE hotline/to_operator" in " ".join(result.agi.commands)


async def test_given_no_key_when_the_menu_times_out_then_the_caller_goes_to_an_operator(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(service, CallerScript(keys=[None]))

    row = await ticket_of(db, channel.uniqueid)
    assert steps(row)[:4] == ["call_started", "no_input", "to_operator", "to_queue"]
    assert row["category"] == "unclassified"
    assert result.queue == QUEUE_1022


async def test_given_an_invalid_key_then_a_valid_one_when_the_menu_retries_then_the_choice_counts(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, _ = await call(service, CallerScript(keys=["5", "1"]))

    row = await ticket_of(db, channel.uniqueid)
    assert row["category"] == "admin_procedure"
    assert steps(row)[:3] == ["call_started", "invalid_choice", "menu_choice"]


HANGUP_POINTS_1022 = [
    ("SET VARIABLE", 1, ["2"]),
    ("ANSWER", 1, ["2"]),
    ("STREAM FILE", 1, ["2"]),  # greeting
    ("GET DATA", 1, ["2"]),  # menu
    ("STREAM FILE", 2, ["2"]),  # "describe after the beep"
    ("RECORD FILE", 1, ["2"]),
    ("STREAM FILE", 3, ["2"]),  # thanks
    ("STREAM FILE", 2, ["7"]),  # "invalid choice"
]


@pytest.mark.parametrize(("command", "nth", "keys"), HANGUP_POINTS_1022)
async def test_given_a_1022_caller_when_they_hang_up_at_any_step_then_a_ticket_stays_abandoned_in_ivr(
    service: RunningService, db: asyncpg.Connection, command: str, nth: int, keys: list[str]
) -> None:
    channel, result = await call(service, CallerScript(keys=keys, hangup_on=(command, nth)))

    assert result.agi.agistatus == "HANGUP"
    assert result.queue is None
    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "abandoned_in_ivr"
    assert steps(row)[-1] == "caller_hung_up"
    events = await db.fetch(
        "SELECT kind FROM ticket_events WHERE ticket_id = $1 ORDER BY call_seq", row["id"]
    )
    assert [e["kind"] for e in events] == steps(row)


@pytest.mark.parametrize(
    ("command", "nth"), [("STREAM FILE", 1), ("RECORD FILE", 1), ("STREAM FILE", 2)]
)
async def test_given_a_115_caller_when_they_hang_up_at_any_step_then_a_ticket_stays_abandoned_in_ivr(
    service: RunningService, db: asyncpg.Connection, command: str, nth: int
) -> None:
    channel, _ = await call(service, CallerScript(hangup_on=(command, nth)), extension="115")

    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "abandoned_in_ivr"
    assert row["category"] == "medical"


async def test_given_a_hangup_during_the_recording_when_the_call_ends_then_the_partial_recording_is_kept(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, _ = await call(service, CallerScript(keys=["2"], hangup_on=("RECORD FILE", 1)))

    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "abandoned_in_ivr"
    assert (service.settings.recordings / row["description_recording"]).exists()


async def test_given_the_caller_hangs_up_while_idle_when_the_next_command_runs_then_the_call_is_abandoned(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(service, CallerScript(keys=["1"], hangup_idle_after=6))

    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "abandoned_in_ivr"
    assert any(r.startswith("511 ") for r in result.agi.replies)


async def test_given_a_missing_prompt_file_when_the_greeting_fails_then_the_call_still_reaches_the_queue(
    service: RunningService, db: asyncpg.Connection, tmp_path: Path
) -> None:
    channel = SimulatedChannel(script=CallerScript(keys=["1"]), sounds_dir=tmp_path)
    result = await run_hotline_call(
        channel, "127.0.0.1", service.agi_port, default_queue=QUEUE_1022
    )

    assert result.queue == QUEUE_1022
    row = await ticket_of(db, channel.uniqueid)
    assert row["category"] == "unclassified"  # GET DATA of a missing prompt = no input
    assert row["disposition"] == "queued"


async def test_given_the_menu_prompt_missing_when_get_data_fails_then_agistatus_stays_success_and_the_backend_queue_is_used(
    service: RunningService, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """res_agi.c ``handle_getdata``: ``ast_app_getdata_full`` (main/app.c) returns the failed
    ``ast_streamfile`` of a missing prompt, GET DATA answers ``200 result=-1`` and still returns
    RESULT_SUCCESS, so ``AGISTATUS`` stays SUCCESS (only handlers returning RESULT_FAILURE, e.g.
    STREAM FILE or RECORD FILE, make it FAILURE). No apology, no fallback: the menu counts it
    as no key and the caller goes to an operator unclassified."""
    sounds = tmp_path / "sounds"
    shutil.copytree(SOUNDS, sounds)
    (sounds / "vi" / "hotline" / "menu_1022.wav").unlink()
    channel = SimulatedChannel(script=CallerScript(keys=["1"]), sounds_dir=sounds)
    result = await run_hotline_call(
        channel, "127.0.0.1", service.agi_port, default_queue=QUEUE_1022
    )

    get_data = result.agi.commands.index(
        next(c for c in result.agi.commands if c.startswith("GET DATA"))
    )
    assert result.agi.replies[get_data] == "200 result=-1"
    assert result.agi.agistatus == "SUCCESS"
    assert (result.queue, result.played) == (QUEUE_1022, [])
    assert "HOTLINE_FALLBACK" not in result.agi.variables
    row = await ticket_of(db, channel.uniqueid)
    assert (row["category"], row["disposition"]) == ("unclassified", "queued")


async def test_given_an_unknown_extension_when_the_call_arrives_then_it_is_handled_as_1022(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(service, CallerScript(keys=["3"]), extension="9999")

    row = await ticket_of(db, channel.uniqueid)
    assert row["line"] == "1022"
    assert result.queue == QUEUE_1022


async def test_given_the_whole_call_is_recorded_when_the_agi_starts_then_the_mixmonitor_file_is_on_the_call_inside_the_spool(
    service: RunningService, db: asyncpg.Connection
) -> None:
    recording = "/var/spool/asterisk/hotline/20261126/1.1-call.wav"  # as Asterisk mounts it
    channel, _ = await call(
        service, CallerScript(keys=["1"]), variables={"MIXMONITOR_FILENAME": recording}
    )

    row = await ticket_of(db, channel.uniqueid)
    assert row["recording"] == "20261126/1.1-call.wav"


async def test_given_200_simultaneous_calls_when_they_all_finish_then_there_are_200_tickets_with_distinct_codes(
    service: RunningService, db: asyncpg.Connection
) -> None:
    scripts = [CallerScript(keys=[str(n % 4)]) for n in range(200)]
    results = await asyncio.gather(*(call(service, s) for s in scripts))

    assert all(r.queue == QUEUE_1022 for _, r in results)
    # a save slower than one IVR step finishes in the background (or from the spool); the bound
    # only keeps a broken writer from hanging the suite
    async with asyncio.timeout(120):
        while await db.fetchval("SELECT count(*) FROM tickets") < 200:
            await asyncio.sleep(0.05)
    codes = await db.fetch("SELECT code FROM tickets")
    assert len(codes) == 200
    assert len({c["code"] for c in codes}) == 200
    numbers = sorted(int(c["code"].rsplit("-", 1)[1]) for c in codes)
    assert numbers == list(range(1, 201))


async def test_given_the_recordings_spool_is_broken_when_a_field_report_is_recorded_then_the_caller_hears_an_apology_and_is_queued(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    async with running_service(service_settings(database_url, tmp_path)) as service:
        today = datetime.now(HOTLINE_TZ).strftime("%Y%m%d")
        (service.settings.recordings / today).write_text("a file where the day's folder goes")
        channel, result = await call(service, CallerScript(keys=["2"]))

    assert result.queue == QUEUE_1022
    assert result.agi.variables["HOTLINE_FALLBACK"] == "1"
    assert result.agi.commands[-1] == 'STREAM FILE hotline/apology ""'
    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "fallback"
    assert row["category"] == "field_report"
    last = json.loads(row["ivr_path"])[-1]
    assert (last["step"], last["error"]) == ("fallback", "FileExistsError")


@pytest.mark.parametrize(
    "raw",
    [
        {"calleridname": b"Nguy\xea\xden V\xe3n \xc1nh"},  # a Windows-1258 display name
        {"calleridname": b"Jos\xe9\x00\x81"},  # Latin-1, a NUL, a byte no code page has
        {"callerid": b"09\xff01234567\x00", "rdnis": b"\xc3\x28"},  # the number's bytes too
    ],
)
async def test_given_agi_fields_that_are_not_utf8_when_the_call_arrives_then_it_gets_its_menu_and_ticket(
    service: RunningService, db: asyncpg.Connection, raw: dict[str, bytes]
) -> None:
    channel, result = await call(service, CallerScript(keys=["1"]), raw_fields=raw)

    assert result.agi.commands[0].startswith("GET VARIABLE")  # served, not refused
    assert result.queue == QUEUE_1022
    row = await ticket_of(db, channel.uniqueid)
    assert row["category"] == "admin_procedure"
    assert row["disposition"] == "queued"
    assert "\x00" not in row["caller_raw"]


async def test_given_a_uniqueid_with_path_characters_when_a_description_is_recorded_then_it_stays_in_the_recordings_folder(
    service: RunningService, db: asyncpg.Connection
) -> None:
    channel, result = await call(
        service, CallerScript(keys=["2"]), uniqueid="../../../../tmp/hotline-escape"
    )

    row = await ticket_of(db, channel.uniqueid)
    recording = service.settings.recordings / row["description_recording"]
    assert recording.resolve().is_relative_to(service.settings.recordings.resolve())
    assert recording.exists()
    assert result.queue == QUEUE_1022


async def test_given_asterisk_stops_answering_after_answer_when_the_reply_bound_passes_then_the_session_closes_and_the_ticket_stays_as_saved(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, agi_reply_timeout=0.5)
    async with running_service(settings) as service:
        channel = SimulatedChannel(script=CallerScript(silent_after="ANSWER"), sounds_dir=SOUNDS)
        started = asyncio.get_running_loop().time()
        result = await asyncio.wait_for(
            run_hotline_call(channel, "127.0.0.1", service.agi_port, default_queue=QUEUE_1022), 20
        )
        elapsed = asyncio.get_running_loop().time() - started

    answered = result.agi.commands.index("ANSWER")
    assert len(result.agi.commands) == answered + 2  # one unanswered command, then EOF
    assert result.agi.agistatus == "SUCCESS"
    assert result.queue == QUEUE_1022  # the dialplan's preset queue
    assert elapsed < 0.5 + 5.0
    row = await ticket_of(db, channel.uniqueid)
    assert row["disposition"] == "in_ivr"  # as saved before Asterisk fell silent
    assert steps(row) == ["call_started"]


async def test_given_a_finished_call_when_another_session_reuses_its_uniqueid_then_its_ticket_is_unchanged_and_the_snapshots_are_kept_aside(
    service: RunningService, db: asyncpg.Connection
) -> None:
    first, _ = await call(service, CallerScript(keys=["3"]))
    before = await ticket_of(db, first.uniqueid)
    events_before = await db.fetch(
        "SELECT kind, call_seq FROM ticket_events WHERE ticket_id = $1 ORDER BY id", before["id"]
    )

    # a FastAGI client that is not the PBX, with a longer path (higher snapshot versions)
    _, result = await call(
        service, CallerScript(keys=["2"]), uniqueid=first.uniqueid, callerid="0912345678"
    )

    assert result.queue == QUEUE_1022  # whoever it is, the call itself is still handled
    assert "HOTLINE_TICKET" not in result.agi.variables  # nor does it learn the ticket's code
    after = await ticket_of(db, first.uniqueid)
    assert dict(after) == dict(before)
    events_after = await db.fetch(
        "SELECT kind, call_seq FROM ticket_events WHERE ticket_id = $1 ORDER BY id", before["id"]
    )
    assert events_after == events_before
    assert await db.fetchval("SELECT count(*) FROM tickets") == 1
    kept = json.loads(
        (service.settings.spool_dir / "rejected" / f"{first.uniqueid}.refused.json").read_text()
    )
    assert kept["caller_raw"] == "0912345678"
    assert kept["events"][-1]["kind"] == "to_queue"
