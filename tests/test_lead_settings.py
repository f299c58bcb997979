"""Settings > Lead routing: the acknowledgement template per channel kind and the routing
rules, edited by managers; what is refused (and then nothing is saved); and that a rule
saved through the form really routes a new lead."""

from __future__ import annotations

import re

import pytest

from inbox import automation, canned, team
from inbox.leads import lifecycle
from inbox.models import AuditEvent, TeamSetting, User

from . import factories
from .conftest import login, post
from .test_routes import _english_and_fast_hashes, body, client_as, is_login_redirect

__all__ = ["_english_and_fast_hashes"]  # English pages, cheap password hashes

PATH = "/settings/leads"


@pytest.fixture
def people(agent):
    """Two more agents (one speaks Korean), a manager and a deactivated agent."""
    korean = factories.make_user("agent", "Jiwoo Han", "jiwoo@example.com")
    english = factories.make_user("agent", "Emma Stone", "emma@example.com")
    boss = factories.make_user("manager", "Boss Yoon", "boss@example.com")
    gone = factories.make_user("agent", "Gone Baek", "gone@example.com")
    User.update(active=False).where(User.id == gone.id).execute()
    return {"agent": agent, "korean": korean, "english": english, "boss": boss, "gone": gone}


@pytest.fixture
def templates(manager):
    canned.save(None, manager, name="Thanks", shortcut="thanks", body="Thanks!", channels="")
    canned.save(None, manager, name="Thanks by text", shortcut="thanks-sms", body="Thanks!", channels="sms")
    canned.save(None, manager, name="Hello on WhatsApp", shortcut="hello-wa", body="Hi!", channels="whatsapp sms")


def form(people: dict, **change) -> dict:
    """A valid form: a template for email and SMS, WhatsApp on the team-wide one; a rule for
    Korean leads, one for WhatsApp leads from the Naver ad; the empty row for a new rule."""
    data = {
        "ack_template_email": "thanks",
        "ack_template_sms": "thanks-sms",
        "ack_template_whatsapp": "",
        "rule_channel": ["", "whatsapp", ""],
        "rule_source": ["", " Naver-Ad ", ""],
        "rule_language": ["ko", "", ""],
        "rule_agents_0": [str(people["korean"].id)],
        "rule_agents_1": [str(people["english"].id), str(people["korean"].id), str(people["english"].id)],
    }
    data.update(change)
    return data


def stored() -> tuple:
    return team.get("lead_ack_templates"), team.get("lead_routing_rules")


def settings_rows() -> list:
    """The stored settings and the audit trail, to prove a refused form wrote nothing."""
    return [list(TeamSetting.select().tuples()), list(AuditEvent.select().tuples())]


# --- who may ---------------------------------------------------------------------------------


def test_only_managers_and_admins_edit_lead_routing(client, agent, manager, admin, people, templates):
    response = client.get(PATH)
    assert is_login_redirect(response, PATH)
    login(client, agent)
    assert client.get(PATH).status_code == 403
    response = post(client, PATH, form(people))
    assert response.status_code == 403 and "Your role does not allow this." in body(response)
    assert stored() == ({}, [])
    assert PATH not in body(client.get("/inbox"))
    for user in (manager, admin):
        other = client_as(client.application, user)
        page = body(other.get(PATH))
        assert "Lead routing" in page and "Acknowledgement per channel" in page and "Routing rules" in page
        assert 'name="csrf_token"' in page
        # reached from the new-lead settings on the Reply targets page, which links back
        assert f'href="{PATH}"' in body(other.get("/settings/sla"))
        assert 'href="/settings/sla#section-leads"' in page


# --- saving ----------------------------------------------------------------------------------


