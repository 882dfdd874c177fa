"""Settings: defaults < TOML file (``--config``) < ``HOTLINE_*`` environment < CLI flags.

Validated once, before anything connects; a bad value is reported with the key and where it came
from. Secrets (the database URL may carry a password) are accepted from the environment only.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agents.ami import AmiUrl
from tickets.dispatch import DEFAULT_TIMEOUT as DISPATCH_TIMEOUT
from tickets.duplicates import DEFAULT_WINDOW as DUPLICATE_WINDOW
from tickets.service import SWEEP_INTERVAL

ENV_PREFIX = "HOTLINE_"
SECRET_KEYS = frozenset(
    {
        "database_url",
        "ami_url",
        "ami_urls",
        "agi_secret",
        "kannel_password",
        "notify_callback_secret",
        "zalo_app_secret",
        "zalo_oa_secret",
        "zalo_refresh_token",
        "brandname_api_key",
    }
)
DEFAULT_MENU = Path(__file__).resolve().parent.parent / "ivr" / "menu.toml"
DEFAULT_SUGGESTION_RULES = Path(__file__).resolve().parent.parent / "speech" / "rules.toml"


class SettingsError(Exception):
    """A setting is missing, unknown or invalid; the message names the key and its source."""


@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_bind(value: str) -> Bind:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()):
        raise ValueError(f"expected host:port, got {value!r}")
    if not 0 <= int(port) <= 65535:
        raise ValueError(f"port out of range (0 to 65535) in {value!r}")
    return Bind(host.strip("[]"), int(port))


def parse_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.0/8, 192.168.1.10"`` → networks (a bare address is a /32 or /128)."""
    networks = []
    for part in value.split(","):
        if part.strip():
            try:
                networks.append(ip_network(part.strip(), strict=False))
            except ValueError as err:
                raise ValueError(f"not an address or CIDR network: {part.strip()!r}") from err
    return tuple(networks)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset ⇒ embedded PostgreSQL under data_dir"
    )
    data_dir: Path = Field(default=Path("var"), description="embedded database, spool, state")
    recordings_dir: Path | None = Field(
        default=None, description="spool shared with Asterisk (default: data_dir/recordings)"
    )
    ami_url: SecretStr | None = Field(
        default=None, description="ami://user:secret@host:5038; unset ⇒ queues are not watched"
    )
    ami_urls: SecretStr | None = Field(
        default=None,
        description="several PBXs: their ami:// URLs, comma-separated (with ami_url, all of them)",
    )
    ami_ping_interval: float = Field(default=5.0, gt=0, description="AMI watchdog, seconds")
    ami_action_timeout: float = Field(default=5.0, gt=0)
    ami_boot_wait: float = Field(
        default=30.0,
        gt=0,
        description="seconds after an AMI login without FullyBooted before the queues are read",
    )
    callback_callerid_1022: str = Field(
        default="1022",
        pattern=r"^\+?[0-9]{3,15}$",
        description="the number a citizen called back from 1022 sees: the line's public number",
    )
    callback_callerid_115: str = Field(
        default="115",
        pattern=r"^\+?[0-9]{3,15}$",
        description="the number a citizen called back from 115 sees: the line's public number",
    )
    service_level_1: int = Field(default=15, gt=0, description="answered within, seconds")
    service_level_2: int = Field(default=20, gt=0, description="answered within, seconds")
    queue_log_files: str = Field(
        default="",
        description="comma-separated paths of the PBXs' queue_log files (logger.conf), read to "
        "recover rows whose realtime insert failed",
    )
    queue_log_recover_interval: float = Field(
        default=60.0, gt=0, description="seconds between two readings of the queue_log files"
    )
    wrapup_seconds_1022: int = Field(
        default=15, ge=0, description="queues.conf wrapuptime of hotline-1022, seconds"
    )
    wrapup_seconds_115: int = Field(
        default=5, ge=0, description="queues.conf wrapuptime of emergency-115, seconds"
    )
    staffing_target_1022: float = Field(default=0.8, gt=0, lt=1, description="Erlang C target")
    staffing_seconds_1022: int = Field(default=20, gt=0, description="answered within, seconds")
    staffing_target_115: float = Field(default=0.9, gt=0, lt=1, description="Erlang C target")
    staffing_seconds_115: int = Field(default=15, gt=0, description="answered within, seconds")
    sweep_interval: float = Field(
        default=SWEEP_INTERVAL,
        gt=0,
        description="seconds between the back office's sweeps (escalations, dispatch timeouts)",
    )
    dispatch_timeout: float = Field(
        default=DISPATCH_TIMEOUT.total_seconds(),
        gt=0,
        description="seconds a facility has to answer a 115 dispatch request",
    )
    duplicate_window_hours: float = Field(
        default=DUPLICATE_WINDOW.total_seconds() / 3600,
        gt=0,
        description="tickets this close in time are offered as possible duplicates",
    )
    agi_bind: str = "127.0.0.1:4573"
    http_bind: str = "127.0.0.1:8080"
    menu_file: Path = DEFAULT_MENU
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json ⇒ one JSON object per line (uniqueid, ticket fields)"
    )
    metrics_allow: str = Field(
        default="127.0.0.0/8, ::1",
        description="comma-separated CIDR list that may read /metrics without logging in; "
        "others need a supervisor's or administrator's login",
    )
    migrate_on_start: bool = True
    agi_header_timeout: float = Field(default=5.0, gt=0, description="seconds to read agi_*")
    agi_reply_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds Asterisk may take to answer an AGI command, beyond the command's "
        "own time (keys' wait, recording length); then the session is closed",
    )
    agi_secret: SecretStr | None = Field(
        default=None,
        description="shared secret the PBX shows (dialplan global HOTLINE_AGI_SECRET); "
        "unset ⇒ any peer that reaches the FastAGI port is served",
    )
    agi_shutdown_grace: float = Field(default=30.0, ge=0, description="seconds on SIGTERM")
    db_timeout: float = Field(default=2.0, gt=0, description="seconds the IVR waits for the DB")
    spool_retry_interval: float = Field(default=5.0, gt=0)
    token_ttl_hours: float = Field(default=12.0, gt=0)
    login_attempts_per_minute: int = Field(default=10, gt=0, description="per client address")
    login_delay_after: int = Field(
        default=5,
        gt=0,
        description="failed logins of one name from one address before that pair must wait",
    )
    login_delay_max_minutes: float = Field(
        default=15.0, gt=0, description="longest wait (it starts at 30 s and doubles)"
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated CIDR list of reverse proxies whose X-Forwarded-For is read",
    )
    session_cookie_secure: bool = Field(
        default=False, description="mark the console cookie Secure (set it behind HTTPS)"
    )
    vosk_model: Path | None = Field(
        default=None, description="Vosk model directory; unset ⇒ DTMF-only, no transcripts"
    )
    speech_workers: int = Field(default=1, ge=0, le=32, description="transcription processes")
    speech_queue_size: int = Field(default=4, gt=0, description="jobs claimed ahead, per instance")
    speech_max_attempts: int = Field(default=3, gt=0)
    speech_retry_delay: float = Field(default=30.0, ge=0, description="seconds before a retry")
    speech_lease: float = Field(
        default=120.0,
        gt=0,
        description="seconds a claimed job stays held without a renewal (renewed every third)",
    )
    speech_poll_interval: float = Field(default=5.0, gt=0, description="seconds between polls")
    speech_menu_timeout: float = Field(default=2.0, gt=0, description="spoken choice, seconds")
    speech_archive_format: Literal["mp3", "ogg", "none"] = "mp3"
    suggestion_rules: Path = DEFAULT_SUGGESTION_RULES
    sms_gateway: Literal["none", "kannel", "brandname"] = Field(
        default="none", description="how citizens get SMS; none ⇒ the outbox is not sent"
    )
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = "hotline"
    kannel_password: SecretStr | None = None
    kannel_sender: str | None = Field(default=None, description="from=; unset ⇒ Kannel's own")
    notify_callback_url: str = Field(
        default="http://127.0.0.1:8080", description="our base URL as the SMS gateway reaches it"
    )
    notify_callback_secret: SecretStr | None = Field(
        default=None, description="signs delivery-report URLs; Kannel's MO get-url carries it"
    )
    notify_lookup_url: str = Field(
        default="http://127.0.0.1:8080/tra-cuu", description="public ticket lookup, in messages"
    )
    notify_unaccented_sms: bool = Field(default=True, description="SMS without diacritics")
    notify_max_attempts: int = Field(default=8, gt=0)
    notify_retry_base: float = Field(default=30.0, gt=0, description="first retry, seconds")
    notify_retry_cap: float = Field(default=3600.0, gt=0, description="longest wait, seconds")
    notify_poll_interval: float = Field(default=2.0, gt=0, description="seconds between polls")
    notify_quiet_start: int = Field(default=22, ge=0, le=23, description="hour, Vietnam time")
    notify_quiet_end: int = Field(default=7, ge=0, le=23, description="equal to start ⇒ none")
    zalo_app_id: str | None = Field(default=None, description="unset ⇒ SMS only, no Zalo ZNS")
    zalo_app_secret: SecretStr | None = None
    zalo_oa_secret: SecretStr | None = Field(default=None, description="webhook signature key")
    zalo_refresh_token: SecretStr | None = Field(
        default=None, description="seeds the stored token pair on first start only"
    )
    brandname_url: str | None = Field(default=None, description="HTTP brandname gateway")
    brandname_api_key: SecretStr | None = None
    brandname_sender: str = Field(default="TONGDAI1022", description="registered brandname")
    zalo_api_url: str = "https://business.openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com/v4/oa/access_token"
    zalo_templates: dict[str, str] = Field(
        default_factory=dict, description="event (received, forwarded, …) → ZNS template id"
    )

    @field_validator("ami_url", "ami_urls")
    @classmethod
    def _check_ami(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for url in value.get_secret_value().split(","):
                if url.strip():
                    AmiUrl.parse(url.strip())
        return value

    @field_validator("agi_bind", "http_bind")
    @classmethod
    def _check_bind(cls, value: str) -> str:
        parse_bind(value)
        return value

    @field_validator("data_dir", "recordings_dir", "menu_file", "vosk_model", "suggestion_rules")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Asterisk is told where to record: a relative path would be relative to *its* spool.
        return None if value is None else value.expanduser().resolve()

    @field_validator("trusted_proxies", "metrics_allow")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def agi(self) -> Bind:
        return parse_bind(self.agi_bind)

    @property
    def http(self) -> Bind:
        return parse_bind(self.http_bind)

    @property
    def trusted_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def metrics_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.metrics_allow)

    @property
    def ami_links(self) -> list[AmiUrl]:
        """One AMI URL per PBX, ``ami_url`` first; a URL given twice counts once."""
        urls = [v.get_secret_value() for v in (self.ami_url, self.ami_urls) if v is not None]
        parsed = [AmiUrl.parse(u.strip()) for text in urls for u in text.split(",") if u.strip()]
        return list(dict.fromkeys(parsed))

    @property
    def queue_log_paths(self) -> list[Path]:
        return [Path(p.strip()).expanduser() for p in self.queue_log_files.split(",") if p.strip()]

    @property
    def recordings(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the layers, remember where each key came from, validate once."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    known = set(Settings.model_fields)

    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                table = tomllib.load(fh)
        except OSError as err:
            raise SettingsError(f"cannot read config file {config_file}: {err}") from err
        except tomllib.TOMLDecodeError as err:
            raise SettingsError(f"config file {config_file} is not valid TOML: {err}") from err
        for key, value in table.items():
            if key in SECRET_KEYS:
                raise SettingsError(
                    f"{key} is a secret: set it in the environment as "
                    f"{ENV_PREFIX}{key.upper()}, not in {config_file}"
                )
            if key not in known:
                raise SettingsError(f"unknown setting {key!r} in {config_file}")
            values[key] = value
            origin[key] = f"config file {config_file}"

    env = os.environ if environ is None else environ
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name.startswith("HOTLINE_TEST_"):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in known:
            raise SettingsError(f"unknown setting in environment variable {name}")
        values[key] = value
        origin[key] = f"environment {name}"

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        values[key] = value
        origin[key] = f"command line --{key.replace('_', '-')}"

    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            key = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{key} ({origin.get(key, 'default')}): {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from err
