"""``hotline replay``: a period of the seed province's seven months played through the running
system, then its report compared with the plan.

The service runs as ``hotline demo`` does (the configured database, the embedded one by default)
with the switchboard emulator in place of Asterisk. One clock: the emulator's, started at the
period's first day and running ``scale`` times faster than real time, is also the clock every
service stamps its records with (``hotline.app.build_app(clock=...)``), so months pass in
minutes and the tickets carry their planned days.

Every planned call (``hotline.emulated.replay_plan``) is placed on the emulated trunk: FastAGI
runs the menu (the key of its category on 1022, the recorded location on 115), app_queue rings
simulated operators' softphones, the AMI events reach the service. After each call the
operator who answered works the ticket through the HTTP API with their own login, as the
console does: classify, close what was answered on the phone, forward field reports, dispatch
115 ambulances and record the facilities' answers, the milestones and the outcome; a 1022
operator who answers a caller needing an ambulance moves them to 115 during the call (the
console's transfer; time waits meanwhile), and a 115 operator works the ticket that follows;
a field report an operator forwarded to the wrong agency is reassigned by a supervisor.
Each agency has a login that accepts and responds (a late one only after the sweeper has
escalated the ticket); citizens answer the satisfaction SMS through ``/notify/kannel/mo``, the
callback Kannel calls, after the outbox sent it to a loopback SMS gateway started here. Replay
settings: no quiet hours for SMS (the night passes in a second), facilities always answer (no
dispatch timeout), recordings a fraction of a second long (months of calls would fill the disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from db.province import PostgresProvinceRepository
from db.reports import PostgresReportRepository
from db.users import PostgresUserRepository
from hotline.app import DATABASE_URL, POOL, build_app
from hotline.auth import AuthService
from hotline.emulated.demo import BACKEND_GRANTS, SOUNDS, free_port
from hotline.emulated.progress import Progress
from hotline.emulated.replay_plan import (
    FieldStory,
    Figures,
    PlannedCall,
    in_period,
    plan_replay,
    planned_figures,
)
from hotline.keys import AGENTS, AGI, MENU, QUEUE_LOG
from hotline.settings import Settings
from notify.templates import TEMPLATES, Event, strip_diacritics
from runtime.loop import run_loop
from runtime.tasks import TaskManager
from switchboard import CalledParty, CallerScript, Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.events import AmiEvent
from tickets.agencies import load_province
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import Outcome
from tickets.lifecycle import Closure
from tickets.model import Line, Role
from tickets.reports import Lang, Report, format_table
from tickets.scenario import END, FATES, ON_SCENE, PHONE_RESPONSE, START, Fate, field_text

logger = logging.getLogger(__name__)

OPERATORS = {Line.CITIZEN: 10, Line.MEDICAL: 8}  # softphones per line
RING = (1.0, 4.0)  # simulated seconds an operator lets the phone ring
# simulated seconds a caller who gives up waits in the queue: less than a phone rings, so they
# hang up before anyone answers (the emulator orders the two by their simulated moments)
GIVE_UP_AFTER = 0.5
CALLED_BACK = (30.0, 120.0)  # simulated seconds a call-back's conversation lasts
CALLBACK_DESK = 20  # extension offset of each line's operator who works the call-backs
TALK = {Line.CITIZEN: (60.0, 300.0), Line.MEDICAL: (45.0, 180.0)}
RECORDING_SECONDS = 0.2  # what the caller says into RECORD FILE, and MixMonitor's longest file
DISPATCH_TIMEOUT = timedelta(days=30)  # facilities always answer in the replay
RESPONSE = "Đơn vị đã kiểm tra hiện trường và xử lý / The agency inspected the site and acted"
MISROUTED = "Không thuộc thẩm quyền đơn vị đã nhận / Not the receiving agency's matter"
ANSWERED_ON_PHONE = "Tổng đài viên đã hướng dẫn, trả lời trực tiếp / Answered on the call"
SURVEY_OPENING = strip_diacritics(TEMPLATES[Event.SURVEY].split("{code}")[0])
DAY_HELD_FROM = 23.5 * 3600  # local time a day's calls must be over by, or time slows
HELD_SCALE = 100.0  # how fast time runs past a hold (``switchboard.Clock.hold``)
TRANSFER_SCALE = 10.0  # how fast time runs while an operator moves a caller to 115
ON_TIME_MARGIN = 6 * 3600.0  # a deadline is at least 17 h after the forward (end of a working day)
IDLE_STEP = 6 * 3600.0  # how far time skips at once when no call is in progress
POLL = 0.05  # real seconds between looks at something a person waits for
SWEEP = 0.5  # real seconds between the back office's sweeps (escalations) in the replay
DEADLINE_MARGIN = 3600.0  # an agency on time answers at the latest an hour before its deadline
PERSON_WAIT = 300.0  # real seconds a simulated person waits for the system at most


@dataclass(frozen=True)
class ReplayOptions:
    start: date = START
    end: date = END
    seed: int = 1
    scale: float = 20000.0  # simulated seconds per real second
    progress: bool = True


@dataclass(frozen=True)
class ReplayResult:
    planned: Figures
    reported: Figures
    report: Report
    calls: int
    real_seconds: float
    sent_twice: list[str]  # SMS a citizen got more than once (``LoopbackSms.sent_twice``)

    @property
    def differences(self) -> list[str]:
        return [
            name
            for name in sorted(set(self.planned) | set(self.reported))
            if self.planned.get(name, 0) != self.reported.get(name, 0)
        ]


class Api:
    """One person's logged-in use of the HTTP API (bearer token)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self._session = session
        self._base = base
        self._headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def login(
        cls, session: aiohttp.ClientSession, base: str, username: str, password: str
    ) -> Api:
        async with session.post(
            f"{base}/api/v1/auth/login", json={"username": username, "password": password}
        ) as response:
            response.raise_for_status()
            token = str((await response.json())["token"])
        return cls(session, base, token)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._session.post(
            f"{self._base}{path}", json=body or {}, headers=self._headers
        ) as response:
            if response.status >= 400:
                text = await response.text()
                raise RuntimeError(f"POST {path}: {response.status} {text[:300]}")
            return await response.json()

    async def get(self, path: str) -> Any:
        async with self._session.get(f"{self._base}{path}", headers=self._headers) as response:
            if response.status >= 400:
                text = await response.text()
                raise RuntimeError(f"GET {path}: {response.status} {text[:300]}")
            return await response.json()


