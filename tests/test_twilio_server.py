"""The local Twilio server, driven only through the real ``twilio`` library (and plain
HTTP where Twilio itself is plain HTTP: media downloads and webhooks)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .twilio_server import TwilioServer, _QuietHandler

SMS_NUMBER = "+15005550006"
WA_NUMBER = "+14155238886"
CUSTOMER = "+821012345678"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class Receiver:
    """The app's side of the wire: records every webhook and serves files for MediaUrl."""

    def __init__(self):
        self.posts: list[dict] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.answer = 200
        self._arrived = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _wsgi(self, environ, start_response):
        req = Request(environ)
        if req.method == "GET" and req.path.startswith("/files/"):
            item = self.files.get(req.path.removeprefix("/files/"))
            response = Response(item[1], content_type=item[0]) if item else Response("no", status=404)
            return response(environ, start_response)
        with self._arrived:
            self.posts.append(
                {
                    "url": req.url,
                    "form": req.form.to_dict(),
                    "raw": req.get_data(as_text=True),
                    "headers": dict(req.headers),
                }
            )
            self._arrived.notify_all()
        return Response("<Response/>", status=self.answer, content_type="text/xml")(environ, start_response)

    def wait_for(self, count: int, timeout: float = 3.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"only {len(self.posts)} of {count} webhooks arrived"
                self._arrived.wait(left)
            return list(self.posts)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def twilio():
    server = TwilioServer(api_key_sid="SK" + "1" * 32, api_key_secret="key-secret", status_delay=0.01).start()
    yield server
    server.wait_idle()
    server.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def valid(server: TwilioServer, post: dict) -> bool:
    validator = RequestValidator(server.auth_token)
    return validator.validate(post["url"], post["form"], post["headers"]["X-Twilio-Signature"])


def rest_error(call) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as info:
        call()
    return info.value


# --- sending -------------------------------------------------------------------------


def test_create_returns_a_queued_message_and_logs_the_request(twilio):
    client = twilio.client()
    message = client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="Hello there")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert (message.status, message.direction, message.to, message.from_) == (
        "queued",
        "outbound-api",
        CUSTOMER,
        SMS_NUMBER,
    )
    assert message.account_sid == twilio.account_sid and message.api_version == "2010-04-01"
    assert message.date_created.tzinfo is not None and message.date_sent is None
    assert message.num_segments == "1" and message.error_code is None
    assert message.subresource_uris["media"].endswith(f"/Messages/{message.sid}/Media.json")

    (logged,) = twilio.creates()
    assert logged.form == {"To": CUSTOMER, "From": SMS_NUMBER, "Body": "Hello there"}
    assert logged.auth == (twilio.account_sid, twilio.auth_token) and logged.status == 201


def test_plain_base_url_and_api_key_credentials(twilio):
    client = Client(twilio.api_key_sid, twilio.api_key_secret, twilio.account_sid)
    client.api.base_url = twilio.base_url
    sid = client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="via key").sid
    assert twilio.creates()[0].auth == (twilio.api_key_sid, "key-secret")
    assert client.messages(sid).fetch().body == "via key"
    assert client.api.v2010.accounts(twilio.account_sid).fetch().status == "active"

    wrong = Client(twilio.account_sid, "not-the-token", http_client=twilio.http_client())
    exc = rest_error(lambda: wrong.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="x"))
    assert (exc.status, exc.code) == (401, 20003)


