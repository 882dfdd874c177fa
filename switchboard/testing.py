"""Helpers for tests that drive the switchboard: the AMI users of manager.conf, the snapshot
field order of reference §3.4 and the queue blobs of §3.5, and an event-order check."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from switchboard.manager_conf import manager_conf_grants
from switchboard.raw_client import Message

# The backend's user exactly as asterisk_conf/manager.conf grants it.
BACKEND_USER = ("secret", manager_conf_grants()["hotline-backend"])
EVERYTHING_USER = ("secret", {"read": {"all"}, "write": {"all"}})
SNAPSHOT_KEYS = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
]
DEST_KEYS = [f"Dest{key}" for key in SNAPSHOT_KEYS]
MEMBER_KEYS = [
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
]
HEAD = ["Event", "Privilege"]
EVENT_KEYS = {
    "QueueCallerJoin": [*HEAD, *SNAPSHOT_KEYS, "Queue", "Position", "Count"],
    "QueueCallerLeave": [*HEAD, *SNAPSHOT_KEYS, "Queue", "Position", "Count"],
    "QueueCallerAbandon": [
        *HEAD,
        *SNAPSHOT_KEYS,
        "Queue",
        "Position",
        "OriginalPosition",
        "HoldTime",
    ],
    "AgentCalled": [*HEAD, *SNAPSHOT_KEYS, *DEST_KEYS, "Queue", "Interface", "MemberName"],
    "AgentRingNoAnswer": [
        *HEAD,
        *SNAPSHOT_KEYS,
        *DEST_KEYS,
        "Queue",
        "Interface",
        "MemberName",
        "RingTime",
    ],
    "AgentConnect": [
        *HEAD,
        *SNAPSHOT_KEYS,
        *DEST_KEYS,
        "Queue",
        "Interface",
        "MemberName",
        "HoldTime",
        "RingTime",
    ],
    "AgentComplete": [
        *HEAD,
        *SNAPSHOT_KEYS,
        *DEST_KEYS,
        "Queue",
        "Interface",
        "MemberName",
        "HoldTime",
        "TalkTime",
        "Reason",
    ],
    "QueueMemberStatus": [*HEAD, *MEMBER_KEYS],
    "QueueMemberAdded": [*HEAD, *MEMBER_KEYS],
    "QueueMemberRemoved": [*HEAD, *MEMBER_KEYS],
    "QueueMemberPause": [*HEAD, *MEMBER_KEYS],
    "QueueMemberPenalty": [*HEAD, *MEMBER_KEYS],
    "Newchannel": [*HEAD, *SNAPSHOT_KEYS],
    "Newstate": [*HEAD, *SNAPSHOT_KEYS],
    "Hangup": [*HEAD, *SNAPSHOT_KEYS, "Cause", "Cause-txt"],
    "DialBegin": [*HEAD, *SNAPSHOT_KEYS, *DEST_KEYS, "DialString"],
    "DialEnd": [*HEAD, *SNAPSHOT_KEYS, *DEST_KEYS, "DialStatus"],
}

Matcher = tuple[str, Callable[[Message], bool]]


def is_event(name: str, **fields: str) -> Matcher:
    def match(message: Message) -> bool:
        return message.event == name and all(
            (message.get(key) or "").startswith(value) for key, value in fields.items()
        )

    label = name + "".join(f" {k}={v}" for k, v in fields.items())
    return label, match


def find_in_order(messages: Sequence[Message], matchers: Sequence[Matcher]) -> list[Message]:
    """The messages matching each matcher in turn, each after the previous one; raises
    AssertionError naming the first matcher not found."""
    found: list[Message] = []
    index = 0
    for label, match in matchers:
        while index < len(messages) and not match(messages[index]):
            index += 1
        if index == len(messages):
            seen = [m.event for m in messages]
            raise AssertionError(f"{label} not found after {[m.event for m in found]}: {seen}")
        found.append(messages[index])
        index += 1
    return found
