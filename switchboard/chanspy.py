"""ChanSpy (app_chanspy) as a supervisor's channel runs it after an AMI Originate with
``Application: ChanSpy``: pick a channel by name prefix, spy on it (``ChanSpyStart``), stop when
it or the spyer goes (``ChanSpyStop``), exit or scan again as the options say.

Options the emulator honours (the others are accepted and ignored, as their audio does not
exist here): ``b`` only channels in a bridge, ``B`` barge (talk to both parties), ``w`` whisper
(talk to the spied-on channel only), ``W`` private whisper (talk, do not listen), ``q`` quiet
(no beep, no name announcement), ``E`` exit when the spied-on channel hangs up, ``S`` stop
when no channel is left to spy on. Each spy session is recorded on the board (``board.spies``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.channels import Channel, ChannelHungUp, Channels, Redirected
from switchboard.clock import Clock

SCAN_INTERVAL = 1.0  # simulated seconds between two scans when nothing matched (no S)
WATCH_INTERVAL = 0.25  # simulated seconds between two looks at the spied-on channel
_ARGUMENT = re.compile(r"\([^)]*\)")


@dataclass
class SpySession:
    """One ChanSpy run of a spyer on a spyee, as a test asserts it."""

    spyer: str
    spyee: str
    prefix: str
    options: str
    mode: str  # listen | whisper | private-whisper | barge
    quiet: bool
    started_at: float
    ended_at: float | None = None
    ended_by: str = ""  # spyee-hangup | spyer-hangup


def parse_options(text: str) -> set[str]:
    """The option letters, without their arguments (``v(2)`` → ``v``)."""
    return set(_ARGUMENT.sub("", text))


def spy_mode(flags: set[str]) -> str:
    if "B" in flags:
        return "barge"
    if "W" in flags:
        return "private-whisper"
    if "w" in flags:
        return "whisper"
    return "listen"


class ChanSpy:
    def __init__(self, channels: Channels, clock: Clock, sessions: list[SpySession]) -> None:
        self._channels = channels
        self._clock = clock
        self._sessions = sessions

    def _candidates(self, spyer: Channel, prefix: str, bridged_only: bool) -> list[Channel]:
        wanted = prefix.lower()
        return [
            c
            for c in self._channels
            if c is not spyer
            and not c.gone
            and c.name.lower().startswith(wanted)
            and (c.bridge is not None or not bridged_only)
        ]

    async def run(self, spyer: Channel, data: str, leave_at: float) -> None:
        """Until the spyer's person hangs up (at ``leave_at``, or by AMI Hangup), or the options
        end it: ``E`` when the spied-on channel hangs up, ``S`` when nothing matches."""
        prefix, _, option_text = data.partition(",")
        flags = parse_options(option_text)
        try:
            while True:
                if self._clock.now() >= leave_at:
                    self._channels.request_hangup(spyer, 16, by="spyer", soft=False)
                    return
                found = self._candidates(spyer, prefix.strip(), "b" in flags)
                if not found:
                    if "S" in flags:
                        return
                    await self._channels.wait(
                        spyer, min(SCAN_INTERVAL, leave_at - self._clock.now())
                    )
                    continue
                ended_by = await self._spy(spyer, found[0], prefix, option_text, flags, leave_at)
                if ended_by != "spyee-hangup" or "E" in flags:
                    return
        except (ChannelHungUp, Redirected):
            return

    async def _spy(
        self,
        spyer: Channel,
        spyee: Channel,
        prefix: str,
        option_text: str,
        flags: set[str],
        leave_at: float,
    ) -> str:
        session = SpySession(
            spyer=spyer.name,
            spyee=spyee.name,
            prefix=prefix,
            options=option_text,
            mode=spy_mode(flags),
            quiet="q" in flags,
            started_at=self._clock.now(),
        )
        self._sessions.append(session)
        self._publish("ChanSpyStart", spyer, spyee)
        ended_by = "spyer-hangup"
        try:
            while True:
                if spyee.gone:  # its Hangup is published before ChanSpyStop
                    ended_by = "spyee-hangup"
                    break
                now = self._clock.now()
                if now >= leave_at:
                    self._channels.request_hangup(spyer, 16, by="spyer", soft=False)
                    break
                await self._channels.wait(spyer, min(WATCH_INTERVAL, leave_at - now))
        finally:
            session.ended_at = self._clock.now()
            session.ended_by = ended_by
            self._publish("ChanSpyStop", spyer, spyee)
        return ended_by

    def _publish(self, name: str, spyer: Channel, spyee: Channel) -> None:
        self._channels.publish(name, "call", [*spyer.snapshot("Spyer"), *spyee.snapshot("Spyee")])


__all__ = ["ChanSpy", "SpySession", "parse_options", "spy_mode"]
