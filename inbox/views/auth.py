"""Log in, log out, and the user's own preferences (language, time zone, password)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user

from .. import users
from ..i18n import N_, translate
from ..web import login_required

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Browsers drop tabs and line breaks from URLs: "/\t/evil.com" would become "//evil.com".
    local = target and target.startswith("/") and not target.startswith("//")
    if local and "\\" not in target and target.isprintable():
        return target
    return url_for("conversations.index")


@bp.get("/login")
def login_GET():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", next=request.args.get("next", ""))


@bp.post("/login")
def login_POST():
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    try:
        user = users.authenticate(email, password, request.remote_addr or "unknown")
    except users.RateLimited:
        error = gettext("Too many failed attempts. Wait 15 minutes and try again.")
        return render_template("auth/login.html", error=error, email=email, next=request.form.get("next")), 429
    if user is None:
        error = gettext("Wrong email or password.")
        return render_template("auth/login.html", error=error, email=email, next=request.form.get("next")), 401
    login_user(user)
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout_POST():
    logout_user()
    return redirect(url_for("auth.login_GET"), code=303)


@bp.get("/me")
@login_required
def me_GET():
    from zoneinfo import available_timezones

    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return render_template("auth/me.html", zones=zones)


@bp.post("/me")
@login_required
def me_POST():
    try:
        users.update(
            current_user._get_current_object(),
            current_user._get_current_object(),
            name=request.form.get("name", current_user.name),
            locale=request.form.get("locale", current_user.locale),
            timezone=request.form.get("timezone", current_user.timezone),
        )
        hour = request.form.get("summary_hour", "")
        users.set_email_preferences(
            current_user._get_current_object(),
            notify_by_email=request.form.get("notify_by_email") == "1",
            summary_hour=int(hour) if hour.isdigit() else None,
        )
        new_password = request.form.get("new_password", "")
        if new_password:
            from werkzeug.security import check_password_hash

            if not check_password_hash(current_user.password_hash, request.form.get("current_password", "")):
                raise users.UserError(N_("The current password is wrong."), field="current_password")
            users.set_password(current_user._get_current_object(), new_password, current_user._get_current_object())
            login_user(current_user._get_current_object())
    except users.UserError as exc:
        flash(translate(exc), "error")
        return redirect(url_for("auth.me_GET"), code=303)
    flash(gettext("Saved."), "ok")
    return redirect(url_for("auth.me_GET"), code=303)


@bp.post("/language")
def language_POST():
    """The language switch in the header: remembered on the user."""
    locale = request.form.get("locale")
    if current_user.is_authenticated and locale in ("ko", "en"):
        me = current_user._get_current_object()
        users.update(me, me, locale=locale)
    return redirect(_safe_next(request.form.get("next")), code=303)
