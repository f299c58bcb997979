"""Contacts: create and edit, identities (emails and phones), tags, duplicates and merging."""

from __future__ import annotations

import datetime as dt

from peewee import fn

from . import audit, search
from .db import utcnow, write_transaction
from .i18n import N_, UserFacingError
from .identities import InvalidIdentity, normalise_email, normalise_phone
from .models import (
    LEAD_STATUSES,
    AuditEvent,
    Contact,
    ContactTag,
    Conversation,
    FollowUp,
    Identity,
    Message,
    User,
)
from .stats import facts

EDITABLE = ("name", "company", "lead_status", "source", "campaign", "ad_set", "creative", "next_action", "notes")


class ContactError(UserFacingError):
    def __init__(self, msgid: str, field: str | None = None, **params):
        super().__init__(msgid, **params)
        self.field = field


def parse_identity(kind: str, value: str) -> str:
    try:
        return normalise_email(value) if kind == "email" else normalise_phone(value)
    except InvalidIdentity as exc:
        raise ContactError(exc.msgid, field=kind, **exc.params) from None


def _check_fields(fields: dict) -> dict:
    clean = {}
    for key, value in fields.items():
        if key not in EDITABLE and key not in ("owner_id", "next_action_at"):
            continue
        if isinstance(value, str):
            value = value.strip()
            limit = 20_000 if key == "notes" else 255
            if len(value) > limit:
                raise ContactError(N_("Too long (at most %(limit)s characters)."), field=key, limit=limit)
        if key == "lead_status" and value not in LEAD_STATUSES:
            raise ContactError(N_("Unknown lead status."), field=key)
        if (
            key == "owner_id"
            and value is not None
            and not User.select().where((User.id == value) & User.active).exists()
        ):
            raise ContactError(N_("Unknown or deactivated owner."), field="owner")
        clean[key] = value
    return clean


def create(actor: User, *, emails=(), phones=(), tags=(), **fields) -> Contact:
    values = [("email", parse_identity("email", e)) for e in emails if e.strip()]
    values += [("phone", parse_identity("phone", p)) for p in phones if p.strip()]
    if not values and not fields.get("name", "").strip():
        raise ContactError(N_("Give at least a name, an email or a phone."), field="name")
    for kind, value in values:
        owner = _owner_of(kind, value)
        if owner is not None and owner.display_name:
            raise ContactError(
                N_("%(value)s already belongs to %(owner)s."), field=kind, value=value, owner=owner.display_name
            )
        if owner is not None:
            raise ContactError(N_("%(value)s already belongs to another contact."), field=kind, value=value)
    clean = _check_fields(fields)
    with write_transaction():
        contact = Contact.create(**clean)
        for kind, value in values:
            Identity.create(contact=contact, kind=kind, value=value)
        set_tags(contact, tags)
        Conversation.create(contact=contact)
        audit.record(actor, "contact_created", contact, conversation=contact.conversations.get(), after=clean)
        search.index_contact(contact, [v for _, v in values])
    return contact


def _owner_of(kind: str, value: str) -> Contact | None:
    identity = Identity.get_or_none((Identity.kind == kind) & (Identity.value == value))
    return identity.contact if identity else None


def update(contact: Contact, actor: User, **fields) -> Contact:
    clean = _check_fields(fields)
    before = {k: getattr(contact, k) for k in clean}
    changed = {k: v for k, v in clean.items() if before[k] != v}
    if not changed:
        return contact
    with write_transaction():
        for key, value in changed.items():
            setattr(contact, key, value)
        contact.updated_at = utcnow()
        contact.save()
        conv = Conversation.get_or_none(Conversation.contact == contact)
        if conv is not None:
            conv.updated_at = utcnow()
            conv.save()
        audit.record(
            actor, "contact_changed", contact, conversation=conv,
            before={k: _jsonable(before[k]) for k in changed},
            after={k: _jsonable(v) for k, v in changed.items()},
        )  # fmt: skip
        search.index_contact(contact)
    return contact