class LoopbackSms:
    """The SMS gateway of the replay: Kannel's ``sendsms`` on a loopback port. Each message is
    acknowledged as Kannel does (``0: Accepted for delivery``), reported delivered through the
    ``dlr-url`` it carries, and kept for the citizen whose number it was sent to; each send is
    counted under the outbox row its ``dlr-url`` names."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self.received: dict[str, list[str]] = {}  # +84… → texts, once reported delivered
        self.arrived = Signal()  # fires when a message has been reported delivered
        self._sends: Counter[str] = Counter()  # outbox row id → times sent
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._reports = TaskManager()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", self._sendsms)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        await self._reports.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def surveyed(self, phone: str, code: str) -> bool:
        """Whether the satisfaction question about ticket ``code`` reached ``phone``."""
        return any(
            strip_diacritics(text).startswith(SURVEY_OPENING) and code in text
            for text in self.received.get(phone, [])
        )

    def sent_twice(self) -> list[str]:
        """Messages sent more than once: the same outbox row, or the same text to a number."""
        rows = [f"notification {row} ×{n}" for row, n in self._sends.items() if n > 1]
        texts = [
            f"{phone}: {text[:60]!r} ×{n}"
            for phone, sent in self.received.items()
            for text, n in Counter(sent).items()
            if n > 1
        ]
        return rows + texts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/sendsms"

    async def _sendsms(self, request: web.Request) -> web.Response:
        phone, text = "+" + request.query.get("to", ""), request.query.get("text", "")
        dlr = request.query.get("dlr-url", "")
        self._sends[URL(dlr).query.get("id", "?") if dlr else "?"] += 1
        self._reports.start(self._report(phone, text, dlr), name="replay-sms-dlr")
        return web.Response(text="0: Accepted for delivery", status=202)

    async def _report(self, phone: str, text: str, dlr: str) -> None:
        """The delivery report, then the message is on the citizen's phone (a reply finds
        the outbox row sent or delivered)."""
        if dlr:
            async with self._session.get(dlr.replace("%d", "1")) as response:
                await response.read()
        self.received.setdefault(phone, []).append(text)
        self.arrived.fire()


class Signal:
    """Wakes those who wait for something the replay's own parts see happen (an SMS reaching
    a citizen's phone) instead of letting them look again and again."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    *,
    every: float = POLL,
    woken_by: Signal | None = None,
) -> None:
    """Until ``check`` is true: looking every ``every`` real seconds, or as soon as
    ``woken_by`` fires."""
    deadline = time.monotonic() + PERSON_WAIT
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"replay: gave up waiting for {what}")
        if woken_by is None:
            await asyncio.sleep(every)
        else:
            await woken_by.wait(every)