def test_a_manager_saves_templates_per_channel_and_routing_rules(client, manager, people, templates):
    login(client, manager)
    response = post(client, PATH, form(people))
    assert response.status_code == 303 and response.headers["Location"].endswith(PATH)
    ack, rules = stored()
    assert ack == {"email": "thanks", "sms": "thanks-sms"}  # WhatsApp: the team-wide template
    assert rules == [
        {"channel": None, "source": None, "language": "ko", "agents": [people["korean"].id]},
        {"channel": "whatsapp", "source": "naver-ad", "language": None,
         "agents": sorted([people["korean"].id, people["english"].id])},
    ]  # fmt: skip
    assert lifecycle.ack_template("sms")[0] == "thanks-sms"  # what the lifecycle sends

    # audited like the other settings changes: one event per setting, before and after
    events = {e.before and next(iter(e.before)): e for e in AuditEvent.select().where(
        AuditEvent.action == "team_settings_changed")}  # fmt: skip
    assert set(events) == {"lead_ack_templates", "lead_routing_rules"}
    event = events["lead_routing_rules"]
    assert (event.actor_id, event.object_type) == (manager.id, "teamsetting")
    assert event.before == {"lead_routing_rules": []} and event.after == {"lead_routing_rules": rules}

    page = body(client.get(PATH))
    assert "Lead routing saved." in page
    assert len(re.findall(r'<tr class="lead-rule"', page)) == 3  # two rules and the empty row
    assert 'value="naver-ad"' in page
    assert re.search(rf'name="rule_agents_0" value="{people["korean"].id}" checked', page)
    assert '<option value="thanks-sms" selected>' in page

    # remove the first rule; saving what is already stored records nothing
    response = post(client, PATH, {**form(people), "rule_remove": "0"})
    assert response.status_code == 303
    assert [r["channel"] for r in team.get("lead_routing_rules")] == ["whatsapp"]
    count = AuditEvent.select().count()
    assert post(client, PATH, {**form(people), "rule_remove": "0"}).status_code == 303
    assert AuditEvent.select().count() == count


def test_only_templates_for_the_channel_are_offered(client, manager, people, templates):
    team.put("lead_ack_template", "thanks-sms")  # team-wide, but limited to SMS
    login(client, manager)
    page = body(client.get(PATH))
    email = re.search(r'<select name="ack_template_email".*?</select>', page, re.S).group(0)
    whatsapp = re.search(r'<select name="ack_template_whatsapp".*?</select>', page, re.S).group(0)
    assert "thanks-sms" not in email.replace("(/thanks-sms)", "") and "hello-wa" not in email
    assert 'value="hello-wa"' in whatsapp and 'value="thanks"' in whatsapp
    # the team-wide template cannot go out by email or WhatsApp: said where it matters
    assert 'id="fallback-email"' in page and 'id="fallback-whatsapp"' in page and 'id="fallback-sms"' not in page


def test_add_another_rule_saves_nothing(client, manager, people, templates):
    login(client, manager)
    response = post(client, PATH, {**form(people), "add_rule": "1"})
    assert response.status_code == 200
    assert len(re.findall(r'<tr class="lead-rule"', body(response))) == 4
    assert stored() == ({}, [])


# --- refused ---------------------------------------------------------------------------------

TOO_MANY = {
    "rule_channel": [""] * 31, "rule_source": [f"form {i}" for i in range(31)], "rule_language": [""] * 31,
    **{f"rule_agents_{i}": "{agent}" for i in range(31)},
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ack_template_email": "nope"}, "ack_template_email", "There is no template /nope."),
        ({"ack_template_email": "thanks-sms"}, "ack_template_email",
         "The template /thanks-sms is limited to other channels."),
        ({"ack_template_whatsapp": "/thanks-sms"}, "ack_template_whatsapp",
         "The template /thanks-sms is limited to other channels."),
        ({"rule_language": ["", "", ""]}, "rule_0", "Choose a channel, a source or a language (or several)"),
        ({"rule_agents_0": []}, "rule_0_agents", "Choose at least one agent."),
        ({"rule_agents_0": ["{gone}"]}, "rule_0_agents", "Deactivated, so they would never get a lead: Gone Baek."),
        ({"rule_agents_0": ["{boss}", "{korean}"]}, "rule_0_agents",
         "Only agents take new leads, so these would never get one: Boss Yoon."),
        ({"rule_agents_0": ["999999"]}, "rule_0_agents", "Choose agents from the list."),
        ({"rule_agents_0": ["abc"]}, "rule_0_agents", "Choose agents from the list."),
        ({"rule_agents_0": ["9" * 30]}, "rule_0_agents", "Choose agents from the list."),
        ({"rule_language": ["fr", "", ""]}, "rule_0_language", "Choose a language from the list."),
        ({"rule_channel": ["fax", "whatsapp", ""]}, "rule_0_channel", "Choose a channel from the list."),
        ({"rule_source": ["x" * 81, "naver-ad", ""]}, "rule_0_source", "Too long (at most 80 characters)."),
        ({"rule_channel": ["", "whatsapp", "whatsapp"], "rule_source": ["", "naver-ad", "NAVER-AD"],
          "rule_language": ["ko", "", ""], "rule_agents_2": "{agent}"}, "rule_2",
         "An earlier rule has the same conditions"),
        (TOO_MANY, "rules", "At most 30 rules: remove some."),
    ],
)  # fmt: skip
def test_wrong_values_are_shown_at_the_field_and_nothing_is_saved(
    client, manager, people, templates, change, field, message
):
    team.put(
        "lead_routing_rules", [{"channel": "sms", "source": None, "language": None, "agents": [people["agent"].id]}]
    )
    before = settings_rows()
    login(client, manager)
    ids = {name: str(user.id) for name, user in people.items()}
    data = form(people, **change)
    data = {k: [v.format(**ids) for v in v] if isinstance(v, list) else v.format(**ids) for k, v in data.items()}
    response = post(client, PATH, data)
    page = body(response)
    assert response.status_code == 400
    assert "Nothing was saved: check the marked fields." in page
    assert re.search(rf'id="error-{field}" role="alert">{re.escape(message)}', page), page[:300]
    assert re.search(rf'aria-describedby="[^"]*error-{field}', page) or field == "rules"
    assert settings_rows() == before
    assert 'name="csrf_token"' in page  # the form can be sent again


