"""The Twilio adapter: SMS, MMS and WhatsApp in (signed webhooks and polling of the
Messages API) and out (the real ``twilio`` library), with Twilio's error codes explained.

It knows Twilio and nothing else: webhooks and list results become ``InboundMessage``
data; ``send()`` takes ``OutboundMessage`` data."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from .. import crypto
from ..ingest import InboundAttachment, InboundMessage
from . import ChannelError, OutboundMessage, TransientChannelError, register

SECRET_FIELDS = ("auth_token", "api_key_secret")
TIMEOUT = 20

# Plain-language explanations of the Twilio errors agents actually meet.
ERRORS = {
    20429: "Twilio is rate limiting this account; the message will be retried.",
    21211: "The phone number is not valid.",
    21408: "Sending to this country is not enabled for the Twilio account.",
    21610: "The customer has opted out (texted STOP); they must text START before we can message them again.",
    21614: "This number cannot receive SMS (not a mobile number).",
    30003: "The phone is unreachable (switched off or out of coverage).",
    30004: "The message was blocked by the recipient or their carrier.",
    30005: "The number does not exist.",
    30006: "The number is a landline or cannot receive SMS.",
    30007: "The carrier filtered the message as spam.",
    30008: "The carrier could not deliver the message (unknown error).",
    63003: "This number is not on WhatsApp.",
    63016: (
        "Outside the WhatsApp 24-hour window: the customer last wrote more than 24 hours ago, "
        "so only an approved template can be sent until they write again."
    ),
    63024: "The recipient is not a valid WhatsApp user.",
    63027: "The WhatsApp template could not be sent (not approved or wrong variables).",
}


def explain(code: int | str | None, fallback: str = "") -> str:
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        return fallback or "The provider reported a failure."
    text = ERRORS.get(number, fallback or "The provider reported a failure.")
    return f"{text} (Twilio error {number})"


class TwilioError(ChannelError):
    pass


class TwilioTransientError(TransientChannelError):
    pass


@dataclass
class TwilioSettings:
    account_sid: str
    auth_token: str
    sms_from: str = ""  # E.164
    whatsapp_from: str = ""  # E.164, without the whatsapp: prefix
    messaging_service_sid: str = ""
    api_key_sid: str = ""
    api_key_secret: str = ""
    api_base_url: str = ""  # another Twilio-compatible API
    media_max_bytes: int = 16 * 1024 * 1024
    poll_seconds: int = 60

    @classmethod
    def from_channel(cls, stored: dict) -> TwilioSettings:
        values = crypto.decrypt_fields(stored, SECRET_FIELDS)
        if not values.get("account_sid") or not values.get("auth_token"):
            raise ChannelError("This Twilio account is not fully set up (account SID and auth token are needed).")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_stored(self) -> dict:
        return crypto.encrypt_fields(self.__dict__, SECRET_FIELDS)

    def our_numbers(self) -> set[str]:
        return {n for n in (self.sms_from, self.whatsapp_from) if n}


class _RedirectingHttpClient(TwilioHttpClient):
    """Sends every *.twilio.com request to another Twilio-compatible API."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(timeout=TIMEOUT, **kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = self.base_url + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def client(s: TwilioSettings) -> Client:
    username, password = (s.api_key_sid, s.api_key_secret) if s.api_key_sid else (s.account_sid, s.auth_token)
    http = _RedirectingHttpClient(s.api_base_url) if s.api_base_url else TwilioHttpClient(timeout=TIMEOUT)
    return Client(username, password, account_sid=s.account_sid, http_client=http)


def _base(s: TwilioSettings) -> str:
    return (s.api_base_url or "https://api.twilio.com").rstrip("/")


# --- webhooks ------------------------------------------------------------------------


def valid_signature(s: TwilioSettings, url: str, params, signature: str) -> bool:
    """Twilio signs the exact public URL it called plus every posted parameter."""
    if not signature:
        return False
    return RequestValidator(s.auth_token).validate(url, params, signature)


def is_status_callback(form) -> bool:
    return "MessageStatus" in form and not form.get("Body") and form.get("NumMedia", "0") in ("", "0")


def kind_of(address: str) -> str:
    return "whatsapp" if (address or "").lower().startswith("whatsapp:") else "sms"