class People:
    """The operators, agencies and citizens of the replay, each acting through the API."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        base: str,
        operators: dict[str, Api],
        desks: dict[Line, str],
        supervisor: Api,
        agency_login: Callable[[str], Awaitable[Api]],
        sms: LoopbackSms,
        callback_secret: str,
        clock: Clock,
    ) -> None:
        self._session = session
        self._clock = clock
        self._base = base
        self._operators = operators
        self._desks = desks
        self._supervisor = supervisor
        self._agency_login = agency_login
        self._agencies: dict[str, Api] = {}
        self._agencies_lock = asyncio.Lock()
        self._sms = sms
        self._secret = callback_secret

    async def ticket_of(self, call: PlannedCall, announced: str | None) -> str:
        """The ticket the IVR announced (``HOTLINE_TICKET``), or when the IVR could not store it
        at once, the caller's ticket as the console finds it by number."""
        if announced is not None:
            return announced
        operator = next(iter(self._operators.values()))
        found: list[str] = []

        async def listed() -> bool:
            items = (await operator.get(f"/api/v1/tickets?phone={call.number}"))["items"]
            found.extend(str(t["code"]) for t in items[:1])
            return bool(found)

        await wait_until(listed, f"a ticket of {call.number}")
        return found[0]

    async def call_back(self, call: PlannedCall, uniqueid: str) -> str:
        """A caller who gave up in the queue is called back from the worklist by the line's
        call-back operator (paused in the queue for it): their phone rings, then the
        citizen's; once through, the operator records the call-back reached. Their
        extension: they work the ticket."""
        extension = self._desks[call.line]
        operator = self._operators[extension]
        found: list[str] = []

        async def listed() -> bool:
            items = (await operator.get("/api/v1/callbacks"))["items"]
            found.extend(str(c["id"]) for c in items if c["call_uniqueid"] == uniqueid)
            return bool(found)

        await wait_until(listed, f"the call-back of call {uniqueid}")
        path = f"/api/v1/callbacks/{found[0]}"

        async def through() -> bool:  # not while the desk is still on the previous call-back
            return str((await operator.post(f"{path}/call"))["status"]) == "calling"

        await wait_until(through, f"the operator's phone to call {call.number} back")
        await operator.post(f"{path}/result", {"reached": True})
        return extension

    async def transfer(self, answered_by: str, uniqueid: str) -> str:
        """The 1022 operator who answered hears an emergency and moves the caller to 115 with
        the console's button, once their console shows the call with its ticket (the service
        has seen them answer and stored the call); the code of the 115 ticket that follows the
        caller."""
        operator = self._operators[answered_by.removeprefix("PJSIP/")]
        moved: list[str] = []

        async def transferred() -> bool:
            shown = (await operator.get("/api/v1/operators/me/call"))["call"]
            if shown is None or shown["uniqueid"] != uniqueid or "code" not in shown:
                return False
            try:
                result = await operator.post(
                    f"/api/v1/calls/{uniqueid}/transfer", {"line": Line.MEDICAL.value}
                )
            except RuntimeError as err:
                logger.debug("replay: %s", err)
                return False
            if result["new_ticket"] is None:
                raise RuntimeError(f"call {uniqueid} moved to 115 without its ticket")
            moved.append(str(result["new_ticket"]))
            return True

        await wait_until(transferred, f"the transfer of call {uniqueid} to 115")
        return moved[0]

    async def story(self, call: PlannedCall, code: str, answered_by: str) -> None:
        """What the operator who answered, the agency and the citizen do with the ticket."""
        operator = self._operators[answered_by.removeprefix("PJSIP/")]
        ticket = f"/api/v1/tickets/{code}"
        if call.medical is not None:
            await self._medical(call, operator, ticket)
        elif call.field is not None:
            await self._field(call, operator, ticket)
        else:
            await operator.post(
                f"{ticket}/classify", {"category": call.category.value, "locality": call.locality}
            )
            await operator.post(f"{ticket}/close", {})

    async def _field(self, call: PlannedCall, operator: Api, ticket: str) -> None:
        story = call.field
        assert story is not None
        await operator.post(
            f"{ticket}/classify",
            {
                "category": call.category.value,
                "subcategory": story.subcategory,
                "locality": story.locality,
                "description": field_text(story.subcategory, story.street),
                "location": f"đường {story.street}",
            },
        )
        # an agency on time answers before the deadline (the end of a working day after the
        # forward's, at the earliest): time waits for it, however long the machine takes
        on_time = [] if story.late else [self._clock.hold(self._clock.now() + ON_TIME_MARGIN)]
        try:
            await self._agency(story, operator, ticket, on_time)
        finally:
            for release in on_time:
                release()
        await self._survey(story, operator, ticket, "+84" + call.number[1:])

    async def _agency(
        self, story: FieldStory, operator: Api, ticket: str, on_time: list[Callable[[], None]]
    ) -> None:
        """The operator forwards (to the wrong agency, by hand, sometimes: a supervisor
        reassigns it); the agency accepts and responds (a late one once the sweeper has
        escalated the ticket). Once the deadline is known, time is held only shortly before it
        (``on_time``: the holds to release once the agency has answered)."""
        if story.misrouted is None:
            forwarded = await operator.post(f"{ticket}/forward", {})
        else:
            await operator.post(f"{ticket}/forward", {"agency": story.misrouted})
            forwarded = await self._supervisor.post(
                f"{ticket}/reassign", {"agency": story.agency, "reason": MISROUTED}
            )
        if forwarded["agency_code"] != story.agency:
            raise RuntimeError(
                f"{ticket}: routed to {forwarded['agency_code']}, not {story.agency}"
            )
        if on_time and (deadline := forwarded["deadline_at"]) is not None:
            moment = datetime.fromisoformat(deadline).timestamp() - DEADLINE_MARGIN
            on_time.append(self._clock.hold(moment))
            on_time.pop(0)()
        async with self._agencies_lock:  # an agency logs in when its first ticket arrives
            if story.agency not in self._agencies:
                self._agencies[story.agency] = await self._agency_login(story.agency)
        agency = self._agencies[story.agency]
        await agency.post(f"{ticket}/accept")
        if story.late:

            async def escalated() -> bool:
                events = (await agency.get(f"{ticket}/timeline"))["events"]
                return any(e["kind"] == "escalated" for e in events)

            await wait_until(escalated, f"the sweeper to escalate {ticket}", every=SWEEP)
        await agency.post(f"{ticket}/respond", {"response": RESPONSE})

    async def _survey(self, story: FieldStory, operator: Api, ticket: str, phone: str) -> None:
        """The citizen gets the satisfaction SMS and answers it by SMS (Kannel's MO callback),
        or never does: then the operator closes the ticket as not answered."""
        code = ticket.rsplit("/", 1)[1]

        async def surveyed() -> bool:
            return self._sms.surveyed(phone, code)

        await wait_until(
            surveyed, f"the satisfaction SMS of {ticket}", every=1.0, woken_by=self._sms.arrived
        )
        if story.closure is Closure.NO_ANSWER:
            await operator.post(f"{ticket}/close", {"closure": Closure.NO_ANSWER.value})
            return
        answer = "1" if story.closure is Closure.SATISFIED else "2"

        async def answered() -> bool:
            await self._citizen_replies(phone, answer)
            return str((await operator.get(ticket))["status"]) == "closed"

        await wait_until(answered, f"the survey answer of {ticket} to close it")

    async def _citizen_replies(self, phone: str, text: str) -> None:
        query = {"secret": self._secret, "from": phone, "text": text, "charset": "UTF-8"}
        async with self._session.get(f"{self._base}/notify/kannel/mo", params=query) as response:
            response.raise_for_status()

    async def _medical(self, call: PlannedCall, operator: Api, ticket: str) -> None:
        story = call.medical
        assert story is not None
        body: dict[str, Any] = {"category": call.category.value}
        if story.locality is not None:
            body |= {"locality": story.locality, "location": f"đường {story.street}"}
        await operator.post(f"{ticket}/milestones", {"kind": "answered"})
        await operator.post(f"{ticket}/classify", body)
        sent, outcome = FATES[story.fate]
        if not sent:
            if outcome is None:
                await operator.post(f"{ticket}/close", {})
            else:
                await operator.post(f"{ticket}/complete", {"outcome": outcome.value})
            logger.debug("%s: %s", ticket, PHONE_RESPONSE[story.fate])
            return
        pending = (await operator.post(f"{ticket}/dispatch"))["pending"]
        declines = 0
        while pending is not None and (story.declines is None or declines < story.declines):
            answer = {"accepted": False, "reason": "no_vehicle"}
            pending = (await operator.post(f"{ticket}/dispatch/answer", answer))["pending"]
            declines += 1
        if story.fate is Fate.NO_VEHICLE:
            await operator.post(f"{ticket}/complete", {"outcome": Outcome.NO_VEHICLE.value})
            return
        await operator.post(f"{ticket}/dispatch/answer", {"accepted": True})
        if story.fate in ON_SCENE:
            await operator.post(f"{ticket}/milestones", {"kind": "on_scene"})
        assert outcome is not None
        await operator.post(f"{ticket}/complete", {"outcome": outcome.value})


