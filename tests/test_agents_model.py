"""The live model from Asterisk 20's queue events (field names and units of reference §3.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.events import AmiEvent
from agents.model import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallerJoined,
    LiveModel,
    RingNoAnswer,
)
from agents.stats import interval_start, summarise

T0 = datetime(2026, 11, 26, 8, 7, 30, tzinfo=UTC)
QUEUE = "hotline-1022"


def ev(name: str, seconds: float = 0, **fields: object) -> AmiEvent:
    return AmiEvent.of(
        {"Event": name, **{k: str(v) for k, v in fields.items()}}, T0 + timedelta(seconds=seconds)
    )


def member(name: str, seconds: float = 0, **fields: object) -> AmiEvent:
    base = {
        "Queue": QUEUE,
        "MemberName": "lan",
        "Interface": "PJSIP/op101",
        "StateInterface": "PJSIP/op101",
        "Membership": "dynamic",
        "Penalty": 0,
        "CallsTaken": 0,
        "LastCall": 0,
        "LastPause": 0,
        "LoginTime": 0,
        "InCall": 0,
        "Status": 1,
        "Paused": 0,
        "PausedReason": "",
        "Ringinuse": 0,
        "Wrapuptime": 15,
    }
    return ev(name, seconds, **{**base, **fields})


def caller(name: str, seconds: float = 0, **fields: object) -> AmiEvent:
    base = {
        "Channel": "PJSIP/telco-00000001",
        "CallerIDNum": "0901234567",
        "Uniqueid": "1795707346.1",
        "Linkedid": "1795707346.1",
        "Queue": QUEUE,
    }
    return ev(name, seconds, **{**base, **fields})


def test_given_an_answered_call_when_its_events_arrive_then_the_model_follows_join_connect_complete() -> (
    None
):
    model = LiveModel([QUEUE])
    model.apply(member("QueueMemberAdded"))

    joined = model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1))
    model.apply(caller("AgentCalled", 1, Interface="PJSIP/op101", MemberName="lan"))
    model.apply(member("QueueMemberStatus", 1, Status=6))
    assert model.operator_view("PJSIP/op101", T0 + timedelta(seconds=2))["state"] == "ringing"
    model.apply(caller("QueueCallerLeave", 9, Position=1, Count=0))
    answered = model.apply(
        caller("AgentConnect", 9, Interface="PJSIP/op101", MemberName="lan", HoldTime=9, RingTime=8)
    )
    model.apply(member("QueueMemberStatus", 9, Status=2, InCall=1))
    on_call = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=30))
    completed = model.apply(
        caller(
            "AgentComplete",
            129,
            Interface="PJSIP/op101",
            MemberName="lan",
            HoldTime=9,
            TalkTime=120,
            Reason="caller",
        )
    )
    model.apply(member("QueueMemberStatus", 129, Status=1, InCall=0, CallsTaken=1))

    assert isinstance(joined[0], CallerJoined)
    assert joined[0].caller == "0901234567"
    assert next(o for o in answered if isinstance(o, CallAnswered)).hold_seconds == 9
    assert on_call["state"] == "on_call"
    assert on_call["current_call"] == "1795707346.1"
    assert next(o for o in completed if isinstance(o, CallCompleted)).talk_seconds == 120
    after = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=130))
    assert after["state"] == "wrap_up"  # Wrapuptime 15 s after the call
    assert after["calls_handled"] == 1
    available = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=150))
    # available since the wrap-up ran out (129 + 15 s), not since the view was built
    assert (available["state"], available["seconds_in_state"]) == ("available", 6)
    assert model.queue_view(QUEUE, T0 + timedelta(seconds=130))["waiting"] == []


def test_given_a_caller_who_gives_up_when_abandon_then_hangup_arrive_then_it_is_abandoned_at_the_hangup() -> (
    None
):
    model = LiveModel([QUEUE])
    model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1))
    view = model.queue_view(QUEUE, T0 + timedelta(seconds=40))
    assert view["waiting"][0]["wait_seconds"] == 40
    assert view["longest_wait_seconds"] == 40

    at_abandon = model.apply(
        caller("QueueCallerAbandon", 42, Position=1, OriginalPosition=1, HoldTime=42)
    )
    model.apply(caller("QueueCallerLeave", 42, Position=1, Count=0))
    outcomes = model.apply(caller("Hangup", 42, Cause=16))

    assert not [o for o in at_abandon if isinstance(o, CallAbandoned)]
    abandoned = [o for o in outcomes if isinstance(o, CallAbandoned)]
    assert abandoned[0].hold_seconds == 42
    assert abandoned[0].caller == "0901234567"
    assert model.queue_view(QUEUE, T0 + timedelta(seconds=43))["waiting"] == []


def test_given_a_queue_timeout_when_the_caller_is_queued_again_and_answered_then_never_abandoned() -> (
    None
):
    """app_queue.c queue_exec (Asterisk 20): the Queue() timeout runs record_abandoned, so
    QueueCallerAbandon + QueueCallerLeave come although the channel stays up; the dialplan
    queues the caller again."""
    model = LiveModel([QUEUE], wrapup={QUEUE: 15})
    model.apply(member("QueueMemberAdded", Wrapuptime=0))
    first = model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1))
    model.apply(caller("QueueCallerAbandon", 600, Position=1, OriginalPosition=1, HoldTime=600))
    model.apply(caller("QueueCallerLeave", 600, Position=1, Count=0))
    again = model.apply(caller("QueueCallerJoin", 600, Position=1, Count=1))
    model.apply(caller("QueueCallerLeave", 610, Position=1, Count=0))
    again += model.apply(
        caller("AgentConnect", 610, Interface="PJSIP/op101", MemberName="lan", HoldTime=10)
    )
    ended = model.apply(
        caller("AgentComplete", 670, Interface="PJSIP/op101", HoldTime=10, TalkTime=60)
    )
    ended += model.apply(caller("Hangup", 670, Cause=16))

    outcomes = [*first, *again, *ended]
    assert not [o for o in outcomes if isinstance(o, CallAbandoned)]
    assert len([o for o in outcomes if isinstance(o, CallerJoined)]) == 2
    assert [o.hold_seconds for o in outcomes if isinstance(o, CallAnswered)] == [10]
    assert model.unanswered == {}


def test_given_a_waiting_caller_when_transferred_to_the_other_queue_then_not_abandoned_and_received_there() -> (
    None
):
    """A Redirect of a waiting caller: soft hang-up, queue_exec ends with !qe.handled ⇒
    record_abandoned (app_queue.c, Asterisk 20) — then the caller joins the other queue."""
    model = LiveModel([QUEUE, "emergency-115"])
    model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1))
    model.apply(caller("QueueCallerAbandon", 30, Position=1, OriginalPosition=1, HoldTime=30))
    model.apply(caller("QueueCallerLeave", 30, Position=1, Count=0))
    moved = model.apply(caller("QueueCallerJoin", 31, Queue="emergency-115", Position=1, Count=1))
    model.apply(caller("QueueCallerAbandon", 50, Queue="emergency-115", HoldTime=19))
    model.apply(caller("QueueCallerLeave", 50, Queue="emergency-115", Count=0))
    gone = model.apply(caller("Hangup", 50, Cause=16))

    assert [o.queue for o in moved if isinstance(o, CallerJoined)] == ["emergency-115"]
    abandoned = [o for o in gone if isinstance(o, CallAbandoned)]
    assert [(a.queue, a.hold_seconds) for a in abandoned] == [("emergency-115", 19)]


def test_given_a_connected_caller_when_redirected_then_the_first_operators_talk_ends_at_their_hangup() -> (
    None
):
    """Asterisk 20 (app_queue.c handle_hangup, main/pbx.c ast_async_goto): no AgentComplete
    at a Redirect; the first operator's leg hangs up (QueueMemberStatus InCall 0) and their
    AgentComplete comes at the very end, Reason caller, TalkTime covering the whole rest."""
    model = LiveModel([QUEUE, "emergency-115"], wrapup={QUEUE: 15, "emergency-115": 5})
    model.apply(member("QueueMemberAdded", Wrapuptime=0))
    model.apply(
        member("QueueMemberAdded", Queue="emergency-115", Interface="PJSIP/op201", Wrapuptime=0)
    )
    model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1))
    model.apply(caller("QueueCallerLeave", 5, Position=1, Count=0))
    model.apply(
        caller(
            "AgentConnect",
            5,
            Interface="PJSIP/op101",
            DestChannel="PJSIP/op101-00000002",
            HoldTime=5,
        )
    )
    model.apply(member("QueueMemberStatus", 5, Status=2, InCall=1))
    moved = model.apply(
        ev("Hangup", 65, Channel="PJSIP/op101-00000002", Uniqueid="1795707346.2", Cause=16)
    )
    moved += model.apply(member("QueueMemberStatus", 65, Status=1, InCall=0, CallsTaken=1))
    in_wrapup = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=70))
    model.apply(caller("QueueCallerJoin", 66, Queue="emergency-115", Position=1, Count=1))
    model.apply(caller("QueueCallerLeave", 70, Queue="emergency-115", Count=0))
    model.apply(
        caller(
            "AgentConnect",
            70,
            Queue="emergency-115",
            Interface="PJSIP/op201",
            DestChannel="PJSIP/op201-00000004",
            HoldTime=4,
        )
    )
    end = model.apply(
        caller(
            "AgentComplete",
            100,
            Queue="emergency-115",
            Interface="PJSIP/op201",
            HoldTime=4,
            TalkTime=30,
            Reason="caller",
        )
    )
    end += model.apply(
        caller("AgentComplete", 100, Interface="PJSIP/op101", HoldTime=5, TalkTime=95)
    )
    end += model.apply(caller("Hangup", 100, Cause=16))

    first = [o for o in moved if isinstance(o, CallCompleted)]
    assert [(c.interface, c.talk_seconds) for c in first] == [("PJSIP/op101", 60)]
    assert [(c.interface, c.talk_seconds) for c in end if isinstance(c, CallCompleted)] == [
        ("PJSIP/op201", 30)
    ]
    assert not [o for o in [*moved, *end] if isinstance(o, CallAbandoned)]
    assert in_wrapup["state"] == "wrap_up"
    assert in_wrapup["calls_handled"] == 1
    after = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=101))
    assert (after["state"], after["calls_handled"]) == ("available", 1)


def test_given_member_events_with_wrapuptime_0_when_a_call_ends_then_the_queues_wrapup_shows_and_nobody_is_available() -> (
    None
):
    """queue_member_blob_create (app_queue.c, Asterisk 20) reports the member's own
    wrapuptime (0 unless QueueAdd set one); get_wrapuptime falls back to the queue's."""
    model = LiveModel([QUEUE], wrapup={QUEUE: 15})
    model.apply(member("QueueMemberAdded", Wrapuptime=0))
    model.apply(caller("AgentConnect", 0, Interface="PJSIP/op101", HoldTime=1))
    model.apply(member("QueueMemberStatus", 0, Status=2, InCall=1))
    model.apply(caller("AgentComplete", 60, Interface="PJSIP/op101", HoldTime=1, TalkTime=60))
    model.apply(member("QueueMemberStatus", 60, Status=1, InCall=0, CallsTaken=1))

    during = model.queue_view(QUEUE, T0 + timedelta(seconds=70))
    after = model.queue_view(QUEUE, T0 + timedelta(seconds=76))
    assert model.operator_view("PJSIP/op101", T0 + timedelta(seconds=70))["state"] == "wrap_up"
    assert (during["operators_logged_in"], during["operators_available"]) == (1, 0)
    assert after["operators_available"] == 1
    own = LiveModel([QUEUE], wrapup={QUEUE: 15})
    own.apply(member("QueueMemberAdded", Wrapuptime=30))
    own.apply(caller("AgentComplete", 60, Interface="PJSIP/op101", HoldTime=1, TalkTime=60))
    assert own.operator_view("PJSIP/op101", T0 + timedelta(seconds=85))["state"] == "wrap_up"