def inbound_from_form(channel_id: int, form: dict, received_at: dt.datetime | None = None) -> InboundMessage:
    """A webhook (or list item turned into webhook shape) as an InboundMessage; media are
    listed in ``meta["media"]`` and downloaded separately (they need the account's auth)."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
    if not sid:
        raise ValueError("MessageSid is missing")
    sender = form.get("From") or ""
    if not sender:
        raise ValueError("From is missing")
    text = form.get("Body") or ""
    meta: dict = {"to": form.get("To", ""), "wa_id": form.get("WaId")}
    if form.get("Latitude") and form.get("Longitude"):
        label = form.get("Label") or form.get("Address") or ""
        meta["location"] = {"lat": form["Latitude"], "lng": form["Longitude"], "label": label}
        text = text or f"Location: {form['Latitude']}, {form['Longitude']}" + (f" ({label})" if label else "")
    if form.get("ButtonText") or form.get("ButtonPayload"):
        meta["button"] = {"text": form.get("ButtonText"), "payload": form.get("ButtonPayload")}
        text = text or form.get("ButtonText") or form.get("ButtonPayload") or ""
    if form.get("OriginalRepliedMessageSid"):
        meta["replied_to"] = form["OriginalRepliedMessageSid"]
    try:
        count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    meta["media"] = [
        {"url": form[f"MediaUrl{i}"], "content_type": form.get(f"MediaContentType{i}") or "application/octet-stream"}
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    ]
    if form.get("OptOutType"):
        meta["opt_out_type"] = form["OptOutType"]
    return InboundMessage(
        channel_id=channel_id,
        kind=kind_of(sender),
        provider_id=sid,
        address=sender,
        name=(form.get("ProfileName") or "")[:255],
        text=text[:50_000],
        received_at=received_at,
        raw=json.dumps(form, ensure_ascii=False, default=str).encode(),
        meta=meta,
    )


MEDIA_REDIRECTS = 3


def download_media(s: TwilioSettings, media: list[dict]) -> list[InboundAttachment]:
    """Fetch media with the account credentials. Never raises: a file over the size limit
    is recorded as such, and one that cannot be fetched (a refused host, an error, a bad
    URL) as unavailable, so the message itself is always stored."""
    out = []
    for i, item in enumerate(media):
        ctype = item.get("content_type") or "application/octet-stream"
        name = f"media-{i + 1}.{_extension(ctype)}"
        try:
            out.append(_download(s, str(item.get("url") or ""), name, ctype))
        except (requests.RequestException, ValueError, OSError, MediaRefused) as exc:
            detail = str(exc) if isinstance(exc, MediaRefused) else type(exc).__name__
            out.append(InboundAttachment(name, ctype, None, 0, note=f"unavailable: {detail}"[:250]))
    return out


class MediaRefused(Exception):
    """A media URL we will not fetch (not Twilio's, or redirected somewhere private)."""


def _media_url(s: TwilioSettings, url: str) -> str:
    """Only Twilio's media hosts get the account's credentials (or the configured API base,
    for a Twilio-compatible server)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise MediaRefused("not a web address")
    if host == "twilio.com" or host.endswith(".twilio.com"):
        if s.api_base_url:  # a Twilio-compatible server serves the media at the same paths
            return _base(s) + parts.path + ("?" + parts.query if parts.query else "")
        if parts.scheme != "https":
            raise MediaRefused("not https")
        return url
    if s.api_base_url and host == (urlsplit(s.api_base_url).hostname or "").lower():
        return url
    raise MediaRefused(f"{host} is not a Twilio media host")


def _public(host: str) -> bool:
    """Whether every address ``host`` resolves to is a public one."""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)


def _download(s: TwilioSettings, url: str, name: str, ctype: str) -> InboundAttachment:
    url = _media_url(s, url)
    auth = (s.api_key_sid, s.api_key_secret) if s.api_key_sid else (s.account_sid, s.auth_token)
    trusted = (urlsplit(url).hostname or "").lower()
    for _ in range(MEDIA_REDIRECTS + 1):
        host = (urlsplit(url).hostname or "").lower()
        # The credentials go to the media host only; a redirect (Twilio's go to its CDN)
        # must lead to a public https address.
        response = requests.get(
            url, auth=auth if host == trusted else None, timeout=TIMEOUT, stream=True, allow_redirects=False
        )
        with response:
            if response.is_redirect:
                url = requests.compat.urljoin(url, response.headers.get("Location", ""))
                target = urlsplit(url)
                target_host = (target.hostname or "").lower()
                if target_host != trusted and (target.scheme != "https" or not _public(target_host)):
                    raise MediaRefused(f"redirected to {target_host or 'nowhere'}")
                continue
            if response.status_code != 200:
                return InboundAttachment(name, ctype, None, 0, note=f"download failed: HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data.extend(chunk)
                if len(data) > s.media_max_bytes:
                    break
            if len(data) > s.media_max_bytes:
                size = int(response.headers.get("Content-Length") or len(data))
                limit = s.media_max_bytes // (1024 * 1024)
                return InboundAttachment(name, ctype, None, size, note=f"not kept: larger than {limit} MB")
            return InboundAttachment(name, response.headers.get("Content-Type", ctype).split(";")[0], bytes(data))
    raise MediaRefused("too many redirects")


def _extension(ctype: str) -> str:
    return {
        "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "application/pdf": "pdf",
        "audio/ogg": "ogg", "audio/mpeg": "mp3", "video/mp4": "mp4", "text/vcard": "vcf",
    }.get(ctype.split(";")[0].strip(), "bin")  # fmt: skip


# --- polling -------------------------------------------------------------------------


def _utc(value) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def fetch_recent(s: TwilioSettings, since_day: dt.date, page_size: int = 200) -> Iterator[dict]:
    """Messages of the account sent on or after ``since_day`` (the API's filter is
    day-granular), newest first, as dicts shaped like webhook forms plus ``_direction``,
    ``_status``, ``_error_code`` and ``_date_sent``."""
    since = dt.datetime.combine(since_day, dt.time(), tzinfo=dt.UTC)
    try:
        for m in client(s).messages.stream(date_sent_after=since, page_size=page_size):
            yield {
                "MessageSid": m.sid, "From": m.from_ or "", "To": m.to or "", "Body": m.body or "",
                "NumMedia": m.num_media or "0", "_direction": m.direction, "_status": m.status,
                "_error_code": m.error_code, "_date_sent": _utc(m.date_sent or m.date_created),
                "_media_uri": (m.subresource_uris or {}).get("media"),
            }  # fmt: skip
    except TwilioRestException as exc:
        raise _rest_error(exc) from None
    except (TwilioException, requests.RequestException, OSError) as exc:
        raise TwilioTransientError(f"Twilio API unreachable: {type(exc).__name__}") from None


def media_of(s: TwilioSettings, media_uri: str) -> list[dict]:
    """The media list of a polled message, as webhook-style {url, content_type} items."""
    auth = (s.api_key_sid, s.api_key_secret) if s.api_key_sid else (s.account_sid, s.auth_token)
    try:
        response = requests.get(_base(s) + media_uri, auth=auth, timeout=TIMEOUT)
        response.raise_for_status()
        items = response.json().get("media_list", [])
    except (requests.RequestException, ValueError) as exc:
        raise TwilioTransientError(f"Media list failed: {type(exc).__name__}") from None
    return [
        {"url": _base(s) + item["uri"].removesuffix(".json"), "content_type": item.get("content_type")}
        for item in items
    ]


def check_connection(s: TwilioSettings) -> list[tuple[str, bool, str]]:
    try:
        account = client(s).api.v2010.accounts(s.account_sid).fetch()
        return [("Twilio credentials", True, f"account {account.friendly_name or s.account_sid}")]
    except TwilioRestException as exc:
        if exc.status in (401, 403):
            return [("Twilio credentials", False, "Twilio refused the account SID / auth token (or API key).")]
        return [("Twilio credentials", False, f"Twilio answered {exc.status}: {exc.msg}")]
    except (TwilioException, requests.RequestException, OSError) as exc:
        return [("Twilio credentials", False, f"Twilio API unreachable: {type(exc).__name__}")]


# --- sending -------------------------------------------------------------------------


def _rest_error(exc: TwilioRestException) -> ChannelError:
    text = explain(exc.code, fallback=f"Twilio refused the message: {exc.msg}")
    if exc.status == 429 or exc.code == 20429 or (exc.status or 0) >= 500:
        return TwilioTransientError(text, exc.code)
    return TwilioError(text, exc.code)


class TwilioAdapter:
    kind = "twilio"
    message_kinds = ("sms", "whatsapp")

    def send(self, channel, out: OutboundMessage) -> str:
        s = TwilioSettings.from_channel(channel.settings)
        params: dict = {"to": out.to if out.kind == "sms" else f"whatsapp:{out.to}"}
        if out.kind == "whatsapp":
            if not s.whatsapp_from:
                raise TwilioError("This Twilio account has no WhatsApp sender configured.")
            params["from_"] = f"whatsapp:{s.whatsapp_from}"
        elif s.messaging_service_sid:
            params["messaging_service_sid"] = s.messaging_service_sid
        elif s.sms_from:
            params["from_"] = s.sms_from
        else:
            raise TwilioError("This Twilio account has no SMS number or Messaging Service configured.")
        content_sid = out.meta.get("content_sid")
        if content_sid:
            params["content_sid"] = content_sid
            params["content_variables"] = json.dumps(out.meta.get("content_variables") or {}, ensure_ascii=False)
        else:
            params["body"] = out.text
        if out.meta.get("media_urls"):
            params["media_url"] = out.meta["media_urls"]
        if out.meta.get("status_callback"):
            params["status_callback"] = out.meta["status_callback"]
        try:
            message = client(s).messages.create(**params)
        except TwilioRestException as exc:
            raise _rest_error(exc) from None
        except (TwilioException, requests.RequestException, OSError) as exc:
            raise TwilioTransientError(f"Twilio API unreachable: {type(exc).__name__}") from None
        return message.sid


register(TwilioAdapter())