def reported_figures(report: Report) -> Figures:
    """The report's figures under the names of ``replay_plan.planned_figures``."""
    figures: Figures = {}
    for line, calls in report.calls.items():
        figures[f"calls {line.value} queued"] = calls.queued
        figures[f"calls {line.value} answered"] = calls.answered
        figures[f"calls {line.value} abandoned"] = calls.abandoned
    for month in report.months:
        for category, n in month.requests.items():
            if n:
                figures[f"{month.month:%Y-%m} {category.value}"] = n
    if (citizen := report.citizen) is not None:
        for category, n in citizen.by_category.items():
            figures[f"1022 {category.value}"] = n
        figures["1022 unclassified"] = citizen.unclassified
        figures["1022 forwarded"] = citizen.forwarded
        figures["1022 agencies"] = citizen.agencies
        figures["1022 responded"] = citizen.responded
        figures["1022 responded on time"] = citizen.responded_on_time
        figures["1022 satisfied"] = citizen.satisfied
        figures["1022 escalated"] = citizen.escalated
    for agency in report.agencies:
        figures[f"agency {agency.agency} forwarded"] = agency.forwarded
        figures[f"agency {agency.agency} responded"] = agency.responded
        figures[f"agency {agency.agency} satisfied"] = agency.satisfied
    if (medical := report.medical) is not None:
        figures["115 requests"] = medical.requests
        figures["115 sent"] = medical.sent
        figures["115 successful"] = medical.successful
        for sent, outcomes in (
            ("sent", medical.sent_by_outcome),
            ("not sent", medical.not_sent_by_outcome),
        ):
            for code, n in outcomes.items():
                figures[f"115 {sent} {code.value if code is not None else 'none'}"] = n
    return {name: n for name, n in figures.items() if n or name.startswith("1022 unclassified")}


