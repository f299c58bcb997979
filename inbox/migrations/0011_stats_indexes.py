"""Covering indexes for the statistics, so that a period's figures are read from indexes
alone (no row of the message table is visited), and the planner has no better-looking
index to prefer when the database was never analysed:

- messages of a period by direction and time, with what the volume, heatmap and
  "our first message" queries read (replaces direction, sent_at, channel_kind);
- the messages of a conversation by direction, auto-reply and time: the first reply
  after a moment is one seek, the first messages and touches one range;
- human replies of a period with their figures (replaces the partial index of 0010);
- leads of a period (not merged, by creation) with their source, campaign, ad set,
  status and owner;
- follow-ups due in a period with what the follow-up rate reads; pending follow-ups by
  due time (right now); reactivation touches by firing time;
- open conversations by waiting time with what "right now" reads (breaches, new leads
  nobody answered, per agent)."""

from playhouse.migrate import make_index_name


def up(migrator, db):
    migrator.migrate(
        migrator.drop_index("message", "message_direction_sent_at_channel_kind"),
        migrator.add_index("message", MESSAGE_PERIOD, False),
        migrator.add_index("message", MESSAGE_CONVERSATION, False),
        migrator.add_index("contact", CONTACT_LEADS, False),
        migrator.add_index("follow_up", FOLLOW_UP_DUE, False),
        migrator.add_index("conversation", CONVERSATION_WAITING, False),
        migrator.add_index("follow_up", ("done_at", "cancelled_at", "due_at"), False),
        migrator.add_index("follow_up", ("kind", "fired_at"), False),
    )
    db.execute_sql("DROP INDEX IF EXISTS message_reply_sent_at")
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS message_replies ON message (sent_at, response_seconds, business_seconds, "
        "sla_met, first_response, author_id, channel_kind, conversation_id) WHERE response_seconds IS NOT NULL"
    )


MESSAGE_PERIOD = ("direction", "sent_at", "channel_kind", "auto_reply", "automatic", "author_id", "status",
                  "channel_id", "conversation_id")  # fmt: skip
MESSAGE_CONVERSATION = ("conversation_id", "direction", "sent_at", "auto_reply", "channel_kind", "status",
                        "automatic", "author_id")  # fmt: skip
CONTACT_LEADS = ("merged_into_id", "created_at", "source", "campaign", "ad_set", "lead_status", "owner_id")
FOLLOW_UP_DUE = ("due_at", "cancelled_at", "done_at", "owner_id", "meta")
CONVERSATION_WAITING = ("state", "waiting_since", "assignee_id", "contact_id", "first_response_at",
                        "last_inbound_channel")  # fmt: skip


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS message_replies")
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS message_reply_sent_at ON message (sent_at) WHERE response_seconds IS NOT NULL"
    )
    migrator.migrate(
        migrator.drop_index("message", make_index_name("message", MESSAGE_PERIOD)),
        migrator.drop_index("message", make_index_name("message", MESSAGE_CONVERSATION)),
        migrator.drop_index("contact", make_index_name("contact", CONTACT_LEADS)),
        migrator.drop_index("follow_up", make_index_name("follow_up", FOLLOW_UP_DUE)),
        migrator.drop_index("conversation", make_index_name("conversation", CONVERSATION_WAITING)),
        migrator.drop_index("follow_up", "follow_up_done_at_cancelled_at_due_at"),
        migrator.drop_index("follow_up", "follow_up_kind_fired_at"),
        migrator.add_index("message", ("direction", "sent_at", "channel_kind"), False),
    )