def _jsonable(value):
    return value.isoformat() if isinstance(value, dt.datetime) else value


def add_identity(contact: Contact, actor: User, kind: str, raw: str) -> Identity:
    value = parse_identity(kind, raw)
    owner = _owner_of(kind, value)
    if owner is not None:
        if owner.id == contact.id:
            raise ContactError(N_("%(value)s is already on this contact."), field=kind, value=value)
        if owner.display_name:
            raise ContactError(
                N_("%(value)s belongs to %(owner)s; merge the two contacts instead."),
                field=kind, value=value, owner=owner.display_name,
            )  # fmt: skip
        raise ContactError(
            N_("%(value)s belongs to another contact; merge the two contacts instead."), field=kind, value=value
        )
    with write_transaction():
        identity = Identity.create(contact=contact, kind=kind, value=value)
        audit.record(actor, "identity_added", contact, conversation=_conv(contact), after={kind: value})
        search.index_contact(contact)
    return identity


def remove_identity(contact: Contact, actor: User, identity_id: int) -> None:
    identity = Identity.get_or_none((Identity.id == identity_id) & (Identity.contact == contact))
    if identity is None:
        raise ContactError(N_("No such address on this contact."))
    with write_transaction():
        identity.delete_instance()
        audit.record(
            actor, "identity_removed", contact, conversation=_conv(contact), before={identity.kind: identity.value}
        )
        search.index_contact(contact)


def _conv(contact: Contact) -> Conversation | None:
    return Conversation.get_or_none(Conversation.contact == contact)


def normalise_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.replace(",", " ").split()
    out = []
    for tag in tags:
        tag = tag.strip().lstrip("#").lower()[:40]
        if tag and tag not in out:
            out.append(tag)
    return out[:30]


def set_tags(contact: Contact, tags, actor: User | None = None) -> list[str]:
    new = normalise_tags(tags)
    old = [t.tag for t in ContactTag.select().where(ContactTag.contact == contact)]
    if set(new) == set(old):
        return new
    with write_transaction():
        ContactTag.delete().where(ContactTag.contact == contact).execute()
        if new:
            ContactTag.insert_many([{"contact": contact.id, "tag": t} for t in new]).execute()
        if actor is not None:
            conv = _conv(contact)
            if conv is not None:
                conv.updated_at = utcnow()
                conv.save()
            audit.record(actor, "tags_changed", contact, conversation=conv, before={"tags": old}, after={"tags": new})
    return new


