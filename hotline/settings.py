"""Settings: defaults < TOML file (``--config``) < ``HOTLINE_*`` environment < CLI flags.

Validated once, before anything connects; a bad value is reported with the key and where it came
from. Secrets (the database URL may carry a password) are accepted from the environment only.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "HOTLINE_"
SECRET_KEYS = frozenset({"database_url"})
DEFAULT_MENU = Path(__file__).resolve().parent.parent / "ivr" / "menu.toml"


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
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port, got {value!r}")
    return Bind(host.strip("[]"), int(port))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset ⇒ embedded PostgreSQL under data_dir"
    )
    data_dir: Path = Field(default=Path("var"), description="embedded database, spool, state")
    recordings_dir: Path | None = Field(
        default=None, description="spool shared with Asterisk (default: data_dir/recordings)"
    )
    agi_bind: str = "127.0.0.1:4573"
    http_bind: str = "127.0.0.1:8080"
    menu_file: Path = DEFAULT_MENU
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    migrate_on_start: bool = True
    agi_header_timeout: float = Field(default=5.0, gt=0, description="seconds to read agi_*")
    agi_shutdown_grace: float = Field(default=30.0, ge=0, description="seconds on SIGTERM")
    db_timeout: float = Field(default=2.0, gt=0, description="seconds the IVR waits for the DB")
    spool_retry_interval: float = Field(default=5.0, gt=0)
    token_ttl_hours: float = Field(default=12.0, gt=0)
    login_attempts_per_minute: int = Field(default=10, gt=0)

    @field_validator("agi_bind", "http_bind")
    @classmethod
    def _check_bind(cls, value: str) -> str:
        parse_bind(value)
        return value

    @field_validator("data_dir", "recordings_dir", "menu_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Asterisk is told where to record: a relative path would be relative to *its* spool.
        return None if value is None else value.expanduser().resolve()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def agi(self) -> Bind:
        return parse_bind(self.agi_bind)

    @property
    def http(self) -> Bind:
        return parse_bind(self.http_bind)

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
