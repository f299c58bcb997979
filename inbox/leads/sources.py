"""Lead sources (web forms, ad platforms) and their tokens.

A lead source posts to ``POST /api/leads`` with its own bearer token; only the token's
SHA-256 is stored (``LeadSource.token_hash``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from peewee import IntegrityError, fn

from .. import audit
from ..db import utcnow, write_transaction
from ..i18n import N_, UserFacingError
from ..models import LeadSource, User

TOKEN_PREFIX = "lead_"  # noqa: S105 (marks our tokens; not a secret)
MAX_SOURCE_NAME = 80


class LeadError(UserFacingError):
    pass


class Unauthorized(LeadError):
    """No token, an unknown token, or the token of a deactivated source."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_source(name: str, actor: User | None = None) -> tuple[LeadSource, str]:
    """Create a lead source; returns it and its token, which is shown once and not kept."""
    name = (name or "").strip()
    if not name or len(name) > MAX_SOURCE_NAME:
        raise LeadError(N_("Give the source a name of at most %(n)s characters."), n=MAX_SOURCE_NAME)
    if LeadSource.select().where(fn.LOWER(LeadSource.name) == name.lower()).exists():
        raise LeadError(N_("A lead source named %(name)s already exists."), name=name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with write_transaction():
            source = LeadSource.create(name=name, token_hash=hash_token(token))
            audit.record(actor, "lead_source_created", source, after={"name": name})
    except IntegrityError:  # created at the same moment by someone else
        raise LeadError(N_("A lead source named %(name)s already exists."), name=name) from None
    return source, token


def deactivate_source(source: LeadSource, actor: User | None = None) -> bool:
    """Stop accepting the source's token (for good: a new source gets a new token)."""
    with write_transaction():
        changed = LeadSource.update(active=False).where((LeadSource.id == source.id) & LeadSource.active).execute()
        if changed:
            audit.record(actor, "lead_source_deactivated", source, before={"active": True}, after={"active": False})
    source.active = False
    return bool(changed)


def sources() -> list[LeadSource]:
    return list(LeadSource.select().order_by(LeadSource.active.desc(), LeadSource.name))


def authenticate(authorization: str | None, now: dt.datetime | None = None) -> LeadSource:
    """The active source whose token is in an ``Authorization: Bearer TOKEN`` header."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(N_("Send the lead source's token in the header Authorization: Bearer TOKEN."))
    if len(token) > 200:
        raise Unauthorized(N_("Unknown lead source token."))
    digest = hash_token(token)
    source = LeadSource.get_or_none(LeadSource.token_hash == digest)
    # The lookup is by hash, which tells nothing about the token; compare in constant time anyway.
    if source is None or not hmac.compare_digest(source.token_hash, digest):
        raise Unauthorized(N_("Unknown lead source token."))
    if not source.active:
        raise Unauthorized(N_("This lead source is deactivated."))
    source.last_used_at = now or utcnow()
    LeadSource.update(last_used_at=source.last_used_at).where(LeadSource.id == source.id).execute()
    return source
