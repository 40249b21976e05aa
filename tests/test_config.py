"""Settings: defaults, then the KFLOW_CONFIG file, then KFLOW_* variables; clear errors."""

from __future__ import annotations

import logging

import pytest

from kflow.config import ConfigError, load_settings

DEV = {"KFLOW_ENVIRONMENT": "development"}


def test_defaults_come_from_config_dir():
    settings = load_settings(environ=DEV)
    assert settings.deadlines.adaptation_decision_days == 90
    assert settings.deadlines.implementation_acknowledge_business_days == 10
    assert settings.reminders.digest_hour == 7
    assert settings.consultation.remiss_windows[-1] == "11-15/02-14"
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/instance/kflow.db")


def test_file_then_environment_layering(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        'base_url = "https://kflow.region.se"\n[mail]\nsmtp_host = "file-host"\nsmtp_port = 2525\n',
        encoding="utf-8",
    )
    env = {
        **DEV,
        "KFLOW_CONFIG": str(config),
        "KFLOW_SMTP_HOST": "env-host",
        "KFLOW_DEADLINES__ADAPTATION_DECISION_DAYS": "60",
        "KFLOW_MAIL__SMTP_STARTTLS": "true",
        "KFLOW_DATABASE_URL": "postgresql+psycopg://x@y/z",
    }
    settings = load_settings(environ=env)
    assert settings.base_url == "https://kflow.region.se"  # from the file
    assert settings.mail.smtp_port == 2525  # from the file
    assert settings.mail.smtp_host == "env-host"  # the environment wins over the file
    assert settings.mail.smtp_starttls is True
    assert settings.deadlines.adaptation_decision_days == 60
    assert settings.resolved_database_url == "postgresql+psycopg://x@y/z"


def test_unknown_keys_warn(tmp_path, caplog):
    config = tmp_path / "typo.toml"
    config.write_text("[deadlines]\nadaptation_decison_days = 3\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="kflow.config"):
        load_settings(environ={**DEV, "KFLOW_CONFIG": str(config), "KFLOW_COLOUR": "blue"})
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "deadlines.adaptation_decison_days" in messages
    assert "colour" in messages


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"KFLOW_MAIL__SMTP_PORT": "twenty-five"}, "mail.smtp_port"),
        ({"KFLOW_SMTP_STARTTLS": "maybe"}, "mail.smtp_starttls"),
        ({"KFLOW_MAIL_BACKEND": "pigeon"}, "mail.backend"),
        ({"KFLOW_TIMEZONE": "Mars/Olympus"}, "timezone"),
        ({"KFLOW_CONSULTATION__REMISS_WINDOWS": "02-30/04-14"}, "consultation.remiss_windows"),
    ],
)
def test_bad_values_stop_with_the_key_named(env, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(environ={**DEV, **env})


def test_bad_toml_and_missing_file_are_named(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("base_url = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={**DEV, "KFLOW_CONFIG": str(broken)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={**DEV, "KFLOW_CONFIG": str(tmp_path / "missing.toml")})


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="secret_key"):
        load_settings(environ={"KFLOW_ENVIRONMENT": "production"})
    assert load_settings(environ={"KFLOW_SECRET_KEY": "s3cret"}).secret_key == "s3cret"
