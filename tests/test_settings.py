"""Settings layers (defaults < TOML < environment < CLI) and readable errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_given_every_layer_when_loaded_then_cli_beats_env_beats_file_beats_default(
    tmp_path: Path,
) -> None:
    config = write(
        tmp_path, 'agi_bind = "0.0.0.0:4000"\nhttp_bind = "0.0.0.0:9000"\nlog_level = "debug"\n'
    )

    settings = load_settings(
        config_file=config,
        environ={
            "HOTLINE_HTTP_BIND": "127.0.0.1:9100",
            "HOTLINE_LOG_LEVEL": "WARNING",
            "PATH": "/x",
        },
        overrides={"log_level": "ERROR", "agi_bind": None},
    )

    assert settings.agi_bind == "0.0.0.0:4000"  # file
    assert settings.http.port == 9100  # environment over file
    assert settings.log_level == "ERROR"  # command line over environment
    assert settings.db_timeout == 2.0  # default


def test_given_no_database_url_when_loaded_then_the_embedded_database_lives_under_data_dir() -> (
    None
):
    settings = load_settings(environ={"HOTLINE_DATA_DIR": "/srv/hotline"})

    assert settings.database_url is None
    assert settings.pgdata == Path("/srv/hotline/postgres")
    assert load_settings(environ={"HOTLINE_DATA_DIR": "var"}).recordings.is_absolute()
    assert settings.recordings == Path("/srv/hotline/recordings")


def test_given_a_database_url_in_the_environment_when_printed_then_the_secret_is_hidden() -> None:
    settings = load_settings(environ={"HOTLINE_DATABASE_URL": "postgresql://u:s3cret@db/hotline"})

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("@db/hotline")
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('agi_bind = "nohost"', {}, r"agi_bind \(config file"),
        (
            "",
            {"HOTLINE_AGI_BIND": "1.2.3.4:99999"},
            r"agi_bind \(environment HOTLINE_AGI_BIND\): .*port out of range",
        ),
        (
            'http_bind = "127.0.0.1:65536"',
            {},
            r"http_bind \(config file .*\): .*port out of range \(0 to 65535\)",
        ),
        ('http_bind = "127.0.0.1:http"', {}, r"http_bind \(config file .*\): .*expected host:port"),
        (
            "",
            {"HOTLINE_DB_TIMEOUT": "-1"},
            r"db_timeout \(environment HOTLINE_DB_TIMEOUT\): Input should be greater than 0",
        ),
        ('agi_bnd = "x"', {}, "unknown setting 'agi_bnd'"),
        ("", {"HOTLINE_WHATEVER": "1"}, "HOTLINE_WHATEVER"),
        ('database_url = "postgresql://x"', {}, "must come from|set it in the environment"),
        ("not toml [", {}, "not valid TOML"),
        ("", {"HOTLINE_MIGRATE_ON_START": "perhaps"}, "migrate_on_start"),
    ],
)
def test_given_a_bad_setting_when_loaded_then_the_error_names_the_key_and_its_source(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(config_file=write(tmp_path, text), environ=environ)


def test_given_a_cli_override_when_invalid_then_the_error_names_the_flag() -> None:
    with pytest.raises(SettingsError, match="command line --http-bind"):
        load_settings(environ={}, overrides={"http_bind": "localhost"})


def test_given_boolean_text_when_loaded_then_it_is_parsed_not_truthy() -> None:
    assert load_settings(environ={"HOTLINE_MIGRATE_ON_START": "false"}).migrate_on_start is False
    assert load_settings(environ={"HOTLINE_MIGRATE_ON_START": "0"}).migrate_on_start is False


def test_given_metrics_networks_and_a_log_format_when_loaded_then_checked_and_defaulted() -> None:
    default = load_settings(environ={})
    assert (default.log_format, default.metrics_allow) == ("text", "127.0.0.0/8, ::1")
    assert [str(n) for n in default.metrics_networks] == ["127.0.0.0/8", "::1/128"]
    chosen = load_settings(
        environ={"HOTLINE_LOG_FORMAT": "JSON", "HOTLINE_METRICS_ALLOW": "10.1.2.3, 192.0.2.0/24"}
    )
    assert chosen.log_format == "json"
    assert [str(n) for n in chosen.metrics_networks] == ["10.1.2.3/32", "192.0.2.0/24"]
    with pytest.raises(SettingsError, match=r"metrics_allow \(environment HOTLINE_METRICS_ALLOW\)"):
        load_settings(environ={"HOTLINE_METRICS_ALLOW": "prometheus.lan"})
    with pytest.raises(SettingsError, match="log_format"):
        load_settings(environ={"HOTLINE_LOG_FORMAT": "xml"})
