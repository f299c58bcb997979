"""Leads: where they come from and what happens to them, split by job.

- ``sources``: lead sources (web forms, ad platforms) and their tokens;
- ``capture``: leads posted to ``POST /api/leads``;
- ``routing``: who answers a lead (owner, round-robin, routing rules);
- ``lifecycle``: the same steps for every new lead whatever the channel (owner,
  acknowledgement, waiting reminders), reactivation of dormant leads, opt-outs;
- ``plan``: the one follow-up plan of a conversation awaiting the customer (cadence,
  re-engagement, reactivation, closing as lost);
- ``attention``: open leads with no next step.

What runs when is wired in ``inbox.automation``.
"""

from __future__ import annotations

from .capture import (
    CHANNEL_KIND,
    LIMITS,
    UTM_FIELDS,
    CaptureResult,
    InvalidLead,
    LeadForm,
    capture,
    lead_channel,
    parse,
)
from .sources import LeadError, Unauthorized, add_source, authenticate, deactivate_source, hash_token, sources

__all__ = [
    "CHANNEL_KIND", "LIMITS", "UTM_FIELDS", "CaptureResult", "InvalidLead", "LeadError", "LeadForm", "Unauthorized",
    "add_source", "authenticate", "capture", "deactivate_source", "hash_token", "lead_channel", "parse", "sources",
]  # fmt: skip
