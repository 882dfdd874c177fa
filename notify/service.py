"""The outbox worker and what comes back from the gateways (delivery reports, replies).

Pure domain: storage, the SMS gateway and ticket closing are ports. Any number of workers, on
any number of instances, may run at once: a claimed row is leased (its next attempt pushed past
the lease) under the claim's own token so nobody else takes it; while a pass works through its
rows a heartbeat renews their lease, a row whose lease was taken over anyway is not sent, and
every later write names the token, so only the holder of the lease records the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import phonenumbers

from notify.policy import QuietHours, Reply, RetryPolicy, parse_reply
from notify.templates import Event, SmsText, render_sms
from runtime.metrics import Metrics
from tickets.lifecycle import Closure

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CHANNELS = ("sms", "zalo")  # notifications.channel


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Notification:
    id: int
    ticket_id: int
    event: Event
    channel: str
    phone: str  # E.164
    params: dict[str, Any]
    urgent: bool
    attempts: int  # including the one just claimed
    lease: str  # the claim's token: later writes change the row only while it holds the lease


class Verdict(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # transient: the gateway is down or busy
    GIVE_UP = "give_up"  # permanent: this message can never go this way
    FALLBACK = "fallback"  # not on this channel (no Zalo account…): send it by SMS instead


@dataclass(frozen=True)
class SendResult:
    verdict: Verdict
    provider_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SmsMessage:
    notification_id: int
    phone: str  # E.164
    body: SmsText


class SmsGateway(Protocol):
    async def send_sms(self, message: SmsMessage) -> SendResult: ...


@dataclass(frozen=True)
class ZaloTokens:
    access_token: str
    expires_at: datetime


# refresh token → (access token, new refresh token, seconds the access token lives)
Refresher = Callable[[str], Awaitable[tuple[str, str, int]]]


class ZaloGateway(Protocol):
    async def send_zns(self, notification: Notification) -> SendResult: ...


class DeliveryState(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    ACCEPTED = "accepted"  # reached the SMSC / buffered: nothing changes


class OutboxStore(Protocol):
    """The writes that end a claim return False, changing nothing, when the claim no longer
    holds the row's lease (it ran out and another worker claimed the row)."""

    async def claim(self, limit: int, lease: timedelta) -> list[Notification]:
        """Up to ``limit`` due rows, all under one new lease token."""
        ...

    async def extend(self, held: Sequence[Notification], lease: timedelta) -> set[int]:
        """Renew the lease of rows of one claim; the ids whose lease this claim still holds."""
        ...

    async def mark_sent(self, n: Notification, provider_id: str | None) -> bool: ...

    async def retry_in(self, n: Notification, delay: timedelta, error: str) -> bool:
        """Due again ``delay`` after now by the storage's own clock (the one claims and leases
        are measured with), whatever clock the service's business runs on."""
        ...

    async def defer(self, n: Notification, at: datetime) -> bool:
        """Put back without counting the attempt (quiet hours)."""
        ...

    async def give_up(self, n: Notification, error: str) -> bool: ...

    async def cancel(self, n: Notification, reason: str) -> bool: ...

    async def fall_back(self, n: Notification, error: str) -> bool:
        """Close this row as ``fallback`` and queue the same message by SMS, atomically."""
        ...

    async def zalo_delivered(self, msg_id: str) -> bool: ...

    async def opted_out(self, phone: str) -> bool: ...

    async def opt_out(self, phone: str) -> None: ...

    async def delivery_report(self, notification_id: int, state: DeliveryState) -> bool: ...

    async def survey_ticket(self, phone: str) -> int | None:
        """The ticket whose satisfaction question this number was sent last and is unanswered."""
        ...


class TicketCloser(Protocol):
    async def __call__(self, ticket_id: int, closure: Closure) -> None: ...


