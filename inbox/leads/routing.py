"""Who answers a new lead: its owner, else round-robin among the active agents, narrowed
by the team's routing rules.

A rule (team setting ``lead_routing_rules``) matches on any of channel kind, source and
language, and names the agents who take such leads: ``{"channel": "whatsapp",
"language": "ko", "agents": [3, 7]}`` sends Korean WhatsApp leads to agents 3 and 7. The
first rule that matches and has an active agent wins; with none, every active agent
takes part. The language is read from the lead's first message: Korean when most of its
letters are Hangul, English when it has Latin letters, unknown otherwise.

Round-robin: the pointer (the last agent given a lead) is the team setting
``lead_round_robin_last``; the next lead goes to the first candidate after it by id.
"""

from __future__ import annotations

from .. import audit, team
from ..db import is_sqlite, utcnow
from ..models import Contact, Conversation, TeamSetting, User

ROUND_ROBIN_KEY = "lead_round_robin_last"
LANGUAGES = ("ko", "en")


def language_of(text: str) -> str | None:
    """ "ko", "en" or None, from the letters of ``text``."""
    hangul = latin = 0
    for ch in text[:2000]:
        if "\uac00" <= ch <= "\ud7a3" or "\u3131" <= ch <= "\u318e":
            hangul += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if hangul and hangul * 3 >= latin:  # a Hangul syllable carries about three Latin letters' worth
        return "ko"
    return "en" if latin else None


def active_user(user_id: int | None) -> User | None:
    if not user_id:
        return None
    return User.get_or_none((User.id == user_id) & User.active)


def owner_of(conv: Conversation, contact: Contact | None = None) -> User | None:
    """Who answers for this lead now: the contact's owner, else the assignee (active only)."""
    contact = contact or Contact.get_by_id(conv.contact_id)
    return active_user(contact.owner_id) or active_user(conv.assignee_id)


def candidates(channel: str | None = None, source: str | None = None, language: str | None = None) -> list[User]:
    """The active agents who may take a lead like this one, by id."""
    agents = list(User.select().where((User.role == "agent") & User.active).order_by(User.id))
    for rule in team.get("lead_routing_rules") or []:
        wanted = {"channel": channel, "source": (source or "").lower(), "language": language}
        if any(rule.get(key) and str(rule[key]).lower() != (wanted[key] or "") for key in wanted):
            continue
        chosen = [a for a in agents if a.id in set(rule.get("agents") or [])]
        if chosen:
            return chosen
    return agents


def next_agent(channel: str | None = None, source: str | None = None, language: str | None = None) -> User | None:
    """The next candidate after the one who got the last lead (round-robin by id)."""
    agents = candidates(channel, source, language)
    if not agents:
        return None
    # The pointer row, locked on PostgreSQL so two leads at once go to two agents (SQLite
    # already holds the write lock: leads are taken in a write transaction).
    TeamSetting.insert(key=ROUND_ROBIN_KEY, value=None, updated_at=utcnow()).on_conflict_ignore().execute()
    query = TeamSetting.select().where(TeamSetting.key == ROUND_ROBIN_KEY)
    row = (query if is_sqlite() else query.for_update()).get()
    last = row.value if isinstance(row.value, int) else 0
    chosen = next((a for a in agents if a.id > last), agents[0])
    team.put(ROUND_ROBIN_KEY, chosen.id)
    return chosen


def assign(
    conv: Conversation, contact: Contact, *, channel: str | None = None, source: str | None = None, text: str = ""
) -> User | None:
    """Give the lead an owner (kept if it has an active one) and the conversation an
    assignee. Returns the owner, or None when nobody can take it."""
    owner = owner_of(conv, contact)
    if owner is None and team.get("lead_auto_assign"):
        owner = next_agent(channel, source, language_of(text))
    if owner is None:
        return None
    if contact.owner_id != owner.id:
        Contact.update(owner=owner, updated_at=utcnow()).where(Contact.id == contact.id).execute()
        contact.owner = owner
    if active_user(conv.assignee_id) is None:
        # As conversations.assign() records it, but without its "assigned" notification:
        # the owner gets the "new_lead" one instead.
        before = conv.assignee_id
        conv.assignee, conv.updated_at = owner, utcnow()
        conv.save()
        audit.record(
            None, "assigned", conv, conversation=conv, before={"assignee": before},
            after={"assignee": owner.id, "assignee_name": owner.name},
        )  # fmt: skip
    return owner
