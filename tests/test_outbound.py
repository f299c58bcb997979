"""send() stores first, deliver() hands over to the channel adapter and records the answer."""

import pytest

import tasks
from inbox import channels, outbound
from inbox.channels import ChannelError, TransientChannelError
from inbox.models import Channel, Conversation, Message

from .factories import receive


class RecordingAdapter:
    """Implements the adapter contract for a made-up provider kind, so the delivery
    mechanics can be checked independently of any real provider."""

    kind = "testkind"
    message_kinds = ("email",)

    def __init__(self, outcome="ok"):
        self.outcome = outcome
        self.sent = []

    def send(self, channel, outbound):
        if self.outcome == "transient":
            raise TransientChannelError("provider busy (429)")
        if self.outcome == "permanent":
            raise ChannelError("mailbox does not exist")
        self.sent.append(outbound.id)
        return f"provider-{outbound.id}"


@pytest.fixture
def conversation(email_channel):
    receive(email_channel, address="customer@example.com", text="Hello?")
    return Conversation.get()


def test_reply_without_any_configured_adapter_fails_visibly(conversation, agent):
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    assert Message.get_by_id(message.id).status == "queued"
    tasks.deliver(message.id)
    stored = Message.get_by_id(message.id)
    assert stored.status == "failed"
    assert "No email channel is configured" in stored.error


def test_a_reply_that_failed_does_not_count_as_an_answer(conversation, agent):
    waiting = Conversation.get().waiting_since
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    assert Conversation.get().waiting_since is None
    tasks.deliver(message.id)
    conv = Conversation.get()
    assert conv.waiting_since == waiting
    assert conv.first_response_at is None
    assert Message.get_by_id(message.id).response_seconds is None


@pytest.fixture
def adapter(monkeypatch, conversation):
    adapter = RecordingAdapter()
    monkeypatch.setitem(channels.ADAPTERS, "email", adapter)
    Channel.update(enabled=True).execute()  # connect the placeholder channel to it
    return adapter


def test_delivered_message_records_the_provider_id(adapter, conversation, agent):
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    tasks.deliver(message.id)
    stored = Message.get_by_id(message.id)
    assert stored.status == "sent" and stored.provider_id == f"provider-{message.id}"
    assert adapter.sent == [message.id]


def test_a_message_is_handed_to_the_provider_only_once(adapter, conversation, agent):
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    assert outbound.deliver(message.id) == "sent"
    assert outbound.deliver(message.id) == "skipped"
    assert adapter.sent == [message.id]


def test_transient_errors_put_the_message_back_in_the_queue(adapter, conversation, agent):
    adapter.outcome = "transient"
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    with pytest.raises(TransientChannelError):
        outbound.deliver(message.id)
    stored = Message.get_by_id(message.id)
    assert stored.status == "queued" and "429" in stored.error
    adapter.outcome = "ok"
    assert outbound.deliver(message.id) == "sent"


def test_permanent_errors_fail_with_the_reason_and_can_be_retried(adapter, conversation, agent):
    adapter.outcome = "permanent"
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    assert outbound.deliver(message.id) == "failed"
    assert Message.get_by_id(message.id).error == "mailbox does not exist"
    adapter.outcome = "ok"
    assert outbound.retry(Message.get_by_id(message.id))
    assert outbound.deliver(message.id) == "sent"


def test_status_callbacks_never_move_backwards(adapter, conversation, agent):
    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    outbound.deliver(message.id)
    assert outbound.update_status(Message.get_by_id(message.id), "delivered")
    assert not outbound.update_status(Message.get_by_id(message.id), "sent")
    assert Message.get_by_id(message.id).status == "delivered"


def test_send_refuses_empty_text_and_missing_address(conversation, agent):
    with pytest.raises(outbound.SendError):
        outbound.send(conversation, kind="email", text="   ", author=agent)
    with pytest.raises(outbound.SendError):
        outbound.send(conversation, kind="sms", text="Hi", author=agent)  # no phone on file
    assert Message.select().where(Message.direction == "out").count() == 0


def test_default_reply_channel_is_the_latest_inbound_one(twilio_channel, email_channel, agent):
    receive(email_channel, address="a@example.com", minutes_ago=10)
    conv = Conversation.get()
    from inbox import contacts

    contacts.add_identity(conv.contact, agent, "phone", "010-1111-2222")
    receive(twilio_channel, address="+821011112222", kind="whatsapp")
    assert outbound.reachable_kinds(Conversation.get())[0] == "whatsapp"


def test_stuck_queued_messages_are_found_for_redelivery(conversation, agent):
    import datetime as dt

    message = outbound.send(conversation, kind="email", text="Hi!", author=agent)
    assert outbound.stuck_queued(older_than=dt.timedelta(minutes=2)) == []
    assert outbound.stuck_queued(older_than=dt.timedelta(seconds=-1)) == [message.id]