def test_mms_media_urls_are_fetched_like_twilio_does(twilio, receiver):
    receiver.files["photo.png"] = ("image/png", PNG)
    client = twilio.client()
    urls = [f"{receiver.base_url}/files/photo.png", f"{receiver.base_url}/files/photo.png"]
    message = client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, media_url=urls)
    assert message.sid.startswith("MM") and message.num_media == "2"
    assert twilio.creates()[0].values("MediaUrl") == urls
    twilio.wait_idle()
    assert twilio.media_of(message.sid) == [("image/png", PNG), ("image/png", PNG)]
    assert len(client.messages(message.sid).media.list()) == 2

    broken = client.messages.create(
        to=f"whatsapp:{CUSTOMER}",
        from_=f"whatsapp:{WA_NUMBER}",
        media_url=[f"{receiver.base_url}/files/missing.png"],
        content_sid=twilio.register_content(body="see attached"),
    )
    twilio.wait_idle()
    fetched = client.messages(broken.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("failed", 63019)


# --- listing, fetching, media --------------------------------------------------------


def test_list_pages_through_120_messages_with_the_date_filter(twilio):
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=1, second=0, microsecond=0)
    for i in range(120):
        twilio.inbound(CUSTOMER, SMS_NUMBER, f"msg {i}", date_sent=today + dt.timedelta(seconds=i))
    twilio.inbound(CUSTOMER, SMS_NUMBER, "late yesterday", date_sent=today - dt.timedelta(minutes=3))
    twilio.inbound(CUSTOMER, SMS_NUMBER, "last week", date_sent=today - dt.timedelta(days=7))

    # The library sends a full timestamp; Twilio reads it as the whole GMT day.
    after = today.replace(hour=10, minute=30)
    messages = twilio.client().messages.list(date_sent_after=after, page_size=50)
    assert [m.body for m in messages] == [f"msg {i}" for i in reversed(range(120))]
    assert all(m.direction == "inbound" and m.status == "received" for m in messages)

    pages = twilio.requests_to("GET", "/Messages.json")
    assert len(pages) == 3
    assert pages[0].query["DateSent>"] == [after.strftime("%Y-%m-%dT%H:%M:%SZ")]
    # The filter rides along in next_page_uri, since the library does not resend it.
    assert all(p.query["DateSent>"] and p.query["PageSize"] == ["50"] for p in pages)
    assert [p.query.get("Page") for p in pages] == [None, ["1"], ["2"]]

    everything = twilio.client().messages.list(page_size=1000)
    assert len(everything) == 122 and everything[-1].body == "last week"
    on_day = twilio.client().messages.list(date_sent=today - dt.timedelta(days=7))
    assert [m.body for m in on_day] == ["last week"]
    before = twilio.client().messages.list(date_sent_before=today - dt.timedelta(days=1))
    assert [m.body for m in before] == ["late yesterday", "last week"]


def test_list_filters_by_to_and_from(twilio):
    twilio.inbound(CUSTOMER, SMS_NUMBER, "in")
    twilio.client().messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="out")
    client = twilio.client()
    assert [m.body for m in client.messages.list(to=CUSTOMER)] == ["out"]
    assert [m.body for m in client.messages.list(from_=CUSTOMER)] == ["in"]


def test_fetch_and_not_found(twilio):
    client = twilio.client()
    sid = client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="fetch me").sid
    assert client.messages(sid).fetch().body == "fetch me"
    exc = rest_error(lambda: client.messages("SM" + "0" * 32).fetch())
    assert (exc.status, exc.code) == (404, 20404)


def test_media_list_and_download_need_basic_auth(twilio):
    inbound = twilio.inbound(CUSTOMER, SMS_NUMBER, "look", media=[("image/png", PNG), ("text/vcard", b"BEGIN:VCARD")])
    client = twilio.client()
    message = client.messages(inbound.sid).fetch()
    assert message.num_media == "2" and message.sid.startswith("MM")
    media = client.messages(inbound.sid).media.list()
    assert [m.content_type for m in media] == ["image/png", "text/vcard"]

    url = twilio.base_url + media[0].uri.removesuffix(".json")
    assert url == inbound.params["MediaUrl0"]
    got = requests.get(url, auth=(twilio.account_sid, twilio.auth_token), timeout=5)
    assert got.status_code == 200 and got.content == PNG and got.headers["Content-Type"] == "image/png"
    assert requests.get(url, auth=(twilio.api_key_sid, "key-secret"), timeout=5).content == PNG
    assert requests.get(url, timeout=5).status_code == 401


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, 20429), (500, 20500), (400, 21211), (503, 20503)],
)
def test_injected_create_failures(twilio, status, code):
    client = twilio.client()
    twilio.fail_next_creates(2, status=status, code=code)
    for _ in range(2):
        exc = rest_error(lambda: client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="x"))
        assert (exc.status, exc.code) == (status, code)
    assert client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="x").status == "queued"
    assert [r.status for r in twilio.creates()] == [status, status, 201]


