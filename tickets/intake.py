"""What the IVR learns about one call, as one versioned snapshot.

The IVR saves the whole snapshot after every step. Saving is idempotent and monotonic (a stored
snapshot is only replaced by one with a higher ``version``), so a snapshot written to the local
spool while the database was down can be replayed later, in any order, without losing or
rewinding anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from tickets.model import CallDisposition, Category, Line
from tickets.phone import normalize_phone


@dataclass(frozen=True)
class IntakeEvent:
    seq: int
    at: datetime
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
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
    version: int = 1
    events: tuple[IntakeEvent, ...] = field(default_factory=tuple)

    @property
    def caller_phone(self) -> str | None:
        return normalize_phone(self.caller_raw)

    def step(self, kind: str, data: dict[str, Any] | None = None, **changes: Any) -> CallIntake:
        """A new snapshot: one more event, the given fields changed, the version bumped."""
        event = IntakeEvent(len(self.events) + 1, datetime.now(UTC), kind, data or {})
        return replace(self, version=self.version + 1, events=(*self.events, event), **changes)

    @property
    def ivr_path(self) -> list[dict[str, Any]]:
        return [{"at": e.at.isoformat(), "step": e.kind, **e.data} for e in self.events]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("started_at", "ended_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["events"] = [{**e, "at": e["at"].isoformat()} for e in data["events"]]
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
                "started_at": datetime.fromisoformat(data["started_at"]),
                "ended_at": datetime.fromisoformat(ended) if ended else None,
                "events": events,
            }
        )


class IntakeRepository(Protocol):
    async def save(self, intake: CallIntake) -> str:
        """Store the snapshot (call, ticket, timeline) and return the ticket's code; raises
        ``StorageUnavailable`` when the store cannot be reached, ``StorageError`` when it
        refuses the snapshot."""
        ...
