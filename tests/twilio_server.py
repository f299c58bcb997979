"""A local Twilio-compatible HTTP server for the tests.

The real ``twilio`` library talks to it (Messages, Media, Accounts and the Content API),
and it behaves like Twilio towards the app: signed inbound webhooks, signed status
callbacks on a background thread, STOP/START opt-out, the WhatsApp 24-hour window,
and Twilio's legacy error bodies so the library raises ``TwilioRestException`` with the
real ``status`` and ``code``.

Point a client at it with ``server.client()``, or build one yourself with
``http_client=server.http_client()`` (rewrites every *.twilio.com URL, so
content.twilio.com works too) or ``client.api.base_url = server.base_url``.

Behaviour choices where Twilio's exact answer is not pinned down:

* An unknown ``ContentSid`` is refused at create time with 400 / 21655 ("The ContentSid
  is Invalid"); ContentVariables that are not a JSON object give 400 / 21656.
* An unknown ``MessagingServiceSid`` gives 400 / 21701.
* Opt-out is scoped to the (recipient, our number) pair, as Twilio does for a number; a
  send through a Messaging Service with no sender checks every pair of that recipient.
* A send through a Messaging Service without From answers "accepted" with "from": null;
  the service's sender appears once the message moves on, as with Twilio.
* Outbound ``MediaUrl``s are really downloaded (Twilio fetches them before sending);
  a download failure ends the message as ``failed`` with 11200 (SMS) or 63019 (WhatsApp).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from flask import Flask, Response, request
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import WSGIRequestHandler, make_server

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

# Twilio's default opt-out keywords (case-insensitive, the whole body).
OPT_OUT_KEYWORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_KEYWORDS = {"START", "YES", "UNSTOP"}
HELP_KEYWORDS = {"HELP", "INFO"}

WHATSAPP_WINDOW = dt.timedelta(hours=24)

# How far along a message is: the stored status never moves backwards, even when the
# callbacks arrive out of order.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 6,
    "failed": 6,
    "canceled": 6,
}
FAILED_STATUSES = {"failed", "undelivered"}

ERROR_MESSAGES = {
    11200: "HTTP retrieval failure",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service unavailable",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The 'From' phone number is not a valid, SMS-capable inbound phone number or short code for your account.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21655: "The ContentSid is Invalid",
    21656: "The ContentVariables Parameter is invalid",
    21701: "The Messaging Service does not exist",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
    63003: "Channel could not find To address",
    63007: "Twilio could not find a Channel with the specified From address",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63019: "Media failed to download",
    63024: "Invalid message recipient",
    63027: "Template does not exist for a language and locale",
}

# The GSM 03.38 alphabet: a body made only of these is 7-bit (160 a segment).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def rfc2822(value: dt.datetime | None) -> str | None:
    return email.utils.format_datetime(value.astimezone(dt.UTC)) if value else None


def iso8601(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def segments(body: str) -> int:
    if not body:
        return 1
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in body)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)  # UTF-16 code units
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def bare(address: str | None) -> str:
    """The number without a channel prefix such as ``whatsapp:``."""
    return (address or "").split(":", 1)[1] if ":" in (address or "") else (address or "")


def is_whatsapp(address: str | None) -> bool:
    return (address or "").lower().startswith("whatsapp:")


def error_code_message(code: int) -> str:
    return ERROR_MESSAGES.get(code, "Error")


class ApiError(Exception):
    """Answered with Twilio's legacy error body, which the library turns into
    TwilioRestException(status, code)."""

    def __init__(self, status: int, code: int, message: str | None = None, body: str | None = None):
        super().__init__(message or error_code_message(code))
        self.status, self.code, self.message, self.body = status, code, message or error_code_message(code), body

    def response(self) -> Response:
        if self.body is not None:
            return Response(self.body, status=self.status, content_type="text/html")
        payload = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        response = _json(payload, self.status)
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json; charset=utf-8")


# --- records -------------------------------------------------------------------------


@dataclass
class Account:
    sid: str
    auth_token: str
    friendly_name: str = "Test account"
    api_keys: dict[str, str] = field(default_factory=dict)  # SK... -> secret
    date_created: dt.datetime = field(default_factory=now)


@dataclass
class Media:
    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    data: bytes
    date_created: dt.datetime = field(default_factory=now)
    deleted: bool = False

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.message_sid}/Media/{self.sid}.json"

    def to_json(self) -> dict:
        return {
            "account_sid": self.account_sid,
            "content_type": self.content_type,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_created),
            "parent_sid": self.message_sid,
            "sid": self.sid,
            "uri": self.uri,
        }


@dataclass
class Message:
    sid: str
    account_sid: str
    from_: str | None
    to: str
    body: str
    direction: str  # inbound, outbound-api
    status: str
    date_created: dt.datetime
    date_sent: dt.datetime | None = None
    date_updated: dt.datetime | None = None
    messaging_service_sid: str | None = None
    num_segments: int = 1
    num_media: int = 0
    error_code: int | None = None
    error_message: str | None = None
    media: list[str] = field(default_factory=list)  # Media sids
    media_urls: list[str] = field(default_factory=list)  # what an outbound create asked for
    content_sid: str | None = None
    content_variables: dict | None = None
    status_callback: str | None = None
    seq: int = 0
    deleted: bool = False

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    @property
    def whatsapp(self) -> bool:
        return is_whatsapp(self.to) or is_whatsapp(self.from_)

    def sort_key(self) -> tuple:
        return (self.date_sent or self.date_created, self.date_created, self.seq)

    def to_json(self) -> dict:
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated or self.date_created),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(self.num_media),
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }


@dataclass
class Content:
    sid: str
    account_sid: str
    friendly_name: str
    language: str
    variables: dict[str, str]
    body: str
    approval_status: str = "approved"
    date_created: dt.datetime = field(default_factory=now)

    def render(self, variables: dict[str, Any]) -> str:
        values = {**self.variables, **{str(k): str(v) for k, v in variables.items()}}
        return re.sub(r"\{\{\s*([^}\s]+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), self.body)

    def to_json(self, base_url: str, approvals: bool = False) -> dict:
        payload = {
            "account_sid": self.account_sid,
            "date_created": iso8601(self.date_created),
            "date_updated": iso8601(self.date_created),
            "friendly_name": self.friendly_name,
            "language": self.language,
            "links": {
                "approval_create": f"{base_url}/v1/Content/{self.sid}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{base_url}/v1/Content/{self.sid}/ApprovalRequests",
            },
            "sid": self.sid,
            "types": {"twilio/text": {"body": self.body}},
            "url": f"{base_url}/v1/Content/{self.sid}",
            "variables": self.variables,
        }
        if approvals:
            payload["approval_requests"] = {
                "name": self.friendly_name,
                "category": "UTILITY",
                "content_type": "twilio/text",
                "status": self.approval_status,
                "rejection_reason": "",
                "allow_category_change": True,
            }
        return payload


@dataclass
class LoggedRequest:
    """One API call as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, str]  # first value of each field
    form_lists: dict[str, list[str]]  # every value (MediaUrl repeats)
    auth: tuple[str, str] | None
    status: int = 0

    def values(self, name: str) -> list[str]:
        return self.form_lists.get(name, [])


