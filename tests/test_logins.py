"""Logins against the real service: failed logins make one (name, address) pair wait, with a
delay that grows, and never lock a name out from elsewhere; a name that does not exist is
answered exactly like one that does; the client address is the peer's, or behind a trusted
proxy the one ``X-Forwarded-For`` names (for logins and every rate limit, the lookup's too,
which is also kept per ticket code). A new password, a demo restart and the API's logout end
tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp
import asyncpg
import pytest
from argon2 import PasswordHasher

from db.users import PostgresUserRepository
from hotline.auth import AuthService, LoginDelay, LoginStatus, TokenKind
from hotline.emulated.demo import _demo_user
from hotline.keys import AUTH
from tests.support.browser import PASSWORD, add_user
from tests.support.service import RunningService, running_service, service_settings
from tickets.model import Role

PROXY = "127.0.0.1"  # the tests' own address: the service is told it is a trusted proxy
WRONG = "sai-mật-khẩu-123"


@pytest.fixture
async def proxied(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service behind a reverse proxy: it reads X-Forwarded-For from 127.0.0.1."""
    settings = service_settings(
        database_url, tmp_path, trusted_proxies=f"{PROXY}/32", login_attempts_per_minute=100
    )
    async with running_service(settings) as service:
        await add_user(service, "lan", Role.OPERATOR)
        yield service


async def login(
    service: RunningService,
    username: str,
    password: str,
    client: str | None = None,
    **extra_headers: str,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"X-Forwarded-For": client} if client else {}
    headers |= {k.replace("_", "-"): v for k, v in extra_headers.items()}
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.post(
            "/api/v1/auth/login",
            json={"username": username, "password": password},
            headers=headers,
        ) as reply:
            return reply.status, await reply.json(), dict(reply.headers)


def shape(answer: tuple[int, dict[str, Any], dict[str, str]]) -> tuple[int, str | None, bool]:
    status, body, headers = answer
    return status, body.get("error_id"), "Retry-After" in headers


async def test_given_five_wrong_passwords_from_one_address_when_the_operator_logs_in_elsewhere_then_only_that_address_waits(
    proxied: RunningService,
) -> None:
    attacker, desk = "203.0.113.7", "10.1.2.3"

    failures = [shape(await login(proxied, "lan", WRONG, attacker)) for _ in range(5)]
    right_from_attacker = await login(proxied, "lan", PASSWORD, attacker)
    from_the_desk = await login(proxied, "lan", PASSWORD, desk)

    assert failures == [(401, "invalid-credentials", False)] * 5
    assert shape(right_from_attacker) == (429, "login-delayed", True)
    assert 1 <= int(right_from_attacker[2]["Retry-After"]) <= 30
    assert from_the_desk[0] == 200  # the operator is never locked out by someone else


async def test_given_an_unknown_name_when_it_fails_as_often_then_every_answer_is_the_same_as_for_a_real_name(
    proxied: RunningService,
) -> None:
    real = [shape(await login(proxied, "lan", WRONG, "198.51.100.1")) for _ in range(7)]
    unknown = [shape(await login(proxied, "nobody", WRONG, "198.51.100.2")) for _ in range(7)]
    switched_off = await add_user(proxied, "old", Role.OPERATOR)
    await proxied.pool.execute("UPDATE users SET active = false WHERE id = $1", switched_off.id)
    inactive = [shape(await login(proxied, "old", PASSWORD, "198.51.100.3")) for _ in range(7)]

    assert real == unknown == inactive
    assert real == [(401, "invalid-credentials", False)] * 5 + [(429, "login-delayed", True)] * 2


async def test_given_a_pair_that_keeps_failing_when_each_wait_ends_then_the_next_wait_is_twice_as_long(
    proxied: RunningService,
) -> None:
    client = "192.0.2.50"
    waits: list[int] = []
    for _ in range(3):
        for _ in range(5 if not waits else 1):
            await login(proxied, "lan", WRONG, client)
        until = await proxied.pool.fetchval(
            "SELECT blocked_until FROM login_failures WHERE username = 'lan' AND address = $1",
            client,
        )
        waits.append(round((until - datetime.now(UTC)).total_seconds() / 30))
        await proxied.pool.execute(  # time passes: the wait is over
            "UPDATE login_failures SET blocked_until = now() - interval '1 second'"
        )
    success = await login(proxied, "lan", PASSWORD, client)
    left = await proxied.pool.fetchval("SELECT count(*) FROM login_failures")

    assert waits == [1, 2, 4]  # 30 s, 60 s, 120 s
    assert success[0] == 200
    assert left == 0  # a success forgets the pair's failures


