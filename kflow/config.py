"""Settings: config/defaults.toml, then the file named by KFLOW_CONFIG, then KFLOW_* variables.

Environment variables map onto keys by name: ``KFLOW_DATABASE_URL`` sets ``database_url`` and a
double underscore descends into a table (``KFLOW_MAIL__SMTP_HOST`` sets ``mail.smtp_host``). The
most used mail settings also have the short names the operations guide gives
(``KFLOW_SMTP_HOST``, ``KFLOW_MAIL_FROM``, ``KFLOW_MAIL_BACKEND``, ...).

Unknown keys warn; a value of the wrong type stops start-up with a sentence naming the key.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

log = logging.getLogger(__name__)

CONFIG_DIR = Path(
    os.environ.get("KFLOW_CONFIG_DIR", Path(__file__).resolve().parent.parent / "config")
)

# Short environment names promised by the docs, mapped onto nested keys.
ENV_ALIASES = {
    "SMTP_HOST": "mail.smtp_host",
    "SMTP_PORT": "mail.smtp_port",
    "SMTP_USER": "mail.smtp_user",
    "SMTP_PASSWORD": "mail.smtp_password",
    "SMTP_STARTTLS": "mail.smtp_starttls",
    "SMTP_TIMEOUT": "mail.smtp_timeout",
    "MAIL_FROM": "mail.from_",
    "MAIL_BACKEND": "mail.backend",
    "MAIL_DIR": "mail.dir",
}
# Never repeated in an error message: a mistyped secret is still a secret.
SECRET_SETTINGS = frozenset(
    {"secret_key", "database_url", "mail.smtp_password", "oidc.client_secret"}
)
# Not settings, but read from the same namespace.
ENV_IGNORED = {"CONFIG", "CONFIG_DIR"}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the key."""


@dataclasses.dataclass(frozen=True)
class MailSettings:
    backend: str = "smtp"
    dir: str = ""
    from_: str = "kflow <kflow@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout: int = 30
    max_attempts: int = 8
    retry_base_seconds: int = 60


@dataclasses.dataclass(frozen=True)
class DeadlineSettings:
    adaptation_decision_days: int = 90
    adaptation_handoff_days: int = 30
    implementation_acknowledge_business_days: int = 10
    implementation_done_days: int = 180
    follow_up_measurement_days: int = 365
    review_months: int = 24
    review_months_vardprogram: int = 12
    indicator_list_decision_days: int = 30  # submitted -> approved (or changes requested)
    # Follow-up reports (lifecycle.md §6.6): tertial, quarter, halfyear or year
    report_period: str = "tertial"
    report_due_business_days: int = 20  # after the first working day after the period
    report_missed_after_business_days: int = 15  # after the due date: open -> missed


@dataclasses.dataclass(frozen=True)
class ConsultationSettings:
    remiss_windows: tuple[str, ...] = ("02-15/04-14", "04-15/06-14", "09-15/11-14", "11-15/02-14")
    synpunkt_months: tuple[int, ...] = (2, 3, 4, 5, 9, 10, 11, 12)
    synpunkt_answer_day: int = 29


@dataclasses.dataclass(frozen=True)
class ReminderSettings:
    upcoming_business_days_before: int = 5
    overdue_business_days_after: int = 5
    escalated_business_days_after: int = 15
    digest: bool = True
    digest_hour: int = 7
    sweep_minutes: int = 15
    relay_seconds: int = 60


@dataclasses.dataclass(frozen=True)
class LoginSettings:
    max_failures_per_account: int = 5
    max_failures_per_address: int = 30
    window_seconds: int = 900
    lockout_seconds: int = 900
    trusted_proxies: int = 0
    # Local passwords (the e-mail and password form, "Glömt lösenord?"); false where every user
    # signs in through the region's identity provider (oidc).
    passwords: bool = True
    # A signed-in session ends after this many minutes without a request, and this many hours
    # after sign-in whatever happens.
    idle_minutes: int = 120
    absolute_hours: int = 12
    # How long a "Glömt lösenord?" link works.
    reset_link_minutes: int = 60