@dataclass
class Webhook:
    """One POST the server made to the app: an inbound message or a status callback."""

    kind: str  # "inbound" or "status"
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    status_code: int | None = None
    text: str = ""
    error: str | None = None


@dataclass
class Inbound:
    """What ``TwilioServer.inbound`` made: the stored message and each webhook delivery."""

    sid: str
    params: dict[str, str]
    responses: list[Any] = field(default_factory=list)

    @property
    def response(self) -> Any:
        """The last delivery's HTTP response (None when nothing was posted)."""
        return self.responses[-1] if self.responses else None


@dataclass
class _Failure:
    kind: str
    status: int
    code: int
    message: str | None
    body: str | None
    remaining: int


@dataclass
class _Delay:
    kind: str
    seconds: float
    remaining: int


@dataclass
class _Script:
    statuses: list[str]
    error_code: int | None
    remaining: int


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # werkzeug would print every request
        pass


def _default_transport(url: str, params: dict[str, str], headers: dict[str, str]):
    return requests.post(url, data=params, headers=headers, timeout=10, allow_redirects=False)


# --- the server ----------------------------------------------------------------------


class TwilioServer:
    """Twilio's Messages API, Media, Accounts and Content API on 127.0.0.1, in memory."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        api_key_sid: str | None = None,
        api_key_secret: str | None = None,
        friendly_name: str = "Test account",
        phone_numbers: Iterable[str] = (),
        status_delay: float = 0.05,
        out_of_order: bool = False,
        sms_statuses: Iterable[str] = ("queued", "sent", "delivered"),
        whatsapp_statuses: Iterable[str] = ("queued", "sent", "delivered", "read"),
        fetch_media: bool = True,
        media_auth: bool = True,
        media_url_base: str | None = None,
        transport: Callable[[str, dict[str, str], dict[str, str]], Any] | None = None,
    ):
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or uuid.uuid4().hex
        self.api_key_sid = api_key_sid
        self.api_key_secret = api_key_secret
        self.accounts: dict[str, Account] = {}
        self.add_account(self.account_sid, self.auth_token, friendly_name=friendly_name)
        if api_key_sid:
            self.add_api_key(api_key_sid, api_key_secret or "", self.account_sid)
        self.phone_numbers: set[str] = {bare(n) for n in phone_numbers}
        self.status_delay = status_delay
        self.out_of_order = out_of_order
        self.sms_statuses = list(sms_statuses)
        self.whatsapp_statuses = list(whatsapp_statuses)
        self.fetch_media = fetch_media
        self.media_auth = media_auth
        self.media_url_base = media_url_base
        self.transport = transport or _default_transport

        self.requests: list[LoggedRequest] = []
        self.webhooks: list[Webhook] = []
        self.opted_out: set[tuple[str, str]] = set()  # (their number, our number)
        self.messaging_services: dict[str, str | None] = {}  # MG... -> sender number

        self._messages: dict[str, Message] = {}
        self._media: dict[str, Media] = {}
        self._contents: dict[str, Content] = {}
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._scripts: list[_Script] = []
        self._seq = itertools.count(1)
        self._busy = 0
        self._server = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self.app = self._build_app()

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT, once started."""
        if self.port is None:
            raise RuntimeError("TwilioServer is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TwilioServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        # A short poll interval so stop() returns at once instead of after up to half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TwilioServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- configuration ---------------------------------------------------------------

    def add_account(self, account_sid: str, auth_token: str, friendly_name: str = "Test account") -> Account:
        with self._lock:
            account = Account(account_sid, auth_token, friendly_name)
            self.accounts[account_sid] = account
            return account

    def add_api_key(self, key_sid: str, secret: str, account_sid: str | None = None) -> None:
        with self._lock:
            self.accounts[account_sid or self.account_sid].api_keys[key_sid] = secret

    def add_number(self, number: str) -> None:
        """Once any number is added, a From that is not one of them is refused (21606/63007)."""
        with self._lock:
            self.phone_numbers.add(bare(number))

    def add_messaging_service(self, sender: str | None = None, sid: str | None = None) -> str:
        with self._lock:
            sid = sid or new_sid("MG")
            self.messaging_services[sid] = sender
            return sid

    def register_content(
        self,
        content_sid: str | None = None,
        variables: dict[str, str] | None = None,
        body: str | None = None,
        *,
        friendly_name: str | None = None,
        language: str = "en",
        approval_status: str = "approved",
        account_sid: str | None = None,
    ) -> str:
        """A Content template that creates may name as ContentSid; returns its HX sid."""
        with self._lock:
            sid = content_sid or new_sid("HX")
            variables = {str(k): str(v) for k, v in (variables or {}).items()}
            if body is None:
                body = " ".join(f"{{{{{k}}}}}" for k in variables) or "Hello"
            self._contents[sid] = Content(
                sid,
                account_sid or self.account_sid,
                friendly_name or f"template_{sid[-6:]}",
                language,
                variables,
                body,
                approval_status,
            )
            return sid

    def opt_out(self, number: str, our_number: str | None = None) -> None:
        """As if ``number`` had texted STOP (to ``our_number``, or to every number when None)."""
        with self._lock:
            self.opted_out.add((bare(number), bare(our_number) if our_number else "*"))

    def opt_in(self, number: str, our_number: str | None = None) -> None:
        with self._lock:
            self.opted_out = {
                (t, o)
                for (t, o) in self.opted_out
                if not (t == bare(number) and (our_number is None or o in (bare(our_number), "*")))
            }

    # --- fault injection -------------------------------------------------------------

    def fail_next_creates(
        self, n: int = 1, status: int = 500, code: int = 20500, message: str | None = None, body: str | None = None
    ) -> None:
        """The next ``n`` message creates answer ``status`` with Twilio error ``code``."""
        self.fail_next_requests("create", n, status, code, message, body)

    def fail_next_requests(
        self,
        kind: str,
        n: int = 1,
        status: int = 500,
        code: int = 20500,
        message: str | None = None,
        body: str | None = None,
    ) -> None:
        """Like fail_next_creates for another kind of call: create, list, fetch, media,
        account, content or any. ``body`` replaces the JSON error (e.g. a proxy's HTML page)."""
        with self._lock:
            self._failures.append(_Failure(kind, status, code, message, body, n))

    def delay_next_requests(self, kind: str, seconds: float, n: int = 1) -> None:
        """Hold the next ``n`` calls of ``kind`` for ``seconds`` before answering (client timeouts)."""
        with self._lock:
            self._delays.append(_Delay(kind, seconds, n))

    def script_next_deliveries(self, statuses: Iterable[str], error_code: int | None = None, n: int = 1) -> None:
        """The next ``n`` created messages go through exactly ``statuses`` (in that order)."""
        with self._lock:
            self._scripts.append(_Script(list(statuses), error_code, n))

    def fail_next_deliveries(self, n: int = 1, status: str = "undelivered", error_code: int = 30003) -> None:
        """The next ``n`` created messages are accepted (201) and then end ``status`` with ``error_code``."""
        self.script_next_deliveries(
            ["queued", "sent", status] if status == "undelivered" else ["queued", status], error_code, n
        )

    def clear_faults(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._scripts.clear()

    # --- clients ---------------------------------------------------------------------

    def http_client(self, timeout: float | None = 10) -> TwilioHttpClient:
        """A TwilioHttpClient that sends every *.twilio.com request to this server."""
        return _LocalHttpClient(self.base_url, timeout=timeout)

    def client(self, *, api_key: bool = False, timeout: float | None = 10) -> Client:
        """A real twilio Client wired to this server (with the API key when ``api_key``)."""
        if api_key:
            if not self.api_key_sid:
                raise ValueError("no API key configured")
            return Client(
                self.api_key_sid, self.api_key_secret, self.account_sid, http_client=self.http_client(timeout)
            )
        return Client(self.account_sid, self.auth_token, http_client=self.http_client(timeout))

    # --- store access for tests ------------------------------------------------------

    def message(self, sid: str) -> dict:
        """The message as the API returns it (JSON dict)."""
        with self._lock:
            return self._messages[sid].to_json()

    def messages(self, direction: str | None = None, to: str | None = None) -> list[dict]:
        """Stored messages, oldest first, optionally by direction ('inbound', 'outbound-api') or To."""
        with self._lock:
            items = sorted((m for m in self._messages.values() if not m.deleted), key=Message.sort_key)
            return [
                m.to_json()
                for m in items
                if (direction is None or m.direction == direction) and (to is None or m.to == to)
            ]

    def sent(self) -> list[dict]:
        """Outbound messages, oldest first."""
        return self.messages(direction="outbound-api")

    def media_of(self, sid: str) -> list[tuple[str, bytes]]:
        """(content_type, bytes) of each media item of a message (outbound: once fetched)."""
        with self._lock:
            return [(self._media[me].content_type, self._media[me].data) for me in self._messages[sid].media]

    def media_url(self, media_sid: str) -> str:
        with self._lock:
            media = self._media[media_sid]
        base = self.media_url_base or self.base_url
        return f"{base.rstrip('/')}{media.uri.removesuffix('.json')}"

    def callbacks(self, sid: str | None = None) -> list[Webhook]:
        """Status callbacks posted so far (for one message when ``sid``), in posting order."""
        with self._lock:
            return [w for w in self.webhooks if w.kind == "status" and (sid is None or w.params["MessageSid"] == sid)]

    def requests_to(self, method: str, path_suffix: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def creates(self) -> list[LoggedRequest]:
        """Every POST to Messages.json, including refused ones."""
        return self.requests_to("POST", "/Messages.json")

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until every status progression (and its callbacks) has finished."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("status callbacks still running")
                self._idle.wait(left)

    def wait_status(self, sid: str, status: str, timeout: float = 5.0) -> dict:
        """Wait until the stored message reaches ``status`` (or a later, non-failed one for
        a non-failure ``status``); returns its JSON."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.message(sid)
            reached = current["status"] not in FAILED_STATUSES and status not in FAILED_STATUSES
            if current["status"] == status or (
                reached and STATUS_RANK.get(current["status"], 0) >= STATUS_RANK.get(status, 0)
            ):
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sid} is {current['status']}, not {status}")
            time.sleep(0.01)

    def reset(self) -> None:
        """Forget messages, media, logs, opt-outs and faults (accounts and templates stay)."""
        self.wait_idle()
        with self._lock:
            self._messages.clear()
            self._media.clear()
            self.requests.clear()
            self.webhooks.clear()
            self.opted_out.clear()
        self.clear_faults()

    # --- signing and posting ---------------------------------------------------------

    def sign(self, url: str, params: dict[str, str], account_sid: str | None = None) -> str:
        """X-Twilio-Signature for a POST of ``params`` to ``url``, with the account's auth token."""
        token = self.accounts[account_sid or self.account_sid].auth_token
        return RequestValidator(token).compute_signature(url, params)

    def post_webhook(
        self,
        url: str,
        params: dict[str, str],
        *,
        kind: str = "inbound",
        account_sid: str | None = None,
        forge_signature: bool = False,
        idempotency_token: str | None = None,
    ) -> Any:
        """POST ``params`` form-encoded and signed, as Twilio does; logged in ``webhooks``."""
        if forge_signature:
            signature = RequestValidator("forged-" + uuid.uuid4().hex).compute_signature(url, params)
        else:
            signature = self.sign(url, params, account_sid)
        headers = {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "*/*",
        }
        record = Webhook(kind, url, dict(params), headers)
        with self._lock:
            self.webhooks.append(record)
        try:
            response = self.transport(url, params, headers)
        except Exception as exc:  # the app being down is a normal test situation
            record.error = f"{type(exc).__name__}: {exc}"
            return None
        record.status_code = getattr(response, "status_code", None)
        text = getattr(response, "text", None)
        if text is None and hasattr(response, "get_data"):
            text = response.get_data(as_text=True)
        record.text = text if isinstance(text, str) else ""
        return response

    # --- inbound messages ------------------------------------------------------------

    def inbound(
        self,
        from_: str,
        to: str,
        body: str = "",
        *,
        whatsapp: bool = False,
        media: Iterable[tuple[str, bytes]] = (),
        profile_name: str | None = None,
        wa_id: str | None = None,
        message_type: str | None = None,
        latitude: float | str | None = None,
        longitude: float | str | None = None,
        address: str | None = None,
        label: str | None = None,
        button_text: str | None = None,
        button_payload: str | None = None,
        replied_to: str | None = None,
        replied_sender: str | None = None,
        date_sent: dt.datetime | None = None,
        messaging_service_sid: str | None = None,
        account_sid: str | None = None,
        extra: dict[str, str] | None = None,
        url: str | None = None,
        twice: bool = False,
        forge_signature: bool = False,
    ) -> Inbound:
        """A message from a customer: stored (so messages.list sees it) and, with ``url``,
        posted there as a signed webhook (``twice`` repeats the same delivery;
        ``forge_signature`` signs with the wrong token).

        WhatsApp when ``whatsapp`` or ``from_`` starts with "whatsapp:". ``media`` is
        (content_type, bytes) pairs. ``date_sent`` back-dates it (e.g. to close the
        WhatsApp 24-hour window). SMS opt-out keywords (STOP, START, HELP...) update the
        opt-out state and add OptOutType, as Twilio's default opt-out handling does."""
        account_sid = account_sid or self.account_sid
        if whatsapp or is_whatsapp(from_) or is_whatsapp(to):
            from_, to = f"whatsapp:{bare(from_)}", f"whatsapp:{bare(to)}"
        wa = is_whatsapp(from_)
        media = list(media)
        sid = new_sid("MM" if media else "SM")
        sent_at = (date_sent or now()).astimezone(dt.UTC)
        message = Message(
            sid=sid,
            account_sid=account_sid,
            from_=from_,
            to=to,
            body=body,
            direction="inbound",
            status="received",
            date_created=sent_at,
            date_sent=sent_at,
            date_updated=sent_at,
            messaging_service_sid=messaging_service_sid,
            num_segments=1 if wa else segments(body),
            num_media=len(media),
            seq=next(self._seq),
        )
        with self._lock:
            for content_type, data in media:
                item = Media(new_sid("ME"), account_sid, sid, content_type, data, sent_at)
                self._media[item.sid] = item
                message.media.append(item.sid)
            self._messages[sid] = message

        params: dict[str, str] = {
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": str(message.num_segments),
            "MessageSid": sid,
            "AccountSid": account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        if messaging_service_sid:
            params["MessagingServiceSid"] = messaging_service_sid
        for i, me in enumerate(message.media):
            params[f"MediaContentType{i}"] = self._media[me].content_type
            params[f"MediaUrl{i}"] = self.media_url(me)
        if wa:
            params["WaId"] = wa_id or bare(from_).lstrip("+")
            if profile_name is not None:
                params["ProfileName"] = profile_name
            params["ReferralNumMedia"] = "0"
            params["MessageType"] = message_type or self._whatsapp_type(media, latitude, button_text or button_payload)
        elif message_type:
            params["MessageType"] = message_type
        if latitude is not None and longitude is not None:
            params["Latitude"], params["Longitude"] = str(latitude), str(longitude)
            if address:
                params["Address"] = address
            if label:
                params["Label"] = label
        if button_text is not None:
            params["ButtonText"] = button_text
        if button_payload is not None:
            params["ButtonPayload"] = button_payload
        if replied_to:
            params["OriginalRepliedMessageSid"] = replied_to
            params["OriginalRepliedMessageSender"] = replied_sender or to
        if not wa:
            keyword = body.strip().upper()
            with self._lock:
                if keyword in OPT_OUT_KEYWORDS:
                    self.opted_out.add((bare(from_), bare(to)))
                    params["OptOutType"] = "STOP"
                elif keyword in OPT_IN_KEYWORDS:
                    self.opted_out.discard((bare(from_), bare(to)))
                    self.opted_out.discard((bare(from_), "*"))
                    params["OptOutType"] = "START"
                elif keyword in HELP_KEYWORDS:
                    params["OptOutType"] = "HELP"
        params.update(extra or {})

        result = Inbound(sid, params)
        if url:
            token = str(uuid.uuid4())
            for _ in range(2 if twice else 1):
                result.responses.append(
                    self.post_webhook(
                        url,
                        params,
                        account_sid=account_sid,
                        forge_signature=forge_signature,
                        idempotency_token=token,
                    )
                )
        return result

    @staticmethod
    def _whatsapp_type(media: list, latitude, button) -> str:
        if latitude is not None:
            return "location"
        if button:
            return "button"
        if media:
            major = media[0][0].split("/")[0]
            return {"image": "image", "video": "video", "audio": "audio"}.get(major, "document")
        return "text"

    # --- outbound messages -----------------------------------------------------------

    def _create(self, account: Account) -> Message:
        form = request.form
        to = (form.get("To") or "").strip()
        from_ = (form.get("From") or "").strip() or None
        body = form.get("Body")
        media_urls = form.getlist("MediaUrl")
        content_sid = form.get("ContentSid") or None
        service_sid = form.get("MessagingServiceSid") or None
        callback = form.get("StatusCallback") or None

        if not to:
            raise ApiError(400, 21604)
        if not from_ and not service_sid:
            raise ApiError(400, 21603)
        if not body and not media_urls and not content_sid:
            raise ApiError(400, 21602)
        if body and len(body) > 1600:
            raise ApiError(400, 21617)
        if not E164.match(bare(to)):
            raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        with self._lock:
            if service_sid and service_sid not in self.messaging_services:
                raise ApiError(400, 21701, f"The Messaging Service Sid {service_sid} is invalid.")
            if not from_ and service_sid:
                sender = self.messaging_services[service_sid]
                from_ = (f"whatsapp:{bare(sender)}" if is_whatsapp(to) else sender) if sender else None
        if from_:
            if is_whatsapp(from_) != is_whatsapp(to):
                raise ApiError(400, 21910)
            if not (E164.match(bare(from_)) or (not is_whatsapp(from_) and ALPHANUMERIC_SENDER.match(from_))):
                raise ApiError(400, 21212, f"Invalid From Number (caller ID): {from_}")
            if self.phone_numbers and bare(from_) not in self.phone_numbers and E164.match(bare(from_)):
                if is_whatsapp(from_):
                    raise ApiError(400, 63007)
                raise ApiError(400, 21606)
        if callback and urlsplit(callback).scheme not in ("http", "https"):
            raise ApiError(400, 21609)

        variables: dict | None = None
        content = None
        if content_sid:
            with self._lock:
                content = self._contents.get(content_sid)
            if content is None or content.account_sid != account.sid:
                raise ApiError(400, 21655, f"The ContentSid is Invalid: {content_sid}")
            raw = form.get("ContentVariables")
            try:
                variables = json.loads(raw) if raw else {}
            except ValueError:
                raise ApiError(400, 21656) from None
            if not isinstance(variables, dict):
                raise ApiError(400, 21656)
            body = content.render(variables)

        whatsapp = is_whatsapp(to)
        if not whatsapp and self._is_opted_out(to, from_):
            raise ApiError(400, 21610)

        created = now()
        sid = new_sid("MM" if media_urls else "SM")
        message = Message(
            sid=sid,
            account_sid=account.sid,
            from_=from_ if form.get("From") else None,  # Twilio picks the service's sender later
            to=to,
            body=body or "",
            direction="outbound-api",
            status="accepted" if service_sid and not form.get("From") else "queued",
            date_created=created,
            date_updated=created,
            messaging_service_sid=service_sid,
            num_segments=1 if whatsapp else segments(body or ""),
            num_media=len(media_urls),
            media_urls=media_urls,
            content_sid=content_sid,
            content_variables=variables,
            status_callback=callback,
            seq=next(self._seq),
        )
        sender = from_

        # The script for this message: injected first, then Twilio's own rules.
        statuses = list(self.whatsapp_statuses if whatsapp else self.sms_statuses)
        error_code = None
        with self._lock:
            script = self._scripts[0] if self._scripts else None
            if script:
                script.remaining -= 1
                if script.remaining <= 0:
                    self._scripts.pop(0)
                statuses, error_code = list(script.statuses), script.error_code
            elif whatsapp and not content_sid and not self._in_window(to, from_):
                statuses, error_code = ["queued", "failed"], 63016
            elif self.out_of_order and "sent" in statuses and "delivered" in statuses:
                i, j = statuses.index("sent"), statuses.index("delivered")
                statuses[i], statuses[j] = statuses[j], statuses[i]
            self._messages[sid] = message
            self._busy += 1
        threading.Thread(
            target=self._progress, args=(sid, sender, statuses, error_code), name=f"twilio-{sid}", daemon=True
        ).start()
        return message

    def _is_opted_out(self, to: str, from_: str | None) -> bool:
        them = bare(to)
        with self._lock:
            if (them, "*") in self.opted_out:
                return True
            if from_ is None:
                return any(t == them for t, _ in self.opted_out)
            return (them, bare(from_)) in self.opted_out

    def _in_window(self, to: str, from_: str | None) -> bool:
        """Whether the customer wrote to this WhatsApp sender within the last 24 hours."""
        limit = now() - WHATSAPP_WINDOW
        with self._lock:
            return any(
                m.direction == "inbound"
                and not m.deleted
                and m.from_ == to
                and (from_ is None or m.to == from_)
                and (m.date_sent or m.date_created) >= limit
                for m in self._messages.values()
            )

    def _progress(self, sid: str, sender: str | None, statuses: list[str], error_code: int | None) -> None:
        fetched = False
        try:
            for status in statuses:
                time.sleep(self.status_delay)
                if not fetched and status not in ("accepted", "queued") and status not in FAILED_STATUSES:
                    # Twilio downloads MediaUrl before handing the message to the carrier.
                    fetched = True
                    failure = self._fetch_media(sid)
                    if failure:
                        self._advance(sid, sender, "failed", failure)
                        return
                self._advance(sid, sender, status, error_code if status in FAILED_STATUSES else None)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _fetch_media(self, sid: str) -> int | None:
        with self._lock:
            message = self._messages.get(sid)
            if message is None or message.media or not message.media_urls:
                return None
            urls, whatsapp, account_sid = list(message.media_urls), message.whatsapp, message.account_sid
        if not self.fetch_media:
            return None
        fetched = []
        for url in urls:
            try:
                response = requests.get(url, timeout=5)
            except requests.RequestException:
                return 63019 if whatsapp else 11200
            if response.status_code != 200:
                return 63019 if whatsapp else 11200
            content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
            fetched.append((content_type, response.content))
        with self._lock:
            for content_type, data in fetched:
                item = Media(new_sid("ME"), account_sid, sid, content_type, data)
                self._media[item.sid] = item
                message.media.append(item.sid)
        return None

    def _advance(self, sid: str, sender: str | None, status: str, error_code: int | None) -> None:
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return
            if message.from_ is None and sender:
                message.from_ = sender
            if (
                STATUS_RANK.get(status, 0) >= STATUS_RANK.get(message.status, 0)
                and message.status not in FAILED_STATUSES
            ):
                message.status = status
                message.date_updated = now()
                if status in FAILED_STATUSES:
                    message.error_code = error_code
                    message.error_message = error_code_message(error_code) if error_code else None
                elif STATUS_RANK.get(status, 0) >= STATUS_RANK["sent"] and message.date_sent is None:
                    message.date_sent = now()
            callback = message.status_callback
            params = {
                "SmsSid": sid,
                "SmsStatus": status,
                "MessageStatus": status,
                "To": message.to,
                "MessageSid": sid,
                "AccountSid": message.account_sid,
                "From": message.from_ or "",
                "ApiVersion": API_VERSION,
            }
            if message.messaging_service_sid:
                params["MessagingServiceSid"] = message.messaging_service_sid
            if message.whatsapp:
                params["ChannelPrefix"] = "whatsapp"
                params["ChannelToAddress"] = bare(message.to)
            if status in FAILED_STATUSES and error_code:
                params["ErrorCode"] = str(error_code)
            if status == "delivered" and not message.whatsapp:
                params["RawDlrDoneDate"] = now().strftime("%y%m%d%H%M")
        if callback:
            self.post_webhook(callback, params, kind="status", account_sid=message.account_sid)

    # --- the HTTP app ----------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask("twilio_server")
        server = self
        base = f"/{API_VERSION}/Accounts"

        @app.before_request
        def _log_and_auth():
            auth = request.authorization
            entry = LoggedRequest(
                request.method,
                request.path,
                {k: request.args.getlist(k) for k in request.args},
                {k: request.form.get(k) for k in request.form},
                {k: request.form.getlist(k) for k in request.form},
                (auth.username, auth.password) if auth and auth.type == "basic" else None,
            )
            request.environ["twilio.log"] = entry
            with server._lock:
                server.requests.append(entry)
            kind = _kind(request.method, request.path)
            public_media = kind == "media" and request.method == "GET" and not request.path.endswith(".json")
            if public_media and not server.media_auth:
                request.environ["twilio.account"] = None
            else:
                request.environ["twilio.account"] = server._authenticate(entry.auth)
            server._inject(kind)

        @app.after_request
        def _record_status(response):
            entry = request.environ.get("twilio.log")
            if entry is not None:
                entry.status = response.status_code
            return response

        @app.errorhandler(ApiError)
        def _api_error(exc: ApiError):
            return exc.response()

        @app.errorhandler(404)
        def _not_found(exc):
            return ApiError(404, 20404, f"The requested resource {request.path} was not found").response()

        @app.errorhandler(405)
        def _not_allowed(exc):
            return ApiError(405, 20004, "Method not allowed").response()

        def account_for(account_sid: str) -> Account:
            account = request.environ.get("twilio.account")
            if account is None or account.sid != account_sid:
                raise ApiError(401, 20003)
            return account

        @app.get(f"{base}/<name>")
        def fetch_account(name):
            account = account_for(name.removesuffix(".json"))
            if not name.endswith(".json"):
                raise ApiError(404, 20404)
            uri = f"{base}/{account.sid}.json"
            return _json(
                {
                    "auth_token": account.auth_token,
                    "date_created": rfc2822(account.date_created),
                    "date_updated": rfc2822(account.date_created),
                    "friendly_name": account.friendly_name,
                    "owner_account_sid": account.sid,
                    "sid": account.sid,
                    "status": "active",
                    "subresource_uris": {"messages": f"{base}/{account.sid}/Messages.json"},
                    "type": "Full",
                    "uri": uri,
                }
            )

        @app.route(f"{base}/<account_sid>/Messages.json", methods=["GET", "POST"])
        def messages(account_sid):
            account = account_for(account_sid)
            if request.method == "POST":
                return _json(server._create(account).to_json(), 201)
            return server._list_messages(account)

        @app.route(f"{base}/<account_sid>/Messages/<name>", methods=["GET", "POST", "DELETE"])
        def message(account_sid, name):
            account = account_for(account_sid)
            if not name.endswith(".json"):
                raise ApiError(404, 20404, f"The requested resource {request.path} was not found")
            msg = server._get_message(account, name.removesuffix(".json"))
            if request.method == "DELETE":
                with server._lock:
                    if msg.direction != "inbound" and msg.status in ("accepted", "queued", "sending"):
                        raise ApiError(400, 20009, "Cannot delete message because it is still in progress")
                    msg.deleted = True
                    for me in msg.media:
                        server._media[me].deleted = True
                return Response(status=204)
            if request.method == "POST":
                with server._lock:
                    if "Body" in request.form:
                        if request.form["Body"] != "":
                            raise ApiError(400, 20001, "Body can only be redacted (set to an empty string)")
                        msg.body = ""
                    if request.form.get("Status") == "canceled":
                        if msg.status != "scheduled":
                            raise ApiError(400, 30409, "Message cannot be canceled")
                        msg.status = "canceled"
                    msg.date_updated = now()
            return _json(msg.to_json())

        @app.get(f"{base}/<account_sid>/Messages/<message_sid>/Media.json")
        def media_list(account_sid, message_sid):
            account = account_for(account_sid)
            msg = server._get_message(account, message_sid)
            with server._lock:
                items = [server._media[me] for me in msg.media if not server._media[me].deleted]
            path = f"{base}/{account.sid}/Messages/{msg.sid}/Media.json"
            return _json(server._page([m.to_json() for m in items], "media_list", path, {}))

        @app.route(f"{base}/<account_sid>/Messages/<message_sid>/Media/<name>", methods=["GET", "DELETE"])
        def media(account_sid, message_sid, name):
            if name.endswith(".json") or request.method != "GET" or server.media_auth:
                account = account_for(account_sid)
            else:  # media URLs are public unless the account turned on HTTP auth for media
                account = server.accounts.get(account_sid)
                if account is None:
                    raise ApiError(404, 20404)
            msg = server._get_message(account, message_sid)
            with server._lock:
                item = server._media.get(name.removesuffix(".json"))
                if item is None or item.deleted or item.message_sid != msg.sid:
                    raise ApiError(404, 20404, f"The requested resource {request.path} was not found")
                if request.method == "DELETE":
                    item.deleted = True
                    msg.media.remove(item.sid)
                    return Response(status=204)
            if name.endswith(".json"):
                return _json(item.to_json())
            return Response(item.data, content_type=item.content_type)

        @app.get("/v1/Content")
        def content_list():
            return server._content_page("Content", approvals=False)

        @app.get("/v1/ContentAndApprovals")
        def content_and_approvals():
            return server._content_page("ContentAndApprovals", approvals=True)

        @app.get("/v1/Content/<content_sid>")
        def content_fetch(content_sid):
            account = server._content_account()
            with server._lock:
                content = server._contents.get(content_sid)
            if content is None or content.account_sid != account.sid:
                raise ApiError(404, 20404, f"The requested resource /Content/{content_sid} was not found")
            return _json(content.to_json(server.base_url))

        return app

    def _authenticate(self, auth: tuple[str, str] | None) -> Account:
        if auth is None:
            raise ApiError(401, 20003)
        user, password = auth
        with self._lock:
            account = self.accounts.get(user)
            if account is not None and account.auth_token == password:
                return account
            for account in self.accounts.values():
                if account.api_keys.get(user) == password and user in account.api_keys:
                    return account
        raise ApiError(401, 20003)

    def _inject(self, kind: str) -> None:
        with self._lock:
            delay = next((d for d in self._delays if d.kind in (kind, "any")), None)
            if delay:
                delay.remaining -= 1
                if delay.remaining <= 0:
                    self._delays.remove(delay)
            failure = next((f for f in self._failures if f.kind in (kind, "any")), None)
            if failure:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
        if delay:
            time.sleep(delay.seconds)
        if failure:
            raise ApiError(failure.status, failure.code, failure.message, failure.body)

    def _get_message(self, account: Account, sid: str) -> Message:
        with self._lock:
            msg = self._messages.get(sid)
        if msg is None or msg.deleted or msg.account_sid != account.sid:
            raise ApiError(404, 20404, f"The requested resource {request.path} was not found")
        return msg

    def _list_messages(self, account: Account) -> Response:
        args = request.args
        filters = {k: args[k] for k in ("To", "From", "DateSent", "DateSent<", "DateSent>") if args.get(k)}
        days = {k: _day(v) for k, v in filters.items() if k.startswith("DateSent")}
        with self._lock:
            items = [m for m in self._messages.values() if m.account_sid == account.sid and not m.deleted]
        if "To" in filters:
            items = [m for m in items if m.to == filters["To"]]
        if "From" in filters:
            items = [m for m in items if m.from_ == filters["From"]]
        if days:
            items = [m for m in items if m.date_sent is not None]
        if "DateSent" in days:
            items = [m for m in items if m.date_sent.date() == days["DateSent"]]
        if "DateSent>" in days:
            items = [m for m in items if m.date_sent.date() >= days["DateSent>"]]
        if "DateSent<" in days:
            items = [m for m in items if m.date_sent.date() <= days["DateSent<"]]
        items.sort(key=Message.sort_key, reverse=True)
        path = f"/{API_VERSION}/Accounts/{account.sid}/Messages.json"
        token = args.get("PageToken") or ""
        if token.startswith("PA"):
            with self._lock:
                anchor = self._messages.get(token[2:])
            if anchor is not None:
                key = anchor.sort_key()
                items = [m for m in items if m.sort_key() < key]
        page = self._page([m.to_json() for m in items], "messages", path, filters, lambda r: "PA" + r["sid"])
        return _json(page)

    def _page(
        self,
        records: list[dict],
        key: str,
        path: str,
        filters: dict[str, str],
        token_of: Callable[[dict], str] | None = None,
    ) -> dict:
        """One page in the 2010-04-01 list shape. With ``token_of`` the collection is
        keyset-paged: ``records`` already start after the PageToken, and the next page's
        token names this page's last record. Otherwise Page/PageSize slice it."""
        args = request.args
        try:
            size = min(max(int(args.get("PageSize", 50)), 1), 1000)
            number = max(int(args.get("Page", 0)), 0)
        except ValueError:
            raise ApiError(400, 20001, "Invalid paging parameter") from None
        if not (token_of and args.get("PageToken")):
            records = records[number * size :]
        chunk = records[:size]
        start = number * size

        def uri(page: int, token: str | None = None) -> str:
            # The library does not resend filters on later pages, so the links carry them.
            query = {**filters, "PageSize": str(size), "Page": str(page)}
            if token:
                query["PageToken"] = token
            return f"{path}?{urlencode(query)}"

        next_uri = None
        if len(records) > size:
            next_uri = uri(number + 1, token_of(chunk[-1]) if token_of else None)
        return {
            key: chunk,
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": next_uri,
            "page": number,
            "page_size": size,
            "previous_page_uri": uri(number - 1) if number > 0 else None,
            "start": start,
            "uri": uri(number, args.get("PageToken")),
        }

    def _content_account(self) -> Account:
        account = request.environ.get("twilio.account")
        if account is None:
            raise ApiError(401, 20003)
        return account

    def _content_page(self, name: str, approvals: bool) -> Response:
        account = self._content_account()
        with self._lock:
            items = sorted(
                (c for c in self._contents.values() if c.account_sid == account.sid), key=lambda c: c.date_created
            )
        try:
            size = min(max(int(request.args.get("PageSize", 50)), 1), 1000)
            page = max(int(request.args.get("Page", 0)), 0)
        except ValueError:
            raise ApiError(400, 20001, "Invalid paging parameter") from None
        chunk = items[page * size : (page + 1) * size]
        url = f"{self.base_url}/v1/{name}"
        more = len(items) > (page + 1) * size
        return _json(
            {
                "contents": [c.to_json(self.base_url, approvals) for c in chunk],
                "meta": {
                    "page": page,
                    "page_size": size,
                    "first_page_url": f"{url}?PageSize={size}&Page=0",
                    "previous_page_url": f"{url}?PageSize={size}&Page={page - 1}" if page else None,
                    "url": f"{url}?PageSize={size}&Page={page}",
                    "next_page_url": f"{url}?PageSize={size}&Page={page + 1}" if more else None,
                    "key": "contents",
                },
            }
        )


def _kind(method: str, path: str) -> str:
    if path.startswith("/v1/"):
        return "content"
    parts = path.strip("/").split("/")
    # 2010-04-01 / Accounts / AC / Messages.json | Messages / SM.json | ... / Media / ME
    if len(parts) == 3:
        return "account"
    if len(parts) == 4 and parts[3] == "Messages.json":
        return "create" if method == "POST" else "list"
    if len(parts) == 5:
        return "fetch" if method == "GET" else "update" if method == "POST" else "delete"
    if len(parts) >= 6 and parts[5].startswith("Media"):
        return "media"
    return "other"


def _day(value: str) -> dt.date:
    """Twilio reads DateSent filters as GMT days, whatever time the library sends."""
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise ApiError(400, 20001, f"Invalid DateSent value: {value}") from None


class _LocalHttpClient(TwilioHttpClient):
    """Sends every *.twilio.com request to the local server, keeping path and query."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and (parts.hostname == "twilio.com" or parts.hostname.endswith(".twilio.com")):
            url = self.base_url + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, url, *args, **kwargs)
