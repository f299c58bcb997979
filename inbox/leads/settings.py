"""The lead settings edited on Settings > Lead routing: the acknowledgement template per
channel kind (team setting ``lead_ack_templates``) and the routing rules
(``lead_routing_rules``, read by ``routing.candidates()``).

``save()`` checks everything that was typed and stores both settings, or nothing: a wrong
field raises ``Invalid`` with one error per field. The choices made here:

- Acknowledgement per kind: empty means the team-wide ``lead_ack_template`` (Settings >
  Reply targets); otherwise an existing template's shortcut ("/thanks" and "Thanks" are
  read as "thanks", as ``canned.save`` stores shortcuts), and not a template limited to
  other channels (``Template.channels``), which ``lifecycle.acknowledge()`` would refuse
  to send. Only kinds with a template are stored.
- A rule needs at least one condition (a channel kind, a source or a language; a rule
  with none would take every lead) and at least one agent, at most ``MAX_RULES`` rules.
  A rule with the same conditions as an earlier one is refused: the earlier one always
  matches first (its agents were active when it was saved), so add the agents there.
- A rule's agents are active users with the role "agent", because ``routing.candidates()``
  chooses among active agents only: a manager or a deactivated user in a rule would
  silently never get a lead. Stored as their ids, sorted, once each.
- The source is matched against the channel's name for messages and the lead form's
  source for form submissions, ignoring case: stored stripped and lower-cased (at most
  ``MAX_SOURCE`` characters), as ``candidates()`` compares it.

Each stored change is recorded in the audit trail as ``team_settings_changed`` on the
setting's row, with the value before and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .. import audit, team
from ..db import write_transaction
from ..i18n import N_, UserFacingError
from ..models import CHANNEL_KINDS, Channel, LeadSource, TeamSetting, Template, User
from .routing import LANGUAGES

MAX_RULES = 30
MAX_SOURCE = 80
KEYS = ("lead_ack_templates", "lead_routing_rules")


class SettingsError(UserFacingError):
    """One wrong field: its message and the form field it belongs to."""

    def __init__(self, msgid: str, field: str, **params):
        super().__init__(msgid, **params)
        self.field = field


class Invalid(Exception):
    """Nothing was saved: ``errors`` has the error of each wrong field, by field name."""

    def __init__(self, errors: Iterable[SettingsError]):
        self.errors = {e.field: e for e in errors}
        super().__init__("; ".join(f"{name}: {e}" for name, e in self.errors.items()))


@dataclass
class RuleRow:
    """A routing rule as the form shows it: text values, agents as typed ids."""

    channel: str = ""
    source: str = ""
    language: str = ""
    agents: tuple[str, ...] = field(default_factory=tuple)

    def is_empty(self) -> bool:
        return not (self.channel.strip() or self.source.strip() or self.language.strip() or self.agents)


# --- what the form shows ----------------------------------------------------------------


def stored_ack_templates() -> dict[str, str]:
    """The acknowledgement shortcut per kind, "" where the team-wide one applies."""
    stored = team.get("lead_ack_templates") or {}
    return {kind: stored.get(kind) or "" for kind in CHANNEL_KINDS}


def stored_rules() -> list[RuleRow]:
    return [
        RuleRow(
            channel=rule.get("channel") or "",
            source=rule.get("source") or "",
            language=rule.get("language") or "",
            agents=tuple(str(a) for a in rule.get("agents") or []),
        )
        for rule in team.get("lead_routing_rules") or []
    ]


def serves(template: Template, kind: str) -> bool:
    """Whether ``template`` may be sent on channels of ``kind`` (empty channels: all)."""
    return not template.channels or kind in template.channels.split()


def template_choices() -> dict[str, list[Template]]:
    """The templates each kind may use, by shortcut."""
    templates = list(Template.select(Template.shortcut, Template.name, Template.channels).order_by(Template.shortcut))
    return {kind: [t for t in templates if serves(t, kind)] for kind in CHANNEL_KINDS}


def fallback(kind: str) -> tuple[str, bool]:
    """The team-wide acknowledgement shortcut ("" for none) and whether it can be sent on
    ``kind`` (False when it is missing or limited to other channels)."""
    shortcut = (team.get("lead_ack_template") or "").strip().lstrip("/").lower()
    template = Template.get_or_none(Template.shortcut == shortcut) if shortcut else None
    return shortcut, template is not None and serves(template, kind)


def agent_choices(rows: Sequence[RuleRow] = ()) -> list[User]:
    """The active agents, and the users the rules name who are not (still) one, by name."""
    named = {int(a) for row in rows for a in row.agents if a.isascii() and a.isdigit() and len(a) < 18}
    query = User.select().where(((User.role == "agent") & User.active) | User.id.in_(sorted(named) or [0]))
    return sorted(query, key=lambda u: (u.name.lower(), u.id))


def source_suggestions() -> list[str]:
    """Sources a rule can match: the channels' names and the lead sources' names."""
    names = {c.name for c in Channel.select(Channel.name)} | {s.name for s in LeadSource.select(LeadSource.name)}
    return sorted({n.strip().lower() for n in names if n and n.strip()})


# --- checking what was typed ------------------------------------------------------------


def clean_ack_templates(typed: Mapping[str, str]) -> tuple[dict[str, str], list[SettingsError]]:
    """``{kind: shortcut}`` as stored (kinds without one left out), and the errors."""
    cleaned, errors = {}, []
    for kind in CHANNEL_KINDS:
        shortcut = (typed.get(kind) or "").strip().lstrip("/").lower()
        if not shortcut:
            continue
        name = f"ack_template_{kind}"
        template = Template.get_or_none(Template.shortcut == shortcut)
        if template is None:
            errors.append(SettingsError(N_("There is no template /%(shortcut)s."), name, shortcut=shortcut))
        elif not serves(template, kind):
            errors.append(
                SettingsError(N_("The template /%(shortcut)s is limited to other channels."), name, shortcut=shortcut)
            )
        else:
            cleaned[kind] = shortcut
    return cleaned, errors


def clean_rules(rows: Sequence[RuleRow]) -> tuple[list[dict], list[SettingsError]]:
    """The rules as stored, in order, and the errors (fields ``rule_<i>_<part>``, the row's
    own ``rule_<i>``, and ``rules`` for their number)."""
    errors: list[SettingsError] = []
    if len(rows) > MAX_RULES:
        errors.append(SettingsError(N_("At most %(n)s rules: remove some."), "rules", n=MAX_RULES))
    users = _users(rows)
    rules, seen = [], set()
    for i, row in enumerate(rows):
        problems = len(errors)
        channel = row.channel.strip() or None
        if channel not in (None, *CHANNEL_KINDS):
            errors.append(SettingsError(N_("Choose a channel from the list."), f"rule_{i}_channel"))
        language = row.language.strip() or None
        if language not in (None, *LANGUAGES):
            errors.append(SettingsError(N_("Choose a language from the list."), f"rule_{i}_language"))
        source = row.source.strip().lower() or None
        if source and len(source) > MAX_SOURCE:
            errors.append(
                SettingsError(N_("Too long (at most %(limit)s characters)."), f"rule_{i}_source", limit=MAX_SOURCE)
            )
        agents = _agents(row.agents, users, f"rule_{i}_agents", errors)
        if not (channel or source or language):
            errors.append(SettingsError(
                N_("Choose a channel, a source or a language (or several): a rule without one would take every lead."),
                f"rule_{i}",
            ))  # fmt: skip
        elif (channel, source, language) in seen:
            errors.append(SettingsError(
                N_("An earlier rule has the same conditions and always comes first: add these agents to it instead."),
                f"rule_{i}",
            ))  # fmt: skip
        seen.add((channel, source, language))
        if len(errors) == problems:
            rules.append({"channel": channel, "source": source, "language": language, "agents": agents})
    return rules, errors


def _users(rows: Sequence[RuleRow]) -> dict[int, User]:
    ids = {int(a) for row in rows for a in row.agents if a.strip().isascii() and a.strip().isdigit()}
    ids = {i for i in ids if i < 2**62}
    return {u.id: u for u in User.select().where(User.id.in_(sorted(ids)))} if ids else {}


def _agents(typed: Sequence[str], users: dict[int, User], name: str, errors: list[SettingsError]) -> list[int]:
    chosen, unknown, inactive, not_agents = set(), False, [], []
    for value in typed:
        value = value.strip()
        user = users.get(int(value)) if value.isascii() and value.isdigit() else None
        if user is None:
            unknown = True
        elif not user.active:
            inactive.append(user.name)
        elif user.role != "agent":
            not_agents.append(user.name)
        else:
            chosen.add(user.id)
    if unknown:
        errors.append(SettingsError(N_("Choose agents from the list."), name))
    elif inactive:
        errors.append(SettingsError(
            N_("Deactivated, so they would never get a lead: %(names)s."), name, names=", ".join(inactive)
        ))  # fmt: skip
    elif not_agents:
        errors.append(SettingsError(
            N_("Only agents take new leads, so these would never get one: %(names)s."), name,
            names=", ".join(not_agents),
        ))  # fmt: skip
    elif not chosen:
        errors.append(SettingsError(N_("Choose at least one agent."), name))
    return sorted(chosen)


# --- storing ---------------------------------------------------------------------------


def save(actor: User | None, *, ack_templates: Mapping[str, str], rules: Sequence[RuleRow]) -> list[str]:
    """Check and store both settings, or raise ``Invalid`` and store nothing. Empty rows
    (the form's row for a new rule, left empty) are skipped. Returns the keys that changed."""
    ack, ack_errors = clean_ack_templates(ack_templates)
    routing, rule_errors = clean_rules([row for row in rules if not row.is_empty()])
    if ack_errors or rule_errors:
        raise Invalid([*ack_errors, *rule_errors])
    changed = []
    with write_transaction():
        for key, value in (("lead_ack_templates", ack), ("lead_routing_rules", routing)):
            before = team.get(key)
            if before == value:
                continue
            team.put(key, value)
            row = TeamSetting.get(TeamSetting.key == key)
            audit.record(actor, "team_settings_changed", row, before={key: before}, after={key: value})
            changed.append(key)
    return changed