def test_injected_non_json_error_and_list_failure(twilio):
    client = twilio.client()
    twilio.fail_next_creates(status=502, code=0, body="<html>Bad Gateway</html>")
    exc = rest_error(lambda: client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="x"))
    assert (exc.status, exc.code) == (502, 502)
    twilio.fail_next_requests("list", status=500, code=20500)
    with pytest.raises(Exception, match="Unable to fetch page"):
        client.messages.list()
    assert client.messages.list() == []


def test_delayed_request_hits_the_client_timeout(twilio):
    twilio.delay_next_requests("create", 0.5)
    with pytest.raises(requests.Timeout):
        twilio.client(timeout=0.1).messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="slow")


def test_validation_errors_match_twilio(twilio):
    client = twilio.client()
    cases = [
        ({"to": "12345", "from_": SMS_NUMBER, "body": "x"}, 21211),
        ({"to": CUSTOMER, "from_": SMS_NUMBER}, 21602),
        ({"to": CUSTOMER, "body": "x"}, 21603),
        ({"to": f"whatsapp:{CUSTOMER}", "from_": SMS_NUMBER, "body": "x"}, 21910),
        ({"to": CUSTOMER, "from_": SMS_NUMBER, "body": "x" * 1601}, 21617),
        ({"to": CUSTOMER, "messaging_service_sid": "MG" + "0" * 32, "body": "x"}, 21701),
        ({"to": f"whatsapp:{CUSTOMER}", "from_": f"whatsapp:{WA_NUMBER}", "content_sid": "HX" + "0" * 32}, 21655),
    ]
    for params, code in cases:
        exc = rest_error(lambda params=params: client.messages.create(**params))
        assert (exc.status, exc.code) == (400, code), params


def test_stop_opts_out_until_start(twilio):
    client = twilio.client()
    stop = twilio.inbound(CUSTOMER, SMS_NUMBER, " stop ")
    assert stop.params["OptOutType"] == "STOP"
    exc = rest_error(lambda: client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="still there?"))
    assert (exc.status, exc.code) == (400, 21610)
    assert "unsubscribed recipient" in exc.msg
    # Another of our numbers is a separate opt-out scope; WhatsApp has no STOP handling.
    client.messages.create(to=CUSTOMER, from_="+15005550007", body="other number")
    client.messages.create(
        to=f"whatsapp:{CUSTOMER}", from_=f"whatsapp:{WA_NUMBER}", content_sid=twilio.register_content()
    )

    assert twilio.inbound(CUSTOMER, SMS_NUMBER, "START").params["OptOutType"] == "START"
    assert client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="welcome back").status == "queued"


def test_messaging_service_send_returns_accepted_then_gets_its_sender(twilio):
    service = twilio.add_messaging_service(sender=SMS_NUMBER)
    client = twilio.client()
    message = client.messages.create(to=CUSTOMER, messaging_service_sid=service, body="from the pool")
    assert (message.status, message.from_, message.messaging_service_sid) == ("accepted", None, service)
    twilio.wait_idle()
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.from_) == ("delivered", SMS_NUMBER)


# --- status callbacks ----------------------------------------------------------------


def test_sms_status_callbacks_are_signed_and_progress_to_delivered(twilio, receiver):
    callback = f"{receiver.base_url}/twilio/status?channel=3"
    client = twilio.client()
    message = client.messages.create(to=CUSTOMER, from_=SMS_NUMBER, body="hi", status_callback=callback)
    posts = receiver.wait_for(3)
    assert [p["form"]["MessageStatus"] for p in posts] == ["queued", "sent", "delivered"]
    for post in posts:
        assert post["url"] == callback and valid(twilio, post)
        assert post["form"]["MessageSid"] == message.sid and post["form"]["SmsStatus"] == post["form"]["MessageStatus"]
        assert post["form"]["AccountSid"] == twilio.account_sid and post["form"]["From"] == SMS_NUMBER
        assert "ErrorCode" not in post["form"]
    assert twilio.wait_status(message.sid, "delivered")["date_sent"] is not None
    twilio.wait_idle()
    fetched = client.messages(message.sid).fetch()
    assert fetched.status == "delivered" and fetched.date_sent is not None
    assert [c.params["MessageStatus"] for c in twilio.callbacks(message.sid)] == ["queued", "sent", "delivered"]
    assert all(c.status_code == 200 for c in twilio.callbacks())


