"""The inbox list: folders, filters, sorting, keyset pagination."""

import datetime as dt

from inbox import contacts, conversations, listing
from inbox.db import utcnow
from inbox.listing import InboxFilter
from inbox.models import Conversation, Identity

from .factories import receive


def names(page):
    return [row.contact.name for row in page.rows]


def _conv(address):
    return Conversation.get(Conversation.contact == Identity.get(Identity.value == address).contact)


def test_folders_split_mine_unassigned_snoozed_and_closed(email_channel, agent, manager):
    for i, name in enumerate(["Mine", "Theirs", "Nobody", "Later", "Done"]):
        receive(email_channel, address=f"c{i}@example.com", name=name, minutes_ago=10 - i)
    conversations.assign(_conv("c0@example.com"), manager, agent)
    conversations.assign(_conv("c1@example.com"), manager, manager)
    conversations.snooze(_conv("c3@example.com"), agent, utcnow() + dt.timedelta(hours=1))
    conversations.close(_conv("c4@example.com"), agent)

    def folder(name):
        return sorted(names(listing.conversations(agent, InboxFilter(folder=name))))

    assert folder("mine") == ["Mine"]
    assert folder("unassigned") == ["Nobody"]
    assert folder("open") == ["Mine", "Nobody", "Theirs"]
    assert folder("snoozed") == ["Later"]
    assert folder("closed") == ["Done"]


def test_filters_by_channel_assignee_status_and_tag(email_channel, twilio_channel, agent, manager):
    receive(email_channel, address="a@example.com", name="Email person")
    receive(twilio_channel, address="+821011112222", kind="whatsapp", name="WhatsApp person")
    wa = _conv("+821011112222")
    conversations.assign(wa, manager, agent)
    contacts.update(wa.contact, agent, lead_status="interested")
    contacts.set_tags(wa.contact, "vip")

    def found(**kw):
        return names(listing.conversations(agent, InboxFilter(**kw)))

    assert found(channel="whatsapp") == ["WhatsApp person"]
    assert found(channel="email") == ["Email person"]
    assert found(assignee=agent.id) == ["WhatsApp person"]
    assert found(lead_status="interested") == ["WhatsApp person"]
    assert found(tag="vip") == ["WhatsApp person"]
    assert found(tag="nothing") == []


def test_newest_first_and_longest_waiting_first(email_channel, agent):
    receive(email_channel, address="old@example.com", name="Old", minutes_ago=120)
    receive(email_channel, address="new@example.com", name="New", minutes_ago=5)
    receive(email_channel, address="mid@example.com", name="Mid", minutes_ago=60)
    from inbox import outbound

    outbound.send(_conv("mid@example.com"), kind="email", text="answered", author=agent)
    assert names(listing.conversations(agent, InboxFilter(sort="newest"))) == ["Mid", "New", "Old"]
    assert names(listing.conversations(agent, InboxFilter(sort="waiting"))) == ["Old", "New"]


def test_keyset_pages_cover_every_conversation_once(email_channel, agent):
    for i in range(23):
        receive(email_channel, address=f"p{i}@example.com", name=f"P{i:02d}", minutes_ago=i % 7)  # ties on time
    seen, cursor = [], None
    for sort in ("newest", "waiting"):
        seen, cursor = [], None
        while True:
            page = listing.conversations(agent, InboxFilter(sort=sort, cursor=cursor), limit=5)
            seen += names(page)
            cursor = page.next_cursor
            if not cursor:
                break
        assert sorted(seen) == sorted(f"P{i:02d}" for i in range(23)), sort


def test_garbage_cursor_is_ignored():
    assert listing._parse_cursor("nonsense") is None
    assert listing._parse_cursor("2026-13-45|x") is None
