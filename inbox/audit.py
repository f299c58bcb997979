"""The audit trail: who changed what, when, with before and after values."""

from __future__ import annotations

from .models import AuditEvent, User


def record(
    actor: User | None,
    action: str,
    obj,
    *,
    conversation=None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    return AuditEvent.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=obj.id,
        conversation=conversation,
        before=before,
        after=after,
    )
