"""In-app notifications: what a user should look at now."""

from __future__ import annotations

from .db import utcnow
from .models import Conversation, Notification, User


def notify(user: User | int, kind: str, conversation: Conversation | int | None = None, **params) -> Notification:
    return Notification.create(user=user, kind=kind, conversation=conversation, params=params)


def notify_managers(kind: str, conversation=None, **params) -> int:
    managers = User.select(User.id).where(User.active & User.role.in_(["manager", "admin"]))
    rows = [{"user": m.id, "kind": kind, "conversation": conversation, "params": params} for m in managers]
    if rows:
        Notification.insert_many(rows).execute()
    return len(rows)


def notify_owner(owner: User | int | None, kind: str, conversation=None, **params) -> None:
    """The owner, or the managers when there is nobody to tell."""
    if owner:
        notify(owner, kind, conversation, **params)
    else:
        notify_managers(kind, conversation, **params)


def unread_count(user: User) -> int:
    return Notification.select().where((Notification.user == user) & Notification.read_at.is_null()).count()


def recent(user: User, limit: int = 30) -> list[Notification]:
    return list(Notification.select().where(Notification.user == user).order_by(Notification.id.desc()).limit(limit))


def mark_read(user: User, notification_id: int | None = None) -> int:
    query = Notification.update(read_at=utcnow()).where((Notification.user == user) & Notification.read_at.is_null())
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return query.execute()
