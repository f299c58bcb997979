"""People leave: deactivation keeps history and hands their work to a colleague."""

import pytest

from inbox import conversations, outbound, users
from inbox.models import Contact, Conversation, Message, User

from .factories import make_user, receive


def test_deactivating_a_rep_reassigns_open_work_and_keeps_their_messages(email_channel, admin, agent):
    colleague = make_user("agent", "Colleague Choi")
    for i in range(3):
        receive(email_channel, address=f"c{i}@example.com")
    convs = list(Conversation.select())
    for conv in convs:
        conversations.assign(conv, admin, agent)
    conversations.close(convs[2], agent)
    reply = outbound.send(convs[0], kind="email", text="Hello from the rep", author=agent)
    Contact.update(owner=agent).execute()

    moved = users.deactivate(agent, admin, reassign_to=colleague)

    assert moved == 2
    assert {c.assignee_id for c in Conversation.select().where(Conversation.state == "open")} == {colleague.id}
    assert Conversation.get_by_id(convs[2].id).assignee_id == agent.id  # closed history unchanged
    assert Message.get_by_id(reply.id).author_id == agent.id
    assert {c.owner_id for c in Contact.select()} == {colleague.id}
    assert not User.get_by_id(agent.id).active
    assert users.authenticate(agent.email, "correct horse battery staple", "1.2.3.4") is None


def test_the_last_admin_cannot_be_removed(admin):
    other = make_user("admin", "Second Admin")
    users.deactivate(other, admin)
    with pytest.raises(users.UserError):
        users.update(admin, admin, role="agent")
    with pytest.raises(users.UserError):
        users.deactivate(admin, admin)


def test_passwords_are_hashed_and_short_ones_refused():
    user = make_user("agent")
    assert "correct horse" not in user.password_hash
    with pytest.raises(users.UserError):
        users.set_password(user, "short")
