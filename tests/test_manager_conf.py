"""asterisk_conf/manager.conf grants the backend's AMI user exactly what the code uses: the
write classes of the actions it sends, the read classes of the events it follows, never
``system`` (with it, Originate runs shell commands on the PBX)."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import agents
from agents.model import REQUIRED
from switchboard import Clock, Softphone, Switchboard
from switchboard.ami_server import ACTION_CLASSES
from switchboard.manager_conf import manager_conf_grants
from switchboard.raw_client import RawAmi
from switchboard.testing import EVERYTHING_USER

# The class of each event the service follows: app_queue.c publishes its queue, member and
# agent events with EVENT_FLAG_AGENT (ast_manager_event_blob_create); main/manager_channels.c
# Hangup with EVENT_FLAG_CALL; main/manager.c OriginateResponse (fast_originate) with
# EVENT_FLAG_CALL; main/asterisk.c FullyBooted with EVENT_FLAG_SYSTEM.
FOLLOWED = {name: "agent" for name in REQUIRED} | {
    "Hangup": "call",
    "OriginateResponse": "call",
    "FullyBooted": "system",
}


def actions_sent() -> set[str]:
    """Every ``{"Action": "<name>", …}`` the agents package writes."""
    names: set[str] = set()
    for source in Path(agents.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "Action"
                        and isinstance(value, ast.Constant)
                    ):
                        names.add(str(value.value))
    return names


def test_given_manager_conf_when_parsed_then_the_backend_writes_exactly_the_classes_its_actions_need() -> (
    None
):
    write = manager_conf_grants()["hotline-backend"]["write"]
    sent = actions_sent()
    assert {"Originate", "Redirect", "QueueAdd", "QueueStatus", "CoreShowChannels"} <= sent

    needs = {name: ACTION_CLASSES[name.lower()] for name in sent}
    refused = [name for name, classes in needs.items() if classes and not classes & write]
    assert refused == []
    # least privilege: each class granted is the only way some action is allowed
    for granted in write:
        assert any(classes & write == {granted} for classes in needs.values()), granted
    assert write == {"call", "agent", "originate", "reporting"}
    assert not write & {"system", "all", "command", "config"}


def test_given_manager_conf_when_parsed_then_the_backend_reads_exactly_the_classes_of_the_events_it_follows() -> (
    None
):
    read = manager_conf_grants()["hotline-backend"]["read"]

    assert read == set(FOLLOWED.values()) == {"system", "call", "agent"}


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Switchboard]:
    grants = manager_conf_grants()["hotline-backend"]
    no_originate = {"read": grants["read"], "write": grants["write"] - {"originate"}}
    board = Switchboard(
        recordings_dir=tmp_path,
        ami_users={
            "hotline": ("secret", grants),
            "admin": EVERYTHING_USER,
            "reader": ("secret", no_originate),
        },
        clock=Clock(scale=50.0),
    )
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=1.0))
    await board.start()
    yield board
    await board.stop()


async def originate(board: Switchboard, user: str, application: str, data: str) -> str:
    ami = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await ami.login(user, "secret", events="off")
        reply = await ami.action(
            "Originate",
            ("Channel", "PJSIP/op101"),
            ("Application", application),
            ("Data", data),
            ("Async", "true"),
        )
    finally:
        await ami.close()
    return str(reply["Message"])


@pytest.mark.parametrize(
    ("application", "data"),
    [
        ("System", "touch /tmp/owned"),
        ("TrySystem", "id"),
        ("Exec", "System(id)"),
        ("AGI", "agi://attacker/x"),
        ("NoOp", "${SHELL(id)}"),
        ("Queue", "hotline-1022,,,,,agi://attacker/x"),
    ],
)
async def test_given_the_backends_user_when_it_originates_a_shell_then_asterisk_forbids_it(
    board: Switchboard, application: str, data: str
) -> None:
    """main/manager.c ``action_originate`` → ``is_originate_app_permitted``: these
    applications (and SHELL/EVAL/… in the data, Queue with its AGI argument) need the
    ``system`` write class, which manager.conf does not grant."""
    assert await originate(board, "hotline", application, data) == (
        "Originate Access Forbidden: app or data blacklisted"
    )
    assert await originate(board, "admin", application, data) == "Originate successfully queued"


async def test_given_the_backends_user_when_it_originates_chanspy_then_it_is_queued(
    board: Switchboard,
) -> None:
    """main/manager.c ``is_originate_app_permitted``: ChanSpy matches no restricted entry, so
    ``originate`` alone lets the supervisors' listen/whisper/barge through."""
    assert await originate(board, "hotline", "ChanSpy", "PJSIP/op102-,bqES") == (
        "Originate successfully queued"
    )


async def test_given_a_user_without_originate_when_it_originates_then_permission_denied(
    board: Switchboard,
) -> None:
    """main/manager.c ``process_message``: an action registered with EVENT_FLAG_ORIGINATE
    needs ``originate`` in the user's write classes, else "Permission denied"."""
    assert await originate(board, "reader", "ChanSpy", "PJSIP/op102-,bqES") == "Permission denied"
