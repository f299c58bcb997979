"""Connecting and changing channels (the Settings page and the ``inbox channel`` command
share these): validation with field-level reasons, secrets encrypted before storage."""

from __future__ import annotations

import datetime as dt

from . import audit
from .channels import ChannelError
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


def _new_name(name: str, missing_msgid: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ChannelConfigError(missing_msgid, field="name")
    if Channel.select().where(Channel.name == name).exists():
        raise ChannelConfigError(N_("A channel with this name already exists."), field="name")
    return name


def takes_leads(values: dict, current: bool = True) -> bool:
    """The channel's "new contacts here are leads" switch from a form or the CLI: the
    checkbox when the form showed it (``leads_field``), else ``current`` (on for a new
    channel)."""
    if "leads" in values:
        return str(values["leads"]).lower() not in ("", "0", "off", "false", "no")
    return False if values.get("leads_field") else current


def _create(kind: str, name: str, stored: dict, actor: User | None) -> Channel:
    with write_transaction():
        channel = Channel.create(kind=kind, name=name, settings=stored)
        audit.record(actor, "channel_added", channel, after={"name": name, "kind": kind})
    return channel


def add_email_channel(name: str, values: dict, actor: User | None = None) -> Channel:
    name = _new_name(name, N_("Give the mailbox a name."))
    return _create("email", name, {**email_settings(values).to_stored(), "leads": takes_leads(values)}, actor)


def update_email_channel(channel: Channel, values: dict, actor: User | None = None) -> Channel:
    settings = email_settings(values, EmailSettings.from_channel(channel.settings))
    return _save(channel, settings.to_stored(), values, actor)


def _save(channel: Channel, stored: dict, values: dict, actor: User | None) -> Channel:
    stored = {**stored, "leads": takes_leads(values, bool((channel.settings or {}).get("leads", True)))}
    with write_transaction():
        channel.settings = stored
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
    for key in ("imap_password", "smtp_password", "auth_token", "api_key_secret"):
        if key in shown:
            shown[key] = bool(shown[key])
    return shown


def twilio_settings(values: dict, existing=None):
    """Validate a Twilio account's settings. An empty token/secret keeps the stored one."""
    from .channels.twilio import TwilioSettings
    from .identities import normalise_phone

    sid = str(values.get("account_sid") or "").strip()
    if not (sid.startswith("AC") and len(sid) == 34 and sid[2:].isalnum()):
        raise ChannelConfigError(N_("The account SID starts with AC and has 34 characters."), field="account_sid")
    token = str(values.get("auth_token") or "") or (existing.auth_token if existing else "")
    if not token:
        raise ChannelConfigError(
            N_("The auth token is needed (it also checks webhook signatures)."), field="auth_token"
        )
    numbers = {}
    for name in ("sms_from", "whatsapp_from"):
        raw = str(values.get(name) or "").strip()
        if raw:
            try:
                numbers[name] = normalise_phone(raw)
            except InvalidIdentity:
                raise ChannelConfigError(N_("Not a valid phone number."), field=name) from None
    service = str(values.get("messaging_service_sid") or "").strip()
    if service and not (service.startswith("MG") and len(service) == 34):
        raise ChannelConfigError(
            N_("A Messaging Service SID starts with MG and has 34 characters."), field="messaging_service_sid"
        )
    if not (numbers or service):
        raise ChannelConfigError(N_("Give an SMS number, a WhatsApp sender or a Messaging Service."), field="sms_from")
    key_sid = str(values.get("api_key_sid") or "").strip()
    key_secret = str(values.get("api_key_secret") or "") or (existing.api_key_secret if existing else "")
    if key_sid and not key_secret:
        raise ChannelConfigError(N_("An API key needs its secret."), field="api_key_secret")
    base = str(values.get("api_base_url") or "").strip().rstrip("/")
    if base and not base.startswith(("http://", "https://")):
        raise ChannelConfigError(N_("The API base URL must start with http:// or https://."), field="api_base_url")
    return TwilioSettings(
        account_sid=sid, auth_token=token, sms_from=numbers.get("sms_from", ""),
        whatsapp_from=numbers.get("whatsapp_from", ""), messaging_service_sid=service, api_key_sid=key_sid,
        api_key_secret=key_secret if key_sid else "", api_base_url=base,
        # Not on the form: keep what an operator may have tuned.
        media_max_bytes=existing.media_max_bytes if existing else TwilioSettings.media_max_bytes,
        poll_seconds=existing.poll_seconds if existing else TwilioSettings.poll_seconds,
    )  # fmt: skip


def add_twilio_channel(name: str, values: dict, actor: User | None = None) -> Channel:
    name = _new_name(name, N_("Give the account a name."))
    return _create("twilio", name, {**twilio_settings(values).to_stored(), "leads": takes_leads(values)}, actor)


def update_twilio_channel(channel: Channel, values: dict, actor: User | None = None) -> Channel:
    from .channels.twilio import TwilioSettings

    settings = twilio_settings(values, TwilioSettings.from_channel(channel.settings))
    return _save(channel, settings.to_stored(), values, actor)


def test_channel(channel: Channel) -> list[tuple[str, bool, str]]:
    """Check a channel's credentials against its provider, whatever its kind."""
    if channel.kind == "twilio":
        from .channels import twilio

        try:
            return twilio.check_connection(twilio.TwilioSettings.from_channel(channel.settings))
        except ChannelError as exc:
            return [("Twilio credentials", False, str(exc))]
    return test_email_channel(channel)


def webhook_urls(channel: Channel) -> dict[str, str]:
    """The URLs to paste into Twilio's console for this account."""
    from . import settings

    base = settings.get("base_url").rstrip("/")
    return {
        "inbound": f"{base}/webhooks/twilio/{channel.id}/inbound",
        "status": f"{base}/webhooks/twilio/{channel.id}/status",
    }
