"""Canned templates: sandboxed Jinja bodies filled from the contact, agent and thread."""

from __future__ import annotations

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import audit
from .db import db, utcnow
from .i18n import N_, UserFacingError
from .models import Contact, Conversation, Message, Template, User

_env = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)

VARIABLES = {
    "contact.name": N_("Full name of the contact"),
    "contact.first_name": N_("First word of the contact's name"),
    "contact.company": N_("Company"),
    "agent.name": N_("Your name"),
    "agent.first_name": N_("Your first name"),
    "agent.email": N_("Your email"),
    "last_topic": N_("Subject or first words of the customer's last message"),
}


class TemplateProblem(UserFacingError):
    pass


def last_topic(conversation: Conversation | None) -> str:
    if conversation is None:
        return ""
    msg = (
        Message.select(Message.subject, Message.text)
        .where((Message.conversation == conversation) & (Message.direction == "in"))
        .order_by(Message.id.desc())
        .first()
    )
    if msg is None:
        return ""
    if msg.subject:
        subject = msg.subject
        while subject.lower().startswith(("re:", "fw:", "fwd:")):
            subject = subject.split(":", 1)[1].strip()
        return subject
    words = msg.text.split()
    return " ".join(words[:8]) + ("…" if len(words) > 8 else "")


def context(contact: Contact | None, agent: User | None, conversation: Conversation | None) -> dict:
    def person(name: str) -> str:
        return name.split()[0] if name else ""

    return {
        "contact": {
            "name": contact.name if contact else "",
            "first_name": person(contact.name) if contact else "",
            "company": contact.company if contact else "",
        },
        "agent": {
            "name": agent.name if agent else "",
            "first_name": person(agent.name) if agent else "",
            "email": agent.email if agent else "",
        },
        "last_topic": last_topic(conversation),
    }


def check(body: str) -> None:
    """Refuse bodies that do not compile or use unknown variables."""
    if len(body) > 20_000:
        raise TemplateProblem(N_("The template is longer than 20,000 characters."))
    try:
        _env.from_string(body).render(context(None, None, None))
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateProblem(N_("Template error: %(error)s"), error=str(exc)) from None


def render(body: str, contact: Contact | None, agent: User | None, conversation: Conversation | None) -> str:
    try:
        return _env.from_string(body).render(context(contact, agent, conversation)).strip()
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateProblem(N_("Template error: %(error)s"), error=str(exc)) from None


def content_variables(template: Template, contact, agent, conversation) -> dict[str, str]:
    """The numbered variables of an approved WhatsApp template, filled and checked: an
    empty value would be rejected by WhatsApp, so it is refused before sending."""
    values = {}
    for key, expression in sorted((template.content_variables or {}).items()):
        value = render(expression, contact, agent, conversation)
        if not value:
            raise TemplateProblem(N_("Template variable %(key)s is empty for this contact."), key=key)
        values[str(key)] = value
    return values


def parse_content_variables(text: str) -> dict[str, str]:
    """``1 = {{ contact.first_name }}`` lines -> {"1": "{{ contact.first_name }}"}, checked."""
    variables: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        key, sep, expression = line.partition("=")
        key, expression = key.strip(), expression.strip()
        if not sep or not key.isdigit() or not expression:
            raise TemplateProblem(N_("Write one variable per line, like: 1 = {{ contact.first_name }}"))
        check(expression)
        variables[key] = expression
    return variables


def save(
    template: Template | None, actor: User, *, name: str, shortcut: str, body: str, channels: str,
    content_sid: str | None = None, content_variables: str | dict | None = None,
) -> Template:  # fmt: skip
    name = name.strip()
    shortcut = shortcut.strip().lstrip("/").lower()
    if not name or not shortcut:
        raise TemplateProblem(N_("Name and shortcut are required."))
    if len(name) > 120 or len(shortcut) > 40 or not shortcut.replace("-", "").replace("_", "").isalnum():
        raise TemplateProblem(N_("Shortcut: letters, digits, - and _ only, up to 40 characters."))
    check(body)
    clash = Template.get_or_none(Template.shortcut == shortcut)
    if clash is not None and (template is None or clash.id != template.id):
        raise TemplateProblem(
            N_("The shortcut /%(shortcut)s is already used by “%(name)s”."), shortcut=shortcut, name=clash.name
        )
    kinds = " ".join(k for k in channels.split() if k in ("email", "sms", "whatsapp"))
    content_sid = (content_sid or "").strip() or None
    if content_sid and not (content_sid.startswith("HX") and len(content_sid) == 34):
        raise TemplateProblem(N_("A Content SID starts with HX and has 34 characters."))
    if isinstance(content_variables, str):
        content_variables = parse_content_variables(content_variables)
    with db.atomic():
        created = template is None
        if created:
            template = Template(created_by=actor)
        template.name, template.shortcut, template.body, template.channels = name, shortcut, body, kinds
        template.content_sid = content_sid
        template.content_variables = content_variables or {}
        template.updated_at = utcnow()
        template.save()
        audit.record(actor, "template_created" if created else "template_changed", template, after={"name": name})
    return template


def search(query: str, kind: str | None = None, limit: int = 20) -> list[Template]:
    q = Template.select().order_by(Template.name)
    query = query.strip().lstrip("/").lower()
    if query:
        q = q.where(Template.shortcut.startswith(query) | Template.name.contains(query))
    results = list(q.limit(limit * 2))
    if kind:
        results = [t for t in results if not t.channels or kind in t.channels.split()]
    return results[:limit]
