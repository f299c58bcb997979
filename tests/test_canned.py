"""Canned templates personalise themselves and run in a sandbox."""

import pytest

from inbox import canned, contacts
from inbox.models import Conversation

from .factories import receive


def test_variables_are_filled_from_contact_agent_and_last_topic(email_channel, agent):
    receive(email_channel, address="jimin@example.com", name="한 지민", subject="Re: 견적서 송부", text="단가 문의")
    conv = Conversation.get()
    contacts.update(conv.contact, agent, company="지민상사")
    body = "{{ contact.first_name }}님, {{ contact.company }} — {{ last_topic }} / {{ agent.name }}"
    assert canned.render(body, conv.contact, agent, conv) == "한님, 지민상사 — 견적서 송부 / Agent Kim"


@pytest.mark.parametrize(
    "body",
    [
        "{{ contact.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ agent.name.__globals__ }}",
        "{% for x in range(10**9) %}{% endfor %}",
    ],
)
def test_templates_cannot_reach_python_internals(agent, body):
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Evil", shortcut="evil", body=body, channels="")


def test_unknown_variables_are_refused_when_saving(agent):
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Typo", shortcut="typo", body="Hi {{ contact.frist_name }}", channels="")


def test_shortcuts_are_unique_and_simple(agent):
    canned.save(None, agent, name="Thanks", shortcut="/Thanks", body="Thank you!", channels="email sms junk")
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Other", shortcut="thanks", body="x", channels="")
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Bad", shortcut="has space", body="x", channels="")
    (t,) = canned.search("tha")
    assert t.shortcut == "thanks" and t.channels == "email sms"
    assert canned.search("", kind="whatsapp") == []


def test_approved_whatsapp_template_variables_are_parsed_and_checked(agent):
    t = canned.save(
        None, agent, name="WA", shortcut="wa", body="Hi {{ contact.first_name }}", channels="whatsapp",
        content_sid="HX" + "a" * 32, content_variables="1 = {{ contact.first_name }}\n2={{ last_topic }}",
    )  # fmt: skip
    assert t.content_variables == {"1": "{{ contact.first_name }}", "2": "{{ last_topic }}"}
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Bad", shortcut="bad", body="x", channels="", content_variables="first name")
    with pytest.raises(canned.TemplateProblem):
        canned.save(None, agent, name="Bad", shortcut="bad", body="x", channels="", content_sid="not-a-sid")