@dataclasses.dataclass(frozen=True)
class OidcSettings:
    """Single sign-on through an OpenID Connect provider (on when ``issuer`` is set)."""

    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: str = "openid email profile"
    # The button's text: "Logga in med <provider_name>".
    provider_name: str = "SITHS eID"
    # The claim holding the user's e-mail address, and an optional one holding an HSA-id.
    email_claim: str = "email"
    hsa_id_claim: str = ""
    # First sign-in of someone kflow does not know creates the user (with no roles).
    auto_create: bool = False
    # Roles from the token only as mapped here: "<group>=<role>@<unit code>", the group read
    # from groups_claim. Empty: roles are given in kflow only.
    groups_claim: str = "groups"
    role_mappings: tuple[str, ...] = ()
    # Seconds to wait for the provider (discovery, token, userinfo) before giving up.
    timeout_seconds: int = 10

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


@dataclasses.dataclass(frozen=True)
class FollowupSettings:
    # lifecycle.md §6.4: a value within this many percent of its target is "near" (Nära),
    # unless the target sets its own tolerance.
    tolerance_pct: float = 5.0


@dataclasses.dataclass(frozen=True)
class AttachmentSettings:
    # Where uploaded attachments are kept (empty: <instance_path>/attachments).
    dir: str = ""
    max_mb: int = 20  # the largest attachment accepted, in megabytes


@dataclasses.dataclass(frozen=True)
class Settings:
    environment: str = "production"
    instance_path: str = "instance"
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    timezone: str = "Europe/Stockholm"
    organisation_file: str = "organisation.toml"
    mail: MailSettings = dataclasses.field(default_factory=MailSettings)
    deadlines: DeadlineSettings = dataclasses.field(default_factory=DeadlineSettings)
    consultation: ConsultationSettings = dataclasses.field(default_factory=ConsultationSettings)
    reminders: ReminderSettings = dataclasses.field(default_factory=ReminderSettings)
    login: LoginSettings = dataclasses.field(default_factory=LoginSettings)
    followup: FollowupSettings = dataclasses.field(default_factory=FollowupSettings)
    attachments: AttachmentSettings = dataclasses.field(default_factory=AttachmentSettings)
    oidc: OidcSettings = dataclasses.field(default_factory=OidcSettings)

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.instance_path).resolve() / 'kflow.db'}"

    @property
    def mail_dir(self) -> Path:
        return Path(self.mail.dir) if self.mail.dir else Path(self.instance_path) / "outbox"

    @property
    def attachments_dir(self) -> Path:
        if self.attachments.dir:
            return Path(self.attachments.dir)
        return Path(self.instance_path) / "attachments"

    @property
    def organisation_path(self) -> Path:
        path = Path(self.organisation_file)
        return path if path.is_absolute() else CONFIG_DIR / path

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _key(name: str) -> str:
    # TOML says "from"; Python cannot, so the field is from_.
    return "from_" if name == "from" else name


def _coerce(path: str, hint: Any, value: Any) -> Any:
    """Check (and for environment strings, parse) one value against its declared type."""
    origin = getattr(hint, "__origin__", None)
    if isinstance(value, str) and hint is not str and origin is not tuple:
        value = _parse_env_scalar(path, hint, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        (item_hint, _) = hint.__args__
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(_coerce(path, item_hint, item) for item in value)
    shown = "a hidden value" if path in SECRET_SETTINGS else repr(value)
    raise ConfigError(f"Setting '{path}' must be {_describe(hint)}, not {shown}.")


def _parse_env_scalar(path: str, hint: Any, raw: str) -> Any:
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"Setting '{path}' must be true or false, not {raw!r}.")
    if hint is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"Setting '{path}' must be a whole number, not {raw!r}.") from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"Setting '{path}' must be a number, not {raw!r}.") from None
    return raw


