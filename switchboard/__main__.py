"""A standalone emulated Asterisk for manual tests and demos:

    python -m switchboard --ami-port 5038 --agi-port 4573 --operators 1001,1002 --scale 1

AMI user/secret from ``--user``/``--secret`` (read and write: everything). Operators are
registered softphones; with ``--login`` they are also members of both queues (otherwise the
operator console logs them in over AMI, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from switchboard.board import ASTERISK_VERSION, Switchboard
from switchboard.clock import Clock
from switchboard.people import Softphone
from switchboard.traffic import TrafficProfile

logger = logging.getLogger(__name__)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m switchboard", description=__doc__)
    parser.add_argument("--ami-host", default="127.0.0.1")
    parser.add_argument("--ami-port", type=int, default=5038)
    parser.add_argument("--agi-host", default="127.0.0.1")
    parser.add_argument("--agi-port", type=int, default=4573)
    parser.add_argument("--user", default="hotline-backend")
    parser.add_argument("--secret", default="secret")
    parser.add_argument("--scale", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--operators", default="1001,1002", help="comma-separated endpoints")
    parser.add_argument("--login", action="store_true", help="add operators to both queues")
    parser.add_argument("--calls-per-hour", type=float, default=0.0)
    parser.add_argument("--recordings", type=Path, default=Path("recordings"))
    parser.add_argument("--sounds", type=Path, default=Path("asterisk_conf/sounds"))
    parser.add_argument(
        "--asterisk-version", default=ASTERISK_VERSION, help="e.g. 21.12.0: no ANSWEREDTIME"
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    board = Switchboard(
        agi_host=args.agi_host,
        agi_port=args.agi_port,
        recordings_dir=args.recordings,
        sounds_dir=args.sounds if args.sounds.exists() else None,
        ami_users={args.user: (args.secret, {"read": {"all"}, "write": {"all"}})},
        clock=Clock(scale=args.scale),
        seed=args.seed,
        asterisk_version=args.asterisk_version,
    )
    await board.start(args.ami_host, args.ami_port)
    try:
        for endpoint in filter(None, args.operators.split(",")):
            phone = board.add_softphone(Softphone(endpoint.strip(), talk_time=(20.0, 120.0)))
            if args.login:
                for queue in board.app_queue.queues:
                    board.app_queue.add_member(queue, phone.interface)
        if args.calls_per_hour > 0:
            board.start_traffic(TrafficProfile(calls_per_hour=args.calls_per_hour))
        logger.info("switchboard ready: AMI %s:%d", args.ami_host, board.ami_port)
        await asyncio.Event().wait()
    finally:
        await board.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse(argv)))


if __name__ == "__main__":
    main()
