"""What every page shares: login, roles, language and time zone, database connection per
request, error pages, security headers and the template filters."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from babel.dates import format_timedelta
from flask import Flask, abort, g, jsonify, render_template, request, url_for
from flask_babel import Babel, format_datetime, get_locale, gettext, lazy_gettext
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from . import labels, listing, notifications, rendering, settings, sla
from .db import db, utcnow
from .identities import format_phone
from .models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login_GET"
login_manager.login_message = lazy_gettext("Please log in to continue.")
babel = Babel()

CHANNEL_LABELS = {"email": lazy_gettext("Email"), "sms": lazy_gettext("SMS"), "whatsapp": lazy_gettext("WhatsApp")}
CHANNEL_SHORT = {"email": lazy_gettext("Email"), "sms": lazy_gettext("SMS"), "whatsapp": "WA"}
# Error page titles, and what to say instead of werkzeug's English default descriptions.
HTTP_TITLES = {
    400: lazy_gettext("Bad Request"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    413: lazy_gettext("Request Entity Too Large"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
}
HTTP_DESCRIPTIONS = {
    400: lazy_gettext("The request could not be understood."),
    405: lazy_gettext("This action is not available here."),
    429: lazy_gettext("Too many requests. Wait a moment and try again."),
    500: lazy_gettext("Something went wrong on the server. Try again in a moment."),
}


@login_manager.user_loader
def load_user(token: str):
    try:
        user_id, version = (int(part) for part in token.split(":"))
    except ValueError:
        return None
    if not 0 < user_id < 2**62:  # more than the database can hold
        return None
    user = User.get_or_none(User.id == user_id)
    if user is None or user.session_version != version or not user.active:
        return None
    return user


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.locale
    return request.accept_languages.best_match(["ko", "en"]) or settings.get("default_locale")


def select_timezone() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.timezone
    return settings.get("timezone")


def role_required(role: str):
    """Route decorator (placed under ``@bp.route``): logged-in users of ``role`` or above."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


login_required = role_required("agent")


def int_arg(name: str, default: int | None = None, *, source=None) -> int | None:
    """An integer request argument; a non-integer is a 400, not a 500."""
    value = (source or request.values).get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        abort(400, description=gettext("%(name)s must be a whole number.", name=name))
    if not -(2**62) < number < 2**62:
        abort(400, description=gettext("%(name)s is out of range.", name=name))
    return number


def cursor_arg(name: str) -> str | None:
    """A paging cursor ``<ISO time>|<id>`` from the query string. A malformed one means the
    first page; an id too large for the database is a 400, not a 500."""
    value = request.args.get(name, "")[:80]
    try:
        number = int(value.partition("|")[2])
    except ValueError:
        return value or None
    if not -(2**62) < number < 2**62:
        abort(400, description=gettext("%(name)s is out of range.", name=name))
    return value


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes, capped at what the database stores: a longer number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**62)
        super().__init__(map, *args, **kwargs)


def get_or_404(model, object_id):
    obj = model.get_or_none(model.id == object_id)
    if obj is None:
        abort(404)
    return obj


def sla_policy() -> sla.Policy:
    """The team's SLA policy, read once per request however many badges a page shows."""
    if "sla_policy" not in g:
        g.sla_policy = sla.Policy.load()
    return g.sla_policy


def _sla_timer(conv, contact):
    return listing.timer(sla_policy(), conv, contact)


def _unread_notifications() -> int:
    return notifications.unread_count(current_user) if current_user.is_authenticated else 0


def to_utc(local: dt.datetime) -> dt.datetime:
    """A naive datetime typed by the user in their time zone -> naive UTC."""
    tz = ZoneInfo(select_timezone())
    try:
        return local.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999 shifted out of range: as invalid as a typo
        raise ValueError("date out of range") from None


def to_local(utc: dt.datetime) -> dt.datetime:
    return utc.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(select_timezone())).replace(tzinfo=None)