def test_given_the_delay_rule_when_failures_grow_then_it_doubles_up_to_its_ceiling() -> None:
    delay = LoginDelay()

    waits = [delay.after(n) for n in range(1, 12)]

    assert waits[:4] == [None] * 4
    assert waits[4:8] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert waits[-1] == timedelta(minutes=15)
    assert delay.after(10_000) == timedelta(minutes=15)


async def test_given_forwarded_for_headers_when_the_peer_is_not_a_trusted_proxy_then_they_are_ignored(
    service: RunningService,
) -> None:
    """Without ``HOTLINE_TRUSTED_PROXIES`` a client cannot pick its own address."""
    await add_user(service, "lan", Role.OPERATOR)

    answers = [shape(await login(service, "lan", WRONG, f"203.0.113.{n}")) for n in range(1, 8)]

    assert answers == [(401, "invalid-credentials", False)] * 5 + [(429, "login-delayed", True)] * 2
    addresses = await service.pool.fetch("SELECT DISTINCT address FROM login_failures")
    assert [r["address"] for r in addresses] == ["127.0.0.1"]


async def test_given_a_chain_of_proxies_when_a_client_forges_the_left_entries_then_the_nearest_untrusted_address_counts(
    proxied: RunningService,
) -> None:
    await login(proxied, "lan", WRONG, "6.6.6.6, 198.51.100.9")  # what the proxy appended
    await login(proxied, "lan", WRONG, "7.7.7.7, 198.51.100.9, 127.0.0.1")  # a second proxy
    await login(proxied, "lan", WRONG, "not-an-address")

    rows = await proxied.pool.fetch("SELECT address, failures FROM login_failures ORDER BY address")
    assert [(r["address"], r["failures"]) for r in rows] == [
        ("127.0.0.1", 1),  # a malformed entry: the proxy's own address is used
        ("198.51.100.9", 2),
    ]


async def test_given_citizens_behind_one_nat_when_each_looks_up_their_own_ticket_then_each_has_their_own_limit(
    proxied: RunningService,
) -> None:
    for code in ("1022-26-000101", "1022-26-000102"):
        await proxied.pool.execute(
            "INSERT INTO tickets (code, line, category, caller_phone, caller_raw)"
            " VALUES ($1, '1022', 'unclassified', '+84905551234', '0905551234')",
            code,
        )

    async def lookup(code: str, client: str) -> int:
        async with aiohttp.ClientSession(base_url=proxied.http_url) as http:
            async with http.get(
                "/api/v1/public/lookup",
                params={"code": code, "last4": "1234"},
                headers={"X-Forwarded-For": client},
            ) as reply:
                return reply.status

    nat, elsewhere = "100.64.0.1", "100.64.0.2"
    first = [await lookup("1022-26-000101", nat) for _ in range(10)]
    eleventh = await lookup("1022-26-000101", nat)
    neighbour = await lookup("1022-26-000102", nat)  # another citizen behind the same NAT
    other_client = await lookup("1022-26-000101", elsewhere)
    # 12 lookups so far from the NAT; 60 a minute from one address whatever the code
    rest = [await lookup(f"1022-26-{n:06d}", nat) for n in range(200, 249)]

    assert first == [200] * 10
    assert eleventh == 429
    assert neighbour == 200
    assert other_client == 200
    assert rest == [404] * 48 + [429]


# ---------------------------------------------------------------- argon2 off the event loop


