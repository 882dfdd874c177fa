"""What the IVR learns about one call, as one versioned snapshot, and the rules for storing it.

The IVR saves the whole snapshot after every step. Saving is idempotent and monotonic (a stored
snapshot is only replaced by one with a higher ``version``), so a snapshot written to the local
spool while the database was down can be replayed later, in any order, without losing or
rewinding anything. ``save_action`` says what a store does with each snapshot; every store (and
every writer in front of one, however it batches) follows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from tickets.errors import SnapshotRefused
from tickets.events import EventKind
from tickets.model import CallDisposition, Category, Line
from tickets.phone import normalize_phone

MAX_FILE_STEM = 80


class IntakeOrigin(StrEnum):
    IVR = "ivr"  # the IVR's own snapshots of its session with the caller
    QUEUE = "queue"  # made from the PBX's queue record: no IVR snapshot was stored (yet)


@dataclass(frozen=True, slots=True)
class IntakeEvent:
    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)  # one per call held in the IVR: no __dict__ each
class CallIntake:
    uniqueid: str
    linkedid: str
    line: Line
    caller_raw: str
    channel: str
    started_at: datetime
    category: Category
    disposition: CallDisposition = CallDisposition.IN_IVR
    queue: str | None = None
    call_recording: str | None = None
    description_recording: str | None = None
    location_recording: str | None = None
    ended_at: datetime | None = None
    # False where no speech model is installed: its recordings are kept without a transcript
    # (and no transcription job is queued for them)
    transcribe: bool = True
    simulated: bool = False  # a call of ``hotline simulate``: its ticket stays out of reports
    version: int = 1
    events: tuple[IntakeEvent, ...] = field(default_factory=tuple)
    origin: IntakeOrigin = IntakeOrigin.IVR

    @property
    def caller_phone(self) -> str | None:
        return normalize_phone(self.caller_raw)

    @property
    def file_stem(self) -> str:
        """The uniqueid as a file name (recordings, spool): Asterisk's uniqueids
        (``[systemname-]epoch.sequence``) stay as they are; anything else a peer sent is made
        safe — no path separators, bounded length, distinct uniqueids stay distinct."""
        stem = "".join(
            c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in self.uniqueid
        )
        if stem == self.uniqueid and len(stem) <= MAX_FILE_STEM:
            return stem
        digest = hashlib.sha256(self.uniqueid.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{stem[: MAX_FILE_STEM - 17]}_{digest}"

    def step(
        self,
        kind: EventKind,
        data: dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
        **changes: Any,
    ) -> CallIntake:
        """A new snapshot: one more event (at ``at``, the service's clock; now when not given),
        the given fields changed, the version bumped."""
        event = IntakeEvent(len(self.events) + 1, at or datetime.now(UTC), kind, data or {})
        return replace(self, version=self.version + 1, events=(*self.events, event), **changes)

    @property
    def ivr_path(self) -> list[dict[str, Any]]:
        return self.path_after(0)

    def path_after(self, seq: int) -> list[dict[str, Any]]:
        """The IVR path's steps after event ``seq``: what a store that holds the path up to
        that event appends."""
        return [
            {"at": e.at.isoformat(), "step": e.kind, **e.data} for e in self.events if e.seq > seq
        ]

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON values (the spool's format). Built field by field: under a
        burst the spool writes one for every step, and ``asdict``'s deep copy was most of it."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = None if self.ended_at is None else self.ended_at.isoformat()
        data["events"] = [
            {"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "data": e.data}
            for e in self.events
        ]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallIntake:
        events = tuple(
            IntakeEvent(e["seq"], datetime.fromisoformat(e["at"]), e["kind"], e["data"])
            for e in data["events"]
        )
        ended = data.get("ended_at")
        return cls(
            **{
                **data,
                "line": Line(data["line"]),
                "category": Category(data["category"]),
                "disposition": CallDisposition(data["disposition"]),
                "origin": IntakeOrigin(data.get("origin", IntakeOrigin.IVR)),
                "started_at": datetime.fromisoformat(data["started_at"]),
                "ended_at": datetime.fromisoformat(ended) if ended else None,
                "events": events,
            }
        )


@dataclass(frozen=True)
class StoredCall:
    """What a store holds for a call, as far as the fate of its next snapshot depends on it."""

    origin: IntakeOrigin
    version: int
    started_at: datetime

    @classmethod
    def of(cls, intake: CallIntake) -> StoredCall:
        return cls(intake.origin, intake.version, intake.started_at)


class SaveAction(StrEnum):
    CREATE = "create"  # the call's first snapshot: call, ticket (new code) and timeline
    UPDATE = "update"  # a newer snapshot of the same IVR session: its new events appended
    KEEP = "keep"  # nothing to store (not newer; or the queue's view of a call already stored)
    MERGE = "merge"  # the IVR's snapshot over a ticket made from the queue (see below)
    REFUSE = "refuse"  # another session under a stored call's uniqueid: ``SnapshotRefused``


def save_action(stored: StoredCall | None, incoming: CallIntake) -> SaveAction:
    """What a store does with ``incoming``, given what it holds for that uniqueid.

    * A snapshot made from the queue (the call reached a queue without an IVR snapshot in the
      store) never changes a call that exists.
    * The IVR's snapshot arriving after such a ticket (it waited in the spool) **merges**: the
      call and its ticket take the IVR's start time, path, category and recordings, its events
      are the call's path from step 1, and the queue's events stay in the ticket's timeline,
      outside the path. The queue outcomes recorded on the call are kept.
    * An IVR session is identified by its start time: a snapshot of another session under the
      uniqueid of a call the IVR already stored (a finished call, or one still running) is
      refused, so a FastAGI client that reuses a uniqueid can neither append to nor rewrite
      that call's ticket.
    * Otherwise a snapshot is stored only when it is newer (``version``) than the stored one.
    """
    if stored is None:
        return SaveAction.CREATE
    if incoming.origin is IntakeOrigin.QUEUE:
        return SaveAction.KEEP
    if stored.origin is IntakeOrigin.QUEUE:
        return SaveAction.MERGE
    if incoming.started_at != stored.started_at:
        return SaveAction.REFUSE
    return SaveAction.UPDATE if incoming.version > stored.version else SaveAction.KEEP


class IntakeRepository(Protocol):
    async def save(self, intake: CallIntake) -> str:
        """Store the snapshot (call, ticket, timeline) as ``save_action`` says and return the
        ticket's code; raises ``SnapshotRefused`` when it says ``REFUSE``,
        ``StorageUnavailable`` when the store cannot be reached, ``StorageRefused`` when it
        refuses the data for good, ``StorageError`` when it fails otherwise."""
        ...


class IntakeBatchStore(Protocol):
    async def save_batch(self, intakes: Sequence[CallIntake]) -> list[str | SnapshotRefused]:
        """Store snapshots of distinct calls together, each as ``save_action`` says; per
        snapshot its ticket's code, or ``SnapshotRefused`` where it says ``REFUSE``. Raises as
        ``IntakeRepository.save`` does when the batch fails; some of its snapshots may be
        stored then, and storing them again changes nothing."""
        ...

    def knows(self, intake: CallIntake) -> bool:
        """Whether the store committed an earlier snapshot of this IVR session and stores this
        one without reading first: such a snapshot takes no ticket code, so its batch waits for
        no batch of new calls."""
        ...