def _scripts(call: PlannedCall) -> CallerScript:
    return CallerScript(keys=[call.key], record_seconds=RECORDING_SECONDS)


def _epoch(day: date) -> float:
    return datetime.combine(day, datetime.min.time(), tzinfo=HOTLINE_TZ).timestamp()


async def run_replay(
    settings: Settings, options: ReplayOptions, *, progress: TextIO = sys.stderr
) -> ReplayResult:
    province = load_province(None)
    plan = in_period(plan_replay(province, options.seed), options.start, options.end)
    clock = Clock(scale=options.scale, start=_epoch(options.start), held_scale=HELD_SCALE)

    def now() -> datetime:
        return datetime.fromtimestamp(clock.now(), UTC)

    ami_secret = secrets.token_hex(12)
    callback_secret = secrets.token_hex(16)
    board = Switchboard(
        agi_host="127.0.0.1",
        agi_port=0,
        recordings_dir=settings.recordings,
        sounds_dir=SOUNDS if SOUNDS.is_dir() else None,
        ami_users={"hotline": (ami_secret, BACKEND_GRANTS)},
        clock=clock,
        seed=options.seed,
        longest_recording=RECORDING_SECONDS,
    )
    http_port = free_port()
    base = f"http://127.0.0.1:{http_port}"
    real_start = time.monotonic()
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        )
        sms = LoopbackSms(session)
        await sms.start()
        stack.push_async_callback(sms.stop)
        await board.start("127.0.0.1", 0)
        stack.push_async_callback(board.stop)
        settings = settings.model_copy(
            update={
                "ami_url": SecretStr(f"ami://hotline:{ami_secret}@127.0.0.1:{board.ami_port}"),
                "agi_bind": "127.0.0.1:0",
                "http_bind": f"127.0.0.1:{http_port}",
                "vosk_model": None,
                "sms_gateway": "kannel",
                "kannel_sendsms_url": sms.url,
                "kannel_password": SecretStr(secrets.token_hex(8)),
                "notify_callback_url": base,
                "notify_callback_secret": SecretStr(callback_secret),
                "notify_quiet_start": 0,
                "notify_quiet_end": 0,
                "notify_poll_interval": 0.25,
                "zalo_app_id": None,
                "dispatch_timeout": DISPATCH_TIMEOUT.total_seconds(),
                "sweep_interval": SWEEP,
                "spool_retry_interval": SWEEP,  # a call spooled on a busy machine is stored soon
                # every simulated person logs in from this one address at the start
                "login_attempts_per_minute": 1000,
                # the IVR waits for the database rather than spooling when the machine is busy:
                # the replay measures the normal path (the spool has its own tests)
                "db_timeout": 60.0,
            }
        )
        app = build_app(settings, clock=now)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        stack.push_async_callback(runner.cleanup)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        # extconfig.conf's realtime queue_log: the PBX's record of the queues, in our database
        board.queue_log.config = QueueLogConfig(database_url=app[DATABASE_URL])
        await board.queue_log.start()
        board.dialplan.agi_port = app[AGI].port
        service = app[AGENTS]

        async def connected() -> bool:
            return service.connected

        await wait_until(connected, "the AMI connection to the emulator")
        people = await _people(app, board, session, base, province, sms, callback_secret)
        clock.restart(_epoch(options.start))
        await _drive(board, plan, people, options, progress)

        async def settled() -> bool:
            await board.queue_log.flushed()
            return not service.backlog and not await app[QUEUE_LOG].rows_behind()

        await wait_until(settled, "the service to store every call")
        report = await PostgresReportRepository(app[POOL]).report(
            options.start, options.end, (Line.CITIZEN, Line.MEDICAL)
        )
    return ReplayResult(
        planned=planned_figures(plan),
        reported=reported_figures(report),
        report=report,
        calls=len(plan),
        real_seconds=time.monotonic() - real_start,
        sent_twice=sms.sent_twice(),
    )


