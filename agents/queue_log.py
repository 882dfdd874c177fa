"""What a queue_log row means for the record of the queues (asterisk_conf/README.md, "queue_log").

Asterisk writes the rows (apps/app_queue.c ``ast_queue_log``); this module only reads them:
each row becomes one ``Step`` — a caller entered, was answered, finished, gave up, left, or an
operator's phone rang unanswered — or nothing (member changes, other events). Durations are
whole seconds as app_queue writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tickets.events import EventKind
from tickets.intake import CallIntake, IntakeOrigin
from tickets.model import CallDisposition, Category, Line


@dataclass(frozen=True)
class QueueLogRow:
    id: int
    at: datetime  # UTC (queue_log_realtime_use_gmt = yes)
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, str, str, str, str]


class Left(StrEnum):
    """How a caller left a queue unanswered (queue_calls.outcome)."""

    ABANDONED = "abandoned"  # ABANDON: hung up while waiting (or redirected away)
    TIMEOUT = "timeout"  # EXITWITHTIMEOUT: Queue()'s own time limit; the dialplan queues again
    LEFT = "left"  # EXITEMPTY, EXITWITHKEY, WITHDRAW


class EndedBy(StrEnum):
    CALLER = "caller"
    OPERATOR = "operator"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Entered:
    caller: str  # caller id number, "" when unknown or restricted


@dataclass(frozen=True)
class Answered:
    hold_seconds: int


@dataclass(frozen=True)
class Finished:
    talk_seconds: int
    by: EndedBy


@dataclass(frozen=True)
class LeftUnanswered:
    how: Left
    wait_seconds: int


@dataclass(frozen=True)
class RingMissed:
    pass


Step = Entered | Answered | Finished | LeftUnanswered | RingMissed


def _int(text: str) -> int:
    try:
        return max(0, int(text))
    except ValueError:
        return 0


def step_of(row: QueueLogRow) -> Step | None:
    """The data fields as ``ast_queue_log`` formats them for each event (branch 20)."""
    d = row.data
    match row.event:
        case "ENTERQUEUE":  # url | caller id number | position [| caller id name]
            return Entered(d[1])
        case "CONNECT":  # hold | operator channel's uniqueid | ring
            return Answered(_int(d[0]))
        case "COMPLETECALLER":  # hold | talk | original position
            return Finished(_int(d[1]), EndedBy.CALLER)
        case "COMPLETEAGENT":
            return Finished(_int(d[1]), EndedBy.OPERATOR)
        case "BLINDTRANSFER":  # extension | context | hold | talk | original position
            return Finished(_int(d[3]), EndedBy.TRANSFER)
        case "ATTENDEDTRANSFER":  # BRIDGE|b, APP|a or LINK|c1|c2, then hold | talk | position
            return Finished(_int("|".join(d).rstrip("|").split("|")[-2]), EndedBy.TRANSFER)
        case "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY":  # position | original | wait
            how = {"ABANDON": Left.ABANDONED, "EXITWITHTIMEOUT": Left.TIMEOUT}
            return LeftUnanswered(how.get(row.event, Left.LEFT), _int(d[2]))
        case "EXITWITHKEY":  # key | position | original position | wait
            return LeftUnanswered(Left.LEFT, _int(d[3]))
        case "WITHDRAW":  # position | original position | wait | info
            return LeftUnanswered(Left.LEFT, _int(d[2]))
        case "RINGNOANSWER":  # milliseconds
            return RingMissed()
    return None


def queue_intake(callid: str, queue: str, line: Line, caller: str, at: datetime) -> CallIntake:
    """The ticket of a caller who reached a queue without the IVR (the backend was unreachable:
    the dialplan's fallback), from what ENTERQUEUE tells."""
    return CallIntake(
        uniqueid=callid,
        linkedid=callid,
        line=line,
        caller_raw=caller or "unknown",
        channel="",
        started_at=at,
        category=Category.MEDICAL if line is Line.MEDICAL else Category.UNCLASSIFIED,
        disposition=CallDisposition.FALLBACK,
        queue=queue,
        origin=IntakeOrigin.QUEUE,
    ).step(EventKind.SEEN_IN_QUEUE, {"queue": queue})


@dataclass(frozen=True)
class FileEntry:
    """A line of Asterisk's queue_log file: ``%ld|%s|%s|%s|%s|`` then the data (logger.c)."""

    epoch: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, str, str, str, str]


def parse_line(line: str) -> FileEntry | None:
    """The line's fields, the data split as the realtime insert splits it (five fields, the
    fifth keeping the rest); None for a line that is not a queue_log entry."""
    parts = line.rstrip("\r\n").split("|", 5)
    if len(parts) < 5 or not parts[0].isdigit() or not parts[4]:
        return None
    rest = parts[5] if len(parts) == 6 else ""
    data = rest.split("|", 4) if rest else []
    data += [""] * (5 - len(data))
    return FileEntry(
        int(parts[0]),
        parts[1],
        parts[2],
        parts[3],
        parts[4],
        (data[0], data[1], data[2], data[3], data[4]),
    )