def tags_of(contact_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {cid: [] for cid in contact_ids}
    if contact_ids:
        for row in ContactTag.select().where(ContactTag.contact.in_(contact_ids)).order_by(ContactTag.tag):
            result[row.contact_id].append(row.tag)
    return result


def identities_of(contact_ids: list[int]) -> dict[int, list[Identity]]:
    result: dict[int, list[Identity]] = {cid: [] for cid in contact_ids}
    if contact_ids:
        for row in Identity.select().where(Identity.contact.in_(contact_ids)).order_by(Identity.kind, Identity.id):
            result[row.contact_id].append(row)
    return result


def duplicates(limit: int = 50) -> list[tuple[Contact, Contact, str]]:
    """Pairs of live contacts that look like the same person: same name (case-insensitive,
    spaces ignored) with the same company or no company on one side."""
    key = fn.LOWER(fn.REPLACE(Contact.name, " ", ""))
    groups = (
        Contact.select(key.alias("k"), fn.MIN(Contact.id).alias("a"), fn.MAX(Contact.id).alias("b"))
        .where(Contact.merged_into.is_null() & (Contact.name != ""))
        .group_by(key)
        .having(fn.COUNT(Contact.id) > 1)
        .limit(limit)
    )
    pairs = []
    for row in groups.dicts():
        a, b = Contact.get_by_id(row["a"]), Contact.get_by_id(row["b"])
        if not a.company or not b.company or a.company.lower() == b.company.lower():
            pairs.append((a, b, "same name"))
    return pairs


def merge(keep: Contact, other: Contact, actor: User) -> Contact:
    """Move everything of ``other`` into ``keep``: identities, messages, notes, tags,
    follow-ups and history. ``other`` stays as a tombstone pointing at ``keep``."""
    if keep.id == other.id:
        raise ContactError(N_("A contact cannot be merged with itself."))
    if other.merged_into_id or keep.merged_into_id:
        raise ContactError(N_("One of these contacts was already merged."))
    with write_transaction():
        keep_conv = _conv(keep) or Conversation.create(contact=keep)
        other_conv = _conv(other)
        moved = {"identities": [f"{i.kind}:{i.value}" for i in other.identities]}
        Identity.update(contact=keep).where(Identity.contact == other).execute()
        for tag in ContactTag.select().where(ContactTag.contact == other):
            ContactTag.insert(contact=keep, tag=tag.tag).on_conflict_ignore().execute()
        ContactTag.delete().where(ContactTag.contact == other).execute()
        for field in EDITABLE:
            if not getattr(keep, field) and getattr(other, field):
                setattr(keep, field, getattr(other, field))
        keep.owner = keep.owner or other.owner
        keep.updated_at = utcnow()
        keep.save()
        if other_conv is not None:
            moved["messages"] = (
                Message.update(conversation=keep_conv).where(Message.conversation == other_conv).execute()
            )
            AuditEvent.update(conversation=keep_conv).where(AuditEvent.conversation == other_conv).execute()
            FollowUp.update(conversation=keep_conv).where(FollowUp.conversation == other_conv).execute()
            _combine_timers(keep_conv, other_conv)
            other_conv.delete_instance()
            facts.refresh([keep_conv.id])
        other.merged_into = keep
        other.save()
        search.remove_contact(other.id)
        search.index_contact(keep)
        audit.record(
            actor,
            "contacts_merged",
            keep,
            conversation=keep_conv,
            before={"merged_contact": other.id, "name": other.name},
            after=moved,
        )
    return keep


def _combine_timers(keep: Conversation, other: Conversation) -> None:
    def earliest(a, b):
        return min(x for x in (a, b) if x) if (a or b) else None

    def latest(a, b):
        return max(x for x in (a, b) if x) if (a or b) else None

    keep.waiting_since = earliest(keep.waiting_since, other.waiting_since)
    keep.last_inbound_at = latest(keep.last_inbound_at, other.last_inbound_at)
    keep.last_outbound_at = latest(keep.last_outbound_at, other.last_outbound_at)
    keep.first_response_at = earliest(keep.first_response_at, other.first_response_at)
    if other.last_activity_at > keep.last_activity_at:
        keep.last_activity_at = other.last_activity_at
        keep.preview, keep.preview_direction = other.preview, other.preview_direction
        keep.last_inbound_channel = other.last_inbound_channel or keep.last_inbound_channel
    keep.channels = " ".join(sorted(set(keep.channels.split()) | set(other.channels.split())))
    if keep.state == "closed" and other.state != "closed":
        keep.state, keep.snoozed_until = other.state, other.snoozed_until
    keep.assignee = keep.assignee or other.assignee
    keep.updated_at = utcnow()
    keep.save()


def live() -> Contact.select:
    return Contact.select().where(Contact.merged_into.is_null())


def listing(query: str = "", after_id: int | None = None, limit: int = 50) -> list[Contact]:
    q = live().order_by(Contact.id.desc())
    if query.strip():
        ids = search.matching_contact_ids(query, limit=500)
        q = q.where(Contact.id.in_(ids or [0]))
    if after_id:
        q = q.where(Contact.id < after_id)
    return list(q.limit(limit))