def _describe(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    if getattr(hint, "__origin__", None) is tuple:
        return f"a list of {names.get(hint.__args__[0], 'values')}"
    return names.get(hint, str(hint))


def _build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for raw_name, value in data.items():
        name = _key(raw_name)
        path = f"{prefix}{raw_name}"
        if name not in hints:
            log.warning("Unknown setting '%s' ignored.", path)
            continue
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                raise ConfigError(f"Setting '{path}' must be a table of settings.")
            values[name] = _build(hint, value, prefix=f"{path}.")  # type: ignore[arg-type]
        else:
            values[name] = _coerce(path, hint, value)
    return cls(**values)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"Configuration file '{path}' does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Configuration file '{path}' is not valid TOML: {exc}.") from None


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("KFLOW_"):
            continue
        rest = name[len("KFLOW_") :]
        if rest in ENV_IGNORED:
            continue
        dotted = ENV_ALIASES.get(rest) or rest.lower().replace("__", ".")
        parts = dotted.split(".")
        target = layer
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return layer


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Layer the defaults, the KFLOW_CONFIG file, the environment and ``overrides`` (tests)."""
    environ = os.environ if environ is None else environ
    data = _read_toml(CONFIG_DIR / "defaults.toml")
    if environ.get("KFLOW_CONFIG"):
        data = _merge(data, _read_toml(Path(environ["KFLOW_CONFIG"])))
    data = _merge(data, _env_layer(environ))
    if overrides:
        data = _merge(data, overrides)
    settings: Settings = _build(Settings, data)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.mail.backend not in {"smtp", "file"}:
        raise ConfigError(
            f"Setting 'mail.backend' must be smtp or file, not {settings.mail.backend!r}."
        )
    for name, value in dataclasses.asdict(settings.login).items():
        if isinstance(value, bool):
            continue
        least = 0 if name == "trusted_proxies" else 1
        if value < least:
            raise ConfigError(f"Setting 'login.{name}' must be at least {least}, not {value}.")
    if not settings.is_development and not settings.secret_key:
        raise ConfigError(
            "Setting 'secret_key' is required outside development: set KFLOW_SECRET_KEY."
        )
    for window in settings.consultation.remiss_windows:
        if not re.fullmatch(
            r"(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])/(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])", window
        ):
            raise ConfigError(
                f"Setting 'consultation.remiss_windows' has {window!r}; use MM-DD/MM-DD, days 1-28."
            )
    if not 0 <= settings.followup.tolerance_pct <= 100:
        raise ConfigError(
            "Setting 'followup.tolerance_pct' must lie between 0 and 100, "
            f"not {settings.followup.tolerance_pct}."
        )
    if not 1 <= settings.attachments.max_mb <= 1024:
        raise ConfigError(
            "Setting 'attachments.max_mb' must lie between 1 and 1024, "
            f"not {settings.attachments.max_mb}."
        )
    _validate_oidc(settings)
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(settings.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Setting 'timezone' names no known time zone: {settings.timezone!r}."
        ) from None


def _validate_oidc(settings: Settings) -> None:
    oidc = settings.oidc
    if not oidc.enabled:
        if not settings.login.passwords:
            raise ConfigError(
                "Setting 'login.passwords' is false but no 'oidc.issuer' is set: nobody could "
                "sign in."
            )
        return
    if not re.match(r"^https?://[^\s/]+", oidc.issuer):
        raise ConfigError(f"Setting 'oidc.issuer' must be an http(s) URL, not {oidc.issuer!r}.")
    if not oidc.client_id:
        raise ConfigError("Setting 'oidc.client_id' is required when 'oidc.issuer' is set.")
    if "openid" not in oidc.scopes.split():
        raise ConfigError(f"Setting 'oidc.scopes' must include openid, not {oidc.scopes!r}.")
    if oidc.timeout_seconds < 1:
        raise ConfigError("Setting 'oidc.timeout_seconds' must be at least 1.")
    for mapping in oidc.role_mappings:
        if not re.fullmatch(r"[^=\s]+=[a-z_]+@[^@\s]+", mapping):
            raise ConfigError(
                f"Setting 'oidc.role_mappings' has {mapping!r}; use <group>=<role>@<unit code>."
            )


__all__ = ["ConfigError", "Settings", "load_settings"]
