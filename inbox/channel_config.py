"""Connecting and changing channels (the Settings page and the ``inbox channel`` command
share these): validation with field-level reasons, secrets encrypted before storage."""

from __future__ import annotations

import datetime as dt

from . import audit
from .channels.email import SECURITY, EmailSettings, check_connection
from .db import write_transaction
from .i18n import N_, UserFacingError
from .identities import InvalidIdentity, normalise_email
from .models import Channel, User


class ChannelConfigError(UserFacingError):
    def __init__(self, msgid: str, field: str | None = None, **params):
        super().__init__(msgid, **params)
        self.field = field


EMAIL_FIELDS = (
    "imap_host", "imap_port", "imap_security", "imap_username", "imap_password",
    "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password",
    "from_address", "from_name", "folders", "import_since", "append_to_sent", "poll_seconds",
)  # fmt: skip


def _port(value, field: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ChannelConfigError(N_("The port must be a number."), field=field) from None
    if not 0 < port < 65536:
        raise ChannelConfigError(N_("The port must be between 1 and 65535."), field=field)
    return port


def email_settings(values: dict, existing: EmailSettings | None = None) -> EmailSettings:
    """Validate submitted values. An empty password keeps the stored one."""

    def text(name: str, required: bool = True, limit: int = 255) -> str:
        value = str(values.get(name) or "").strip()
        if required and not value:
            raise ChannelConfigError(N_("This field is required."), field=name)
        if len(value) > limit:
            raise ChannelConfigError(N_("Too long."), field=name)
        return value

    for name in ("imap_security", "smtp_security"):
        if values.get(name) not in SECURITY:
            raise ChannelConfigError(N_("Security must be ssl, starttls or none."), field=name)
    try:
        from_address = normalise_email(text("from_address"))
    except InvalidIdentity:
        raise ChannelConfigError(
            N_("The address to send as is not a valid email address."), field="from_address"
        ) from None
    folders = values.get("folders") or "INBOX"
    if isinstance(folders, str):
        folders = [f.strip() for f in folders.split(",") if f.strip()]
    if not folders or any(len(f) > 200 for f in folders):
        raise ChannelConfigError(N_("Give at least one folder, e.g. INBOX."), field="folders")
    since = str(values.get("import_since") or "").strip() or None
    if since:
        try:
            dt.date.fromisoformat(since)
        except ValueError:
            raise ChannelConfigError(N_("Import since must be a date like 2026-01-31."), field="import_since") from None
    poll = values.get("poll_seconds") or 60
    try:
        poll = max(15, min(int(poll), 3600))
    except (TypeError, ValueError):
        raise ChannelConfigError(N_("The poll interval must be a number of seconds."), field="poll_seconds") from None
    imap_password = str(values.get("imap_password") or "") or (existing.imap_password if existing else "")
    smtp_password = str(values.get("smtp_password") or "") or (existing.smtp_password if existing else "")
    if not imap_password:
        raise ChannelConfigError(N_("This field is required."), field="imap_password")
    return EmailSettings(
        imap_host=text("imap_host"), imap_port=_port(values.get("imap_port"), "imap_port"),
        imap_security=values["imap_security"], imap_username=text("imap_username"), imap_password=imap_password,
        smtp_host=text("smtp_host"), smtp_port=_port(values.get("smtp_port"), "smtp_port"),
        smtp_security=values["smtp_security"], smtp_username=text("smtp_username", required=False),
        smtp_password=smtp_password, from_address=from_address, from_name=text("from_name", required=False),
        folders=folders, import_since=since, append_to_sent=bool(values.get("append_to_sent")), poll_seconds=poll,
    )  # fmt: skip


def add_email_channel(name: str, values: dict, actor: User | None = None) -> Channel:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ChannelConfigError(N_("Give the mailbox a name."), field="name")
    if Channel.select().where(Channel.name == name).exists():
        raise ChannelConfigError(N_("A channel with this name already exists."), field="name")
    settings = email_settings(values)
    with write_transaction():
        channel = Channel.create(kind="email", name=name, settings=settings.to_stored())
        audit.record(actor, "channel_added", channel, after={"name": name, "kind": "email"})
    return channel


def update_email_channel(channel: Channel, values: dict, actor: User | None = None) -> Channel:
    existing = EmailSettings.from_channel(channel.settings)
    settings = email_settings(values, existing)
    with write_transaction():
        channel.settings = settings.to_stored()
        if values.get("name"):
            channel.name = str(values["name"]).strip()[:120]
        channel.save()
        audit.record(actor, "channel_changed", channel, after={"name": channel.name})
    return channel


def test_email_channel(channel: Channel) -> list[tuple[str, bool, str]]:
    return check_connection(EmailSettings.from_channel(channel.settings))


def public_settings(channel: Channel) -> dict:
    """Settings safe to show: secrets are replaced by whether they are set."""
    shown = dict(channel.settings or {})
    for key in ("imap_password", "smtp_password", "auth_token", "api_secret"):
        if key in shown:
            shown[key] = bool(shown[key])
    return shown
