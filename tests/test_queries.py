"""The inbox list and the conversation page cost a fixed number of SQL queries, however
many rows they show."""

from __future__ import annotations

import contextlib
import re

import pytest

from inbox import contacts, conversations, outbound
from inbox.db import db
from inbox.ingest import InboundAttachment
from inbox.models import Conversation, Message

from . import factories
from .conftest import login, post
from .test_routes import _english_and_fast_hashes

__all__ = ["_english_and_fast_hashes"]  # cheap password hashes for the users made here

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __len__(self) -> int:
        return len(self.statements)


@contextlib.contextmanager
def count_queries():
    """Every statement sent through the database during the block."""
    counter = QueryCounter()
    database = db.obj
    original = database.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        counter.statements.append(sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = counting
    try:
        yield counter
    finally:
        del database.execute_sql  # back to the class's method


def get_counted(client, path: str, **kwargs) -> QueryCounter:
    with count_queries() as counter:
        response = client.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    return counter


def differ(small: QueryCounter, large: QueryCounter) -> str:
    return "\n".join(large.statements[len(small.statements) :] if len(large) > len(small) else small.statements)


@pytest.fixture
def team(agent, manager, admin):
    return [agent, manager, admin]


def add_conversations(channel, twilio, team, start: int, stop: int) -> None:
    """Leads with an email and a phone, tags, an assignee, a reply and a note."""
    for i in range(start, stop):
        msg = factories.receive(channel, address=f"lead{i}@example.com", name=f"Lead {i}", text=f"Question {i}")
        conv = Conversation.get_by_id(msg.conversation_id)
        contact = conv.contact
        contacts.add_identity(contact, team[2], "phone", f"+8210{5000_0000 + i}")
        factories.receive(twilio, address=f"+8210{5000_0000 + i}", kind="whatsapp", text="Also here")
        contacts.set_tags(contact, f"vip batch{i % 3} lead{i}", actor=team[0])
        contacts.update(contact, team[0], company=f"Company {i}", owner_id=team[i % 3].id)
        conversations.assign(conv, team[1], team[i % 3] if i % 5 else None)
        if i % 2:
            outbound.send(conv, kind="email", text="Thanks, looking into it.", author=team[i % 3])
        if i % 4 == 0:
            conversations.add_note(conv, team[0], "Call back tomorrow.")


INBOX_PAGES = [
    "/inbox",
    "/inbox?folder=open&sort=waiting",
    "/inbox?folder=mine",
    "/inbox?folder=unassigned",
    "/inbox?tag=vip",
    "/inbox?channel=whatsapp&lead_status=new",
    "/inbox?q=lead",
    "/contacts",
    "/contacts?q=lead",
]


@pytest.mark.parametrize("path", INBOX_PAGES)
def test_inbox_list_queries_do_not_grow_with_rows(client, team, email_channel, twilio_channel, path):
    agent, manager, _ = team
    add_conversations(email_channel, twilio_channel, team, 0, 5)
    login(client, manager)
    small = get_counted(client, path)
    add_conversations(email_channel, twilio_channel, team, 5, 40)
    large = get_counted(client, path)
    page = client.get(path).get_data(as_text=True)
    shown = len(re.findall(r'<li class="row |<tr id="contact-', page))
    assert shown >= 8, f"{path} shows only {shown} rows"
    assert len(small) == len(large), f"{len(small)} vs {len(large)} queries:\n{differ(small, large)}"


def test_inbox_fragments_and_updates_do_not_grow_with_rows(client, team, email_channel, twilio_channel):
    from inbox.db import utcnow

    since = utcnow().replace(year=2000).isoformat()
    paths = [
        ("/inbox?fragment=rows", {"HX-Request": "true"}),
        ("/inbox", {"HX-Request": "true", "HX-Target": "inbox-list"}),
        (f"/inbox/updates?since={since}", {"HX-Request": "true"}),
    ]
    add_conversations(email_channel, twilio_channel, team, 0, 5)
    login(client, team[1])
    small = [get_counted(client, p, headers=h) for p, h in paths]
    add_conversations(email_channel, twilio_channel, team, 5, 40)
    large = [get_counted(client, p, headers=h) for p, h in paths]
    for (path, _), a, b in zip(paths, small, large, strict=True):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} queries:\n{differ(a, b)}"


def add_messages(conv, channel, team, start: int, stop: int) -> None:
    """Inbound mail with attachments, replies by different people, notes and events."""
    for i in range(start, stop):
        factories.receive(
            channel, address="customer@example.com", subject=f"Re: order {i}", text=f"Message {i}",
            attachments=[InboundAttachment(f"photo{i}.png", "image/png", PNG),
                         InboundAttachment(f"spec{i}.pdf", "application/pdf", b"%PDF-1.4")],
        )  # fmt: skip
        reply = outbound.send(conv, kind="email", text=f"Answer {i}", author=team[i % 3])
        if i % 3 == 0:
            outbound.mark_failed(Message.get_by_id(reply.id), "Mailbox full")
        if i % 2 == 0:
            conversations.add_note(conv, team[i % 3], f"Note {i}")
        conversations.assign(conv, team[0], team[i % 3])


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_conversation_page_queries_do_not_grow_with_messages(client, team, email_channel, twilio_channel, htmx):
    first = factories.receive(email_channel, address="customer@example.com", name="Big Customer", text="Hi")
    conv = Conversation.get_by_id(first.conversation_id)
    contacts.add_identity(conv.contact, team[2], "phone", "010-2222-3333")
    contacts.set_tags(conv.contact, "vip enterprise", actor=team[0])
    headers = {"HX-Request": "true"} if htmx else {}
    add_messages(conv, email_channel, team, 0, 5)
    login(client, team[0])
    path = f"/c/{conv.id}"
    small = get_counted(client, path, headers=headers)
    add_messages(conv, email_channel, team, 5, 40)
    large = get_counted(client, path, headers=headers)
    page = client.get(path).get_data(as_text=True)
    assert "photo39.png" in page and "Answer 39" in page and "Note 38" in page
    assert len(small) == len(large), f"{len(small)} vs {len(large)} queries:\n{differ(small, large)}"


def test_timeline_paging_and_updates_do_not_grow_with_messages(client, team, email_channel):
    from inbox.db import utcnow

    first = factories.receive(email_channel, address="customer@example.com", name="Big Customer", text="Hi")
    conv = Conversation.get_by_id(first.conversation_id)
    since = utcnow().replace(year=2000).isoformat()
    paths = [f"/c/{conv.id}/timeline", f"/c/{conv.id}/updates?since={since}&after_message=0&after_event=0"]
    add_messages(conv, email_channel, team, 0, 5)
    login(client, team[0])
    small = [get_counted(client, p) for p in paths]
    add_messages(conv, email_channel, team, 5, 40)
    large = [get_counted(client, p) for p in paths]
    for path, a, b in zip(paths, small, large, strict=True):
        assert len(a) == len(b), f"{path}: {len(a)} vs {len(b)} queries:\n{differ(a, b)}"


def test_counter_sees_queries(client, agent, email_channel):
    """The counter itself: a write through a view is counted, and it is removed afterwards."""
    msg = factories.receive(email_channel, address="customer@example.com", text="Hi")
    login(client, agent)
    with count_queries() as counter:
        post(client, f"/c/{msg.conversation_id}/close")
    assert any(sql.startswith("UPDATE") for sql in counter.statements)
    assert "execute_sql" not in vars(db.obj)
