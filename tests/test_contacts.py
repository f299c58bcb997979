"""Contacts: normalised identities, duplicates, and merging that loses nothing."""

import pytest

from inbox import contacts, conversations
from inbox.models import AuditEvent, Contact, ContactTag, Conversation, Identity, Message

from .factories import receive


def test_phones_are_stored_in_e164_with_korea_as_default_region(agent):
    c = contacts.create(agent, name="김철수", phones=["010-1234-5678", "+1 (415) 555-0100"])
    assert sorted(i.value for i in c.identities) == ["+14155550100", "+821012345678"]


@pytest.mark.parametrize("bad", ["12", "010-12", "not a phone", "+82 10 1234 5678 9999 0000"])
def test_impossible_phone_numbers_are_refused_with_a_reason(agent, bad):
    with pytest.raises(contacts.ContactError) as err:
        contacts.create(agent, name="X", phones=[bad])
    assert str(err.value)
    assert Contact.select().count() == 0


@pytest.mark.parametrize("bad", ["no-at-sign", "a@", "a b@example.com"])
def test_invalid_emails_are_refused(agent, bad):
    with pytest.raises(contacts.ContactError):
        contacts.create(agent, name="X", emails=[bad])


def test_an_address_belongs_to_one_contact_only(agent):
    contacts.create(agent, name="A", emails=["same@example.com"])
    with pytest.raises(contacts.ContactError, match="already belongs"):
        contacts.create(agent, name="B", emails=["SAME@example.com"])


def test_duplicates_are_surfaced_by_name(agent):
    contacts.create(agent, name="Park Jisoo", emails=["a@example.com"])
    contacts.create(agent, name="park  jisoo", phones=["010-5555-1234"])
    contacts.create(agent, name="Someone Else")
    pairs = contacts.duplicates()
    assert len(pairs) == 1


def test_merging_moves_every_message_identity_note_tag_and_event(email_channel, twilio_channel, agent):
    receive(email_channel, address="jisoo@example.com", name="Park Jisoo", text="email 1", minutes_ago=50)
    receive(email_channel, address="jisoo@example.com", text="email 2", minutes_ago=40)
    receive(twilio_channel, address="+821055551234", kind="whatsapp", name="Jisoo", text="wa 1", minutes_ago=30)
    a = Identity.get(Identity.value == "jisoo@example.com").contact
    b = Identity.get(Identity.value == "+821055551234").contact
    conv_b = Conversation.get(Conversation.contact == b)
    conversations.add_note(conv_b, agent, "VIP, call before noon")
    contacts.set_tags(b, "vip", actor=agent)
    total = Message.select().count()

    contacts.merge(a, b, agent)

    conv_a = Conversation.get(Conversation.contact == a)
    assert Message.select().where(Message.conversation == conv_a).count() == total
    assert {i.value for i in Identity.select().where(Identity.contact == a)} == {"jisoo@example.com", "+821055551234"}
    assert [t.tag for t in ContactTag.select().where(ContactTag.contact == a)] == ["vip"]
    assert Conversation.select().count() == 1
    assert Contact.get_by_id(b.id).merged_into_id == a.id
    assert (
        AuditEvent.select()
        .where((AuditEvent.conversation == conv_a) & (AuditEvent.action == "contacts_merged"))
        .exists()
    )
    assert conv_a.channels == "email whatsapp"
    assert conv_a.waiting_since is not None
    # The next WhatsApp message of that number lands in the merged thread.
    receive(twilio_channel, address="+821055551234", kind="whatsapp", text="wa 2")
    assert Message.select().where(Message.conversation == conv_a).count() == total + 1


def test_a_contact_cannot_be_merged_twice_or_with_itself(agent):
    a = contacts.create(agent, name="A")
    b = contacts.create(agent, name="B")
    with pytest.raises(contacts.ContactError):
        contacts.merge(a, a, agent)
    contacts.merge(a, b, agent)
    with pytest.raises(contacts.ContactError):
        contacts.merge(a, Contact.get_by_id(b.id), agent)


def test_editing_a_contact_is_audited_in_the_timeline(agent):
    c = contacts.create(agent, name="A", emails=["a@example.com"])
    contacts.update(c, agent, lead_status="interested", company="ACME")
    event = AuditEvent.select().where(AuditEvent.action == "contact_changed").get()
    assert event.before == {"lead_status": "new", "company": ""}
    assert event.after == {"lead_status": "interested", "company": "ACME"}
    assert event.conversation_id == Conversation.get(Conversation.contact == c).id


def test_unknown_lead_status_is_refused(agent):
    c = contacts.create(agent, name="A")
    with pytest.raises(contacts.ContactError):
        contacts.update(c, agent, lead_status="hot")