class HashesWhileTheLoopRuns(PasswordHasher):
    """argon2 that hashes and checks only once the event loop has run a coroutine meanwhile:
    called on the loop's own thread it would wait for the loop it blocks, and gives up."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.calls = 0

    def _loop_answers(self) -> None:
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(timeout=10)
        self.calls += 1

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._loop_answers()
        return super().hash(password, salt=salt)

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self._loop_answers()
        return super().verify(hash, password)


async def test_given_logins_and_new_passwords_when_argon2_works_then_the_event_loop_goes_on_meanwhile(
    pool: asyncpg.Pool,
) -> None:
    hasher = HashesWhileTheLoopRuns(asyncio.get_running_loop())
    auth = AuthService(PostgresUserRepository(pool), token_ttl=timedelta(hours=1), hasher=hasher)

    await auth.add_user("lan", PASSWORD, Role.OPERATOR)
    right = await auth.login("lan", PASSWORD)
    wrong = await auth.login("lan", WRONG)
    unknown = await auth.login("không_có", PASSWORD)
    replaced = await auth.set_password("lan", PASSWORD + "-mới")

    assert [right.status, wrong.status, unknown.status] == [
        LoginStatus.OK,
        LoginStatus.INVALID,
        LoginStatus.INVALID,
    ]
    assert replaced
    assert hasher.calls == 6  # hash, 3 checks, the unknown name's stand-in hash, hash


# ---------------------------------------------------------------- tokens that end


async def test_given_a_password_set_again_when_the_demo_restarts_then_old_tokens_and_sessions_end(
    service: RunningService,
) -> None:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    password = await _demo_user(auth, "demo_op", Role.OPERATOR)
    token = (await auth.login("demo_op", password)).token
    session = (await auth.login("demo_op", password, TokenKind.SESSION)).token
    assert token is not None
    assert session is not None

    again = await _demo_user(auth, "demo_op", Role.OPERATOR)  # the next `hotline demo`

    assert await auth.authenticate(token) is None
    assert await auth.authenticate(session, TokenKind.SESSION) is None
    assert (await auth.login("demo_op", again)).status is LoginStatus.OK


async def test_given_an_administrator_when_passwords_change_then_other_tokens_end_and_the_asking_one_stays(
    service: RunningService,
) -> None:
    await add_user(service, "boss", Role.ADMIN)
    await add_user(service, "lan", Role.OPERATOR)
    auth = service.app[AUTH]
    asking, other_admin_token, operator_token = [
        (await auth.login(name, PASSWORD)).token for name in ("boss", "boss", "lan")
    ]
    assert asking is not None
    assert other_admin_token is not None
    assert operator_token is not None

    async def call(method: str, path: str, token: str, body: Any = None) -> int:
        async with aiohttp.ClientSession(base_url=service.http_url) as http:
            async with http.request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as reply:
                return reply.status

    own = await call("PATCH", "/api/v1/users/boss", asking, {"password": "mật-khẩu-mới-9876"})
    other = await call("PATCH", "/api/v1/users/lan", asking, {"password": "mật-khẩu-mới-5432"})

    assert (own, other) == (200, 200)
    assert await call("GET", "/api/v1/users", asking) == 200  # the one that asked stays
    assert await call("GET", "/api/v1/users", other_admin_token) == 401
    assert await call("GET", "/api/v1/callbacks", operator_token) == 401


async def test_given_a_token_or_a_session_when_logged_out_through_the_api_then_it_no_longer_works(
    service: RunningService,
) -> None:
    await add_user(service, "lan", Role.OPERATOR)
    auth = service.app[AUTH]
    token = (await auth.login("lan", PASSWORD)).token
    session = (await auth.login("lan", PASSWORD, TokenKind.SESSION)).token
    assert token is not None
    assert session is not None
    bearer = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.post("/api/v1/auth/logout", headers=bearer) as reply:
            logged_out = reply.status
        async with http.get("/api/v1/callbacks", headers=bearer) as reply:
            after = reply.status
    cookie = {"Cookie": f"hotline_session={session}"}
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.post("/api/v1/auth/logout", headers=cookie) as reply:
            without_csrf = reply.status
        async with http.get("/api/v1/auth/session", headers=cookie) as reply:
            csrf = (await reply.json())["csrf"]
        async with http.post(
            "/api/v1/auth/logout", headers=cookie | {"X-CSRF-Token": csrf}
        ) as reply:
            session_out, cleared = reply.status, reply.headers.get("Set-Cookie", "")
        async with http.get("/api/v1/callbacks", headers=cookie) as reply:
            session_after = reply.status

    assert (logged_out, after) == (204, 401)
    assert without_csrf == 403  # a session's logout is a write like any other
    assert session_out == 204
    assert "hotline_session=" in cleared
    assert session_after == 401
