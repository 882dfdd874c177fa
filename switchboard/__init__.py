"""Wire-faithful Asterisk emulator for tests, demo and load: AMI server, dialplan, app_queue,
FastAGI channels, simulated callers and operators."""

from switchboard.ami_server import AmiUser
from switchboard.board import (
    CallerView,
    CallHandle,
    CallOutcome,
    ChannelView,
    MemberView,
    QueueView,
    Switchboard,
    Truth,
)
from switchboard.chanspy import SpySession
from switchboard.clock import Clock
from switchboard.events import AmiEvent
from switchboard.fastagi import CallerScript
from switchboard.people import CalledParty, Softphone
from switchboard.queue_log import QueueLogConfig, QueueLogEntry
from switchboard.queues import QueueConfig, StaticMember, default_queues

__all__ = [
    "AmiEvent",
    "AmiUser",
    "CallHandle",
    "CallOutcome",
    "CalledParty",
    "CallerScript",
    "CallerView",
    "ChannelView",
    "Clock",
    "MemberView",
    "QueueConfig",
    "QueueLogConfig",
    "QueueLogEntry",
    "QueueView",
    "Softphone",
    "SpySession",
    "StaticMember",
    "Switchboard",
    "Truth",
    "default_queues",
]
