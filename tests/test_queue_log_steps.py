"""What each queue_log row means (agents/queue_log.py), with the data fields exactly as
apps/app_queue.c formats them (branch 20: ``queue_exec``, ``try_calling``, ``handle_hangup``,
``handle_blind_transfer``, ``handle_attended_transfer``, ``rna``) and the file's lines as
main/logger.c ``ast_queue_log`` writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.queue_log import (
    Answered,
    EndedBy,
    Entered,
    Finished,
    Left,
    LeftUnanswered,
    QueueLogRow,
    RingMissed,
    Step,
    parse_line,
    step_of,
)

AT = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def row(event: str, *data: str) -> QueueLogRow:
    fields = [*data, "", "", "", "", ""][:5]
    return QueueLogRow(
        1,
        AT,
        "pbx-a-1.1",
        "hotline-1022",
        "lan",
        event,
        (fields[0], fields[1], fields[2], fields[3], fields[4]),
    )


@pytest.mark.parametrize(
    ("event", "data", "step"),
    [
        ("ENTERQUEUE", ("", "0901234567", "1"), Entered("0901234567")),
        ("CONNECT", ("12", "pbx-a-1.2", "3"), Answered(12)),
        ("COMPLETECALLER", ("12", "95", "1"), Finished(95, EndedBy.CALLER)),
        ("COMPLETEAGENT", ("12", "40", "2"), Finished(40, EndedBy.OPERATOR)),
        ("BLINDTRANSFER", ("1900", "agencies", "12", "61", "1"), Finished(61, EndedBy.TRANSFER)),
        ("ATTENDEDTRANSFER", ("BRIDGE", "b-77", "12", "33", "1"), Finished(33, EndedBy.TRANSFER)),
        ("ATTENDEDTRANSFER", ("APP", "Voicemail", "12", "34", "1"), Finished(34, EndedBy.TRANSFER)),
        (
            "ATTENDEDTRANSFER",
            ("LINK", "PJSIP/a-1", "PJSIP/b-2", "12", "35|1"),
            Finished(35, EndedBy.TRANSFER),
        ),
        ("ABANDON", ("2", "3", "41"), LeftUnanswered(Left.ABANDONED, 41)),
        ("EXITWITHTIMEOUT", ("1", "1", "600"), LeftUnanswered(Left.TIMEOUT, 600)),
        ("EXITEMPTY", ("1", "2", "7"), LeftUnanswered(Left.LEFT, 7)),
        ("EXITWITHKEY", ("5", "1", "2", "9"), LeftUnanswered(Left.LEFT, 9)),
        ("WITHDRAW", ("1", "1", "8", "moved"), LeftUnanswered(Left.LEFT, 8)),
        ("RINGNOANSWER", ("15000",), RingMissed()),
        ("ADDMEMBER", ("PAUSED",), None),
        ("PAUSE", ("Nghỉ trưa",), None),
        ("CONNECT", ("x", "", ""), Answered(0)),  # never a negative or broken count
    ],
)
def test_given_a_queue_log_row_when_read_then_its_step_follows_app_queue(
    event: str, data: tuple[str, ...], step: Step | None
) -> None:
    assert step_of(row(event, *data)) == step


def test_given_file_lines_when_parsed_then_fields_split_as_the_realtime_insert_splits_them() -> (
    None
):
    entry = parse_line("1796580000|pbx-a-1796579990.7|hotline-1022|NONE|ENTERQUEUE||0901234567|1\n")
    assert entry is not None
    assert (entry.epoch, entry.callid, entry.queue, entry.agent, entry.event) == (
        1796580000,
        "pbx-a-1796579990.7",
        "hotline-1022",
        "NONE",
        "ENTERQUEUE",
    )
    assert entry.data == ("", "0901234567", "1", "", "")
    link = parse_line("1|c|q|lan|ATTENDEDTRANSFER|LINK|PJSIP/a-1|PJSIP/b-2|12|35|1")
    assert link is not None
    assert link.data == ("LINK", "PJSIP/a-1", "PJSIP/b-2", "12", "35|1")  # data5 keeps the rest
    started = parse_line("1796580000|NONE|NONE|NONE|QUEUESTART|")
    assert started is not None
    assert started.data == ("", "", "", "", "")
    assert parse_line("") is None
    assert parse_line("not a queue_log line") is None
    assert parse_line("12|only|three") is None
