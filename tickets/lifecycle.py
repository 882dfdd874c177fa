"""The ticket lifecycle: which action is allowed in which status, and who may take it.

new → classified → forwarded (to an agency) → accepted → responded → closed (satisfied,
unsatisfied or no answer). A closed or responded ticket can be reopened (back to its agency);
a forwarded or accepted one reassigned to another agency. Operators may close a ticket they
answered on the call (information, administrative procedures). Merged and transferred tickets
are final: their history continues on the ticket they were merged into or transferred to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tickets.errors import InvalidTransition
from tickets.events import EventKind
from tickets.model import Role, TicketStatus

S = TicketStatus


class Action(StrEnum):
    CLASSIFY = "classify"
    FORWARD = "forward"
    ACCEPT = "accept"
    RESPOND = "respond"
    CLOSE = "close"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    MERGE = "merge"
    TRANSFER = "transfer"


class Closure(StrEnum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    NO_ANSWER = "no_answer"


OPEN_STATUSES = frozenset({S.NEW, S.CLASSIFIED, S.FORWARDED, S.ACCEPTED, S.RESPONDED})
FINAL_STATUSES = frozenset({S.MERGED, S.TRANSFERRED})

STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
AGENCY_SIDE = frozenset({Role.AGENCY, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[TicketStatus]
    target: TicketStatus
    roles: frozenset[Role]


TRANSITIONS: dict[Action, Transition] = {
    Action.CLASSIFY: Transition(frozenset({S.NEW, S.CLASSIFIED}), S.CLASSIFIED, STAFF),
    Action.FORWARD: Transition(frozenset({S.NEW, S.CLASSIFIED}), S.FORWARDED, STAFF),
    Action.ACCEPT: Transition(frozenset({S.FORWARDED}), S.ACCEPTED, AGENCY_SIDE),
    Action.RESPOND: Transition(frozenset({S.FORWARDED, S.ACCEPTED}), S.RESPONDED, AGENCY_SIDE),
    Action.CLOSE: Transition(frozenset({S.NEW, S.CLASSIFIED, S.RESPONDED}), S.CLOSED, STAFF),
    Action.REOPEN: Transition(frozenset({S.RESPONDED, S.CLOSED}), S.FORWARDED, STAFF),
    Action.REASSIGN: Transition(
        frozenset({S.FORWARDED, S.ACCEPTED}), S.FORWARDED, frozenset({Role.SUPERVISOR, Role.ADMIN})
    ),
    Action.MERGE: Transition(OPEN_STATUSES, S.MERGED, STAFF),
    Action.TRANSFER: Transition(OPEN_STATUSES, S.TRANSFERRED, STAFF),
}


# The event each action leaves on the timeline.
EVENT_OF: dict[Action, EventKind] = {
    Action.CLASSIFY: EventKind.CLASSIFY,
    Action.FORWARD: EventKind.FORWARD,
    Action.ACCEPT: EventKind.ACCEPT,
    Action.RESPOND: EventKind.RESPOND,
    Action.CLOSE: EventKind.CLOSE,
    Action.REOPEN: EventKind.REOPEN,
    Action.REASSIGN: EventKind.REASSIGN,
    Action.MERGE: EventKind.MERGE,
    Action.TRANSFER: EventKind.TRANSFERRED,
}


def next_status(current: TicketStatus, action: Action, role: Role) -> TicketStatus:
    """The status after ``action``; raises ``InvalidTransition`` when not allowed."""
    transition = TRANSITIONS[action]
    if role not in transition.roles:
        raise InvalidTransition(f"the {role.value} role may not {action.value} a ticket")
    if current not in transition.sources:
        allowed = ", ".join(sorted(s.value for s in transition.sources))
        raise InvalidTransition(
            f"cannot {action.value} a ticket that is {current.value} (allowed from: {allowed})"
        )
    return transition.target
