"""The OpenAPI 3.1 document covers every route, and schemathesis, fuzzing every operation it
describes with the token of each role, gets no 5xx from the running service."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from hotline.web.openapi import OPENAPI_PATH
from tests.support.browser import PASSWORD
from tests.support.live import Live, live_hotline
from tests.support.service import RunningService
from tickets.model import Role

EXAMPLES = int(os.environ.get("HOTLINE_SCHEMATHESIS_EXAMPLES", "8"))


async def _document(service: RunningService) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:
        async with http.get(service.http_url + OPENAPI_PATH) as reply:
            assert reply.status == 200
            document: dict[str, object] = await reply.json()
    return document


async def test_given_the_router_when_the_document_is_served_then_every_route_is_in_it(
    service: RunningService,
) -> None:
    document = await _document(service)
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    assert isinstance(paths, dict)
    missing = []
    for route in service.app.router.routes():
        resource = route.resource
        if resource is None or resource.name == "static" or route.method == "HEAD":
            continue
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if route.method.lower() not in paths.get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == []
    operations = [op for ops in paths.values() for op in ops.values()]
    assert len({op["operationId"] for op in operations}) == len(operations)
    for op in operations:
        assert op["summary"]
        assert "default" in op["responses"]
    tickets = paths["/api/v1/tickets"]["get"]
    assert tickets["x-roles"] == ["admin", "operator", "supervisor"]
    assert {p["name"] for p in tickets["parameters"]} == {"phone", "limit", "offset"}
    action = paths["/api/v1/operators/me/{action}"]["post"]["parameters"][0]
    assert action["schema"]["enum"] == ["login", "logout", "pause", "unpause"]
    assert paths["/healthz"]["get"]["security"] == []
    metrics = paths["/metrics"]["get"]
    assert metrics["x-roles"] == ["admin", "supervisor"]  # from outside HOTLINE_METRICS_ALLOW
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain; version=0.0.4"]


async def _agency_token(live: Live) -> str:
    auth = AuthService(PostgresUserRepository(live.service.pool), token_ttl=timedelta(hours=1))
    await auth.add_user("fuzz_agency", PASSWORD, Role.AGENCY, "UBND-P1")
    token = (await auth.login("fuzz_agency", PASSWORD)).token
    assert token is not None
    return token


async def _schemathesis(url: str, token: str, report: Path) -> int:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        url + OPENAPI_PATH,
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        # logging out would end the token every later request of the run is made with
        "--exclude-path",
        "/api/v1/auth/logout",
        # one worker: CPython 3.11.7's ast.parse (which hypothesis calls to describe schemathesis'
        # filters) races between threads and raises "AST constructor recursion depth mismatch"
        # (python/cpython#106905, fixed in 3.11.8)
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        "--no-color",
        stdout=report.open("wb"),
        stderr=asyncio.subprocess.STDOUT,
        cwd=report.parent,  # schemathesis keeps its state in ./.schemathesis
    )
    return await process.wait()


@pytest.mark.timeout(900)
async def test_given_every_role_when_schemathesis_fuzzes_the_api_then_no_request_gets_a_5xx(
    database_url: str, tmp_path: Path
) -> None:
    """Against the service connected to the emulator, so the queue and operator routes answer
    for real (without Asterisk they would rightly say 503)."""
    users = {"fuzz_admin": Role.ADMIN, "fuzz_sup": Role.SUPERVISOR, "fuzz_op": Role.OPERATOR}
    async with live_hotline(database_url, tmp_path, seed=11, users=users) as live:
        tokens = {**{name: live.tokens[name] for name in users}}
        tokens["fuzz_agency"] = await _agency_token(live)
        failures = []
        for name, token in tokens.items():
            report = tmp_path / f"{name}.txt"
            code = await _schemathesis(live.service.http_url, token, report)
            if code != 0:
                failures.append(f"--- as {name} (exit {code}) ---\n{report.read_text()[-8000:]}")
    assert failures == [], "\n".join(failures)
