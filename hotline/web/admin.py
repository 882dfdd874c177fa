"""The administrator console (``/admin``) and the routes only it needs beyond the back office's
reference data: user accounts and roles, and the IVR prompt texts. Every change is audited in
``admin_audit`` with the reference data's (listed by ``GET /api/v1/audit``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from db.users import AccountChange, UserAccount, UserNotFound
from hotline.auth import MAX_USERNAME, InvalidUser, token_hash
from hotline.keys import AUTH, MENU, PROMPTS, PROVINCE, SETTINGS, USERS
from hotline.web.errors import ApiError
from hotline.web.http import MAX_PAGE, USER, int_param, json_object, presented_token, requires
from hotline.web.openapi import describe
from hotline.web.pages import page, render
from ivr.menu import MenuFile
from ivr.prompts import SOUND_FOLDER
from tickets.agencies import AGENCY_KINDS
from tickets.model import Line, Role

MAX_PASSWORD = 256
MAX_PROMPT_TEXT = 2000
LANGS = ("vi", "en")

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password", "role"],
    "properties": {
        "username": {"type": "string", "maxLength": MAX_USERNAME},
        "password": {"type": "string", "maxLength": MAX_PASSWORD},
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "agency_code": {"type": "string", "description": "agency role only (null: none)"},
    },
}
CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "agency_code": {"type": "string", "description": "agency role only (null: none)"},
        "active": {"type": "boolean"},
        "password": {"type": "string", "maxLength": MAX_PASSWORD},
    },
}


def _string(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid-request", f"{name}: a non-empty string is required")
    if len(value) > limit:
        raise ApiError(400, "invalid-request", f"{name}: at most {limit} characters")
    return value


def _role(value: Any) -> Role:
    try:
        return Role(value)
    except ValueError as err:
        roles = ", ".join(r.value for r in Role)
        raise ApiError(400, "invalid-request", f"role: one of {roles}") from err


async def _agency(request: web.Request, role: Role, code: Any) -> str | None:
    """The agency of an account: required for the agency role, refused for the others."""
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "invalid-request", "agency_code: a string or null")
    agency_code: str | None = code.strip() or None if code else None
    if role is Role.AGENCY and agency_code is None:
        raise ApiError(400, "agency-required", "an agency account needs its agency_code")
    if role is not Role.AGENCY and agency_code is not None:
        raise ApiError(400, "invalid-request", "only an agency account has an agency_code")
    if code is not None and await request.app[PROVINCE].agency(code) is None:
        raise ApiError(400, "invalid-request", f"unknown agency {code!r}")
    return code


async def _hash(request: web.Request, password: str) -> str:
    try:
        return await request.app[AUTH].hash_password(password)
    except InvalidUser as err:
        raise ApiError(400, "weak-password", str(err)) from err


def account_json(account: UserAccount) -> dict[str, Any]:
    locked = account.locked_until is not None and account.locked_until > datetime.now(UTC)
    return {
        "username": account.username,
        "role": account.role.value,
        "agency_code": account.agency_code,
        "active": account.active,
        "locked": locked,
        "locked_until": account.locked_until.isoformat()
        if locked and account.locked_until
        else None,
        "failed_logins": account.failed_logins,
        "created_at": account.created_at.isoformat(),
    }


# ---------------------------------------------------------------- page


@page(Role.ADMIN)
async def admin_console(request: web.Request) -> web.Response:
    """The administrator console (HTML)."""
    settings = request.app[SETTINGS]
    lines = request.app[MENU].lines
    return render(
        request,
        "admin.html",
        page="admin",
        title_key="admin.title",
        user=request[USER],
        data={
            "roles": [r.value for r in Role],
            "agency_kinds": sorted(AGENCY_KINDS),
            "queue_lines": {flow.queue: line.value for line, flow in lines.items()},
            "service_levels": [settings.service_level_1, settings.service_level_2],
            "staffing": [
                {
                    "line": Line.CITIZEN.value,
                    "target": settings.staffing_target_1022,
                    "seconds": settings.staffing_seconds_1022,
                },
                {
                    "line": Line.MEDICAL.value,
                    "target": settings.staffing_target_115,
                    "seconds": settings.staffing_seconds_115,
                },
            ],
        },
    )


# ---------------------------------------------------------------- users


@describe(
    query={
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "offset": {"type": "integer", "minimum": 0},
    }
)
@requires(Role.ADMIN)
async def list_users(request: web.Request) -> web.Response:
    """User accounts by name: role, agency, switched on or off, locked."""
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    accounts, total = await request.app[USERS].accounts(limit=limit, offset=offset)
    return web.json_response(
        {
            "items": [account_json(a) for a in accounts],
            "limit": limit,
            "offset": offset,
            "total": total,
        }
    )


@describe(
    body=USER_SCHEMA,
    responses={201: "created", 409: "the user name is taken"},
)
@requires(Role.ADMIN)
async def create_user(request: web.Request) -> web.Response:
    """Create an account (the password is stored as an argon2 hash)."""
    body = await json_object(request)
    username = _string(body, "username", MAX_USERNAME).strip()
    if not username.isascii() or not username.replace(".", "").replace("_", "").isalnum():
        raise ApiError(400, "invalid-user", "username: letters, digits, '.' and '_' only")
    role = _role(body.get("role"))
    agency_code = await _agency(request, role, body.get("agency_code"))
    password_hash = await _hash(request, _string(body, "password", MAX_PASSWORD))
    account = await request.app[USERS].create_account(
        request[USER].username, username, password_hash, role, agency_code
    )
    return web.json_response(account_json(account), status=201)


@describe(
    body=CHANGE_SCHEMA,
    responses={404: "no such user", 409: "the last active administrator, or oneself"},
)
@requires(Role.ADMIN)
async def change_user(request: web.Request) -> web.Response:
    """Change an account's role or agency, switch it off or on, or set its password (which
    also lifts the waits after failed logins). A new password or switching an account off
    ends its sessions and tokens, all but the one asking (an administrator's own)."""
    body = await json_object(request)
    username = request.match_info["username"]
    known = {"role", "agency_code", "active", "password"}
    if not body or not set(body) <= known:
        raise ApiError(400, "invalid-request", f"expected some of {sorted(known)}")
    current = await request.app[USERS].account(username)
    if current is None:
        raise UserNotFound(f"no user {username!r}")
    role = _role(body["role"]) if "role" in body else current.role
    if "agency_code" in body:
        code = body["agency_code"]
    else:
        code = current.agency_code if role is Role.AGENCY else None
    agency_code = await _agency(request, role, code)
    active = body.get("active", current.active)
    if not isinstance(active, bool):
        raise ApiError(400, "invalid-request", "active: true or false")
    actor = request[USER].username
    if username == actor and (role is not Role.ADMIN or not active):
        raise ApiError(
            409, "cannot-change-self", "an administrator cannot demote or switch off themselves"
        )
    password_hash = (
        await _hash(request, _string(body, "password", MAX_PASSWORD))
        if "password" in body
        else None
    )
    change = AccountChange(role, agency_code, active, password_hash)
    asking = presented_token(request)
    account = await request.app[USERS].change_account(
        actor, username, change, keep=token_hash(asking) if asking else None
    )
    return web.json_response(account_json(account))


# ---------------------------------------------------------------- prompts


def _prompt_items(menu: MenuFile, edited: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    used = menu.referenced_prompts()
    items = []
    for key in sorted(menu.prompts):
        defaults = {"vi": menu.prompts[key].vi, "en": menu.prompts[key].en}
        mine = edited.get(key, {})
        items.append(
            {
                "key": key,
                **{lang: mine[lang]["text"] if lang in mine else defaults[lang] for lang in LANGS},
                "default": defaults,
                "edited": {
                    lang: {"by": mine[lang]["by"], "at": mine[lang]["at"]} if lang in mine else None
                    for lang in LANGS
                },
                "sound": f"{SOUND_FOLDER}/{key}",
                "files": {lang: f"{lang}/{SOUND_FOLDER}/{key}.wav" for lang in LANGS},
                "used": key in used,
            }
        )
    return items


async def _edited(request: web.Request) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for o in await request.app[PROMPTS].overrides():
        found.setdefault(o.key, {})[o.lang] = {
            "text": o.text,
            "by": o.updated_by,
            "at": o.updated_at.isoformat(),
        }
    return found


@describe(
    query={
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "offset": {"type": "integer", "minimum": 0},
    }
)
@requires(Role.ADMIN)
async def list_prompts(request: web.Request) -> web.Response:
    """The menu's prompts: Vietnamese and English texts (edited or the menu file's) and the
    sound file Asterisk plays for each."""
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    items = _prompt_items(request.app[MENU], await _edited(request))
    return web.json_response(
        {
            "items": items[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "total": len(items),
        }
    )


@describe(
    body={
        "type": "object",
        "required": ["vi", "en"],
        "properties": {
            "vi": {"type": "string", "maxLength": MAX_PROMPT_TEXT},
            "en": {"type": "string", "maxLength": MAX_PROMPT_TEXT},
        },
    },
    responses={404: "the menu has no such prompt"},
)
@requires(Role.ADMIN)
async def put_prompt(request: web.Request) -> web.Response:
    """Set a prompt's texts; the sound files follow when ``python -m hotline.prompts`` runs again.
    A text equal to the menu file's removes the edit."""
    menu = request.app[MENU]
    key = request.match_info["key"]
    if key not in menu.prompts:
        raise ApiError(404, "prompt-not-found", f"the menu has no prompt {key!r}")
    body = await json_object(request)
    texts = {lang: " ".join(_string(body, lang, MAX_PROMPT_TEXT).split()) for lang in LANGS}
    defaults = {
        "vi": " ".join(menu.prompts[key].vi.split()),
        "en": " ".join(menu.prompts[key].en.split()),
    }
    await request.app[PROMPTS].save(request[USER].username, key, texts, defaults)
    item = _prompt_items(menu, await _edited(request))
    return web.json_response(next(i for i in item if i["key"] == key))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin", admin_console)
    app.router.add_get("/api/v1/users", list_users)
    app.router.add_post("/api/v1/users", create_user)
    app.router.add_patch("/api/v1/users/{username}", change_user)
    app.router.add_get("/api/v1/prompts", list_prompts)
    app.router.add_put("/api/v1/prompts/{key}", put_prompt)