def _localdt(value: dt.datetime | None, fmt: str = "short") -> str:
    if value is None:
        return ""
    return format_datetime(value, fmt)


def _relative(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    now = utcnow()
    if to_local(value).date() == to_local(now).date():
        return format_datetime(value, "HH:mm")
    if value.year == now.year:
        return format_datetime(value, "MMM d")
    return format_datetime(value, "yyyy-MM-dd")


def _duration(value: dt.datetime | None) -> str:
    """How long since ``value``: "12 min", "3 hours", in the user's language."""
    if value is None:
        return ""
    return format_timedelta(utcnow() - value, threshold=1.0, granularity="minute", format="short", locale=get_locale())


def _seconds(value: int | None) -> str:
    if value is None:
        return ""
    return format_timedelta(
        dt.timedelta(seconds=value), threshold=1.0, granularity="second", format="short", locale=get_locale()
    )


def _local_input(value: dt.datetime | None) -> str:
    """Value for an <input type=datetime-local> in the user's time zone."""
    return to_local(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _dom_id(obj, prefix: str = "") -> str:
    name = f"{type(obj).__name__.lower()}-{obj.id}"
    return f"{prefix}-{name}" if prefix else name


def _iso(value: dt.datetime | None) -> str:
    return value.replace(tzinfo=dt.UTC).isoformat() if value else ""


def _channel_icon(kind: str | None) -> Markup:
    if not kind:
        return Markup("")
    label = CHANNEL_LABELS.get(kind, kind)
    return Markup('<span class="ch ch-{k}" title="{l}">{i}</span>').format(
        k=kind, l=label, i=CHANNEL_SHORT.get(kind, kind)
    )


def _error(exc: HTTPException):
    description = exc.description or None
    if exc.code == 404 and description in (None, type(exc).description):  # keep a view's own reason
        description = gettext("Nothing here: the page or record does not exist.")
    if exc.code == 403:
        description = gettext("Your role does not allow this.")
    if exc.code == 413:
        description = gettext("The upload is too large.")
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error=description or exc.name), exc.code
    if description and description == type(exc).description and exc.code in HTTP_DESCRIPTIONS:
        description = str(HTTP_DESCRIPTIONS[exc.code])
    title = str(HTTP_TITLES.get(exc.code, exc.name))
    return render_template("error.html", code=exc.code, title=title, description=description), exc.code


def _csrf_error(exc: CSRFError):
    return render_template(
        "error.html",
        code=400,
        title=gettext("Form expired"),
        description=gettext("The form was missing its security token. Reload the page and try again."),
    ), 400


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter  # before the blueprints add their routes
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)

    # A request's connection opens at its first query (peewee connects on demand), so a
    # request that needs no database, such as a webhook whose channel is known or a
    # static file, opens none; it closes when the request ends.
    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()

    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers["Vary"] = "HX-Request, Cookie"
        return response

    app.register_error_handler(HTTPException, _error)
    app.register_error_handler(CSRFError, _csrf_error)

    app.jinja_env.filters.update(
        localdt=_localdt, relative=_relative, duration=_duration, seconds=_seconds,
        dom_id=_dom_id, iso=_iso, channel_icon=_channel_icon,
    )  # fmt: skip
    app.jinja_env.filters["localinput"] = _local_input
    app.jinja_env.globals.update(
        CHANNEL_LABELS=CHANNEL_LABELS,
        get_locale=get_locale,
        message_body=lambda m, atts: rendering.body(
            m, atts, lambda a: url_for("conversations.attachment", attachment_id=a.id)
        ),
        lead_status_label=labels.lead_status_label,
        state_label=labels.state_label,
        status_label=labels.status_label,
        role_label=labels.role_label,
        event_text=labels.event_text,
        format_phone=format_phone,
        sla_timer=_sla_timer,
        unread_notifications=_unread_notifications,
    )