def test_given_a_ring_no_answer_then_a_pause_when_applied_then_ring_time_is_ms_and_the_operator_is_paused() -> (
    None
):
    model = LiveModel([QUEUE])
    model.apply(member("QueueMemberAdded"))
    outcomes = model.apply(
        caller("AgentRingNoAnswer", 20, Interface="PJSIP/op101", MemberName="lan", RingTime=20000)
    )
    model.apply(member("QueueMemberPause", 20, Paused=1, PausedReason="Auto-Pause"))

    assert [o.ring_ms for o in outcomes if isinstance(o, RingNoAnswer)] == [20000]
    view = model.operator_view("PJSIP/op101", T0 + timedelta(seconds=21))
    assert (view["state"], view["pause_reason"], view["paused"]) == ("paused", "Auto-Pause", True)


def test_given_a_stale_model_when_resynced_from_queue_status_then_ghosts_disappear() -> None:
    model = LiveModel([QUEUE])
    model.apply(member("QueueMemberAdded", Interface="PJSIP/ghost", MemberName="ghost"))
    model.apply(caller("QueueCallerJoin", 0, Position=1, Count=1, Uniqueid="ghost.1"))

    items = [
        AmiEvent.of({"Event": "QueueParams", "Queue": QUEUE, "Calls": "1"}),
        AmiEvent.of(
            {
                "Event": "QueueMember",
                "Queue": QUEUE,
                "Name": "lan",
                "Location": "PJSIP/op101",
                "Status": "1",
                "Paused": "1",
                "PausedReason": "Ăn trưa",
                "InCall": "0",
            }
        ),
        AmiEvent.of(
            {
                "Event": "QueueEntry",
                "Queue": QUEUE,
                "Position": "1",
                "Uniqueid": "real.7",
                "CallerIDNum": "0912000111",
                "Wait": "25",
            }
        ),
    ]
    model.resync(items, T0)

    assert set(model.operators) == {"PJSIP/op101"}
    assert model.operator_view("PJSIP/op101", T0)["pause_reason"] == "Ăn trưa"
    waiting = model.queue_view(QUEUE, T0)["waiting"]
    assert [(w["uniqueid"], w["wait_seconds"]) for w in waiting] == [("real.7", 25)]