def test_whatsapp_callbacks_reach_read_and_can_come_out_of_order(twilio, receiver):
    twilio.inbound(CUSTOMER, WA_NUMBER, "hi", whatsapp=True)
    twilio.out_of_order = True
    client = twilio.client()
    message = client.messages.create(
        to=f"whatsapp:{CUSTOMER}",
        from_=f"whatsapp:{WA_NUMBER}",
        body="free-form inside the window",
        status_callback=f"{receiver.base_url}/status",
    )
    posts = receiver.wait_for(4)
    assert [p["form"]["MessageStatus"] for p in posts] == ["queued", "delivered", "sent", "read"]
    assert all(valid(twilio, p) for p in posts)
    assert posts[0]["form"]["ChannelPrefix"] == "whatsapp"
    twilio.wait_idle()
    assert twilio.message(message.sid)["status"] == "read"


def test_whatsapp_free_form_outside_the_window_fails_with_63016(twilio, receiver):
    twilio.inbound(
        CUSTOMER, WA_NUMBER, "old", whatsapp=True, date_sent=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    )
    client = twilio.client()
    message = client.messages.create(
        to=f"whatsapp:{CUSTOMER}",
        from_=f"whatsapp:{WA_NUMBER}",
        body="too late",
        status_callback=f"{receiver.base_url}/status",
    )
    assert message.status == "queued"  # accepted now, refused by WhatsApp later
    posts = receiver.wait_for(2)
    assert [(p["form"]["MessageStatus"], p["form"].get("ErrorCode")) for p in posts] == [
        ("queued", None),
        ("failed", "63016"),
    ]
    twilio.wait_idle()
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("failed", 63016)
    assert "outside the allowed window" in fetched.error_message


def test_template_send_is_allowed_any_time_and_logs_content_fields(twilio, receiver):
    sid = twilio.register_content(variables={"1": "customer", "2": "soon"}, body="Hi {{1}}, we will reply {{2}}.")
    client = twilio.client()
    message = client.messages.create(
        to=f"whatsapp:{CUSTOMER}",
        from_=f"whatsapp:{WA_NUMBER}",
        content_sid=sid,
        content_variables=json.dumps({"1": "Mina"}),
        status_callback=f"{receiver.base_url}/status",
    )
    assert message.body == "Hi Mina, we will reply soon."
    logged = twilio.creates()[0]
    assert logged.form["ContentSid"] == sid and json.loads(logged.form["ContentVariables"]) == {"1": "Mina"}
    assert [p["form"]["MessageStatus"] for p in receiver.wait_for(4)] == ["queued", "sent", "delivered", "read"]

    exc = rest_error(
        lambda: client.messages.create(
            to=f"whatsapp:{CUSTOMER}", from_=f"whatsapp:{WA_NUMBER}", content_sid=sid, content_variables="[1]"
        )
    )
    assert (exc.status, exc.code) == (400, 21656)

    contents = client.content.v1.contents.list()
    assert [(c.sid, c.variables) for c in contents] == [(sid, {"1": "customer", "2": "soon"})]
    assert client.content.v1.contents(sid).fetch().types["twilio/text"]["body"].startswith("Hi {{1}}")
    (approved,) = client.content.v1.content_and_approvals.list()
    assert approved.approval_requests["status"] == "approved"


def test_injected_delivery_failure(twilio, receiver):
    twilio.fail_next_deliveries(error_code=30005)
    client = twilio.client()
    sid = client.messages.create(
        to=CUSTOMER, from_=SMS_NUMBER, body="x", status_callback=f"{receiver.base_url}/status"
    ).sid
    posts = receiver.wait_for(3)
    assert [(p["form"]["MessageStatus"], p["form"].get("ErrorCode")) for p in posts] == [
        ("queued", None),
        ("sent", None),
        ("undelivered", "30005"),
    ]
    twilio.wait_idle()
    assert client.messages(sid).fetch().error_code == 30005


