"""``HOTLINE_LOG_FORMAT=json``: a real ``hotline serve`` writes one JSON object per line, and the
lines about a call carry its ``uniqueid`` and its ticket code as fields of their own."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import asyncpg

from hotline.logs import CallContextFilter, JsonFormatter
from runtime.logcontext import call_id, ticket_code
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.test_chaos_sigterm import hotline_serve
from tests.test_cli import base_env


async def test_given_json_logs_when_a_call_goes_through_the_ivr_then_every_line_is_an_object_and_the_calls_name_it(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = base_env(tmp_path, database_url) | {"HOTLINE_LOG_FORMAT": "json"}
    log = tmp_path / "serve.log"
    channel = SimulatedChannel(
        callerid="0901234567", script=CallerScript(keys=["3"]), sounds_dir=SOUNDS
    )
    async with hotline_serve(env, log) as (process, agi_port):
        result = await run_hotline_call(channel, "127.0.0.1", agi_port, default_queue="x")
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    assert result.queue == "hotline-1022"
    code = await db.fetchval(
        "SELECT t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
        channel.uniqueid,
    )
    assert code is not None

    lines = log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # any other line fails here
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    about_the_call = [e for e in entries if e.get("uniqueid") == channel.uniqueid]
    queued = [e for e in about_the_call if "→ queue hotline-1022" in e["message"]]
    assert len(queued) == 1, lines
    assert queued[0]["ticket"] == code
    assert queued[0]["logger"] == "ivr.service"
    assert all("uniqueid" not in e for e in entries if e["logger"] == "hotline.app")


def test_given_an_error_with_a_traceback_when_formatted_as_json_then_it_is_one_line_with_its_fields() -> (
    None
):
    record = logging.LogRecord(
        "ivr.service", logging.ERROR, __file__, 1, "lỗi %s", ("tổng đài",), None
    )
    try:
        raise RuntimeError("hỏng\nhai dòng")
    except RuntimeError as err:
        record.exc_info = (type(err), err, err.__traceback__)
    tokens = call_id.set("1700000000.42"), ticket_code.set("1022-26-000042")
    try:
        CallContextFilter().filter(record)
    finally:
        call_id.reset(tokens[0])
        ticket_code.reset(tokens[1])
    text = JsonFormatter().format(record)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["message"] == "lỗi tổng đài"
    assert (entry["uniqueid"], entry["ticket"]) == ("1700000000.42", "1022-26-000042")
    assert entry["level"] == "ERROR"
    assert "RuntimeError: hỏng\nhai dòng" in entry["exception"]
