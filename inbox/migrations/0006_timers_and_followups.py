"""Timers and follow-ups: SLA breach marks on conversations, per-contact cadence and
dormancy, reminder firing, notifications, team settings and lead sources."""

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Conversation(Model):
        class Meta:
            database = db
            table_name = "conversation"

    class Template(Model):
        class Meta:
            database = db
            table_name = "template"

    migrator.migrate(
        migrator.add_column("conversation", "breach_notified_at", DateTimeField(null=True)),
        migrator.add_column("conversation", "escalated_at", DateTimeField(null=True)),
        migrator.add_column("contact", "cadence", TextField(null=True)),
        migrator.add_column("contact", "dormant_since", DateTimeField(null=True)),
        migrator.add_column("follow_up", "step", IntegerField(default=0)),
        migrator.add_column(
            "follow_up", "template_id", ForeignKeyField(Template, null=True, on_delete="SET NULL", field=Template.id)
        ),
        migrator.add_column("follow_up", "fired_at", DateTimeField(null=True)),
        migrator.add_column("follow_up", "meta", TextField(default="{}")),
        migrator.drop_index("follow_up", "followup_due_at"),
        migrator.add_index("follow_up", ("fired_at", "due_at"), False),
        migrator.add_index("follow_up", ("owner_id", "fired_at", "due_at"), False),
        migrator.add_index("follow_up", ("conversation_id", "kind"), False),
        migrator.add_index("conversation", ("state", "breach_notified_at", "waiting_since"), False),
    )

    class Notification(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField()
        conversation = ForeignKeyField(Conversation, null=True, on_delete="CASCADE")
        params = TextField(default="{}")
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)
        emailed_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notification"
            indexes = ((("user", "read_at", "id"), False),)

    class TeamSetting(Model):
        key = CharField(unique=True)
        value = TextField(null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "team_setting"

    class LeadSource(Model):
        name = CharField(unique=True)
        token_hash = CharField(unique=True)
        active = BooleanField(default=True)
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "lead_source"

    db.create_tables([Notification, TeamSetting, LeadSource])


def down(migrator, db):
    db.drop_tables([], safe=True)
    for table in ("notification", "team_setting", "lead_source"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