# --- inbound webhooks ----------------------------------------------------------------


def test_inbound_sms_webhook_is_signed_and_tampering_is_detected(twilio, receiver):
    url = f"{receiver.base_url}/twilio/inbound?channel=1"
    inbound = twilio.inbound(CUSTOMER, SMS_NUMBER, "Hello, café ☕", url=url)
    assert inbound.response.status_code == 200
    (post,) = receiver.posts
    form = post["form"]
    assert form["MessageSid"] == form["SmsSid"] == form["SmsMessageSid"] == inbound.sid
    assert (form["From"], form["To"], form["Body"], form["SmsStatus"]) == (
        CUSTOMER,
        SMS_NUMBER,
        "Hello, café ☕",
        "received",
    )
    assert (form["NumMedia"], form["NumSegments"], form["ApiVersion"]) == ("0", "1", "2010-04-01")
    assert "MessageStatus" not in form
    assert valid(twilio, post)

    validator = RequestValidator(twilio.auth_token)
    signature = post["headers"]["X-Twilio-Signature"]
    assert not validator.validate(url, {**form, "Body": "Hello, cafe"}, signature)
    assert not validator.validate(url.replace("channel=1", "channel=2"), form, signature)
    assert signature == twilio.sign(url, form)

    forged = twilio.inbound(CUSTOMER, SMS_NUMBER, "forged", url=url, forge_signature=True)
    assert forged.response.status_code == 200 and not valid(twilio, receiver.posts[-1])


def test_inbound_whatsapp_media_location_button_and_duplicates(twilio, receiver):
    url = f"{receiver.base_url}/wa"
    photo = twilio.inbound(
        CUSTOMER, WA_NUMBER, "caption", whatsapp=True, profile_name="Mina", media=[("image/jpeg", b"jpeg")], url=url
    )
    form = receiver.posts[-1]["form"]
    assert (form["From"], form["To"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{WA_NUMBER}")
    assert (form["ProfileName"], form["WaId"], form["MessageType"]) == ("Mina", CUSTOMER[1:], "image")
    assert form["MediaContentType0"] == "image/jpeg" and form["NumMedia"] == "1"
    got = requests.get(form["MediaUrl0"], auth=(twilio.account_sid, twilio.auth_token), timeout=5)
    assert got.content == b"jpeg"

    twilio.inbound(CUSTOMER, WA_NUMBER, whatsapp=True, latitude=37.5665, longitude=126.978, label="City Hall", url=url)
    form = receiver.posts[-1]["form"]
    assert (form["MessageType"], form["Latitude"], form["Longitude"], form["Label"]) == (
        "location",
        "37.5665",
        "126.978",
        "City Hall",
    )

    twilio.inbound(
        CUSTOMER,
        WA_NUMBER,
        "Yes",
        whatsapp=True,
        button_text="Yes",
        button_payload="confirm",
        replied_to=photo.sid,
        url=url,
    )
    form = receiver.posts[-1]["form"]
    assert (form["MessageType"], form["ButtonText"], form["ButtonPayload"]) == ("button", "Yes", "confirm")
    assert form["OriginalRepliedMessageSid"] == photo.sid

    receiver.answer = 500
    dup = twilio.inbound(CUSTOMER, WA_NUMBER, "twice", whatsapp=True, url=url, twice=True)
    first, second = receiver.posts[-2:]
    assert first["form"] == second["form"] and first["form"]["MessageSid"] == dup.sid
    assert first["headers"]["I-Twilio-Idempotency-Token"] == second["headers"]["I-Twilio-Idempotency-Token"]
    assert [r.status_code for r in dup.responses] == [500, 500]
    assert all(valid(twilio, p) for p in receiver.posts)
    # Every inbound message is also visible to polling.
    assert len(twilio.client().messages.list(from_=f"whatsapp:{CUSTOMER}")) == 4
