"""Statistics: the business-hours response time and the SLA outcome of each human reply,
kept with the reply (computed once, when it is sent), and the indexes the dashboard's
period queries use. Replies stored before this migration get their figures computed
from the team settings in force now."""

from peewee import BooleanField, IntegerField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("message", "business_seconds", IntegerField(null=True)),
        migrator.add_column("message", "sla_target_seconds", IntegerField(null=True)),
        migrator.add_column("message", "sla_met", BooleanField(null=True)),
        migrator.add_index("message", ("direction", "sent_at", "channel_kind"), False),
        migrator.add_index("contact", ("created_at",), False),
        migrator.add_index("follow_up", ("due_at",), False),
    )
    # Human replies of a period, without reading every message of it.
    db.execute_sql(
        "CREATE INDEX IF NOT EXISTS message_reply_sent_at ON message (sent_at) WHERE response_seconds IS NOT NULL"
    )
    from inbox.stats.replies import recompute  # noqa: PLC0415  (needs the new columns)

    recompute()


def down(migrator, db):
    db.execute_sql("DROP INDEX IF EXISTS message_reply_sent_at")
    migrator.migrate(
        migrator.drop_index("message", "message_direction_sent_at_channel_kind"),
        migrator.drop_index("contact", "contact_created_at"),
        migrator.drop_index("follow_up", "follow_up_due_at"),
        migrator.drop_column("message", "business_seconds"),
        migrator.drop_column("message", "sla_target_seconds"),
        migrator.drop_column("message", "sla_met"),
    )
