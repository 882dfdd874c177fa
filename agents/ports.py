"""What the operator/queue service needs from Asterisk; ``agents/ami.py`` implements it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from agents.callbacks import Callback, CallbackStatus
from agents.events import AmiEvent
from agents.queue_log import FileEntry
from tickets.model import User
from tickets.service import TicketState


class Answer(StrEnum):
    """How the first leg of an Originate ended: Asterisk's ``OriginateResponse`` says it in
    ``Reason``, the last control frame of the leg (``__ast_request_and_dial`` in
    main/channel.c: 4 answer, 3 still ringing at the timeout, 5 busy, 8 congestion, 1 hung up,
    0 the channel could not even be requested — an unregistered or unknown phone)."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    HUNG_UP = "hung_up"
    UNAVAILABLE = "unavailable"

    @classmethod
    def of_reason(cls, reason: int) -> Answer:
        return {4: cls.ANSWERED, 3: cls.NO_ANSWER, 5: cls.BUSY, 8: cls.CONGESTION}.get(
            reason, cls.HUNG_UP if reason == 1 else cls.UNAVAILABLE
        )


class AsteriskControl(Protocol):
    @property
    def connected(self) -> bool: ...

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None: ...

    async def queue_remove(self, queue: str, interface: str) -> None: ...

    async def queue_pause(
        self, interface: str, paused: bool, reason: str = "", queue: str | None = None
    ) -> None: ...

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        callerid: str,
        variables: Mapping[str, str],
    ) -> Answer:
        """Place a call from ``channel``; how its first leg ended."""
        ...

    async def originate_application(
        self,
        channel: str,
        *,
        application: str,
        data: str,
        callerid: str,
        variables: Mapping[str, str],
    ) -> Answer:
        """Ring ``channel`` and, once answered, run ``application(data)`` on it (no
        dialplan); how the ringing ended."""
        ...

    async def redirect(self, channel: str, *, context: str, exten: str, priority: str) -> None:
        """Move a live channel to ``context,exten,priority`` of the dialplan."""
        ...

    async def snapshot(self) -> list[AmiEvent]:
        """QueueStatus and CoreShowChannels items: the whole truth, for a resync."""
        ...


class Publisher(Protocol):
    def emit(
        self,
        topic: str,
        kind: str,
        data: dict[str, Any],
        user_id: int | None = None,
        key: str | None = None,
    ) -> None: ...


class TicketTransfer(Protocol):
    """The back office's ticket transfer 1022 ⇄ 115 (``tickets.service.BackofficeService``)."""

    async def transfer(self, user: User, ticket_id: int) -> TicketState: ...


@dataclass(frozen=True)
class OperatorSession:
    user_id: int
    username: str
    interface: str
    queues: list[str]
    logged_in_at: datetime


class AgentsRepository(Protocol):
    async def open_session(self, user_id: int, interface: str, queues: list[str]) -> None: ...
    async def close_session(self, user_id: int) -> OperatorSession | None: ...
    async def session_of_user(self, user_id: int) -> OperatorSession | None: ...
    async def session_of_interface(self, interface: str) -> OperatorSession | None: ...
    async def call_known(self, uniqueid: str) -> bool: ...
    async def screen_pop(self, uniqueid: str) -> dict[str, Any] | None: ...
    async def callback(self, callback_id: int) -> Callback | None: ...
    async def update_callback(
        self,
        callback_id: int,
        expected: CallbackStatus,
        status: CallbackStatus,
        user_id: int | None,
        *,
        attempt: bool,
    ) -> bool:
        """Move from ``expected`` to ``status`` (False: the callback was not ``expected``
        any more: another operator or request changed it meanwhile)."""


class QueueLogStore(Protocol):
    """``db/queue_log.py``: applies queue_log rows after the cursor, in one transaction."""

    async def apply(self, limit: int) -> int: ...
    async def rows_behind(self) -> int: ...
    async def recover(self, entries: Sequence[FileEntry]) -> int: ...
