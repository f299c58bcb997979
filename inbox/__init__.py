"""The shared inbox: email, WhatsApp and SMS in one timeline per contact."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect

from . import settings, web
from .db import db, init_db

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()
htmx = HTMX()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(
        SECRET_KEY=settings.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies(),
        REMEMBER_COOKIE_SECURE=settings.secure_cookies(),
        MAX_CONTENT_LENGTH=int(settings.get("max_body_bytes")),
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    app.config.update(config or {})
    if db.obj is None:
        init_db(app.config.get("DATABASE_URL") or settings.database_url())
    csrf.init_app(app)
    htmx.init_app(app)
    web.init_app(app)

    from .channels import email, twilio  # noqa: F401  (register the adapters)
    from .views import (
        admin,
        auth,
        channels,
        contacts,
        conversations,
        health,
        lead_settings,
        lead_sources,
        leads_api,
        notifications,
        reminders,
        sla_settings,
        stats,
        templates,
        vendor,
        webhooks,
    )

    for module in (auth, conversations, contacts, templates, admin, channels, health, vendor, webhooks):
        app.register_blueprint(module.bp)
    for module in (notifications, reminders, sla_settings, stats):
        app.register_blueprint(module.bp)
    for module in (lead_settings, lead_sources, leads_api):
        app.register_blueprint(module.bp)
    csrf.exempt(webhooks.bp)  # provider-signed instead
    csrf.exempt(leads_api.bp)  # a lead source's bearer token instead
    return app
