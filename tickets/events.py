"""Every kind of ticket event the code writes (``ticket_events.kind``): one registry, so every
step a person reads on a timeline — the operator's IVR path, the agency's history, the 115
dispatch timeline — has a text in ``hotline/web/locales/events.toml`` (a test walks the two).

Writers take an ``EventKind``, never a string: the IVR's steps (``CallIntake.step``), the back
office's changes (``Change.action``), the speech worker, the agency's notes, Open311 and the
scenario filler."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # the call in the automated menu (ivr/service.py), actor "ivr"
    CALL_STARTED = "call_started"
    CALL_RECORDING = "call_recording"
    NO_INPUT = "no_input"
    MENU_CHOICE = "menu_choice"
    INVALID_CHOICE = "invalid_choice"
    TO_OPERATOR = "to_operator"
    RECORDED = "recorded"
    RECORDING_FAILED = "recording_failed"
    TO_QUEUE = "to_queue"
    CALLER_HUNG_UP = "caller_hung_up"
    SERVICE_STOPPED = "service_stopped"
    FALLBACK = "fallback"
    # a caller who reached a queue without the menu (agents/service.py)
    SEEN_IN_QUEUE = "seen_in_queue"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    # a request made elsewhere (Open311) or by the scenario filler
    CREATED = "created"
    # the lifecycle (tickets/lifecycle.py, tickets/service.py)
    CLASSIFY = "classify"
    FORWARD = "forward"
    ACCEPT = "accept"
    RESPOND = "respond"
    CLOSE = "close"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    REASSIGN_REQUESTED = "reassign_requested"
    MERGE = "merge"
    MERGED_FROM = "merged_from"
    TRANSFERRED = "transferred"
    TRANSFERRED_FROM = "transferred_from"
    ESCALATED = "escalated"
    ATTACHMENT_ADDED = "attachment_added"
    # 115 dispatch (tickets/service.py)
    DISPATCH_REQUESTED = "dispatch_requested"
    DISPATCH_ACCEPTED = "dispatch_accepted"
    DISPATCH_DECLINED = "dispatch_declined"
    DISPATCH_TIMED_OUT = "dispatch_timed_out"
    DISPATCH_FAILED = "dispatch_failed"
    ANSWERED = "answered"
    ON_SCENE = "on_scene"
    COMPLETED = "completed"
    # speech (db/transcripts.py), actor "speech"
    TRANSCRIPT = "transcript"
    TRANSCRIPT_FAILED = "transcript_failed"
    # quality review of the call (db/reviews.py), actor the supervisor
    REVIEWED = "reviewed"