async def _people(
    app: web.Application,
    board: Switchboard,
    session: aiohttp.ClientSession,
    base: str,
    province: Any,
    sms: LoopbackSms,
    callback_secret: str,
) -> People:
    """The province's reference data, a login for every operator (signed into their line's
    queue through the API, on their softphone) and for every agency."""
    await PostgresProvinceRepository(app[POOL]).load(province)
    users = PostgresUserRepository(app[POOL])
    auth = AuthService(users, token_ttl=timedelta(days=1))
    queues = {line: flow.queue for line, flow in app[MENU].lines.items()}
    # the simulated people share one password, hashed once for the accounts made here (each
    # still logs in through the API, where the service checks it)
    password = secrets.token_urlsafe(12)
    password_hash = await auth.hash_password(password)

    async def login(username: str, role: Role, agency: str | None = None) -> Api:
        if await users.credentials(username) is None:
            await users.add(username, password_hash, role, agency)
        else:  # a replay on a database that has them already
            await auth.set_password(username, password)
        return await Api.login(session, base, username, password)

    async def operator(extension: str, line: Line) -> Api:
        board.add_softphone(
            Softphone(extension, ring_delay=RING, talk_time=TALK[line], name=extension)
        )
        api = await login(extension, Role.OPERATOR)
        await api.post(
            "/api/v1/operators/me/login", {"extension": extension, "queues": [queues[line]]}
        )
        return api

    first = {Line.CITIZEN: 301, Line.MEDICAL: 351}
    extensions = {
        f"rp{first[line] + n}": line for line, count in OPERATORS.items() for n in range(count)
    }
    # on each line one more, paused in the queue: they call back those who gave up
    desks = {line: f"rp{first[line] + CALLBACK_DESK}" for line in OPERATORS}
    extensions |= {extension: line for line, extension in desks.items()}
    # they sign in together, as a shift does (argon2 works in threads meanwhile)
    signed_in = await asyncio.gather(*(operator(e, line) for e, line in extensions.items()))
    operators = dict(zip(extensions, signed_in, strict=True))
    for extension in desks.values():
        await operators[extension].post("/api/v1/operators/me/pause", {"reason": "call-backs"})
    # every citizen called back answers
    board.set_called_party(None, CalledParty(answers=True, ring_delay=RING, talk_time=CALLED_BACK))

    async def agency_login(code: str) -> Api:
        return await login("agency_" + code.lower().replace("-", "_"), Role.AGENCY, code)

    return People(
        session=session,
        base=base,
        operators=operators,
        desks=desks,
        supervisor=await login("rp_supervisor", Role.SUPERVISOR),
        agency_login=agency_login,
        sms=sms,
        callback_secret=callback_secret,
        clock=board.clock,
    )


