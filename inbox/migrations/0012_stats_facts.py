"""Statistics facts kept with the data (inbox.stats.facts): per conversation its first
message, first human reply, our first message, the customer's first reply after it and
our messages before that; per outbound message our previous one on the same channel and
the customer's reply to it there. The period index of messages also covers both, so the
channel view finds our first message per conversation and channel in a period, and its
reply, from the index alone. Existing conversations get their facts computed here."""

from peewee import DateTimeField, IntegerField
from playhouse.migrate import make_index_name

OLD_PERIOD = ("direction", "sent_at", "channel_kind", "auto_reply", "automatic", "author_id", "status",
              "channel_id", "conversation_id")  # fmt: skip
PERIOD = (*OLD_PERIOD, "previous_outbound_at", "customer_reply_at")


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("conversation", "first_message_at", DateTimeField(null=True)),
        migrator.add_column("conversation", "first_human_reply_at", DateTimeField(null=True)),
        migrator.add_column("conversation", "first_outbound_at", DateTimeField(null=True)),
        migrator.add_column("conversation", "first_customer_reply_at", DateTimeField(null=True)),
        migrator.add_column("conversation", "touches_before_reply", IntegerField(default=0)),
        migrator.add_column("message", "previous_outbound_at", DateTimeField(null=True)),
        migrator.add_column("message", "customer_reply_at", DateTimeField(null=True)),
        migrator.drop_index("message", make_index_name("message", OLD_PERIOD)),
        migrator.add_index("message", PERIOD, False),
    )
    from inbox.stats.facts import refresh_all  # noqa: PLC0415  (needs the new columns)

    refresh_all()


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("message", make_index_name("message", PERIOD)),
        migrator.add_index("message", OLD_PERIOD, False),
        migrator.drop_column("message", "customer_reply_at"),
        migrator.drop_column("message", "previous_outbound_at"),
        migrator.drop_column("conversation", "touches_before_reply"),
        migrator.drop_column("conversation", "first_customer_reply_at"),
        migrator.drop_column("conversation", "first_outbound_at"),
        migrator.drop_column("conversation", "first_human_reply_at"),
        migrator.drop_column("conversation", "first_message_at"),
    )