def test_typed_values_come_back_with_the_errors(client, manager, people, templates):
    login(client, manager)
    data = form(people, rule_language=["", "", ""], rule_source=["", "Kakao Ads", ""])
    data["rule_agents_1"] = []  # the second rule loses its agents too
    page = body(post(client, PATH, data))
    assert 'value="Kakao Ads"' in page and '<option value="whatsapp" selected>' in page
    assert 'id="error-rule_0"' in page and 'id="error-rule_1_agents"' in page
    assert '<option value="thanks" selected>' in page
    assert stored() == ({}, [])


def test_a_deactivated_agent_of_a_saved_rule_is_shown_so_it_can_be_replaced(client, manager, people):
    team.put("lead_routing_rules", [{"channel": None, "source": None, "language": "ko",
                                     "agents": [people["gone"].id, people["korean"].id]}])  # fmt: skip
    login(client, manager)
    page = body(client.get(PATH))
    assert re.search(rf'value="{people["gone"].id}" checked> Gone Baek \(deactivated\)', page)
    assert "Boss Yoon" not in page  # managers do not take leads: not offered


def test_htmx_gets_the_form_back_in_place(client, manager, people, templates):
    login(client, manager)
    response = post(client, PATH, form(people, ack_template_email="nope"), htmx=True)
    page = body(response)
    assert response.status_code == 200  # htmx swaps only successful answers
    assert page.lstrip().startswith("<form") and "<html" not in page
    assert 'id="error-ack_template_email"' in page and stored() == ({}, [])
    response = post(client, PATH, form(people), htmx=True)
    page = body(response)
    assert response.status_code == 200 and "Lead routing saved." in page and "<html" not in page
    assert stored()[0] == {"email": "thanks", "sms": "thanks-sms"}


# --- a saved rule routes ---------------------------------------------------------------------


def test_a_rule_saved_here_sends_korean_leads_to_the_korean_speaking_agent(client, manager, people):
    login(client, manager)
    response = post(client, PATH, {
        "rule_channel": ["", ""], "rule_source": ["", ""], "rule_language": ["ko", ""],
        "rule_agents_0": str(people["korean"].id),
    })  # fmt: skip
    assert response.status_code == 303, body(response)[:2000]
    mail = factories.make_channel("email", leads=True)
    sms = factories.make_channel("twilio", leads=True)
    owners = [
        automation.receive(factories.inbound(channel, address=address, kind=kind, text=text)).lead.owner.id
        for channel, kind, address, text in [
            (mail, "email", "minji@example.com", "안녕하세요, 20석 견적 부탁드립니다"),
            (sms, "sms", "+821055550001", "견적 문의드립니다"),
            (mail, "email", "emma@example.com", "Hello, a quote for 20 seats please"),
        ]
    ]
    assert owners[:2] == [people["korean"].id, people["korean"].id]
    # no rule matched: every active agent takes part, in turn after the last one given a lead
    assert owners[2] == people["english"].id


# --- in Korean -------------------------------------------------------------------------------


def test_the_page_works_in_korean(client, people, templates):
    korean = factories.make_user("manager", "김민지", "minji@example.com", locale="ko")
    login(client, korean)
    team.put("lead_routing_rules", [{"channel": "sms", "source": "naver-ad", "language": "ko",
                                     "agents": [people["korean"].id]}])  # fmt: skip
    response = client.get(PATH)
    page = body(response)
    assert response.status_code == 200 and '<html lang="ko">' in page
    assert "모든 채널" in page and "규칙 추가" in page  # Any channel, Add another rule
    response = post(client, PATH, form(people, ack_template_email="nope"))
    page = body(response)
    assert response.status_code == 400
    assert "/nope 템플릿이 없습니다." in page and "저장하지 않았습니다" in page
