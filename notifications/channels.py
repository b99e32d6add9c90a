"""Where a notice goes: Apprise channels tagged `person:<email>` or `role:<role>`, else email.

The Apprise configuration (YAML) lists notification URLs with tags; a person without a channel
of their own is reached by email when XBR_SMTP_URL is set. Channels are named by a masked
label everywhere they are shown or stored: notification URLs carry secrets.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.errors import MessageError
from email.message import EmailMessage
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import apprise
from apprise.attachment.memory import AttachMemory

from notifications.email_message import Attachment, build, mailbox
from notifications.messages import Message
from states.errors import XbrError
from states.settings import Settings

# Apprise logs whole configurations, secrets included, at DEBUG: keep it to warnings.
logging.getLogger("apprise").setLevel(logging.WARNING)

_USERINFO = re.compile(r"(\w+://)[^/\s@]+@")
_SECRET_PARAM = re.compile(r"(?i)((?:pass(?:word)?|token|key|secret|apikey|auth)\w*=)[^&\s]+")


def redact(text: str) -> str:
    """The text with credentials in URLs and secret-looking parameters replaced by ****."""
    return _SECRET_PARAM.sub(r"\1****", _USERINFO.sub(r"\1****@", text))


__all__ = ["Attachment", "Channels", "label", "load_channels", "redact", "send"]


@dataclass
class Channels:
    """The configured channels, and the email fallback."""

    configured: apprise.Apprise = field(default_factory=apprise.Apprise)
    smtp_url: str = ""

    def targets(self, recipient: str) -> list[apprise.plugins.NotifyBase]:
        """The channels of one recipient: an email's own channels (else email), or a role's."""
        if recipient.startswith("role:"):
            return list(self.configured.find(tag=[recipient]))
        own = list(self.configured.find(tag=[f"person:{recipient}"]))
        if own or not self.smtp_url:
            return own
        joiner = "&" if "?" in self.smtp_url else "?"
        server = apprise.Apprise.instantiate(f"{self.smtp_url}{joiner}to={quote(recipient)}")
        return [server] if server else []


def load_channels(settings: Settings) -> Channels:
    """Channels from the Apprise configuration file and XBR_SMTP_URL, checked."""
    smtp_url = settings.smtp_url.strip()
    if smtp_url and not smtp_url.startswith(("mailto://", "mailtos://")):
        raise XbrError(
            f"XBR_SMTP_URL {redact(smtp_url)} is not an email URL; "
            "give mailto://host:port?from=xbr@your.msp (or mailtos:// for TLS)"
        )
    if smtp_url and apprise.Apprise.instantiate(smtp_url) is None:
        raise XbrError(
            f"XBR_SMTP_URL {redact(smtp_url)} cannot be used; "
            "check host, port and from= (e.g. mailto://127.0.0.1:25?from=xbr@your.msp)"
        )
    configured = apprise.Apprise()
    path = settings.apprise_path
    if path.exists():
        config = apprise.AppriseConfig()
        config.add(str(path))
        configured.add(config)
        if len(configured) == 0:
            raise XbrError(
                f"{path}: no notification URL could be read; check its YAML "
                '(urls: - "json://host/path": - tag: person:a@b.c)'
            )
    elif settings.apprise_config is not None:
        raise XbrError(f"XBR_APPRISE_CONFIG {path} does not exist; create it or unset it")
    return Channels(configured, smtp_url)


def unset_warning(settings: Settings) -> str | None:
    """One line for whoever starts xbr without any channel (no XBR_SMTP_URL, no Apprise
    file): nothing it plans reaches anyone, sign-in links included. None when one is set."""
    if settings.smtp_url.strip() or settings.apprise_path.exists():
        return None
    return (
        "no notification channel: no notice or sign-in link reaches anyone until XBR_SMTP_URL "
        f"is set (or people are tagged in {settings.apprise_path}); what waits is in "
        "`xbr outbox list`, sent again by `xbr outbox retry ID`"
    )


def label(server: apprise.plugins.NotifyBase) -> str:
    """A channel's name without secrets: scheme, host and port (and the recipient of email)."""
    parts = urlsplit(server.url(privacy=True))
    where = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    targets = getattr(server, "targets", None)
    if parts.scheme.startswith("mailto") and targets:
        where += " to " + ", ".join(str(t[1] if isinstance(t, tuple) else t) for t in targets)
    return where


def send(
    server: apprise.plugins.NotifyBase, message: Message, attachments: list[Attachment]
) -> str | None:
    """Send through one channel; None when it worked, else the reason (without secrets)."""
    # Email is xbr's own MIME (plain text, HTML, an invitation as a calendar); the other
    # channels get Markdown, which Apprise adapts to each.
    if server.url(privacy=True).startswith("mailto"):
        return send_email(server, message, attachments)
    one = apprise.Apprise()
    one.add(server)
    files = apprise.AppriseAttachment()
    for item in attachments:
        files.add(AttachMemory(content=item.content, name=item.name, mimetype=item.mimetype))
    with apprise.LogCapture(level=logging.WARNING) as logs:
        ok = one.notify(
            body=message.markdown,
            title=message.title,
            body_format=apprise.NotifyFormat.MARKDOWN,
            attach=files if attachments else None,
        )
    if ok:
        return None
    lines = [line for line in logs.getvalue().splitlines() if line.strip()]
    return redact(lines[-1].split(" - ", 2)[-1] if lines else "the channel refused the message")


def send_email(server: Any, message: Message, attachments: list[Attachment]) -> str | None:
    """One email over SMTP with what Apprise read from the mailto:// URL: host, port, TLS
    (ssl or starttls, the certificate checked unless the URL says not), login, from, to."""
    if not server.targets:
        return "no recipient in the email URL"
    try:
        email = _email(server, message, attachments)
    except (ValueError, MessageError) as error:  # an address the email package refuses
        return redact(f"cannot write the email: {error}")
    host, port, mode = server.smtp_host, server.port, str(server.secure_mode)
    context = _tls(bool(server.verify_certificate)) if mode in ("ssl", "starttls") else None
    recipients = [t[1] for t in server.targets] + sorted(server.cc) + sorted(server.bcc)
    try:
        if mode == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=server.socket_connect_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=server.socket_connect_timeout)
        with smtp:
            if mode == "starttls":
                smtp.starttls(context=context)
            if server.user and server.password:
                smtp.login(server.user, server.password)
            smtp.send_message(email, from_addr=server.from_addr[1], to_addrs=recipients)
    except (OSError, smtplib.SMTPException, RuntimeError) as error:
        return redact(f"cannot send email through {host}:{port}: {error}".strip().rstrip(":"))
    return None


@cache
def _tls(verify: bool) -> ssl.SSLContext:
    """The TLS settings of every email sent (with or without checking the certificate): made
    once, as loading the system's certificates takes longer than sending a message."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _email(server: Any, message: Message, attachments: list[Attachment]) -> EmailMessage:
    name, sender = server.from_addr
    to = [mailbox(n, email) for n, email in server.targets]
    email = build(message, mailbox(name, sender), to, attachments, dict(server.headers))
    if server.reply_to:
        email["Reply-To"] = [mailbox(server.names.get(r), r) for r in sorted(server.reply_to)]
    if server.cc:
        email["Cc"] = [mailbox(server.names.get(c), c) for c in sorted(server.cc)]
    return email