def test_given_unknown_or_malformed_events_when_applied_then_nothing_changes() -> None:
    model = LiveModel([QUEUE])
    assert model.apply(ev("RTCPReceived", Channel="x")) == []
    assert model.apply(AmiEvent.of({"Foo": "bar"})) == []
    assert model.apply(ev("QueueCallerLeave", Queue=QUEUE, Uniqueid="never-joined")) == []
    assert model.apply(ev("QueueMemberRemoved", Queue=QUEUE, Interface="PJSIP/nobody")) == []
    assert model.apply(ev("QueueCallerJoin", Queue=QUEUE, Position="abc")) == []  # no Uniqueid
    assert model.queue_view(QUEUE, T0)["waiting"] == []
    hold = model.apply(
        ev("AgentConnect", Queue=QUEUE, Uniqueid="u", HoldTime="x", Interface="PJSIP/x")
    )
    assert [o.hold_seconds for o in hold if isinstance(o, CallAnswered)] == [0]


def test_given_interval_rows_when_summarised_then_service_levels_and_averages_follow() -> None:
    """Three calls offered: a answered after 12 s (talked 100 s), b after 18 s, c gave up
    after 40 s — as the queue_log applier counts them into one interval."""
    assert interval_start(T0) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    zero = dict.fromkeys(
        (
            "received",
            "answered",
            "abandoned",
            "answered_within_1",
            "answered_within_2",
            "hold_seconds_sum",
            "talk_seconds_sum",
            "completed",
            "longest_wait",
        ),
        0,
    )
    rows = [
        {
            **zero,
            "received": 2,
            "answered": 2,
            "answered_within_1": 1,
            "answered_within_2": 2,
            "hold_seconds_sum": 30,
            "longest_wait": 18,
        },
        {**zero, "received": 1, "abandoned": 1, "longest_wait": 40},
        {**zero, "completed": 1, "talk_seconds_sum": 100},
    ]
    summary = summarise(rows)

    assert (summary["received"], summary["answered"], summary["abandoned"]) == (3, 2, 1)
    assert summary["service_level_1"] == round(1 / 3, 4)  # 12 s ≤ 15; 18 s is not; abandon counts
    assert summary["service_level_2"] == round(2 / 3, 4)
    assert summary["asa_seconds"] == 15.0
    assert summary["aht_seconds"] == 100.0
    assert summary["longest_wait"] == 40
