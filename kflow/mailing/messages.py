"""Building and delivering mail: Jinja templates (text and HTML), SMTP or .eml files."""

from __future__ import annotations

import functools
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from kflow.config import Settings
from kflow.db import utcnow


@functools.cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("kflow.mailing", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # the templates ship with the code; no stat() per mail
    )


def render(template: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text, html) from kflow/mailing/templates/<template>.{subject,txt,html}."""
    env = _env()
    subject = env.get_template(f"{template}.subject").render(**context).strip()
    text = env.get_template(f"{template}.txt").render(**context)
    html = env.get_template(f"{template}.html").render(**context)
    return " ".join(subject.split()), text, html


def case_url(settings: Settings, case_id: int) -> str:
    return f"{settings.base_url.rstrip('/')}/arenden/{case_id}"


def message_id_for(key: str, settings: Settings) -> str:
    """A Message-ID derived from the idempotency key: the same mail always has the same id."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{_domain(settings.mail.from_)}>"


@functools.lru_cache(maxsize=8)
def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(" >") or "kflow.local"


def build_message(
    *,
    settings: Settings,
    to_addr: str,
    subject: str,
    text: str,
    html: str,
    message_id: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.mail.from_
    msg["To"] = to_addr
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(domain="kflow.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.mail = settings.mail

    def send(self, message: EmailMessage) -> None:
        mail = self.mail
        with smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.smtp_timeout) as smtp:
            if mail.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.smtp_user:
                smtp.login(mail.smtp_user, mail.smtp_password)
            smtp.send_message(message)


class FileTransport:
    """Writes each mail as an .eml file (the development default): nothing leaves the machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(str(message["Message-ID"]).encode()).hexdigest()[:24]
        target = self.directory / f"{name}.eml"
        partial = target.with_suffix(".tmp")
        partial.write_bytes(bytes(message))
        partial.replace(target)


def transport_for(settings: Settings) -> Transport:
    if settings.mail.backend == "file":
        return FileTransport(settings.mail_dir)
    return SmtpTransport(settings)