def is_mobile(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def dlr_state(value: int) -> DeliveryState:
    """Kannel's ``%d``: 1 delivered, 2 undelivered, 4 buffered, 8 SMSC ACK, 16 SMSC NACK."""
    if value & 1:
        return DeliveryState.DELIVERED
    if value & (2 | 16):
        return DeliveryState.UNDELIVERED
    return DeliveryState.ACCEPTED


class NotifyService:
    def __init__(
        self,
        store: OutboxStore,
        sms: SmsGateway,
        *,
        close_ticket: TicketCloser,
        zalo: ZaloGateway | None = None,
        retry: RetryPolicy,
        quiet: QuietHours,
        lookup_url: str,
        unaccented_sms: bool = True,
        batch: int = 10,
        lease: timedelta = timedelta(minutes=2),
        poll_interval: float = 2.0,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()
        for channel in CHANNELS:  # every series from 0, so that increase() sees the first
            self._metrics.outbox_sent.labels(channel)
            for verdict in (Verdict.RETRY, Verdict.GIVE_UP, Verdict.FALLBACK):
                self._metrics.outbox_failures.labels(channel, verdict.value)
        self._sms = sms
        self._close_ticket = close_ticket
        self._zalo = zalo
        self._retry = retry
        self._quiet = quiet
        self._lookup_url = lookup_url
        self._unaccented = unaccented_sms
        self._batch = batch
        self._lease = lease
        self._poll = poll_interval
        self._clock = clock

    # ------------------------------------------------------------------ outbox
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.process_due()
            except Exception:
                logger.exception("notify: outbox pass failed")
                done = 0
            if done < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._poll)

    async def process_due(self) -> int:
        claimed = await self._store.claim(self._batch, self._lease)
        if not claimed:
            return 0
        held = {n.id: n for n in claimed}  # rows of this claim not finished yet
        heartbeat = asyncio.create_task(self._renew(held), name="outbox-lease-heartbeat")
        try:
            for notification in claimed:
                if notification.id not in held:
                    logger.warning(
                        "notify: %s was taken over by another worker; not sent here",
                        notification.id,
                    )
                    continue
                try:
                    await self._deliver(notification)
                finally:
                    held.pop(notification.id, None)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(claimed)

    async def _renew(self, held: dict[int, Notification]) -> None:
        """Every third of the lease, renew the lease of the rows still held; rows whose lease
        was lost meanwhile (the database was out of reach longer than the lease) are dropped."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            rows = list(held.values())
            try:
                kept = await self._store.extend(rows, self._lease)
            except Exception as err:
                logger.warning("notify: cannot renew the outbox lease: %s", err)
                continue
            for n in rows:
                if n.id not in kept:
                    held.pop(n.id, None)

    async def _deliver(self, n: Notification) -> None:
        now = self._clock()
        if not n.urgent and (release := self._quiet.release_at(now)) is not None:
            await self._store.defer(n, release)
            return
        if await self._store.opted_out(n.phone):
            await self._store.cancel(n, "opted out")
            return
        if not is_mobile(n.phone):
            await self._store.give_up(n, "not a mobile number")
            return
        try:
            result = await self._send(n)
        except Exception as err:  # an adapter bug must not lose the message
            logger.exception("notify: sending %s failed", n.id)
            result = SendResult(Verdict.RETRY, error=f"{type(err).__name__}: {err}")
        follows = result.verdict  # what becomes of the message, counted for /metrics
        if result.verdict is Verdict.FALLBACK:
            logger.info("notify: %s falls back to SMS: %s", n.id, result.error)
            await self._store.fall_back(n, result.error or "fallback")
        elif result.verdict is Verdict.SENT:
            logger.info("notify: %s %s for ticket %s sent", n.channel, n.event, n.ticket_id)
            if not await self._store.mark_sent(n, result.provider_id):
                logger.warning("notify: %s sent after its lease was taken over", n.id)
        elif result.verdict is Verdict.GIVE_UP:
            logger.warning("notify: %s given up: %s", n.id, result.error)
            await self._store.give_up(n, result.error or "refused")
        elif self._retry.exhausted(n.attempts):
            logger.warning("notify: %s dead after %d attempts: %s", n.id, n.attempts, result.error)
            await self._store.give_up(n, result.error or "too many attempts")
            follows = Verdict.GIVE_UP
        else:
            delay = timedelta(seconds=self._retry.delay(n.attempts))
            logger.info("notify: %s retry in %.1fs: %s", n.id, delay.total_seconds(), result.error)
            await self._store.retry_in(n, delay, result.error or "failed")
        if follows is Verdict.SENT:
            self._metrics.outbox_sent.labels(n.channel).inc()
        else:
            self._metrics.outbox_failures.labels(n.channel, follows.value).inc()

    async def _send(self, n: Notification) -> SendResult:
        if n.channel == "zalo":
            if self._zalo is None:
                return SendResult(Verdict.FALLBACK, error="Zalo is not configured")
            return await self._zalo.send_zns(n)
        body = render_sms(
            n.event, n.params, lookup_url=self._lookup_url, unaccented=self._unaccented
        )
        return await self._sms.send_sms(SmsMessage(n.id, n.phone, body))

    # ------------------------------------------------------------------ inbound
    async def zalo_delivered(self, msg_id: str) -> bool:
        return await self._store.zalo_delivered(msg_id)

    async def delivery_report(self, notification_id: int, value: int) -> bool:
        return await self._store.delivery_report(notification_id, dlr_state(value))

    async def reply(self, phone: str, text: str) -> Reply:
        """A citizen's SMS: a survey answer closes the ticket; an opt-out is recorded."""
        answer = parse_reply(text)
        if answer is Reply.OPT_OUT:
            await self._store.opt_out(phone)
            logger.info("notify: a number opted out")
        elif answer in (Reply.SATISFIED, Reply.UNSATISFIED):
            ticket_id = await self._store.survey_ticket(phone)
            if ticket_id is None:
                logger.info("notify: a survey answer with no open question")
                return Reply.UNKNOWN
            closure = Closure.SATISFIED if answer is Reply.SATISFIED else Closure.UNSATISFIED
            await self._close_ticket(ticket_id, closure)
        return answer
