"""People who use the inbox: passwords, roles, the login rate limit, and what happens
when someone leaves (deactivate and hand their conversations to a colleague)."""

from __future__ import annotations

import datetime as dt

from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, settings
from .db import db, utcnow
from .i18n import N_, UserFacingError
from .identities import InvalidIdentity, normalise_email
from .models import ROLES, Contact, Conversation, LoginAttempt, User

MIN_PASSWORD = 10
RATE_WINDOW = dt.timedelta(minutes=15)
# Checked against when the address is unknown, so a wrong address costs as much time as a
# wrong password and does not reveal which addresses exist.
_dummy_hash: str | None = None


def _dummy_hash_value() -> str:
    # Made on first use, not at import: hashing costs ~30 MB of memory for a moment.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("not-a-real-password")
    return _dummy_hash


class UserError(UserFacingError):
    def __init__(self, msgid: str, field: str | None = None, **params):
        super().__init__(msgid, **params)
        self.field = field


class RateLimited(Exception):
    pass


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(N_("The password needs at least %(n)s characters."), field="password", n=MIN_PASSWORD)
    if len(password) > 1000:
        raise UserError(N_("The password is too long."), field="password")


def create(*, email: str, name: str, role: str, password: str, actor: User | None = None,
           locale: str | None = None, timezone: str | None = None) -> User:  # fmt: skip
    try:
        email = normalise_email(email)
    except InvalidIdentity as exc:
        raise UserError(exc.msgid, field="email", **exc.params) from None
    name = name.strip()
    if not name or len(name) > 120:
        raise UserError(N_("Give a name of at most 120 characters."), field="name")
    if role not in ROLES:
        raise UserError(N_("Role must be agent, manager or admin."), field="role")
    check_password_rules(password)
    if User.select().where(User.email == email).exists():
        raise UserError(N_("A user with this email already exists."), field="email")
    with db.atomic():
        user = User.create(
            email=email,
            name=name,
            role=role,
            password_hash=generate_password_hash(password),
            locale=locale or settings.get("default_locale"),
            timezone=timezone or settings.get("timezone"),
        )
        audit.record(actor, "user_created", user, after={"email": email, "role": role})
    return user


def set_email_preferences(user: User, *, notify_by_email: bool, summary_hour: int | None) -> None:
    """Email copies of notifications, and the local hour of the daily summary (None = off)."""
    if summary_hour is not None and not 0 <= summary_hour <= 23:
        raise UserError(N_("Pick an hour between 0 and 23."), field="summary_hour")
    User.update(notify_by_email=notify_by_email, summary_hour=summary_hour).where(User.id == user.id).execute()
    user.notify_by_email, user.summary_hour = notify_by_email, summary_hour


def set_password(user: User, password: str, actor: User | None = None) -> None:
    check_password_rules(password)
    with db.atomic():
        user.password_hash = generate_password_hash(password)
        user.session_version += 1
        user.save()
        audit.record(actor, "password_changed", user)


def update(user: User, actor: User, *, name: str | None = None, role: str | None = None,
           locale: str | None = None, timezone: str | None = None) -> User:  # fmt: skip
    before = {"name": user.name, "role": user.role, "locale": user.locale, "timezone": user.timezone}
    if name is not None:
        if not name.strip() or len(name) > 120:
            raise UserError(N_("Give a name of at most 120 characters."), field="name")
        user.name = name.strip()
    if role is not None:
        if role not in ROLES:
            raise UserError(N_("Role must be agent, manager or admin."), field="role")
        if user.role == "admin" and role != "admin" and _other_active_admins(user) == 0:
            raise UserError(N_("Keep at least one active admin."), field="role")
        user.role = role
    if locale is not None:
        if locale not in ("ko", "en"):
            raise UserError(N_("Language must be ko or en."), field="locale")
        user.locale = locale
    if timezone is not None:
        from zoneinfo import available_timezones

        if timezone not in available_timezones():
            raise UserError(N_("Unknown time zone."), field="timezone")
        user.timezone = timezone
    after = {"name": user.name, "role": user.role, "locale": user.locale, "timezone": user.timezone}
    if before != after:
        with db.atomic():
            user.save()
            audit.record(actor, "user_changed", user, before=before, after=after)
    return user


def _other_active_admins(user: User) -> int:
    return User.select().where((User.role == "admin") & User.active & (User.id != user.id)).count()


def deactivate(user: User, actor: User, reassign_to: User | None = None) -> int:
    """Deactivate ``user``; keep every message they wrote; move their open work to
    ``reassign_to`` (or leave it unassigned). Returns how many conversations moved."""
    if user.id == actor.id:
        raise UserError(N_("You cannot deactivate yourself."))
    if user.role == "admin" and _other_active_admins(user) == 0:
        raise UserError(N_("Keep at least one active admin."))
    if reassign_to is not None and (not reassign_to.active or reassign_to.id == user.id):
        raise UserError(N_("Pick an active colleague to take over."), field="reassign_to")
    from . import conversations

    with db.atomic():
        user.active = False
        user.session_version += 1
        user.save()
        moved = 0
        open_work = Conversation.select().where((Conversation.assignee == user) & (Conversation.state != "closed"))
        for conv in open_work:
            conversations.assign(conv, actor, reassign_to)
            moved += 1
        Contact.update(owner=reassign_to).where(Contact.owner == user).execute()
        audit.record(
            actor, "user_deactivated", user,
            after={"reassigned_to": reassign_to.id if reassign_to else None, "conversations": moved},
        )  # fmt: skip
    return moved


def reactivate(user: User, actor: User) -> None:
    with db.atomic():
        user.active = True
        user.save()
        audit.record(actor, "user_reactivated", user)


def _limited(key: str, now: dt.datetime) -> bool:
    limit = int(settings.get("login_rate_limit"))
    recent = LoginAttempt.select().where((LoginAttempt.key == key) & (LoginAttempt.at > now - RATE_WINDOW))
    return recent.count() >= limit


def authenticate(email: str, password: str, ip: str) -> User | None:
    """The active user with these credentials, or None. Raises ``RateLimited`` after too
    many failures for this address or this IP."""
    now = utcnow()
    email = (email or "").strip().lower()[:255]
    keys = [f"email:{email}"[:255], f"ip:{ip}"[:255]]
    if any(_limited(k, now) for k in keys):
        raise RateLimited()
    user = User.get_or_none(User.email == email)
    ok = check_password_hash(user.password_hash if user else _dummy_hash_value(), password or "")
    if user is None or not ok or not user.active:
        LoginAttempt.insert_many([{"key": k, "at": now} for k in keys]).execute()
        return None
    LoginAttempt.delete().where(LoginAttempt.key == keys[0]).execute()
    user.last_login_at = now
    user.save()
    return user


def prune_login_attempts() -> int:
    return LoginAttempt.delete().where(LoginAttempt.at < utcnow() - RATE_WINDOW).execute()