async def _drive(
    board: Switchboard,
    plan: list[PlannedCall],
    people: People,
    options: ReplayOptions,
    out: TextIO,
) -> None:
    """Place every call at its moment; after each, the people's story of its ticket.

    Time runs only at ``HELD_SCALE`` past the next call's moment until the call before it has
    left the IVR for the queue, and past 23:30 of a day until each of that day's calls has been
    answered (a transferred one: moved to 115) or is over: every call starts, is queued and
    answered when planned and stays on its day however busy the machine is."""
    clock = board.clock
    start = clock.now()
    total = _epoch(options.end + timedelta(days=1)) - start
    bar = Progress(out, total, options.progress)
    left_on: Counter[date] = Counter(call.day for call in plan)
    day_ends = {day: clock.hold(_epoch(day) + DAY_HELD_FROM) for day in left_on}
    queued: dict[str, asyncio.Event] = {}
    # calls to move to 115: the answering 1022 operator's interface, and the release of the
    # hold that keeps the call going while they press the transfer button
    moving: dict[str, asyncio.Future[tuple[str, Callable[[], None]]]] = {}
    connected: dict[str, asyncio.Event] = {}  # the other calls, set once an operator answers
    done = 0
    placed = 0
    on_trunk = 0  # calls the emulated PBX is carrying
    failures: list[BaseException] = []

    trunk_free = asyncio.Event()  # set while nobody is on the phone
    trunk_free.set()

    def hung_up(_: object) -> None:
        nonlocal on_trunk
        on_trunk -= 1
        if on_trunk == 0:
            trunk_free.set()

    async def until(moment: float) -> None:
        """Simulated time reaches ``moment``: at once whenever nobody is on the phone (as far
        as the holds let it), else at its pace until the last call on the trunk ends."""
        while (ahead := moment - clock.now()) > 0:
            if trunk_free.is_set():
                clock.skip_to(moment)
                if clock.now() < moment:  # held short of it: time runs slowly there
                    await asyncio.sleep(min(clock.real(moment - clock.now()), POLL))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(trunk_free.wait(), min(clock.real(ahead), POLL))

    def joined(event: AmiEvent) -> None:
        uniqueid = event.get("Uniqueid") or ""
        if event.name == "QueueCallerJoin" and (found := queued.get(uniqueid)):
            found.set()
        elif event.name == "AgentConnect" and (answer := moving.pop(uniqueid, None)):
            held = clock.hold(clock.now(), TRANSFER_SCALE)
            answer.set_result((event.get("Interface") or "", held))
        elif event.name == "AgentConnect" and (talking := connected.pop(uniqueid, None)):
            talking.set()

    async def one(call: PlannedCall, next_call_may_start: Callable[[], None]) -> None:
        nonlocal done
        on_its_day = True  # the day may not end before this call is answered (or over)

        def day_may_end() -> None:
            nonlocal on_its_day
            if on_its_day:
                on_its_day = False
                left_on[call.day] -= 1
                if left_on[call.day] == 0:
                    day_ends[call.day]()

        try:
            try:
                handle = await board.place_call(
                    call.dialled.value,
                    call.number,
                    script=_scripts(call),
                    patience=GIVE_UP_AFTER if call.gives_up else None,
                )
                queued[handle.uniqueid] = in_queue = asyncio.Event()
                answered = None
                talking = None
                if call.dialled is not call.line:
                    moving[handle.uniqueid] = answered = asyncio.get_running_loop().create_future()
                else:
                    connected[handle.uniqueid] = talking = asyncio.Event()
                finished = asyncio.ensure_future(handle.wait())
                finished.add_done_callback(hung_up)
                waiter = asyncio.ensure_future(in_queue.wait())
                try:
                    await asyncio.wait([finished, waiter], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
            finally:
                next_call_may_start()
            if talking is not None:
                # answered on its day, with its ticket already dated by its start: its talk
                # and the work on the ticket may go on past the day's end
                waiter = asyncio.ensure_future(talking.wait())
                try:
                    await asyncio.wait([finished, waiter], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    connected.pop(handle.uniqueid, None)
                day_may_end()
            moved_to = None
            if answered is not None:
                await asyncio.wait([finished, answered], return_when=asyncio.FIRST_COMPLETED)
                if not answered.done():
                    raise RuntimeError(f"call {handle.uniqueid}: nobody answered on 1022")
                interface, release = answered.result()
                try:
                    moved_to = await people.transfer(interface, handle.uniqueid)
                finally:
                    release()
            outcome = await finished
            queued.pop(handle.uniqueid, None)
            if (outcome.answered_by is None) is not call.gives_up:
                planned = "give up" if call.gives_up else "be answered"
                raise RuntimeError(f"call {outcome.uniqueid}: planned to {planned}, did not")
            code = moved_to or await people.ticket_of(call, outcome.variables.get("HOTLINE_TICKET"))
        finally:
            day_may_end()
        answered_by = outcome.answered_by or await people.call_back(call, handle.uniqueid)
        await people.story(call, code, answered_by)
        done += 1

    def failed(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (err := task.exception()) is not None:
            failures.append(err)

    async def tick() -> None:
        while True:
            bar.draw(clock.now() - start, placed, placed - done)
            await asyncio.sleep(0.25)

    tasks = TaskManager()
    tasks.start(tick(), name="replay-progress")
    unsubscribe = board.bus.subscribe(joined)
    stories: list[asyncio.Task[None]] = []
    this_call = clock.hold(plan[0].at.timestamp()) if plan else None
    try:
        for n, call in enumerate(plan):
            await until(call.at.timestamp())
            on_trunk += 1
            trunk_free.clear()
            following = plan[n + 1].at.timestamp() if n + 1 < len(plan) else None
            next_call = clock.hold(following) if following is not None else _nothing
            task = asyncio.get_running_loop().create_task(
                one(call, next_call), name=f"replay-{call.number}"
            )
            assert this_call is not None
            this_call()
            this_call = next_call
            task.add_done_callback(failed)
            stories.append(task)
            placed += 1
            if failures:
                break
        while any(not task.done() for task in stories):
            if on_trunk == 0:  # the agencies' and citizens' part: days pass in a moment
                clock.skip_to(clock.now() + IDLE_STEP)
            await asyncio.wait([t for t in stories if not t.done()], timeout=POLL * 4)
        bar.draw(clock.now() - start, placed, 0)
    finally:
        unsubscribe()
        for task in stories:
            task.cancel()
        await asyncio.gather(*stories, return_exceptions=True)
        for release in day_ends.values():
            release()
        if this_call is not None:
            this_call()
        await tasks.close()
        bar.done()
    if failures:
        raise failures[0]


def _nothing() -> None:
    """No call follows the last one: nothing to let start."""


def render_result(result: ReplayResult, options: ReplayOptions) -> str:
    lines = [
        format_table(result.report, Lang.VI),
        "",
        f"Kế hoạch / plan: {options.start:%d/%m/%Y}–{options.end:%d/%m/%Y}, seed {options.seed},"
        f" {result.calls} cuộc gọi / calls, {result.real_seconds:.0f} s"
        f" ({options.scale:.0f}× simulated time)",
        f"{'figure':<44} {'plan':>8} {'report':>8}",
    ]
    names = sorted(set(result.planned) | set(result.reported))
    for name in names:
        planned, reported = result.planned.get(name, 0), result.reported.get(name, 0)
        mark = "" if planned == reported else "  ≠ KHÁC / DIFFERS"
        lines.append(f"{name:<44} {planned:>8} {reported:>8}{mark}")
    if result.differences:
        lines.append(
            f"Báo cáo KHÁC kế hoạch ở {len(result.differences)} số liệu / the report differs"
            f" from the plan in {len(result.differences)} figures"
        )
    else:
        lines.append("Báo cáo khớp kế hoạch / the report equals the plan")
    lines.append(f"SMS gửi hai lần / SMS sent twice: {len(result.sent_twice)}")
    lines.extend(f"  {twice}" for twice in result.sent_twice)
    return "\n".join(lines)


def replay(settings: Settings, options: ReplayOptions, *, out: TextIO = sys.stdout) -> int:
    """Run, print the report beside the plan; 0 when every figure is the plan's and no citizen
    got an SMS twice, else 1."""
    result = run_loop(run_replay(settings, options))
    print(render_result(result, options), file=out)
    return 1 if result.differences or result.sent_twice else 0
